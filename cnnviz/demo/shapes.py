"""Procedural "shapes" dataset: one coloured shape per image on a textured background, with its mask.

It gives cnnviz a model whose right answer is known: the class is the shape, and the mask says which
pixels a heatmap should point at. Colours are independent of the class and backgrounds are coloured
and textured (gradient, blobs, grating, noise), so a network has to learn outline, not colour.
Pure NumPy + OpenCV on purpose: no TensorFlow here, so generating samples is instant.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from cnnviz.errors import ClassIndexError, ParameterError

SHAPE_CLASSES: tuple[str, ...] = (
    "circle",
    "square",
    "triangle",
    "star",
    "cross",
    "ring",
    "heart",
    "arrow",
)
DEMO_IMAGE_SIZE = 64

# Seeds. Training draws a fresh set each epoch from TRAIN_SEED + epoch (epochs < MAX_TRAIN_EPOCHS,
# so 1000..1999); validation uses VAL_SEED; TEST_SEED is never used in training.
TRAIN_SEED = 1000
MAX_TRAIN_EPOCHS = 1000
VAL_SEED = 1
TEST_SEED = 12345

MIN_IMAGE_SIZE = 32
# Shape circumradius as a fraction of the image side: the shape spans about 24-44 % of the side.
MIN_RADIUS_FRACTION = 0.12
MAX_RADIUS_FRACTION = 0.22
# The shape stays fully inside the image, this many pixels from the border at least.
BORDER_MARGIN = 1
# Smallest RGB distance between the shape colour and the mean background under it.
MIN_COLOUR_CONTRAST = 110.0
COLOUR_TRIES = 32
# Background texture amplitudes (pixel values, 0..255 scale).
GRADIENT_SPREAD = 45.0
BLOB_AMPLITUDE = 25.0
GRATING_MAX_AMPLITUDE = 18.0
NOISE_SIGMA_RANGE = (3.0, 12.0)
# Shapes are drawn this many times larger, then area-averaged down: anti-aliased edges.
SUPERSAMPLE = 4
# A pixel belongs to the mask when the shape covers at least half of it.
MASK_COVERAGE = 0.5
# A ring's hole radius as a fraction of its outer radius: a thick band, so a heatmap peak can land on it.
RING_HOLE = 0.5
_CIRCLE_POINTS = 72


@dataclass(frozen=True)
class ShapeSample:
    """One generated image with its ground truth: the shape's pixels (mask) and its class."""

    image: np.ndarray  # (H, W, 3) uint8
    mask: np.ndarray  # (H, W) bool, True on the shape's pixels
    label: int
    class_name: str


def _regular_polygon(n: int, radius: float, phase: float = -np.pi / 2) -> np.ndarray:
    angles = phase + 2 * np.pi * np.arange(n) / n
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _star(radius: float) -> np.ndarray:
    outer = _regular_polygon(5, radius)
    inner = _regular_polygon(5, 0.42 * radius, phase=-np.pi / 2 + np.pi / 5)
    return np.stack([outer, inner], axis=1).reshape(-1, 2)


def _cross(radius: float) -> np.ndarray:
    a, w = radius * 0.95, radius * 0.34  # arm half-length, arm half-width
    return np.array(
        [
            [-w, -a], [w, -a], [w, -w], [a, -w], [a, w], [w, w],
            [w, a], [-w, a], [-w, w], [-a, w], [-a, -w], [-w, -w],
        ]
    )


def _heart(radius: float) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, _CIRCLE_POINTS, endpoint=False)
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    points = np.stack([x, y + 2.5], axis=1)  # centre the curve's bounding box vertically
    return points * (radius / 16.5)


def _arrow(radius: float) -> np.ndarray:
    shaft, head, neck = radius * 0.24, radius * 0.62, radius * 0.05  # half-widths, head base position
    return np.array(
        [
            [-radius * 0.95, -shaft], [neck, -shaft], [neck, -head], [radius, 0.0],
            [neck, head], [neck, shaft], [-radius * 0.95, shaft],
        ]
    )


