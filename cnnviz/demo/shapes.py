"""Procedural "shapes" dataset: one shape per image, drawn in many styles, with its mask.

It gives cnnviz a model whose right answer is known: the class is the shape, and the mask says which
pixels a heatmap should point at (the pixels of the shape as drawn: the strokes of an outlined
shape, not its inside). Each shape comes in many styles so that a network trained here also knows
shapes drawn by other code: filled, outlined or filled with a border; thin and thick strokes (and
line art: an arrow with an open head, a pentagram, a cross of two strokes); random proportions (arm
width, ring hole, star points, arrow head); any rotation, stretched and sheared; several sizes; on
textured, photo-like, plain or ramp backgrounds; sometimes with small clutter that is none of the
classes, away from the shape. Colours are independent of the class, so a network has to learn the
outline, not the colour. ``varied=True`` gives these styles; the default is still the first generator's
plain look (see VARIED_BY_DEFAULT). Pure NumPy + OpenCV on purpose: no TensorFlow here, so generating samples
is instant (about 2 ms a 64 px image).
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
# Shape circumradius as a fraction of the image side, before the random stretch and shear.
MIN_RADIUS_FRACTION = 0.11
MAX_RADIUS_FRACTION = 0.29
# The transformed shape reaches at most this fraction of the side from its centre (scaled down if needed).
MAX_EXTENT_FRACTION = 0.33
# The shape stays fully inside the image, this many pixels from the border at least.
BORDER_MARGIN = 1
MAX_SHIFTS = 3  # tries at moving a shape whose stroke crosses that margin back inside
# Random affine distortion of each shape: area-preserving stretch along a random axis, then shear.
MAX_STRETCH = 1.2
MAX_SHEAR = 0.25
# How a shape is drawn: a filled area, only its outline (every contour, holes included), filled with
# a border of another colour, filled with a pattern (stripes, checks, dots; the background shows
# between them; sometimes with a border), or as a broken outline (the outline with regular gaps). Outline strokes are a fraction of the radius wide, never under
# MIN_STROKE_PIXELS (at 64 px, scaled with the image); a ring's band is always wider than a circle's
# outline stroke, so an outlined circle never looks like a ring.
STYLES = ("filled", "outlined", "bordered", "patterned", "broken")
STYLE_WEIGHTS = (0.34, 0.2, 0.14, 0.18, 0.14)
# Patterned fills: period of the stripes, checks or dot grid in pixels (at 64 px) and the share of
# each period the paint covers; a border around the pattern on some shapes.
PATTERNS = ("stripes", "crossed", "checks", "dots")
PATTERN_PERIOD = (2.8, 6.0)
PATTERN_DUTY = (0.3, 0.6)
PATTERN_BORDER_PROBABILITY = 0.5
# Broken outlines: this many gaps around the shape's centre, each this share of its period.
BROKEN_GAPS = (5, 16)
BROKEN_GAP_SHARE = (0.25, 0.5)
# Some shapes are drawn without supersampling: hard, aliased edges like a plain rasteriser's.
ALIASED_PROBABILITY = 0.3
# A patterned or broken shape whose mask covers less than this share of the image is drawn whole.
MIN_MASK_SHARE = 0.008
STROKE_FRACTION = (0.1, 0.22)
MIN_STROKE_PIXELS = 1.6
# Outlined arrows, stars and crosses are sometimes drawn as line art instead: an arrow as a shaft and
# an open head, a star as a pentagram, a cross as two strokes.
LINE_ART_PROBABILITY = 0.35
# Smallest RGB distance between the shape colour and the mean background under it.
MIN_COLOUR_CONTRAST = 110.0
COLOUR_TRIES = 32
# Shape fill: a colour ramp across the shape this strong at most (pixel values), on some shapes.
FILL_GRADIENT_PROBABILITY = 0.4
FILL_GRADIENT_SPREAD = 60.0
# Backgrounds: the procedural texture (gradient, blobs, grating), photo-like multi-scale noise with
# straight edges, a plain colour (paper, screen), a two-colour ramp, a crop of a real photograph
# (scikit-image's sample images, see PICTURES), or a mosaic (pebbles or bricks, busy with edges).
BACKGROUNDS = ("textured", "photo", "flat", "ramp", "picture", "mosaic")
BACKGROUND_WEIGHTS = (0.15, 0.15, 0.15, 0.1, 0.3, 0.15)
# The photographs of scikit-image (bundled with it: no download) that "picture" backgrounds crop.
# Held out on purpose: astronaut, coffee, chelsea (cat), rocket, brick, grass and gravel, which the
# independent-style test (tests/test_shapes_independent.py) draws on.
PICTURES = ("camera", "coins", "moon", "stereo_motorcycle", "immunohistochemistry", "hubble_deep_field",
            "retina", "clock", "page", "text", "colorwheel", "cell", "microaneurysms", "horse")
PICTURE_MIN_CROP = 48  # pixels of the photograph a crop covers at least (then resized to the image)
# Background texture amplitudes (pixel values, 0..255 scale).
GRADIENT_SPREAD = 45.0
BLOB_AMPLITUDE = 25.0
GRATING_MAX_AMPLITUDE = 18.0
PHOTO_AMPLITUDE = 40.0
NOISE_SIGMA_RANGE = (0.0, 12.0)
FLAT_NOISE_SIGMA_RANGE = (0.0, 5.0)
# Clutter: on some images, a few small marks that are none of the classes (short strokes, specks,
# scribbles), kept CLUTTER_GAP pixels (at 64 px) away from the shape; they are not in the mask.
CLUTTER_PROBABILITY = 0.3
MAX_CLUTTER = 4
CLUTTER_GAP = 3.0
CLUTTER_SPAN = (0.05, 0.14)  # longest side of a mark, as a fraction of the image side
# Shapes are drawn this many times larger, then area-averaged down: anti-aliased edges.
SUPERSAMPLE = 4
# A pixel belongs to the mask when the shape covers at least half of it.
MASK_COVERAGE = 0.5
# A ring's hole radius as a fraction of its outer radius: a thick band, so a heatmap peak can land on it.
RING_HOLE_RANGE = (0.38, 0.62)
_CIRCLE_POINTS = 72
_SCALE_REFERENCE = 64  # pixel widths above are for a 64 px image
# The first generator's single look (varied=False): filled shapes with fixed proportions, rotated only,
# on the textured background; a task a small CNN learns in seconds (the Clever Hans lab's story).
PLAIN_RADIUS_FRACTION = (0.12, 0.22)
PLAIN_NOISE_SIGMA_RANGE = (3.0, 12.0)
# The default look of generate_sample / generate_dataset stays the plain one: generated datasets (the
# Clever Hans lab, the training page) want a task a small CNN learns in a few epochs, and the suite's
# value checks (pointing games, pinned attack samples) sample it. The demo model is trained on
# varied=True (cnnviz/demo/train.py) and scores 100 % on the plain look too.
VARIED_BY_DEFAULT = False
_PLAIN_PROPORTIONS = {"star": 0.42, "cross": 0.34, "ring": 0.5, "arrow": (0.24, 0.62, 0.05)}


@dataclass(frozen=True)
class ShapeSample:
    """One generated image with its ground truth: the shape's pixels (mask) and its class."""

    image: np.ndarray  # (H, W, 3) uint8
    mask: np.ndarray  # (H, W) bool, True on the shape's pixels
    label: int
    class_name: str


