"""Load user images safely and prepare them for a model.

``load_image`` turns bytes, a path or a file object into an RGB uint8 array: it reads JPEG, PNG,
WebP, BMP, GIF (first frame) and TIFF, applies the EXIF orientation, composites transparency on
white and converts every colour mode (grey, palette, 16-bit, CMYK) to 8-bit RGB. Anything unusable
(empty, not an image, truncated, a decompression bomb, 1x1 or 1x10000) raises a typed
:mod:`cnnviz.errors` error whose message says what is wrong; the pixel limit is checked from the
header, before anything is decoded.

``prepare_image`` resizes that array to a model's input; ``crop_box`` says which region of the
original the prepared image covers, so heatmaps can be drawn back onto the original.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from cnnviz.errors import (
    EmptyImageError,
    ImageError,
    ImageSizeError,
    ImageTooLargeError,
    NotAnImageError,
    ParameterError,
    TruncatedImageError,
)

# 40 megapixels: above any phone camera (48 MP sensors save 12 MP by default) yet about 120 MB as
# RGB uint8, so one upload cannot exhaust a small server. Pillow's own limit (~89 MP) still applies
# on top of it: a larger ``max_pixels`` cannot go past ``PIL.Image.MAX_IMAGE_PIXELS``.
MAX_PIXELS = 40_000_000
MIN_SIDE = 8  # pixels; smaller images carry nothing a CNN could see
MAX_ASPECT = 20  # long side / short side; beyond it a centre crop or a stretch is meaningless

FIT_MODES = ("crop", "stretch")

# Formats cnnviz reads: Pillow's format names and the names shown to users.
SUPPORTED_FORMATS: dict[str, str] = {
    "JPEG": "JPEG",
    "PNG": "PNG",
    "WEBP": "WebP",
    "BMP": "BMP",
    "GIF": "GIF",
    "TIFF": "TIFF",
}
_SUPPORTED_NAMES = ", ".join(SUPPORTED_FORMATS.values())

# Resizing: bicubic is antialiased in Pillow (its kernel widens when shrinking); the reducing gap
# first box-reduces very large images, which is faster and, at 3.0, indistinguishable from bicubic.
RESAMPLE = Image.Resampling.BICUBIC
REDUCING_GAP = 3.0

WHITE = (255, 255, 255)
_SNIFF_BYTES = 32
_PILLOW_BOMB = "its header claims more pixels than Pillow's decompression-bomb limit"

# Leading bytes of the supported formats: if Pillow cannot open a file that starts like one of them,
# the file is damaged or cut short rather than "not an image".
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"BM", "BMP"),
)


# --- loading ------------------------------------------------------------------------------------
def load_image(
    source: bytes | bytearray | str | os.PathLike[str] | BinaryIO,
    *,
    max_pixels: int = MAX_PIXELS,
) -> np.ndarray:
    """Read an image file into an RGB uint8 array (height, width, 3), C-contiguous and writable.

    ``source`` is the file's bytes, a path, or a binary file object (read whole, from its start).
    Formats: JPEG, PNG, WebP, BMP, GIF (first frame), TIFF (first page). The EXIF orientation is
    applied, transparency is composited on white, 16-bit images are scaled (65535 -> 255) and
    embedded ICC profiles of RGB and CMYK images are converted to sRGB.

    Raises EmptyImageError, NotAnImageError, TruncatedImageError, ImageTooLargeError (more than
    ``max_pixels`` pixels, checked from the header before decoding) or ImageSizeError (a side below
    MIN_SIDE or an aspect ratio above MAX_ASPECT).
    """
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels <= 0:
        raise ParameterError(f"max_pixels must be a positive integer, got {max_pixels!r}.")
    with _binary_file(source) as fp:
        return _decode(fp, max_pixels)


@contextmanager
def _binary_file(source: object) -> Iterator[BinaryIO]:
    """Yield a seekable binary file for ``source``; refuse empty input and paths that are no file."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        with _open_path(os.fspath(source)) as fp:
            yield fp
        return
    elif hasattr(source, "read"):
        data = _read_file_object(source)
    else:
        raise ParameterError(
            f"Cannot read an image from a {type(source).__name__}: pass bytes, a file path or a "
            "binary file object."
        )
    if not data:
        raise EmptyImageError("The image is empty (0 bytes): upload or choose the file again.")
    yield io.BytesIO(data)


