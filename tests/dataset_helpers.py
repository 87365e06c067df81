"""Test images drawn with Pillow primitives (not the shapes generator), and damaged files to mix in."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

#: Classes of the demo model that Pillow can draw with one primitive each.
DRAWN_CLASSES = ("circle", "square", "triangle", "ring", "cross")


def drawn_shape(name: str, seed: int, size: int = 64) -> np.ndarray:
    """One shape drawn with Pillow on a two-colour diagonal gradient with blur and noise."""
    name = name.lower()
    rng = np.random.default_rng(seed)
    low, high = rng.uniform(20, 235, 3), rng.uniform(20, 235, 3)
    t = (np.add.outer(np.arange(size), np.arange(size)) / (2 * size - 2))[..., None]
    background = low + (high - low) * t
    canvas = Image.fromarray(background.astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    colour = tuple(int(c) for c in np.where(background.mean((0, 1)) > 128, rng.uniform(0, 60, 3),
                                            rng.uniform(195, 255, 3)))
    r = rng.uniform(0.13, 0.21) * size
    cx, cy = rng.uniform(r + 3, size - r - 3, 2)
    box = (cx - r, cy - r, cx + r, cy + r)
    if name == "circle":
        draw.ellipse(box, fill=colour)
    elif name == "square":
        draw.regular_polygon((cx, cy, r * 1.05), 4, rotation=float(rng.uniform(0, 90)), fill=colour)
    elif name == "triangle":
        draw.regular_polygon((cx, cy, r * 1.15), 3, rotation=float(rng.uniform(0, 120)), fill=colour)
    elif name == "ring":
        draw.ellipse(box, outline=colour, width=max(3, int(r * 0.45)))
    elif name == "cross":
        w = r * 0.35
        draw.rectangle((cx - w, cy - r, cx + w, cy + r), fill=colour)
        draw.rectangle((cx - r, cy - w, cx + r, cy + w), fill=colour)
    else:
        raise ValueError(name)
    canvas = canvas.filter(ImageFilter.GaussianBlur(0.6))
    noisy = np.asarray(canvas, np.float32) + rng.normal(0, 4, (size, size, 3))
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def png_bytes(image: np.ndarray, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=fmt)
    return buffer.getvalue()


def write_drawn_folder(root: Path, per_class: int, classes: tuple[str, ...] = DRAWN_CLASSES,
                       size: int = 64, seed: int = 0) -> int:
    """A class-per-subfolder folder of drawn images (PNG and JPEG mixed); returns how many."""
    count = 0
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            image = drawn_shape(name, seed * 100_000 + c * 1000 + i, size)
            fmt, suffix = ("JPEG", "jpg") if i % 3 == 2 else ("PNG", "png")
            (root / name / f"img{i}.{suffix}").write_bytes(png_bytes(image, fmt))
            count += 1
    return count


def write_damaged_files(folder: Path) -> dict[str, str]:
    """Damaged and non-image files in ``folder``; returns {relative name: expected reason}."""
    folder.mkdir(parents=True, exist_ok=True)
    good = png_bytes(drawn_shape("circle", 999))
    (folder / "cut.png").write_bytes(good[: len(good) // 2])
    (folder / "notes.jpg").write_text("these are my notes, not a photo\n")
    (folder / "empty.png").write_bytes(b"")
    (folder / "tiny.png").write_bytes(png_bytes(np.zeros((2, 2, 3), np.uint8)))
    name = folder.name
    return {f"{name}/cut.png": "truncated", f"{name}/notes.jpg": "not an image",
            f"{name}/empty.png": "empty file", f"{name}/tiny.png": "too small"}


def zip_folder(root: Path, top: str = "") -> bytes:
    """The files under ``root`` as zip bytes (optionally inside one top folder)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            archive.write(path, top + path.relative_to(root).as_posix())
    return buffer.getvalue()