@dataclass(frozen=True)
class _Outline:
    """A shape centred on the origin: filled polygons, holes cut out of them, and line-art strokes."""

    filled: list[np.ndarray]
    holes: list[np.ndarray]
    strokes: list[tuple[np.ndarray, bool]]  # (points, closed): the shape drawn as line art


def _regular_polygon(n: int, radius: float, phase: float = -np.pi / 2) -> np.ndarray:
    angles = phase + 2 * np.pi * np.arange(n) / n
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _star(radius: float, points: int, inner: float) -> np.ndarray:
    outer = _regular_polygon(points, radius)
    valleys = _regular_polygon(points, inner * radius, phase=-np.pi / 2 + np.pi / points)
    return np.stack([outer, valleys], axis=1).reshape(-1, 2)


def _cross(radius: float, width: float) -> np.ndarray:
    a, w = radius * 0.95, radius * width  # arm half-length, arm half-width
    return np.array(
        [
            [-w, -a], [w, -a], [w, -w], [a, -w], [a, w], [w, w],
            [w, a], [-w, a], [-w, w], [-a, w], [-a, -w], [-w, -w],
        ]
    )


def _plain_heart(radius: float) -> np.ndarray:
    """The first generator's heart: the classic curve with its usual coefficients."""
    t = np.linspace(0, 2 * np.pi, _CIRCLE_POINTS, endpoint=False)
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    points = np.stack([x, y + 2.5], axis=1)  # centre the curve's bounding box vertically
    return points * (radius / 16.5)


def _heart(radius: float, lobes: float = 5.0, cleft: float = 2.0, width: float = 1.0) -> np.ndarray:
    """The classic heart curve; ``lobes`` (about 3..7) rounds and raises the lobes, ``cleft`` (about
    1..3) deepens the notch between them, ``width`` stretches it sideways (the plain look: 5, 2, 1)."""
    t = np.linspace(0, 2 * np.pi, _CIRCLE_POINTS, endpoint=False)
    x = 16 * width * np.sin(t) ** 3
    y = -(13 * np.cos(t) - lobes * np.cos(2 * t) - cleft * np.cos(3 * t) - np.cos(4 * t))
    points = np.stack([x, y], axis=1)
    points -= (points.max(axis=0) + points.min(axis=0)) / 2  # centre the bounding box
    return points * (radius / (np.abs(points).max() + 0.5))


