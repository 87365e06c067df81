"""Procedural handwritten digits: 28 x 28 grayscale, white on black like MNIST, with masks.

The training data of the bundled LeNet-5 demo model (cnnviz.demo.lenet). Each digit is drawn with
one of several stroke fonts - OpenCV's Hershey vector fonts (plain, serif, script, italic) or this
module's own polylines (straight strokes and elliptical arcs whose control points are jittered like
a hand would) - with random stroke thickness, then slanted, rotated and scaled by one affine map,
bent by an elastic distortion (Simard et al., 2003, "Best practices for convolutional neural
networks applied to visual document analysis"), fitted into a 20-pixel box and centred on its
centre of mass in the 28 x 28 field the way MNIST was (LeCun et al., 1998), and noised. The mask is
the ink (pixels at least half covered). Pure NumPy + OpenCV: no TensorFlow, so sampling is instant.
Images are RGB uint8 with equal channels, like every image cnnviz handles; a grayscale model
converts them (cnnviz.models).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from cnnviz.errors import ClassIndexError, ParameterError

DIGIT_CLASSES: tuple[str, ...] = tuple(str(digit) for digit in range(10))
DIGIT_IMAGE_SIZE = 28

# Seeds, as in cnnviz.demo.shapes: training epochs draw from TRAIN_SEED + epoch, never the test seed.
TRAIN_SEED = 2000
MAX_TRAIN_EPOCHS = 1000
VAL_SEED = 2
TEST_SEED = 54321

CANVAS = 112  # digits are drawn 4x larger, distorted there, then area-averaged down (anti-aliasing)
HERSHEY_FONTS = (
    cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, cv2.FONT_HERSHEY_SCRIPT_COMPLEX,
    cv2.FONT_HERSHEY_PLAIN,
)
HERSHEY_SHARE = 0.5  # the other half is drawn with this module's polylines
ITALIC_SHARE = 0.25  # Hershey digits drawn with FONT_ITALIC
THICKNESS_RANGE = (5, 13)  # stroke width on the canvas: about 1.2 to 3 pixels at 28 x 28
JITTER = 0.035  # standard deviation of the polyline control points, in digit heights
ROTATION_DEGREES = 12.0
SLANT_RANGE = (-0.35, 0.35)  # horizontal shear: x += slant * y
ASPECT_RANGE = (0.75, 1.25)  # width / height stretch
ELASTIC_ALPHA = (0.0, 7.0)  # displacement amplitude in canvas pixels
ELASTIC_SIGMA = 9.0  # smoothing of the displacement field, canvas pixels
BOX_RANGE = (16.0, 21.0)  # the longer side of the digit, in pixels of the 28 x 28 image (MNIST: 20)
SHIFT = 1.5  # random offset of the centre of mass from the image centre, pixels
NOISE_SIGMA = (0.0, 14.0)
MASK_COVERAGE = 0.5
_ARC_POINTS = 24


@dataclass(frozen=True)
class DigitSample:
    """One generated digit with its ground truth: the ink's pixels (mask) and its class."""

    image: np.ndarray  # (28, 28, 3) uint8, equal channels: white strokes on black
    mask: np.ndarray  # (28, 28) bool, True on the strokes
    label: int
    class_name: str


