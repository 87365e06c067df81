"""Drawing heatmaps: colour maps, overlays on the image, a side-by-side grid of methods, PNG bytes.

Pure NumPy + OpenCV; every function returns an RGB uint8 array (``png`` turns one into bytes). The
methods in :mod:`cnnviz.methods` never draw; pages and the CLI call these.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from cnnviz.errors import ParameterError
from cnnviz.explanation import Heatmap
from cnnviz.images import encode_png

#: Colour maps offered for heatmaps (OpenCV's, so no matplotlib figure is needed). The first three
#: are perceptually uniform (equal steps in value look like equal steps in colour, and they read in
#: grey); jet and turbo are offered because papers use them, but their bright bands invent edges.
COLORMAPS: dict[str, int] = {
    "viridis": cv2.COLORMAP_VIRIDIS, "inferno": cv2.COLORMAP_INFERNO, "magma": cv2.COLORMAP_MAGMA,
    "jet": cv2.COLORMAP_JET, "turbo": cv2.COLORMAP_TURBO, "hot": cv2.COLORMAP_HOT,
}
DEFAULT_COLORMAP = "viridis"
DEFAULT_OPACITY = 0.5
#: Side of each tile of the side-by-side grid, pixels (small model inputs are enlarged to it).
DEFAULT_TILE = 224
GAP = 4  # pixels between tiles
BACKGROUND = 255
CAPTION_HEIGHT = 18
CAPTION_SCALE = 0.42
CAPTION_COLOUR = (30, 30, 30)


def png(image: np.ndarray) -> bytes:
    """PNG bytes of an RGB uint8 image (for downloads and files)."""
    return encode_png(np.ascontiguousarray(image))


def check_style(colormap: str = DEFAULT_COLORMAP, opacity: float = DEFAULT_OPACITY) -> None:
    """ParameterError for an unknown colour map or an opacity outside [0, 1]."""
    if colormap not in COLORMAPS:
        raise ParameterError(f"Unknown colour map {colormap!r}; choose one of {', '.join(COLORMAPS)}.")
    if not 0.0 <= opacity <= 1.0:
        raise ParameterError(f"opacity must be between 0 and 1, not {opacity}.")


def colorize(heatmap: np.ndarray, colormap: str = DEFAULT_COLORMAP) -> np.ndarray:
    """A map with values in [0, 1] as RGB uint8 through a colour map."""
    check_style(colormap)
    grey = np.clip(np.round(np.asarray(heatmap, np.float32) * 255), 0, 255).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(grey, COLORMAPS[colormap]), cv2.COLOR_BGR2RGB)


def overlay(image: np.ndarray, heatmap: np.ndarray, colormap: str = DEFAULT_COLORMAP,
            opacity: float = DEFAULT_OPACITY) -> np.ndarray:
    """The coloured map blended over the image (the map is resized to the image, bilinear).

    ``opacity`` 0 shows the image only, 1 the map only.
    """
    check_style(colormap, opacity)
    height, width = image.shape[:2]
    values = np.asarray(heatmap, np.float32)
    if values.shape != (height, width):
        values = cv2.resize(values, (width, height), interpolation=cv2.INTER_LINEAR)
    colours = colorize(values, colormap).astype(np.float32)
    blended = (1.0 - opacity) * image.astype(np.float32) + opacity * colours
    return np.clip(np.round(blended), 0, 255).astype(np.uint8)


def heatmap_overlay(result: Heatmap, original: np.ndarray | None = None, colormap: str = DEFAULT_COLORMAP,
                    opacity: float = DEFAULT_OPACITY) -> np.ndarray:
    """A heatmap over the image the model saw, or over the user's ``original`` photo (full size)."""
    if original is None:
        return overlay(result.image, result.heatmap, colormap, opacity)
    if original.shape[:2] != result.original_shape:
        raise ParameterError(f"The original image is {original.shape[:2]}, but the heatmap was made for "
                             f"an image of {result.original_shape}.")
    return overlay(original, result.on_original(), colormap, opacity)