def _arrow(radius: float, shaft: float, head: float, neck: float) -> np.ndarray:
    shaft, head, neck = radius * shaft, radius * head, radius * neck  # half-widths, head base position
    return np.array(
        [
            [-radius * 0.95, -shaft], [neck, -shaft], [neck, -head], [radius, 0.0],
            [neck, head], [neck, shaft], [-radius * 0.95, shaft],
        ]
    )


def _shape_outline(name: str, radius: float, rng: np.random.Generator) -> _Outline:
    """The shape ``name`` with random proportions (arm widths, hole, star points, arrow head)."""
    if name == "circle":
        return _Outline([_regular_polygon(_CIRCLE_POINTS, radius * 0.92)], [], [])
    if name == "square":
        return _Outline([_regular_polygon(4, radius, phase=np.pi / 4)], [], [])
    if name == "triangle":
        return _Outline([_regular_polygon(3, radius * 1.08) + [0.0, radius * 0.2]], [], [])
    if name == "star":
        points = 5 if rng.random() < 0.8 else 6
        star = _star(radius * 1.05, points, rng.uniform(0.36, 0.52))
        tips = _regular_polygon(5, radius * 1.05)
        return _Outline([star], [], [(tips[[0, 2, 4, 1, 3]], True)])  # line art: a pentagram
    if name == "cross":
        width = rng.uniform(0.12, 0.38)
        a = radius * 0.95
        strokes = [(np.array([[-a, 0.0], [a, 0.0]]), False), (np.array([[0.0, -a], [0.0, a]]), False)]
        return _Outline([_cross(radius, width)], [], strokes)
    if name == "ring":
        hole = rng.uniform(*RING_HOLE_RANGE)
        return _Outline(
            [_regular_polygon(_CIRCLE_POINTS, radius)], [_regular_polygon(_CIRCLE_POINTS, radius * hole)], []
        )
    if name == "heart":
        lobes, cleft, width = rng.uniform(3.0, 7.0), rng.uniform(1.0, 3.2), rng.uniform(0.85, 1.2)
        return _Outline([_heart(radius, lobes, cleft, width)], [], [])
    if name == "arrow":
        shaft, head, neck = rng.uniform(0.1, 0.3), rng.uniform(0.45, 0.75), rng.uniform(-0.15, 0.25)
        tip = np.array([radius, 0.0])
        strokes = [
            (np.array([[-radius * 0.95, 0.0], tip]), False),
            (np.array([[neck * radius, -head * radius], tip, [neck * radius, head * radius]]), False),
        ]
        return _Outline([_arrow(radius, shaft, head, neck)], [], strokes)
    raise AssertionError(f"no outline for {name!r}")  # SHAPE_CLASSES and this function disagree


def _plain_outline(name: str, radius: float) -> _Outline:
    """The shape with the first generator's fixed proportions."""
    if name == "star":
        return _Outline([_star(radius * 1.05, 5, _PLAIN_PROPORTIONS["star"])], [], [])
    if name == "cross":
        return _Outline([_cross(radius, _PLAIN_PROPORTIONS["cross"])], [], [])
    if name == "ring":
        hole = _regular_polygon(_CIRCLE_POINTS, radius * _PLAIN_PROPORTIONS["ring"])
        return _Outline([_regular_polygon(_CIRCLE_POINTS, radius)], [hole], [])
    if name == "arrow":
        return _Outline([_arrow(radius, *_PLAIN_PROPORTIONS["arrow"])], [], [])
    if name == "heart":
        return _Outline([_plain_heart(radius)], [], [])
    return _shape_outline(name, radius, np.random.default_rng(0))  # the others draw no random numbers


def _rotation(angle: float) -> np.ndarray:
    return np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])


def _random_transform(rng: np.random.Generator) -> np.ndarray:
    """A random 2 x 2 map: rotation at any angle of a shape stretched along some axis and sheared."""
    axis = _rotation(rng.uniform(0, np.pi))
    stretch = rng.uniform(1, MAX_STRETCH)
    shear = np.array([[1.0, rng.uniform(-MAX_SHEAR, MAX_SHEAR)], [0.0, 1.0]])
    return _rotation(rng.uniform(0, 2 * np.pi)) @ axis @ np.diag([stretch, 1 / stretch]) @ axis.T @ shear