# --- this module's own stroke font ----------------------------------------------------------------
# Each digit is a list of strokes in a unit box (x right, y down, height 1). An arc is
# ("arc", cx, cy, rx, ry, start degrees, end degrees), angles measured with y down (90 = bottom);
# a polyline is a list of (x, y) points.
Stroke = list[tuple[float, float]] | tuple[object, ...]
_POLYLINE_FONT: dict[int, tuple[tuple[Stroke, ...], ...]] = {
    0: ((("arc", 0.5, 0.5, 0.32, 0.5, -90, 270),),),
    1: (([(0.55, 0.0), (0.55, 1.0)],),
        ([(0.3, 0.2), (0.55, 0.0), (0.55, 1.0)],),
        ([(0.3, 0.2), (0.55, 0.0), (0.55, 1.0)], [(0.3, 1.0), (0.8, 1.0)])),
    2: ((("arc", 0.5, 0.3, 0.36, 0.3, -170, 30), [(0.8, 0.46), (0.12, 1.0), (0.9, 1.0)]),
        (("arc", 0.5, 0.3, 0.36, 0.3, -170, 40), [(0.77, 0.5), (0.15, 1.0), (0.55, 0.9), (0.9, 1.0)])),
    3: ((("arc", 0.5, 0.26, 0.3, 0.26, -160, 90), ("arc", 0.5, 0.75, 0.36, 0.25, -90, 160)),
        ([(0.15, 0.0), (0.85, 0.0), (0.45, 0.42)], ("arc", 0.5, 0.72, 0.37, 0.28, -100, 160))),
    4: (([(0.7, 1.0), (0.7, 0.0), (0.08, 0.68), (0.95, 0.68)],),
        ([(0.25, 0.0), (0.12, 0.62), (0.92, 0.62)], [(0.7, 0.25), (0.7, 1.0)])),
    5: (([(0.85, 0.0), (0.25, 0.0), (0.2, 0.45)], ("arc", 0.5, 0.69, 0.35, 0.31, -140, 150)),),
    6: (([(0.75, 0.0), (0.35, 0.2), (0.17, 0.55), (0.16, 0.72)], ("arc", 0.5, 0.71, 0.34, 0.29, 180, 540)),),
    7: (([(0.08, 0.0), (0.92, 0.0), (0.4, 1.0)],),
        ([(0.08, 0.0), (0.92, 0.0), (0.4, 1.0)], [(0.35, 0.52), (0.78, 0.52)]),
        ([(0.08, 0.12), (0.1, 0.0), (0.92, 0.0), (0.6, 0.5), (0.48, 1.0)],)),
    8: ((("arc", 0.5, 0.25, 0.27, 0.25, 0, 360), ("arc", 0.5, 0.73, 0.33, 0.27, -90, 270)),),
    9: ((("arc", 0.5, 0.29, 0.33, 0.29, 0, 360), [(0.83, 0.29), (0.8, 0.7), (0.55, 1.0)]),
        (("arc", 0.5, 0.29, 0.33, 0.29, 0, 360), [(0.83, 0.29), (0.83, 1.0)])),
}


def _stroke_points(stroke: Stroke) -> np.ndarray:
    if isinstance(stroke, tuple) and stroke and stroke[0] == "arc":
        _, cx, cy, rx, ry, start, end = stroke
        angles = np.radians(np.linspace(float(start), float(end), _ARC_POINTS))  # type: ignore[arg-type]
        points = (cx + rx * np.cos(angles), cy + ry * np.sin(angles))  # type: ignore[operator]
        return np.stack(points, axis=1)
    return np.asarray(stroke, np.float64)


def _draw_polylines(canvas: np.ndarray, label: int, rng: np.random.Generator, thickness: int) -> None:
    variants = _POLYLINE_FONT[label]
    strokes = variants[int(rng.integers(len(variants)))]
    height = 0.55 * CANVAS
    origin = np.array([CANVAS / 2 - 0.3 * height, CANVAS / 2 - height / 2])
    for stroke in strokes:
        points = _stroke_points(stroke)
        points = points + rng.normal(0, JITTER, points.shape)  # a hand never draws the same line twice
        pixels = np.rint((origin + points * height) * 16).astype(np.int32)  # 4 fractional bits
        cv2.polylines(canvas, [pixels], False, 255, thickness, cv2.LINE_AA, shift=4)


def _draw_hershey(canvas: np.ndarray, label: int, rng: np.random.Generator, thickness: int) -> None:
    font = HERSHEY_FONTS[int(rng.integers(len(HERSHEY_FONTS)))]
    if rng.random() < ITALIC_SHARE:
        font |= cv2.FONT_ITALIC
    text = DIGIT_CLASSES[label]
    (width, height), _ = cv2.getTextSize(text, font, 1.0, thickness)
    scale = 0.55 * CANVAS / max(height, 1)
    (width, height), _ = cv2.getTextSize(text, font, scale, thickness)
    origin = (int((CANVAS - width) / 2), int((CANVAS + height) / 2))
    cv2.putText(canvas, text, origin, font, scale, 255, thickness, cv2.LINE_AA)