@contextmanager
def _open_path(path: str | bytes) -> Iterator[BinaryIO]:
    """Open a regular file for reading; anything else (missing, a folder, a pipe) is refused."""
    shown = os.fsdecode(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise NotAnImageError(f"No file at {shown!r}: check the path.") from None
    except OSError as exc:
        raise NotAnImageError(f"Cannot read {shown!r}: {exc.strerror or exc}.") from None
    # Only regular files: reading a FIFO or a device such as /dev/zero could block or never end.
    if not stat.S_ISREG(info.st_mode):
        raise NotAnImageError(f"{shown!r} is not a regular file: give the path of an image file.")
    if info.st_size == 0:
        raise EmptyImageError(f"The file {shown!r} is empty (0 bytes): choose another file.")
    try:
        fp = open(path, "rb")  # noqa: SIM115 - closed below, after decoding
    except OSError as exc:
        raise NotAnImageError(f"Cannot read {shown!r}: {exc.strerror or exc}.") from None
    with fp:
        yield fp


def _read_file_object(source: object) -> bytes:
    """Read a file object whole, from its start when it can seek (an upload may have been read)."""
    try:
        if getattr(source, "seekable", lambda: False)():
            source.seek(0)  # type: ignore[attr-defined]
        data = source.read()  # type: ignore[attr-defined]
    except OSError as exc:
        raise NotAnImageError(f"Cannot read the image file object: {exc}.") from None
    if isinstance(data, str):
        raise ParameterError("The file object is in text mode: open the image file with 'rb'.")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ParameterError(f"The file object's read() returned {type(data).__name__}, not bytes.")
    return bytes(data)


def _decode(fp: BinaryIO, max_pixels: int) -> np.ndarray:
    """Identify, check and decode one image file, then convert it to an RGB uint8 array."""
    head = fp.read(_SNIFF_BYTES)
    fp.seek(0)
    limit = _effective_limit(max_pixels)
    # Pillow warns (then raises) above its own MAX_IMAGE_PIXELS; make the warning an error for this
    # call only. The global limit itself is never changed. catch_warnings is not thread-safe before
    # Python 3.14: at worst two concurrent loads leave this one "error" filter installed, which only
    # makes other Pillow code refuse > MAX_IMAGE_PIXELS images too.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        image = _open(fp, head, limit)
        with image:
            _check_dimensions(image.size, limit)
            _force_load(image, head, limit)
            rgb = _to_rgb(_apply_orientation(image))
    return np.array(rgb, dtype=np.uint8, order="C")


def _effective_limit(max_pixels: int) -> int:
    """The pixel limit in force: ``max_pixels``, capped by Pillow's own decompression-bomb limit."""
    pillow_limit = Image.MAX_IMAGE_PIXELS
    return max_pixels if pillow_limit is None else min(max_pixels, pillow_limit)


def _open(fp: BinaryIO, head: bytes, limit: int) -> Image.Image:
    """Open lazily (header only), mapping Pillow's errors to cnnviz errors."""
    try:
        return Image.open(fp, formats=tuple(SUPPORTED_FORMATS))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_large(_PILLOW_BOMB, limit) from None
    except UnidentifiedImageError:
        raise _unreadable(head) from None
    except MemoryError:
        raise _too_large("its header asks for more memory than is available", limit) from None
    except Exception as exc:  # noqa: BLE001 - plugins raise many types on damaged headers
        raise _unreadable(head, detail=str(exc)) from None


def _force_load(image: Image.Image, head: bytes, limit: int) -> None:
    """Decode the pixels now (Pillow is lazy), so a truncated file fails here and not later."""
    try:
        image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_large(_PILLOW_BOMB, limit) from None
    except MemoryError:
        raise _too_large("decoding it needs more memory than is available", limit) from None
    except Exception as exc:  # noqa: BLE001 - decoders raise OSError, SyntaxError, ValueError, ...
        kind = _sniff(head) or SUPPORTED_FORMATS.get(image.format or "", "image")
        raise TruncatedImageError(
            f"The {kind} file is truncated or damaged and cannot be decoded ({exc}). "
            "Upload the complete file again or re-save it with an image editor."
        ) from None


def _check_dimensions(size: tuple[int, int], limit: int) -> None:
    """Refuse, from the header alone, images above the pixel limit or too small or too thin."""
    width, height = size
    if width * height > limit:
        raise _too_large(f"it is {width}x{height} = {width * height:,} pixels", limit)
    problems = []
    if min(width, height) < MIN_SIDE:
        problems.append(f"its short side is below the minimum of {MIN_SIDE} pixels")
    if min(width, height) > 0 and max(width, height) / min(width, height) > MAX_ASPECT:
        ratio = max(width, height) / min(width, height)
        problems.append(f"its aspect ratio {ratio:.0f}:1 exceeds the maximum of {MAX_ASPECT}:1")
    if problems:
        raise ImageSizeError(
            f"The image is {width} pixels wide and {height} high: {' and '.join(problems)}. "
            "Use a photo-like image of at least "
            f"{MIN_SIDE}x{MIN_SIDE} pixels."
        )


def _too_large(detail: str, limit: int) -> ImageTooLargeError:
    megapixels = f" (about {limit / 1e6:.0f} megapixels)" if limit >= 1_000_000 else ""
    return ImageTooLargeError(
        f"The image is too large: {detail}. cnnviz accepts at most {limit:,} pixels{megapixels} "
        "to guard against decompression bombs; downscale the image and try again."
    )


def _sniff(head: bytes) -> str | None:
    """The supported format ``head`` starts like, if any."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    for signature, name in _SIGNATURES:
        if head.startswith(signature):
            return name
    return None


def _describe_unknown(head: bytes) -> str:
    """A few words on what an unreadable file seems to be, for the error message."""
    lowered = head.lstrip().lower()
    if head[4:8] == b"ftyp":
        return "it looks like an HEIC/AVIF photo or a video; export it as JPEG or PNG"
    if head.startswith(b"%PDF"):
        return "it looks like a PDF document"
    if lowered.startswith((b"<!doctype html", b"<html")):
        return "it looks like an HTML page"
    if lowered.startswith(b"<svg") or (lowered.startswith(b"<?xml") and b"<svg" in lowered):
        return "it looks like an SVG drawing; export it as PNG"
    if all(byte >= 32 or byte in b"\t\n\r" for byte in head):  # ASCII or UTF-8 text
        return "it looks like a text file"
    return "its format is not recognised"


def _unreadable(head: bytes, detail: str = "") -> ImageError:
    """NotAnImageError, or TruncatedImageError when the file starts like a supported format."""
    kind = _sniff(head)
    if kind is not None:
        why = f" ({detail})" if detail else ""
        return TruncatedImageError(
            f"The file starts like a {kind} image but is damaged or truncated{why}. "
            "Upload the complete file again or re-save it with an image editor."
        )
    return NotAnImageError(
        f"The file is not an image cnnviz can read ({_describe_unknown(head)}). "
        f"Supported formats: {_SUPPORTED_NAMES}."
    )


# --- colour conversion --------------------------------------------------------------------------
def _apply_orientation(image: Image.Image) -> Image.Image:
    """Rotate/flip as the EXIF Orientation tag says; a damaged EXIF block is ignored, not fatal."""
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # noqa: BLE001 - bad EXIF must not make a good image unusable
        return image


def _to_rgb(image: Image.Image) -> Image.Image:
    """Convert any colour mode to 8-bit RGB; transparency is composited on white."""
    mode = image.mode
    if mode.startswith("I") or mode == "F":
        return _high_depth_to_rgb(image)
    if image.has_transparency_data:  # RGBA, LA, PA, premultiplied, or a transparent colour
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*WHITE, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode in ("RGB", "CMYK") and image.info.get("icc_profile"):
        converted = _icc_to_srgb(image)
        if converted is not None:
            return converted
    try:
        return image if mode == "RGB" else image.convert("RGB")
    except ValueError as exc:
        raise NotAnImageError(
            f"The image's colour mode {mode!r} cannot be converted to RGB ({exc}). "
            "Re-save it as an RGB image."
        ) from None


def _high_depth_to_rgb(image: Image.Image) -> Image.Image:
    """16/32-bit integer images: the 0..65535 range maps to 0..255 (rounded); float: clip 0..255."""
    values = np.asarray(image)
    if image.mode == "F":
        grey = np.clip(np.rint(values), 0, 255).astype(np.uint8)
    else:
        wide = np.clip(values.astype(np.int64), 0, 65535)
        grey = ((wide * 255 + 32767) // 65535).astype(np.uint8)
    return Image.fromarray(grey).convert("RGB")


def _icc_to_srgb(image: Image.Image) -> Image.Image | None:
    """Convert through the embedded ICC profile to sRGB; None when the profile is unusable."""
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(image.info["icc_profile"]))
        srgb = ImageCms.createProfile("sRGB")
        return ImageCms.profileToProfile(image, source, srgb, outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None


# --- preparing for a model ----------------------------------------------------------------------
def prepare_image(image: np.ndarray, size: tuple[int, int], *, fit: str = "crop") -> np.ndarray:
    """Resize an RGB uint8 image to ``size`` = (height, width) for a model; returns uint8 (h, w, 3).

    ``fit="crop"`` (default) keeps the aspect ratio: the image is scaled so that it covers the
    target (the short side matches for a square target) and the centre is cropped, as Keras and
    torchvision evaluation transforms do; a wide image loses its left and right edges.
    ``fit="stretch"`` scales to exactly ``size`` and keeps everything but distorts the shapes.
    ``crop_box`` gives the region of the original that the result covers. Antialiased bicubic.
    """
    _check_rgb(image)
    height, width = _check_size(size)
    top, left, box_height, box_width = crop_box(image.shape[:2], (height, width), fit)
    pil = Image.fromarray(np.ascontiguousarray(image))
    resized = pil.resize(
        (width, height),
        RESAMPLE,
        box=(left, top, left + box_width, top + box_height),
        reducing_gap=REDUCING_GAP,
    )
    return np.array(resized, dtype=np.uint8, order="C")


def crop_box(
    original_shape: tuple[int, ...], size: tuple[int, int], fit: str
) -> tuple[int, int, int, int]:
    """The (top, left, height, width) region of the original that ``prepare_image`` shows.

    ``original_shape`` is the original's (height, width) (an array's ``shape`` works too). For
    "stretch" the region is the whole image; for "crop" it is the largest centred region with the
    target's aspect ratio.
    """
    if fit not in FIT_MODES:
        raise ParameterError(f"Unknown fit {fit!r}: use one of {', '.join(FIT_MODES)}.")
    if len(original_shape) < 2 or min(original_shape[:2]) < 1:
        raise ParameterError(f"original_shape must start with (height, width), got {original_shape}.")
    original_height, original_width = int(original_shape[0]), int(original_shape[1])
    height, width = _check_size(size)
    if fit == "stretch":
        return 0, 0, original_height, original_width
    # Compare aspect ratios exactly with integers: original_width/original_height vs width/height.
    if original_width * height > width * original_height:  # wider than the target: trim sides
        box_width = max(1, min(original_width, round(original_height * width / height)))
        return 0, (original_width - box_width) // 2, original_height, box_width
    box_height = max(1, min(original_height, round(original_width * height / width)))
    return (original_height - box_height) // 2, 0, box_height, original_width


def _check_rgb(image: object) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        kind = image.dtype if isinstance(image, np.ndarray) else type(image).__name__
        raise ParameterError(f"Expected an RGB uint8 array from load_image, got {kind}.")
    if image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 1:
        raise ParameterError(f"Expected an RGB image of shape (height, width, 3), got {image.shape}.")


def _check_size(size: object) -> tuple[int, int]:
    """Validate a (height, width) pair of positive integers."""
    try:
        height, width = size  # type: ignore[misc]
        valid = all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0
            for v in (height, width)
        )
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise ParameterError(f"size must be (height, width) in positive integers, got {size!r}.")
    return int(height), int(width)


# --- small helpers ------------------------------------------------------------------------------
def encode_png(image: np.ndarray) -> bytes:
    """Lossless PNG bytes of a uint8 image (height, width) or (height, width, 3 or 4), for downloads."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        kind = image.dtype if isinstance(image, np.ndarray) else type(image).__name__
        raise ParameterError(f"encode_png needs a uint8 array, got {kind}.")
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (3, 4))):
        raise ParameterError(
            f"encode_png needs shape (height, width) or (height, width, 3 or 4), got {image.shape}."
        )
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buffer, format="PNG")
    return buffer.getvalue()


def image_sha256(image: np.ndarray) -> str:
    """Hex sha256 of an array's shape, dtype and bytes: a cache key that sees every pixel."""
    if not isinstance(image, np.ndarray):
        raise ParameterError(f"image_sha256 needs a NumPy array, got {type(image).__name__}.")
    digest = hashlib.sha256(f"{image.shape}|{image.dtype.str}|".encode())
    digest.update(np.ascontiguousarray(image).tobytes())
    return digest.hexdigest()