def _coverage(
    size: int,
    polygons: list[tuple[np.ndarray, bool]],
    transform: np.ndarray,
    centre: np.ndarray,
    stroke: float | None = None,
    holes: list[np.ndarray] | None = None,
    supersample: int = SUPERSAMPLE,
) -> np.ndarray:
    """Fraction of each pixel the polygons cover, (size, size) float32 in [0, 1].

    Filled (minus ``holes``) when ``stroke`` is None, else drawn as lines ``stroke`` pixels wide.
    Anti-aliased by drawing ``supersample`` times larger; ``supersample=1`` gives hard 0/1 edges.
    """
    canvas = np.zeros((size * supersample, size * supersample), np.uint8)

    def to_canvas(points: np.ndarray) -> np.ndarray:
        # pixel centres sit at integer + 0.5; keep 4 fractional bits for OpenCV's sub-pixel drawing
        pixels = (points @ transform.T + centre) * supersample - 0.5
        return np.round(pixels * 16).astype(np.int32)

    if stroke is None:
        cv2.fillPoly(canvas, [to_canvas(p) for p, _ in polygons], 255, lineType=cv2.LINE_8, shift=4)
        if holes:
            cv2.fillPoly(canvas, [to_canvas(p) for p in holes], 0, lineType=cv2.LINE_8, shift=4)
    else:
        thickness = max(1, int(round(stroke * supersample)))
        for points, closed in polygons:
            cv2.polylines(canvas, [to_canvas(points)], closed, 255, thickness, lineType=cv2.LINE_8, shift=4)
    small = canvas if supersample == 1 else cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)
    return small.astype(np.float32) / 255.0


@lru_cache(maxsize=8)
def _axis(size: int) -> np.ndarray:
    return (np.arange(size, dtype=np.float32) + np.float32(0.5)) / np.float32(size) - np.float32(0.5)


def _ramp(rng: np.random.Generator, size: int) -> np.ndarray:
    """A linear ramp from -0.5 to 0.5 (about) in a random direction, (size, size) float32."""
    axis = _axis(size)
    direction = rng.uniform(0, 2 * np.pi)
    return np.add.outer(np.float32(np.sin(direction)) * axis, np.float32(np.cos(direction)) * axis)


def _textured_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A colour gradient, low-frequency blobs and a faint grating, as planes (3, size, size) float32.

    Planes, not (H, W, 3): NumPy broadcasts over a last axis of 3 slowly, and the gradient and grating
    are built from row and column vectors (sin(a + b) is separable), which keeps a background cheap.
    """
    axis = _axis(size)
    base = rng.uniform(40, 215, 3).astype(np.float32)
    step = rng.normal(0, GRADIENT_SPREAD, 3).astype(np.float32)
    ramp = _ramp(rng, size)
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


def _photo_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Photo-like: multi-scale smooth noise (more power at coarse scales) and straight soft edges."""
    base = rng.uniform(30, 225, 3).astype(np.float32)
    tint = rng.uniform(0.4, 1.0, 3).astype(np.float32)  # light and shade change all channels together
    shade = np.zeros((size, size), np.float32)
    colour = np.zeros((size, size, 3), np.float32)
    for level, cells in enumerate((2, 4, 8, 16)):
        weight = np.float32(PHOTO_AMPLITUDE / (level + 1))
        shade += weight * cv2.resize(rng.normal(0, 1, (cells, cells)).astype(np.float32), (size, size),
                                     interpolation=cv2.INTER_CUBIC)
        colour += 0.4 * weight * cv2.resize(rng.normal(0, 1, (cells, cells, 3)).astype(np.float32),
                                            (size, size), interpolation=cv2.INTER_CUBIC)
    for _ in range(int(rng.integers(0, 3))):  # an object's edge, a table's edge: a step across the image
        side = _ramp(rng, size) > np.float32(rng.uniform(-0.35, 0.35))
        shade += np.float32(rng.normal(0, PHOTO_AMPLITUDE)) * side
    shade = cv2.GaussianBlur(shade, (0, 0), rng.uniform(0.5, 1.5))
    planes = np.moveaxis(colour, 2, 0)
    for c in range(3):
        planes[c] += base[c] + tint[c] * shade
    return np.ascontiguousarray(planes)


def _flat_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """One plain colour: often paper white or screen black, else any colour."""
    kind = rng.random()
    if kind < 0.3:
        colour = np.full(3, rng.uniform(225, 255), np.float32)
    elif kind < 0.45:
        colour = np.full(3, rng.uniform(0, 30), np.float32)
    else:
        colour = rng.uniform(0, 255, 3).astype(np.float32)
    return np.broadcast_to(colour[:, None, None], (3, size, size)).copy()