# --- distortions ----------------------------------------------------------------------------------
def _affine(canvas: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rotation, slant (shear) and aspect stretch about the canvas centre."""
    angle = np.radians(rng.uniform(-ROTATION_DEGREES, ROTATION_DEGREES))
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    shear = np.array([[1.0, rng.uniform(*SLANT_RANGE)], [0.0, 1.0]])
    aspect = rng.uniform(*ASPECT_RANGE)
    stretch = np.diag([np.sqrt(aspect), 1 / np.sqrt(aspect)])
    linear = rotation @ shear @ stretch
    centre = np.array([CANVAS / 2, CANVAS / 2])
    matrix = np.hstack([linear, (centre - linear @ centre)[:, None]])
    return cv2.warpAffine(canvas, matrix, (CANVAS, CANVAS), flags=cv2.INTER_LINEAR)


def _elastic(canvas: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Simard et al.'s elastic distortion: a smoothed random displacement field."""
    alpha = rng.uniform(*ELASTIC_ALPHA)
    if alpha < 0.5:
        return canvas
    field = rng.uniform(-1, 1, (2, CANVAS, CANVAS)).astype(np.float32)
    field = np.stack([cv2.GaussianBlur(f, (0, 0), ELASTIC_SIGMA) for f in field])
    field *= alpha / max(float(np.abs(field).max()), 1e-6)
    ys, xs = np.mgrid[0:CANVAS, 0:CANVAS].astype(np.float32)
    return cv2.remap(canvas, xs + field[0], ys + field[1], cv2.INTER_LINEAR)


def _fit_mnist_style(canvas: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """Scale the ink's bounding box to a random box side and centre its centre of mass (float 0..1)."""
    ys, xs = np.nonzero(canvas > 16)
    top, bottom, left, right = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    ink = canvas[top:bottom, left:right].astype(np.float32) / 255.0
    scale = rng.uniform(*BOX_RANGE) * size / DIGIT_IMAGE_SIZE / max(ink.shape)
    height, width = max(1, round(ink.shape[0] * scale)), max(1, round(ink.shape[1] * scale))
    small = cv2.resize(ink, (width, height), interpolation=cv2.INTER_AREA)
    total = float(small.sum()) or 1.0
    centre_y = float((small.sum(axis=1) * np.arange(height)).sum()) / total
    centre_x = float((small.sum(axis=0) * np.arange(width)).sum()) / total
    shift = rng.uniform(-SHIFT, SHIFT, 2)
    offset_x = (size - 1) / 2 + shift[0] - centre_x
    offset_y = (size - 1) / 2 + shift[1] - centre_y
    matrix = np.array([[1.0, 0.0, offset_x], [0.0, 1.0, offset_y]], np.float32)
    return cv2.warpAffine(small, matrix, (size, size), flags=cv2.INTER_LINEAR)


# --- public API -----------------------------------------------------------------------------------
def _check(size: int, class_index: int | None) -> None:
    if not isinstance(size, (int, np.integer)) or size < DIGIT_IMAGE_SIZE:
        raise ParameterError(f"Digit images must be at least {DIGIT_IMAGE_SIZE} pixels wide, got {size!r}.")
    if class_index is not None and not (
        isinstance(class_index, (int, np.integer)) and 0 <= class_index < len(DIGIT_CLASSES)
    ):
        raise ClassIndexError(f"class_index must be a digit 0..9, got {class_index!r}.")


def generate_digit(
    rng: np.random.Generator | int, size: int = DIGIT_IMAGE_SIZE, class_index: int | None = None
) -> DigitSample:
    """One handwritten-looking digit (``class_index``, random if None) and its ink mask.

    ``rng`` is a NumPy Generator (advanced in place) or an int seed; the same seed gives the same digit.
    """
    _check(size, class_index)
    rng = np.random.default_rng(rng)
    label = int(rng.integers(len(DIGIT_CLASSES))) if class_index is None else int(class_index)
    canvas = np.zeros((CANVAS, CANVAS), np.uint8)
    thickness = int(rng.integers(THICKNESS_RANGE[0], THICKNESS_RANGE[1] + 1))
    draw = _draw_hershey if rng.random() < HERSHEY_SHARE else _draw_polylines
    draw(canvas, label, rng, thickness)
    ink = _fit_mnist_style(_elastic(_affine(canvas, rng), rng), rng, size)
    mask = ink >= MASK_COVERAGE
    noise = rng.normal(0, rng.uniform(*NOISE_SIGMA), ink.shape)
    gray = np.clip(np.rint(ink * 255 + noise), 0, 255).astype(np.uint8)
    return DigitSample(image=np.repeat(gray[:, :, None], 3, axis=2), mask=mask, label=label,
                       class_name=DIGIT_CLASSES[label])


def generate_digits(
    n: int, seed: int, size: int = DIGIT_IMAGE_SIZE
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` digits with balanced classes (counts differ by at most one), in shuffled order.

    Returns (images (n, H, W, 3) uint8, labels (n,) int64, masks (n, H, W) bool); same seed, same data.
    """
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ParameterError(f"The number of samples must be a non-negative integer, got {n!r}.")
    _check(size, None)
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n, dtype=np.int64) % len(DIGIT_CLASSES))
    images = np.empty((n, size, size, 3), np.uint8)
    masks = np.empty((n, size, size), bool)
    for i, label in enumerate(labels):
        sample = generate_digit(rng, size, int(label))
        images[i], masks[i] = sample.image, sample.mask
    return images, labels, masks
