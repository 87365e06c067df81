"""A task the demo model never saw as classes: round versus angular outlines (a circle or an
ellipse against a square or a triangle), each filled or outlined.

Why this task: the demo model is trained to name shapes whatever their fill, so "filled versus
outlined" (the first task here) is one its last features are built to ignore; "round or angular" is
a new, coarser label set over what it learnt to see, the usual transfer-learning case (lecture 5:
similar data, a new head). Two independent drawers: OpenCV for the training folder, Pillow (other
primitives, backgrounds, rotations and line widths) for the held-out images, so a model that passes
has learned "round or angular", not the quirks of one drawing routine.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

TASK_CLASSES = ("angular", "round")  # sorted, as open_dataset names class folders


def drawn_cv2(rng: np.random.Generator, round_shape: bool, size: int = 64) -> np.ndarray:
    """A circle (round) or a square or triangle (angular), filled or outlined (3-5 px), on a flat
    background, with noise over everything."""
    background = rng.uniform(30, 220, 3)
    image = np.empty((size, size, 3), np.uint8)
    image[:] = np.rint(background).astype(np.uint8)
    colour = tuple(float(c) for c in np.clip(255 - background + rng.normal(0, 30, 3), 0, 255))
    cx, cy = (int(v) for v in rng.integers(int(size * 0.32), int(size * 0.68), 2))
    r = int(rng.integers(int(size * 0.16), int(size * 0.28)))
    filled = bool(rng.random() < 0.5)
    thickness = -1 if filled else int(rng.integers(3, 6))
    kind = 0 if round_shape else int(rng.integers(1, 3))
    if kind == 0:
        cv2.circle(image, (cx, cy), r, colour, thickness, cv2.LINE_AA)
    elif kind == 1:
        cv2.rectangle(image, (cx - r, cy - r), (cx + r, cy + r), colour, thickness, cv2.LINE_AA)
    else:
        points = np.array([[cx, cy - r], [cx + r, cy + r], [cx - r, cy + r]], np.int32)
        if filled:
            cv2.fillPoly(image, [points], colour, cv2.LINE_AA)
        else:
            cv2.polylines(image, [points], True, colour, thickness, cv2.LINE_AA)
    noisy = image.astype(np.float32) + rng.normal(0, 12, image.shape)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def drawn_pil(rng: np.random.Generator, round_shape: bool, size: int = 64) -> np.ndarray:
    """An ellipse (round) or a rotated square or triangle (angular) drawn by Pillow (its own
    rasteriser, rotations and ellipses the training set lacks), filled or outlined, on a faint
    gradient with noise; sizes, line widths and contrast as in :func:`drawn_cv2`."""
    background = rng.uniform(30, 220, 3)
    ramp = np.linspace(-10, 10, size)[:, None, None] * rng.choice([-1, 1], 3)
    canvas = Image.fromarray(np.clip(background + ramp * np.ones((1, size, 1)), 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    colour = tuple(int(c) for c in np.clip(255 - background + rng.normal(0, 30, 3), 0, 255))
    r = rng.uniform(0.16, 0.28) * size
    cx, cy = rng.uniform(size * 0.32, size * 0.68, 2)
    width = int(rng.integers(3, 6))
    fill, outline = (colour, None) if rng.random() < 0.5 else (None, colour)
    kind = 0 if round_shape else int(rng.integers(1, 3))
    if kind == 0:
        ry = r * rng.uniform(0.75, 1.0)
        draw.ellipse((cx - r, cy - ry, cx + r, cy + ry), fill=fill, outline=outline, width=width)
    else:
        draw.regular_polygon((cx, cy, r * 1.2), 4 if kind == 1 else 3, rotation=float(rng.uniform(0, 90)),
                             fill=fill, outline=outline, width=width)
    noisy = np.asarray(canvas, np.float32) + rng.normal(0, 12, (size, size, 3))
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def write_task_folder(root: Path, per_class: int, seed: int = 0, size: int = 64) -> Path:
    """root/angular/*.png and root/round/*.png drawn with OpenCV."""
    rng = np.random.default_rng(seed)
    for name in TASK_CLASSES:
        (root / name).mkdir(parents=True, exist_ok=True)
    for i in range(per_class):
        for name in TASK_CLASSES:
            image = drawn_cv2(rng, name == "round", size)
            Image.fromarray(image).save(root / name / f"{i}.png")
    return root



def task_zip(root: Path, per_class: int) -> bytes:
    """The task folders (write_task_folder) as a zip of class folders, as a user uploads it."""
    folder = write_task_folder(root, per_class=per_class)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for file in sorted(folder.rglob("*.png")):
            archive.write(file, file.relative_to(folder).as_posix())
    return buffer.getvalue()


def held_out(per_class: int, seed: int = 99, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Pillow-drawn images and their labels (indices into TASK_CLASSES)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(2 * per_class) % 2
    images = np.stack([drawn_pil(rng, TASK_CLASSES[label] == "round", size) for label in labels])
    return images, labels


def accuracy(loaded, images: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.argmax(loaded.probabilities(images), axis=1) == labels))