def _shape_polygons(name: str, radius: float) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Outline of a shape centred on the origin: (filled polygons, holes cut out of them)."""
    if name == "circle":
        return [_regular_polygon(_CIRCLE_POINTS, radius * 0.92)], []
    if name == "square":
        return [_regular_polygon(4, radius, phase=np.pi / 4)], []
    if name == "triangle":
        return [_regular_polygon(3, radius * 1.08) + [0.0, radius * 0.2]], []
    if name == "star":
        return [_star(radius * 1.05)], []
    if name == "cross":
        return [_cross(radius)], []
    if name == "ring":
        return [_regular_polygon(_CIRCLE_POINTS, radius)], [_regular_polygon(_CIRCLE_POINTS, radius * RING_HOLE)]
    if name == "heart":
        return [_heart(radius)], []
    if name == "arrow":
        return [_arrow(radius)], []
    raise AssertionError(f"no outline for {name!r}")  # SHAPE_CLASSES and this function disagree


def _shape_coverage(
    size: int, filled: list[np.ndarray], holes: list[np.ndarray], centre: np.ndarray, angle: float
) -> np.ndarray:
    """Fraction of each pixel the shape covers, (size, size) float32 in [0, 1] (anti-aliased)."""
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    canvas = np.zeros((size * SUPERSAMPLE, size * SUPERSAMPLE), np.uint8)

    def to_canvas(points: np.ndarray) -> np.ndarray:
        # pixel centres sit at integer + 0.5; keep 4 fractional bits for OpenCV's sub-pixel drawing
        pixels = (points @ rotation.T + centre) * SUPERSAMPLE - 0.5
        return np.round(pixels * 16).astype(np.int32)

    cv2.fillPoly(canvas, [to_canvas(p) for p in filled], 255, lineType=cv2.LINE_8, shift=4)
    if holes:
        cv2.fillPoly(canvas, [to_canvas(p) for p in holes], 0, lineType=cv2.LINE_8, shift=4)
    small = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)
    return small.astype(np.float32) / 255.0


@lru_cache(maxsize=8)
def _axis(size: int) -> np.ndarray:
    return (np.arange(size, dtype=np.float32) + np.float32(0.5)) / np.float32(size) - np.float32(0.5)


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Coloured, textured background as channel planes (3, size, size) float32.

    A colour gradient, low-frequency blobs and a faint grating. Planes, not (H, W, 3): NumPy
    broadcasts over a last axis of 3 slowly, and the gradient and grating are built from row and
    column vectors (sin(a + b) is separable), which keeps a 64 x 64 background cheap.
    """
    axis = _axis(size)
    base = rng.uniform(40, 215, 3).astype(np.float32)
    step = rng.normal(0, GRADIENT_SPREAD, 3).astype(np.float32)
    direction = rng.uniform(0, 2 * np.pi)
    ramp = np.add.outer(np.float32(np.sin(direction)) * axis, np.float32(np.cos(direction)) * axis)
    cells = int(rng.integers(2, 6))
    blobs = rng.normal(0, BLOB_AMPLITUDE, (3, cells, cells)).astype(np.float32)
    frequency, theta, phase = rng.uniform(2, 10), rng.uniform(0, np.pi), rng.uniform(0, 2 * np.pi)
    along_x = np.float32(2 * np.pi * frequency * np.cos(theta)) * axis + np.float32(phase)
    along_y = np.float32(2 * np.pi * frequency * np.sin(theta)) * axis
    grating = np.outer(np.cos(along_y), np.sin(along_x)) + np.outer(np.sin(along_y), np.cos(along_x))
    grating_weights = (rng.uniform(0, GRATING_MAX_AMPLITUDE) * rng.uniform(0.3, 1, 3)).astype(np.float32)
    planes = np.empty((3, size, size), np.float32)
    for c in range(3):
        planes[c] = cv2.resize(blobs[c], (size, size), interpolation=cv2.INTER_CUBIC)
        planes[c] += base[c] + step[c] * ramp + grating_weights[c] * grating
    return planes