def _ramp_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A ramp between two colours, linear or radial."""
    start, end = rng.uniform(0, 255, (2, 3)).astype(np.float32)
    if rng.random() < 0.5:
        weight = _ramp(rng, size) + np.float32(0.5)
    else:
        axis = _axis(size)
        centre = rng.uniform(-0.5, 0.5, 2).astype(np.float32)
        weight = np.sqrt(np.add.outer((axis - centre[0]) ** 2, (axis - centre[1]) ** 2))
        weight /= max(float(weight.max()), 1e-6)
    return start[:, None, None] + (end - start)[:, None, None] * weight[None]


@lru_cache(maxsize=len(PICTURES))
def _picture(name: str) -> np.ndarray:
    """One of scikit-image's sample photographs as float32 (H, W, 3) (grey ones repeated)."""
    import skimage.data  # imported here: only picture backgrounds need it (it takes a second)

    image = getattr(skimage.data, name)()
    image = image[0] if isinstance(image, tuple) else image  # stereo_motorcycle: (left, right, disparity)
    image = np.asarray(image)
    if image.dtype == bool:
        image = image.astype(np.uint8) * 255
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    return np.ascontiguousarray(image[..., :3], dtype=np.float32)


def _picture_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A random crop of a real photograph, flipped or turned, tinted and its contrast changed."""
    picture = _picture(PICTURES[int(rng.integers(len(PICTURES)))])
    height, width = picture.shape[:2]
    crop = int(rng.integers(min(PICTURE_MIN_CROP, height, width), min(height, width) + 1))
    top, left = int(rng.integers(0, height - crop + 1)), int(rng.integers(0, width - crop + 1))
    patch = cv2.resize(picture[top:top + crop, left:left + crop], (size, size), interpolation=cv2.INTER_AREA)
    patch = np.rot90(patch, int(rng.integers(4)))
    if rng.random() < 0.5:
        patch = patch[:, ::-1]
    tint = rng.uniform(0.6, 1.0, 3).astype(np.float32)
    contrast = np.float32(rng.uniform(0.6, 1.2))
    patch = (patch - patch.mean()) * contrast * tint + patch.mean() * tint + rng.uniform(-30, 30, 3)
    return np.ascontiguousarray(np.moveaxis(patch.astype(np.float32), 2, 0))


def _mosaic_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Pebbles (many small ellipses of nearby shades) or bricks (offset rows of rectangles in mortar)."""
    canvas = np.full((size, size, 3), rng.uniform(40, 215, 3), np.float32)
    base = rng.uniform(40, 215, 3)
    scale = size / _SCALE_REFERENCE
    if rng.random() < 0.6:  # pebbles
        for _ in range(int(rng.integers(40, 140))):
            centre = tuple(int(v) for v in rng.uniform(0, size, 2))
            axes = tuple(max(1, int(v)) for v in rng.uniform(1.5, 6.0, 2) * scale)
            shade = np.clip(base + rng.normal(0, 35, 3), 0, 255)
            cv2.ellipse(canvas, centre, axes, rng.uniform(0, 180), 0, 360, tuple(float(v) for v in shade), -1,
                        cv2.LINE_AA)
    else:  # bricks, in a random orientation
        height, length = rng.uniform(4, 10) * scale, rng.uniform(1.6, 3.0)
        length *= height
        mortar = max(1, int(round(rng.uniform(0.6, 1.6) * scale)))
        big = int(size * 1.5)
        wall = np.full((big, big, 3), np.clip(base + rng.normal(0, 40, 3), 0, 255), np.float32)
        for row, top in enumerate(np.arange(0, big, height)):
            offset = (row % 2) * length / 2
            for left in np.arange(-length, big, length) + offset:
                shade = tuple(float(v) for v in np.clip(base + rng.normal(0, 25, 3), 0, 255))
                cv2.rectangle(wall, (int(left) + mortar, int(top) + mortar),
                              (int(left + length) - mortar, int(top + height) - mortar), shade, -1)
        turn = cv2.getRotationMatrix2D((big / 2, big / 2), rng.uniform(0, 180), 1.0)
        turn[:, 2] -= (big - size) / 2
        canvas = cv2.warpAffine(wall, turn, (size, size), flags=cv2.INTER_LINEAR)
    canvas = cv2.GaussianBlur(canvas, (0, 0), rng.uniform(0.3, 1.0))
    return np.ascontiguousarray(np.moveaxis(canvas, 2, 0))


_BACKGROUNDS = {
    "textured": _textured_background,
    "photo": _photo_background,
    "flat": _flat_background,
    "ramp": _ramp_background,
    "picture": _picture_background,
    "mosaic": _mosaic_background,
}


