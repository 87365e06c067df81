"""Drawing adversarial results: changed pixels circled, zoomed views, the perturbation amplified.

Images are enlarged with nearest-neighbour interpolation so single pixels stay visible as squares.
Positions are (row, column), origin top-left. Downloads are PNG (lossless): JPEG would alter the
pixels and undo the attack.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from cnnviz.attacks.result import AttackResult
from cnnviz.errors import ParameterError
from cnnviz.images import encode_png

#: Enlarge images to about this many pixels on the long side for display.
DISPLAY_SIZE = 320
#: Circle at most this many pixels; beyond that circles hide the image (use the perturbation view).
MAX_CIRCLED = 20
CIRCLE_COLOUR = (255, 32, 32)
HALO_COLOUR = (255, 255, 255)  # drawn under each circle so it shows on red backgrounds too
#: Zoomed view: (2 * ZOOM_RADIUS + 1) pixels across, each drawn ZOOM_SCALE times larger.
ZOOM_RADIUS = 4
ZOOM_SCALE = 24
GRID_COLOUR = (96, 96, 96)
PAD_COLOUR = (128, 128, 128)


def display_scale(shape: tuple[int, ...], size: int = DISPLAY_SIZE) -> int:
    """Whole-number enlargement that brings the long side close to ``size`` (at least 1)."""
    return max(1, size // max(shape[:2]))


def enlarge(image: np.ndarray, scale: int) -> np.ndarray:
    """Nearest-neighbour enlargement by a whole factor: each pixel becomes a scale x scale square."""
    if scale < 1:
        raise ParameterError(f"scale must be at least 1, not {scale}.")
    return np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)


def circle_pixels(image: np.ndarray, positions: Sequence[tuple[int, int]], scale: int | None = None,
                  colour: tuple[int, int, int] = CIRCLE_COLOUR) -> np.ndarray:
    """The image enlarged, with a circle around each (row, column) in ``positions`` (at most 20)."""
    scale = display_scale(image.shape) if scale is None else scale
    canvas = np.ascontiguousarray(enlarge(image, scale))
    radius = max(6, 3 * scale)
    thickness = max(1, scale // 3)
    for row, column in list(positions)[:MAX_CIRCLED]:
        centre = (int((column + 0.5) * scale), int((row + 0.5) * scale))  # OpenCV wants (x, y)
        cv2.circle(canvas, centre, radius, HALO_COLOUR, thickness + 2, lineType=cv2.LINE_AA)
        cv2.circle(canvas, centre, radius, colour, thickness, lineType=cv2.LINE_AA)
    return canvas


def before_after(result: AttackResult, scale: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Original and adversarial images, enlarged, with the changed pixels circled on both."""
    positions = [(p.row, p.column) for p in result.changed_pixels[:MAX_CIRCLED]] \
        if result.l0 <= MAX_CIRCLED else []
    return (circle_pixels(result.original, positions, scale),
            circle_pixels(result.adversarial, positions, scale))


def zoom(image: np.ndarray, row: int, column: int, radius: int = ZOOM_RADIUS,
         scale: int = ZOOM_SCALE) -> np.ndarray:
    """The (2 radius + 1)^2 neighbourhood of (row, column), enlarged, with a pixel grid and the
    centre pixel outlined; outside the image is grey."""
    height, width = image.shape[:2]
    if not (0 <= row < height and 0 <= column < width):
        raise ParameterError(f"Pixel (row {row}, column {column}) is outside the {height}x{width} image.")
    padded = cv2.copyMakeBorder(np.ascontiguousarray(image), radius, radius, radius, radius,
                                cv2.BORDER_CONSTANT, value=PAD_COLOUR)
    patch = padded[row:row + 2 * radius + 1, column:column + 2 * radius + 1]
    canvas = np.ascontiguousarray(enlarge(patch, scale))
    canvas[::scale, :] = GRID_COLOUR
    canvas[:, ::scale] = GRID_COLOUR
    top_left = (radius * scale, radius * scale)
    bottom_right = ((radius + 1) * scale - 1, (radius + 1) * scale - 1)
    cv2.rectangle(canvas, top_left, bottom_right, CIRCLE_COLOUR, max(2, scale // 8))
    return canvas


def zoomed_pixels(result: AttackResult, radius: int = ZOOM_RADIUS,
                  scale: int = ZOOM_SCALE) -> list[tuple[np.ndarray, np.ndarray]]:
    """(before, after) zoomed views around each changed pixel, for at most 20 pixels."""
    return [(zoom(result.original, p.row, p.column, radius, scale),
             zoom(result.adversarial, p.row, p.column, radius, scale))
            for p in result.changed_pixels[:MAX_CIRCLED]]


def amplified_perturbation(result: AttackResult, gain: float | None = None,
                           scale: int | None = None) -> np.ndarray:
    """The perturbation as an image: grey (128) where nothing changed, ``128 + gain * delta``
    elsewhere; ``gain`` defaults to the factor that maps the largest change to full range."""
    delta = result.perturbation.astype(np.float32)
    largest = float(np.abs(delta).max(initial=0))
    if gain is None:
        gain = 127.0 / largest if largest else 1.0
    image = np.clip(np.rint(128.0 + gain * delta), 0, 255).astype(np.uint8)
    return enlarge(image, display_scale(image.shape) if scale is None else scale)


def adversarial_png(result: AttackResult) -> bytes:
    """The adversarial image as lossless PNG bytes at the model's input size (never JPEG)."""
    return encode_png(result.adversarial)