def _shape_colour(rng: np.random.Generator, under: np.ndarray) -> np.ndarray:
    """A random colour at least MIN_COLOUR_CONTRAST from ``under`` (the best of a few tries)."""
    candidates = rng.uniform(0, 255, (COLOUR_TRIES, 3))
    distances = np.linalg.norm(candidates - under, axis=1)
    good = np.flatnonzero(distances >= MIN_COLOUR_CONTRAST)
    return candidates[good[0] if good.size else int(np.argmax(distances))]


def _check_size(size: int) -> None:
    if not isinstance(size, (int, np.integer)) or size < MIN_IMAGE_SIZE:
        raise ParameterError(f"Image size must be an integer of at least {MIN_IMAGE_SIZE} pixels, got {size!r}.")


def generate_sample(
    rng: np.random.Generator | int, size: int = DEMO_IMAGE_SIZE, class_index: int | None = None
) -> ShapeSample:
    """One image holding one shape (class ``class_index``, random if None) and its ground-truth mask.

    ``rng`` is a NumPy Generator (advanced in place) or an int seed; the same seed gives the same sample.
    """
    _check_size(size)
    if class_index is not None and not (
        isinstance(class_index, (int, np.integer)) and 0 <= class_index < len(SHAPE_CLASSES)
    ):
        raise ClassIndexError(
            f"class_index must be an integer in 0..{len(SHAPE_CLASSES) - 1} ({', '.join(SHAPE_CLASSES)}), "
            f"got {class_index!r}."
        )
    rng = np.random.default_rng(rng)
    label = int(rng.integers(len(SHAPE_CLASSES))) if class_index is None else int(class_index)
    name = SHAPE_CLASSES[label]

    radius = rng.uniform(MIN_RADIUS_FRACTION, MAX_RADIUS_FRACTION) * size
    filled, holes = _shape_polygons(name, radius)
    extent = max(float(np.linalg.norm(points, axis=1).max()) for points in filled)  # reach at any rotation
    centre = rng.uniform(extent + BORDER_MARGIN, size - extent - BORDER_MARGIN, 2)
    coverage = _shape_coverage(size, filled, holes, centre, rng.uniform(0, 2 * np.pi))
    mask = coverage >= MASK_COVERAGE

    background = _background(rng, size)
    colour = _shape_colour(rng, background[:, mask].mean(axis=1)).astype(np.float32)
    # uniform pixel noise of standard deviation sigma (cheaper to draw than Gaussian, looks the same)
    sigma = np.float32(rng.uniform(*NOISE_SIGMA_RANGE) * np.sqrt(12))
    noise = rng.random(background.shape, dtype=np.float32) - np.float32(0.5)
    planes = [
        np.clip(np.rint(plane + coverage * (value - plane) + sigma * grain), 0, 255).astype(np.uint8)
        for plane, value, grain in zip(background, colour, noise)
    ]
    image = cv2.merge(planes)
    return ShapeSample(image=image, mask=mask, label=label, class_name=name)


def generate_dataset(
    n: int, seed: int, size: int = DEMO_IMAGE_SIZE
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` samples with balanced classes (counts differ by at most one), in shuffled order.

    Returns (images (n, H, W, 3) uint8, labels (n,) int64, masks (n, H, W) bool); same seed, same data.
    """
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ParameterError(f"The number of samples must be a non-negative integer, got {n!r}.")
    _check_size(size)
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n, dtype=np.int64) % len(SHAPE_CLASSES))
    images = np.empty((n, size, size, 3), np.uint8)
    masks = np.empty((n, size, size), bool)
    for i, label in enumerate(labels):
        sample = generate_sample(rng, size, int(label))
        images[i], masks[i] = sample.image, sample.mask
    return images, labels, masks
