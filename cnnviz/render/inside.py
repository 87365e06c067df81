"""Drawing for inside-the-network results: feature-map grids, filter tiles, overlays and galleries.

Pure NumPy + OpenCV; every function returns an RGB uint8 array (``png`` turns one into bytes). The
engine modules in :mod:`cnnviz.inside` never draw; pages and the CLI call these.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from cnnviz.images import encode_png

GAP = 2  # pixels between tiles
BACKGROUND = 255  # white between tiles
DEFAULT_CELL = 64  # side of one feature-map tile, pixels
DEFAULT_FILTER_CELL = 36
OVERLAY_ALPHA = 0.55
CAPTION_HEIGHT = 15
CAPTION_FONT_SIZE = 11
SCALES = ("channel", "layer")  # normalise each tile on its own, or all tiles of a layer together


def png(image: np.ndarray) -> bytes:
    """PNG bytes of an RGB uint8 image (for downloads and files)."""
    return encode_png(np.ascontiguousarray(image))


def colorize(
    values: np.ndarray,
    low: float | None = None,
    high: float | None = None,
    colormap: int = cv2.COLORMAP_VIRIDIS,
) -> np.ndarray:
    """A 2-D array mapped through a perceptually uniform colour map (viridis) to RGB uint8."""
    values = np.asarray(values, np.float32)
    low = float(values.min()) if low is None else low
    high = float(values.max()) if high is None else high
    scaled = (values - low) / (high - low) if high > low else np.zeros_like(values)
    grey = np.clip(np.round(scaled * 255), 0, 255).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(grey, colormap), cv2.COLOR_BGR2RGB)


def diverging(values: np.ndarray, limit: float | None = None) -> np.ndarray:
    """Signed values as blue (negative), white (zero), red (positive), RGB uint8."""
    values = np.asarray(values, np.float32)
    limit = float(np.abs(values).max()) if limit is None else limit
    t = np.clip(values / limit, -1, 1) if limit > 0 else np.zeros_like(values)
    red = np.where(t > 0, 1.0, 1.0 + t)
    blue = np.where(t < 0, 1.0, 1.0 - t)
    green = 1.0 - np.abs(t)
    return np.clip(np.round(np.stack([red, green, blue], axis=-1) * 255), 0, 255).astype(np.uint8)


def enlarge(image: np.ndarray, size: int | tuple[int, int], smooth: bool = False) -> np.ndarray:
    """Resize to (height, width) (or a square side), nearest neighbour so pixels stay visible."""
    height, width = (size, size) if isinstance(size, int) else size
    flags = cv2.INTER_LINEAR if smooth else cv2.INTER_NEAREST
    return cv2.resize(np.ascontiguousarray(image), (width, height), interpolation=flags)


@lru_cache(maxsize=1)
def _font() -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=CAPTION_FONT_SIZE)


def _caption(tile: np.ndarray, text: str) -> np.ndarray:
    """The tile with a white band underneath holding ``text`` (cut to the tile's width)."""
    band = Image.new("RGB", (tile.shape[1], CAPTION_HEIGHT), (BACKGROUND,) * 3)
    draw = ImageDraw.Draw(band)
    font = _font()
    while text and draw.textlength(text, font=font) > tile.shape[1] - 2:
        text = text[:-2] + "…" if len(text) > 2 else ""
    draw.text((1, 1), text, fill=(0, 0, 0), font=font)
    return np.concatenate([tile, np.asarray(band)], axis=0)


def grid(
    tiles: Sequence[np.ndarray], columns: int | None = None, captions: Sequence[str] | None = None
) -> np.ndarray:
    """Tiles of equal size (RGB uint8) laid out in rows, with optional captions under each."""
    if not tiles:
        return np.full((1, 1, 3), BACKGROUND, np.uint8)
    if captions is not None:
        tiles = [_caption(tile, text) for tile, text in zip(tiles, captions)]
    columns = columns or math.ceil(math.sqrt(len(tiles)))
    rows = math.ceil(len(tiles) / columns)
    height, width = tiles[0].shape[:2]
    canvas = np.full((rows * (height + GAP) - GAP, columns * (width + GAP) - GAP, 3), BACKGROUND, np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        canvas[
            r * (height + GAP) : r * (height + GAP) + height, c * (width + GAP) : c * (width + GAP) + width
        ] = tile
    return canvas


def feature_map_grid(
    maps: np.ndarray,
    channels: Sequence[int] | np.ndarray | None = None,
    cell: int = DEFAULT_CELL,
    columns: int | None = None,
    scale: str = "channel",
    captions: bool = True,
) -> np.ndarray:
    """The chosen channels of a (h, w, C) map as viridis tiles, captioned with their index.

    ``scale="channel"`` stretches each tile to its own range (shapes visible in weak channels);
    ``"layer"`` uses one range for all tiles (strengths comparable).
    """
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}")
    channels = np.arange(maps.shape[-1]) if channels is None else np.asarray(channels)
    low, high = (float(maps.min()), float(maps.max())) if scale == "layer" else (None, None)
    tiles = [enlarge(colorize(maps[..., c], low, high), cell) for c in channels]
    return grid(tiles, columns, [str(int(c)) for c in channels] if captions else None)


def channel_overlay(image: np.ndarray, channel_map: np.ndarray, alpha: float = OVERLAY_ALPHA) -> np.ndarray:
    """One channel's map, upsampled smoothly to the image and blended over it (viridis)."""
    height, width = image.shape[:2]
    coloured = enlarge(colorize(channel_map), (height, width), smooth=True)
    return np.clip(np.round((1 - alpha) * image + alpha * coloured), 0, 255).astype(np.uint8)


def rgb_kernel_tiles(
    pixel_kernel: np.ndarray,
    channels: Sequence[int] | np.ndarray | None = None,
    cell: int = DEFAULT_FILTER_CELL,
    columns: int | None = None,
) -> np.ndarray:
    """First-layer kernels (kh, kw, 3, out) as colour tiles: grey is zero, each filter scaled on its own."""
    channels = np.arange(pixel_kernel.shape[-1]) if channels is None else np.asarray(channels)
    tiles = []
    for c in channels:
        kernel = pixel_kernel[..., int(c)]
        limit = float(np.abs(kernel).max()) or 1.0
        tile = np.clip(np.round((0.5 + 0.5 * kernel / limit) * 255), 0, 255).astype(np.uint8)
        tiles.append(enlarge(tile, cell))
    return grid(tiles, columns, [str(int(c)) for c in channels])


def kernel_slices(
    kernel: np.ndarray,
    cell: int = DEFAULT_FILTER_CELL,
    columns: int | None = None,
    captions: Sequence[str] | None = None,
) -> np.ndarray:
    """(kh, kw, n) spatial kernels as diverging tiles (blue negative, red positive), one shared scale."""
    limit = float(np.abs(kernel).max()) or 1.0
    tiles = [enlarge(diverging(kernel[..., i], limit), cell) for i in range(kernel.shape[-1])]
    return grid(
        tiles, columns, captions if captions is not None else [str(i) for i in range(kernel.shape[-1])]
    )


def filter_input_grid(
    kernel: np.ndarray,
    output: int,
    cell: int = DEFAULT_FILTER_CELL,
    columns: int | None = None,
    inputs: Sequence[int] | None = None,
) -> np.ndarray:
    """One output filter of a (kh, kw, in, out) kernel: a tile per input channel (what it reads from each)."""
    chosen = np.arange(kernel.shape[2]) if inputs is None else np.asarray(inputs)
    return kernel_slices(kernel[:, :, chosen, output], cell, columns, [str(int(i)) for i in chosen])


def pointwise_matrix(pointwise: np.ndarray, cell: int = 4) -> np.ndarray:
    """A separable convolution's 1x1 mix (in, out) as a diverging heat map (rows: inputs)."""
    return enlarge(diverging(pointwise), (pointwise.shape[0] * cell, pointwise.shape[1] * cell))


def draw_box(
    image: np.ndarray,
    box: tuple[int, int, int, int],
    colour: tuple[int, int, int] = (255, 64, 0),
    thickness: int = 1,
) -> np.ndarray:
    """A copy of the image with a rectangle (top, left, bottom, right), inclusive."""
    out = np.ascontiguousarray(image.copy())
    top, left, bottom, right = (int(v) for v in box)
    cv2.rectangle(out, (left, top), (right, bottom), colour, thickness)
    return out


def fit_square(image: np.ndarray, cell: int) -> np.ndarray:
    """The image scaled to fit a ``cell`` x ``cell`` square (aspect kept, whole pixels when enlarging),
    centred on the background colour."""
    height, width = image.shape[:2]
    scale = cell / max(height, width)
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    resized = enlarge(image, size, smooth=scale < 1)
    canvas = np.full((cell, cell, 3), BACKGROUND, np.uint8)
    top, left = (cell - size[0]) // 2, (cell - size[1]) // 2
    canvas[top : top + size[0], left : left + size[1]] = resized
    return canvas


def gallery(
    images: Sequence[np.ndarray], captions: Sequence[str], cell: int = 160, columns: int | None = None
) -> np.ndarray:
    """Images (any size, RGB uint8) fitted into ``cell`` squares and captioned, in a grid."""
    return grid([fit_square(image, cell) for image in images], columns, captions)


def boxed_examples(
    images: Sequence[np.ndarray],
    boxes: Sequence[tuple[int, int, int, int]],
    captions: Sequence[str],
    cell: int = 160,
    columns: int = 6,
) -> np.ndarray:
    """Top activating examples in a grid, each with its receptive-field box (top, left, bottom, right)
    drawn after enlarging the image by whole pixels, so the box stays crisp and 2 pixels wide."""
    marked = []
    for image, (top, left, bottom, right) in zip(images, boxes):
        factor = max(1, cell // max(image.shape[:2]))
        enlarged = enlarge(image, (image.shape[0] * factor, image.shape[1] * factor))
        corners = (top * factor, left * factor, (bottom + 1) * factor - 1, (right + 1) * factor - 1)
        marked.append(draw_box(enlarged, corners, thickness=2))
    return gallery(marked, captions, cell=cell, columns=min(len(marked), columns))