def _pattern(rng: np.random.Generator, size: int) -> np.ndarray:
    """Coverage (size, size) float32 of a repeating pattern: stripes, crossed stripes, checks or dots."""
    scale = size / _SCALE_REFERENCE
    period = np.float32(rng.uniform(*PATTERN_PERIOD) * scale)
    duty = np.float32(rng.uniform(*PATTERN_DUTY))
    angle = rng.uniform(0, np.pi)
    pixels = np.arange(size, dtype=np.float32) + np.float32(0.5)
    along = np.add.outer(np.float32(np.sin(angle)) * pixels, np.float32(np.cos(angle)) * pixels) / period
    across = np.add.outer(np.float32(np.cos(angle)) * pixels, -np.float32(np.sin(angle)) * pixels) / period

    def band(phase: np.ndarray) -> np.ndarray:  # 1 on the first ``duty`` of each period, soft 1-px edges
        distance = np.abs(phase - np.floor(phase) - duty / 2) - duty / 2
        return np.clip(0.5 - distance * period, 0, 1)

    kind = PATTERNS[int(rng.integers(len(PATTERNS)))]
    if kind == "stripes":
        return band(along)
    if kind == "crossed":
        return np.maximum(band(along), band(across))
    if kind == "checks":
        cells = (np.floor(along) + np.floor(across)) % 2
        return cells.astype(np.float32)
    distance = np.hypot(along - np.round(along), across - np.round(across)) * period  # dots on a grid
    return np.clip(duty * period / 2 + 0.5 - distance, 0, 1).astype(np.float32)


def _gaps(rng: np.random.Generator, size: int, centre: np.ndarray) -> np.ndarray:
    """Coverage (size, size) float32 that is 0 on regular sectors around ``centre``: breaks an outline."""
    count = int(rng.integers(BROKEN_GAPS[0], BROKEN_GAPS[1] + 1))
    share = rng.uniform(*BROKEN_GAP_SHARE)
    pixels = np.arange(size, dtype=np.float32) + np.float32(0.5)
    angle = np.arctan2(pixels[:, None] - centre[1], pixels[None, :] - centre[0])
    phase = (angle / (2 * np.pi) * count + rng.uniform(0, 1)) % 1
    return (phase >= share).astype(np.float32)


def _shape_colour(rng: np.random.Generator, under: np.ndarray) -> np.ndarray:
    """A random colour at least MIN_COLOUR_CONTRAST from ``under`` (the best of a few tries)."""
    candidates = rng.uniform(0, 255, (COLOUR_TRIES, 3))
    distances = np.linalg.norm(candidates - under, axis=1)
    good = np.flatnonzero(distances >= MIN_COLOUR_CONTRAST)
    return candidates[good[0] if good.size else int(np.argmax(distances))]