def _tile(image: np.ndarray, side: int) -> np.ndarray:
    height, width = image.shape[:2]
    scale = side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    flags = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(np.ascontiguousarray(image), size, interpolation=flags)


def _text_width(text: str) -> int:
    return cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, CAPTION_SCALE, 1)[0][0]


def _caption(tile: np.ndarray, lines: Sequence[str]) -> np.ndarray:
    strip = np.full((CAPTION_HEIGHT * len(lines), tile.shape[1], 3), BACKGROUND, np.uint8)
    for index, text in enumerate(lines):
        fitted = text
        while fitted and _text_width(fitted) > tile.shape[1] - 4:
            fitted = fitted[:-2] + "~" if len(fitted) > 2 else ""
        cv2.putText(strip, fitted, (2, CAPTION_HEIGHT * (index + 1) - 5), cv2.FONT_HERSHEY_SIMPLEX,
                    CAPTION_SCALE, CAPTION_COLOUR, 1, cv2.LINE_AA)
    return np.concatenate([strip, tile], axis=0)


def _place(tiles: Sequence[np.ndarray], axis: int) -> np.ndarray:
    """Tiles in a row (axis 1) or a column (axis 0), GAP pixels apart, on a white canvas."""
    across = 1 - axis
    length = sum(t.shape[axis] for t in tiles) + GAP * (len(tiles) - 1)
    breadth = max(t.shape[across] for t in tiles)
    shape = (length, breadth, 3) if axis == 0 else (breadth, length, 3)
    canvas = np.full(shape, BACKGROUND, np.uint8)
    start = 0
    for t in tiles:
        if axis == 0:
            canvas[start:start + t.shape[0], :t.shape[1]] = t
        else:
            canvas[:t.shape[0], start:start + t.shape[1]] = t
        start += t.shape[axis] + GAP
    return canvas


def captioned_row(images: Sequence[np.ndarray], captions: Sequence[Sequence[str]],
                  tile: int = DEFAULT_TILE) -> np.ndarray:
    """Images scaled to ``tile`` pixels on their long side, each under its caption lines, in a row."""
    if not images or len(images) != len(captions):
        raise ParameterError("Give one caption (a list of lines) per image, and at least one image.")
    return _place([_caption(_tile(image, tile), lines) for image, lines in zip(images, captions)], axis=1)


def stack_rows(rows: Sequence[np.ndarray]) -> np.ndarray:
    """Rows from :func:`side_by_side` (one per model, say) one under the other: a grid to download."""
    if not rows:
        raise ParameterError("Give at least one row to stack.")
    return _place(rows, axis=0)


def side_by_side(results: Sequence[Heatmap], original: np.ndarray | None = None,
                 colormap: str = DEFAULT_COLORMAP, opacity: float = DEFAULT_OPACITY, tile: int = DEFAULT_TILE,
                 notes: Sequence[str] | None = None) -> np.ndarray:
    """The image, then one captioned overlay per heatmap, in a row (RGB uint8).

    Captions give the method, the class and its probability, and ``notes`` (e.g. faithfulness
    scores) when given. With ``original`` the overlays are drawn on the full photo.
    """
    if not results:
        raise ParameterError("Give at least one heatmap to draw.")
    base = results[0].image if original is None else original
    height, width = results[0].original_shape
    tiles = [_caption(_tile(base, tile), ["image", f"{width} x {height} px"])]
    for index, result in enumerate(results):
        lines = [result.title, f"{result.label} {100 * result.probability:.1f}%"]
        if notes is not None and index < len(notes) and notes[index]:
            lines.append(notes[index])
        tiles.append(_caption(_tile(heatmap_overlay(result, original, colormap, opacity), tile), lines))
    return _place(tiles, axis=1)


__all__ = ["COLORMAPS", "DEFAULT_COLORMAP", "DEFAULT_OPACITY", "png", "check_style", "colorize", "overlay",
           "heatmap_overlay", "side_by_side", "captioned_row", "stack_rows"]