def _clutter(rng: np.random.Generator, size: int, keep_clear: np.ndarray) -> np.ndarray:
    """Coverage (size, size) float32 of a few small marks none of the classes, all off ``keep_clear``."""
    scale = size / _SCALE_REFERENCE
    total = np.zeros((size, size), np.float32)
    for _ in range(int(rng.integers(1, MAX_CLUTTER + 1))):
        mark = np.zeros((size * SUPERSAMPLE, size * SUPERSAMPLE), np.uint8)
        span = rng.uniform(*CLUTTER_SPAN) * size
        start = rng.uniform(0, size, 2)
        kind = rng.random()
        if kind < 0.3:  # a speck
            radius = rng.uniform(0.5, 1.3) * scale
            cv2.circle(mark, tuple(int(v) for v in np.round(start * SUPERSAMPLE)),
                       max(1, int(radius * SUPERSAMPLE)), 255, -1)
        else:  # a short straight stroke or a scribble of two or three segments
            count = 2 if kind < 0.65 else int(rng.integers(3, 5))
            points = start + np.cumsum(rng.uniform(-span, span, (count, 2)) / np.sqrt(count), axis=0)
            points[0] = start
            width = max(1, int(rng.uniform(0.8, 1.8) * scale * SUPERSAMPLE))
            cv2.polylines(mark, [np.round(points * SUPERSAMPLE).astype(np.int32)], False, 255, width)
        coverage = cv2.resize(mark, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
        if not (coverage > 0)[keep_clear].any():
            np.maximum(total, coverage, out=total)
    return total


def _shape_mask(fill: np.ndarray | None, border: np.ndarray | None) -> np.ndarray:
    """The ground truth: pixels that the fill or the border covers at least MASK_COVERAGE of."""
    coverage = fill if border is None else border if fill is None else np.maximum(fill, border)
    return coverage >= MASK_COVERAGE


def _inward_shift(mask: np.ndarray, margin: int) -> np.ndarray:
    """(dx, dy) pixels that keep ``mask`` at least ``margin`` pixels from every border (zeros if it is)."""
    shift = np.zeros(2)
    for axis, spread in enumerate((mask.any(axis=0), mask.any(axis=1))):  # x: columns, y: rows
        inside = np.flatnonzero(spread)
        if inside.size:
            shift[axis] = max(0, margin - inside[0]) - max(0, inside[-1] - (len(spread) - 1 - margin))
    return shift


def _plain_sample(rng: np.random.Generator, size: int, label: int) -> ShapeSample:
    """One image in the first generator's single look (see PLAIN_RADIUS_FRACTION)."""
    name = SHAPE_CLASSES[label]
    radius = rng.uniform(*PLAIN_RADIUS_FRACTION) * size
    outline = _plain_outline(name, radius)
    extent = max(float(np.linalg.norm(points, axis=1).max()) for points in outline.filled)
    centre = rng.uniform(extent + BORDER_MARGIN, size - extent - BORDER_MARGIN, 2)
    filled = [(points, True) for points in outline.filled]
    coverage = _coverage(size, filled, _rotation(rng.uniform(0, 2 * np.pi)), centre, holes=outline.holes)
    mask = coverage >= MASK_COVERAGE
    background = _textured_background(rng, size)
    colour = _shape_colour(rng, background[:, mask].mean(axis=1)).astype(np.float32)
    sigma = np.float32(rng.uniform(*PLAIN_NOISE_SIGMA_RANGE) * np.sqrt(12))
    noise = rng.random(background.shape, dtype=np.float32) - np.float32(0.5)
    planes = [
        np.clip(np.rint(plane + coverage * (value - plane) + sigma * grain), 0, 255).astype(np.uint8)
        for plane, value, grain in zip(background, colour, noise)
    ]
    return ShapeSample(image=cv2.merge(planes), mask=mask, label=label, class_name=name)


def _check_size(size: int) -> None:
    if not isinstance(size, (int, np.integer)) or size < MIN_IMAGE_SIZE:
        raise ParameterError(f"Image size must be an integer of at least {MIN_IMAGE_SIZE} pixels, got {size!r}.")


def generate_sample(
    rng: np.random.Generator | int,
    size: int = DEMO_IMAGE_SIZE,
    class_index: int | None = None,
    *,
    style: str | None = None,
    varied: bool = VARIED_BY_DEFAULT,
) -> ShapeSample:
    """One image holding one shape (class ``class_index``, random if None) and its ground-truth mask.

    ``rng`` is a NumPy Generator (advanced in place) or an int seed; the same seed gives the same sample.
    ``varied=True`` draws the many styles (``style`` is one of STYLES: filled, outlined, bordered,
    patterned, broken; random if None); ``varied=False`` the first generator's single look (filled, fixed proportions,
    rotated only, textured background), an easy task for small models; ``style`` must then be None.
    """
    _check_size(size)
    if style is not None and style not in STYLES:
        raise ParameterError(
            f"style must be one of {', '.join(STYLES)} (or None for a random one), got {style!r}."
        )
    if class_index is not None and not (
        isinstance(class_index, (int, np.integer)) and 0 <= class_index < len(SHAPE_CLASSES)
    ):
        raise ClassIndexError(
            f"class_index must be an integer in 0..{len(SHAPE_CLASSES) - 1} ({', '.join(SHAPE_CLASSES)}), "
            f"got {class_index!r}."
        )
    if style is not None and not varied:
        raise ParameterError("A style applies to varied samples only: pass style=None with varied=False.")
    rng = np.random.default_rng(rng)
    label = int(rng.integers(len(SHAPE_CLASSES))) if class_index is None else int(class_index)
    if not varied:
        return _plain_sample(rng, size, label)
    name = SHAPE_CLASSES[label]

    radius = rng.uniform(MIN_RADIUS_FRACTION, MAX_RADIUS_FRACTION) * size
    outline = _shape_outline(name, radius, rng)
    transform = _random_transform(rng)
    extent = max(float(np.linalg.norm(p @ transform.T, axis=1).max()) for p in outline.filled)
    if extent > MAX_EXTENT_FRACTION * size:  # a long stretch of a big shape: shrink it to fit
        transform *= MAX_EXTENT_FRACTION * size / extent
        extent = MAX_EXTENT_FRACTION * size
    centre = rng.uniform(extent + BORDER_MARGIN, size - extent - BORDER_MARGIN, 2)
    drawn_style = STYLES[int(rng.choice(len(STYLES), p=STYLE_WEIGHTS))]
    style = drawn_style if style is None else style
    stroke = max(rng.uniform(*STROKE_FRACTION) * radius, MIN_STROKE_PIXELS * size / _SCALE_REFERENCE)
    filled = [(points, True) for points in outline.filled]
    contours = filled + [(points, True) for points in outline.holes]  # every edge, for outlines and borders
    outline_only = style in ("outlined", "broken")
    if outline_only:
        line_art = outline.strokes and rng.random() < LINE_ART_PROBABILITY
        contours = outline.strokes if line_art else contours
        if line_art and name == "cross":  # a cross of two strokes is as wide as a filled cross's arms
            stroke = max(stroke, 2 * radius * rng.uniform(0.12, 0.3))
    has_border = style in ("outlined", "bordered", "broken") or (
        style == "patterned" and rng.random() < PATTERN_BORDER_PROBABILITY
    )
    pattern = _pattern(rng, size) if style == "patterned" else None
    gap_seed = int(rng.integers(2**31)) if style == "broken" else None
    supersample = 1 if rng.random() < ALIASED_PROBABILITY else SUPERSAMPLE

    def draw(at: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(fill, border) coverages of the shape centred ``at``; None where the style has none."""
        fill = None
        if not outline_only:
            fill = _coverage(size, filled, transform, at, holes=outline.holes, supersample=supersample)
            fill = fill if pattern is None else fill * pattern
        border = None
        if has_border:
            border = _coverage(size, contours, transform, at, stroke=stroke, supersample=supersample)
            if gap_seed is not None:
                border = border * _gaps(np.random.default_rng(gap_seed), size, at)
        return fill, border

    fill, border = draw(centre)
    for _ in range(MAX_SHIFTS):  # a stroke reaches past the filled outline's extent: move the shape inward
        shift = _inward_shift(_shape_mask(fill, border), BORDER_MARGIN)
        if not shift.any():
            break
        centre = centre + shift
        fill, border = draw(centre)
    mask = _shape_mask(fill, border)
    if mask.sum() < MIN_MASK_SHARE * size * size and (pattern is not None or gap_seed is not None):
        pattern, gap_seed = None, None  # dots or gaps left too little of a small shape: draw it whole
        fill, border = draw(centre)
        mask = _shape_mask(fill, border)

    background_kind = BACKGROUNDS[int(rng.choice(len(BACKGROUNDS), p=BACKGROUND_WEIGHTS))]
    planes = _BACKGROUNDS[background_kind](rng, size)
    if rng.random() < CLUTTER_PROBABILITY:
        gap = max(1, int(round(CLUTTER_GAP * size / _SCALE_REFERENCE)))
        keep_clear = cv2.dilate(mask.astype(np.uint8), np.ones((2 * gap + 1, 2 * gap + 1), np.uint8)) > 0
        marks = _clutter(rng, size, keep_clear)
        mark_colour = rng.uniform(0, 255, 3).astype(np.float32)
        for c in range(3):
            planes[c] += marks * (mark_colour[c] - planes[c])
    under = planes[:, mask].mean(axis=1)
    colour = _shape_colour(rng, under).astype(np.float32)
    layers: list[tuple[np.ndarray, np.ndarray]] = []  # (coverage, colour planes) painted in order
    if fill is not None:
        paint = np.broadcast_to(colour[:, None, None], (3, size, size))
        if rng.random() < FILL_GRADIENT_PROBABILITY:
            paint = paint + np.float32(rng.uniform(0, FILL_GRADIENT_SPREAD)) * rng.choice([-1, 1], 3)[
                :, None, None
            ].astype(np.float32) * _ramp(rng, size)[None]
        layers.append((fill, paint))
    if border is not None:
        border_colour = colour if fill is None else _shape_colour(rng, (colour + under) / 2)
        border_colour = border_colour.astype(np.float32)
        layers.append((border, np.broadcast_to(border_colour[:, None, None], (3, size, size))))
    for coverage, paint in layers:
        planes += coverage[None] * (paint - planes)
    # uniform pixel noise of standard deviation sigma (cheaper to draw than Gaussian, looks the same)
    sigma_range = FLAT_NOISE_SIGMA_RANGE if background_kind == "flat" else NOISE_SIGMA_RANGE
    sigma = np.float32(rng.uniform(*sigma_range) * np.sqrt(12))
    noise = rng.random(planes.shape, dtype=np.float32) - np.float32(0.5)
    image = cv2.merge([np.clip(np.rint(plane + sigma * grain), 0, 255).astype(np.uint8)
                       for plane, grain in zip(planes, noise)])
    return ShapeSample(image=image, mask=mask, label=label, class_name=name)


def generate_dataset(
    n: int, seed: int, size: int = DEMO_IMAGE_SIZE, *, varied: bool = VARIED_BY_DEFAULT
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` samples with balanced classes (counts differ by at most one), in shuffled order.

    Returns (images (n, H, W, 3) uint8, labels (n,) int64, masks (n, H, W) bool); same seed, same data.
    ``varied`` as in generate_sample.
    """
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ParameterError(f"The number of samples must be a non-negative integer, got {n!r}.")
    _check_size(size)
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n, dtype=np.int64) % len(SHAPE_CLASSES))
    images = np.empty((n, size, size, 3), np.uint8)
    masks = np.empty((n, size, size), bool)
    for i, label in enumerate(labels):
        sample = generate_sample(rng, size, int(label), varied=varied)
        images[i], masks[i] = sample.image, sample.mask
    return images, labels, masks
