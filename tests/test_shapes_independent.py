"""The demo model recognises shapes drawn by code it never saw, not only its own generator's.

Held-out style test (issue 19, part 3). The images here are drawn by this file's own code, with
primitives and styles that cnnviz.demo.shapes does not use: Pillow's ellipse, rectangle,
regular_polygon and polygon, OpenCV's line, arrowedLine and circle, a heart built from two discs and
a square, hatched fills, dashed outlines, aliased (not anti-aliased) edges, scikit-image's sample
photos and plain paper as backgrounds, other sizes and positions.

The bundled model was first trained on the generator's single plain style: 100 % on its own images,
31.5 % here. Retrained on the varied styles (issue 19 part 3, cnnviz/demo/train.py) it scores 90.0 %
here (95.5 % on the generator's varied test set, 100 % on the plain look): a floor at 88 % guards
that. The issue's target, 95 %, is not met yet; it is a strict expected failure below, so that it
fails (and the mark must go) once a model reaches it.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import pytest
import skimage.data
from PIL import Image, ImageDraw

from cnnviz.demo.model import load_demo_model
from cnnviz.demo.shapes import SHAPE_CLASSES

SIZE = 64  # the demo model's input
HIRES = 4  # anti-aliased images are drawn this many times larger, then resized down
PER_CLASS = 50
MIN_ACCURACY = 0.95  # issue 19's target
MIN_ACCURACY_NOW = 0.88  # the bundled model's floor (measured 0.900)
MIN_CLASS_ACCURACY_NOW = 0.75
SEED = 20261201
# Shape radius in pixels at SIZE (the generator's circumradius is 7 to 15 px before its distortions).
RADIUS_RANGE = (8.0, 18.0)
# Style of each image: drawn filled, outlined, hatched inside an outline, or with a dashed outline.
STYLES = ("solid", "outline", "hatched", "dashed")
STYLE_WEIGHTS = (0.4, 0.25, 0.2, 0.15)
MIN_CONTRAST = 110.0
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")
TEXTURES = ("brick", "grass", "gravel")

Point = tuple[float, float]
Drawer = Callable[[ImageDraw.ImageDraw, np.ndarray, Point, float, np.random.Generator, float], None]


def _polar(centre: Point, radius: float, angle: float) -> Point:
    return centre[0] + radius * np.cos(angle), centre[1] + radius * np.sin(angle)


def _circle(draw: ImageDraw.ImageDraw, canvas: np.ndarray, c: Point, r: float, rng: np.random.Generator,
            scale: float) -> None:
    rx, ry = r, r * rng.uniform(0.85, 1.0)
    if rng.random() < 0.5:
        rx, ry = ry, rx
    draw.ellipse((c[0] - rx, c[1] - ry, c[0] + rx, c[1] + ry), fill=255)


def _square(draw: ImageDraw.ImageDraw, canvas: np.ndarray, c: Point, r: float, rng: np.random.Generator,
            scale: float) -> None:
    if rng.random() < 0.4:
        h = r * 0.72
        draw.rectangle((c[0] - h, c[1] - h, c[0] + h, c[1] + h), fill=255)
    else:
        draw.regular_polygon((c[0], c[1], r), 4, rotation=rng.uniform(0, 90), fill=255)


def _triangle(draw: ImageDraw.ImageDraw, canvas: np.ndarray, c: Point, r: float, rng: np.random.Generator,
              scale: float) -> None:
    if rng.random() < 0.5:
        draw.regular_polygon((c[0], c[1], r), 3, rotation=rng.uniform(0, 120), fill=255)
    else:  # an isosceles triangle, apex angle 50..75 degrees
        turn, half = rng.uniform(0, 2 * np.pi), np.radians(rng.uniform(25, 37.5))
        apex = _polar(c, r, turn)
        left = _polar(apex, 1.6 * r, turn + np.pi - half)
        right = _polar(apex, 1.6 * r, turn + np.pi + half)
        draw.polygon([apex, left, right], fill=255)


def _star(draw: ImageDraw.ImageDraw, canvas: np.ndarray, c: Point, r: float, rng: np.random.Generator,
          scale: float) -> None:
    turn, inner = rng.uniform(0, 2 * np.pi), rng.uniform(0.4, 0.5)
    if rng.random() < 0.7:
        points = [_polar(c, r * (1 if k % 2 == 0 else inner), turn + k * np.pi / 5) for k in range(10)]
        draw.polygon(points, fill=255)
    else:  # a pentagram of five OpenCV lines
        tips = [_polar(c, r, turn + k * 4 * np.pi / 5) for k in range(6)]
        for a, b in zip(tips, tips[1:]):
            cv2.line(canvas, _int(a), _int(b), 255, max(1, round(scale * rng.uniform(1.5, 2.5))), cv2.LINE_AA)


def _cross(draw: ImageDraw.ImageDraw, canvas: np.ndarray, c: Point, r: float, rng: np.random.Generator,
           scale: float) -> None:
    """Two perpendicular OpenCV strokes, thin or thick, at any angle (a plus or an x)."""
    turn, width = rng.uniform(0, np.pi), max(2 * scale, r * rng.uniform(0.25, 0.6))
    for angle in (turn, turn + np.pi / 2):
        cv2.line(canvas, _int(_polar(c, r, angle)), _int(_polar(c, r, angle + np.pi)), 255,
                 max(1, round(width)), cv2.LINE_AA)


def _ring(draw: ImageDraw.ImageDraw, canvas: np.ndarray, c: Point, r: float, rng: np.random.Generator,
          scale: float) -> None:
    band = r * rng.uniform(0.35, 0.55)
    if rng.random() < 0.5:
        draw.ellipse((c[0] - r, c[1] - r, c[0] + r, c[1] + r), outline=255, width=max(1, round(band)))
    else:
        cv2.circle(canvas, _int(c), max(1, round(r - band / 2)), 255, max(1, round(band)), cv2.LINE_AA)


def _heart(draw: ImageDraw.ImageDraw, canvas: np.ndarray, c: Point, r: float, rng: np.random.Generator,
           scale: float) -> None:
    """The classic construction: a square standing on a corner, with a disc on each upper side."""
    turn, s = rng.uniform(-0.6, 0.6), r * 0.62  # square side
    down = np.array([np.sin(-turn), np.cos(-turn)])  # towards the tip
    right = np.array([down[1], -down[0]])
    centre = np.array(c) - down * r * 0.1
    diagonal = s / np.sqrt(2)
    tip, top = centre + down * diagonal, centre - down * diagonal
    left, right_corner = centre - right * diagonal, centre + right * diagonal
    draw.polygon([tuple(tip), tuple(left), tuple(top), tuple(right_corner)], fill=255)
    for corner in (left, right_corner):
        middle = (corner + top) / 2
        draw.ellipse((middle[0] - s / 2, middle[1] - s / 2, middle[0] + s / 2, middle[1] + s / 2), fill=255)


def _arrow(draw: ImageDraw.ImageDraw, canvas: np.ndarray, c: Point, r: float, rng: np.random.Generator,
           scale: float) -> None:
    turn = rng.uniform(0, 2 * np.pi)
    tail, tip = _polar(c, r, turn + np.pi), _polar(c, r, turn)
    if rng.random() < 0.5:  # OpenCV's arrowedLine: a stroke with an open head
        cv2.arrowedLine(canvas, _int(tail), _int(tip), 255, max(1, round(scale * rng.uniform(2, 3.5))),
                        cv2.LINE_AA, tipLength=rng.uniform(0.3, 0.45))
    else:  # a Pillow line with a filled triangular head
        base = _polar(c, r * 0.2, turn)
        draw.line([tail, base], fill=255, width=max(1, round(r * rng.uniform(0.2, 0.4))))
        head = r * rng.uniform(0.45, 0.6)
        wings = [_polar(base, head, turn + np.pi / 2), _polar(base, head, turn - np.pi / 2)]
        draw.polygon([tip, *wings], fill=255)


DRAWERS: dict[str, Drawer] = {"circle": _circle, "square": _square, "triangle": _triangle, "star": _star,
                              "cross": _cross, "ring": _ring, "heart": _heart, "arrow": _arrow}


def _int(point: Point) -> tuple[int, int]:
    return round(point[0]), round(point[1])


def _background(rng: np.random.Generator) -> np.ndarray:
    """Plain paper, a plain colour, a crop of a sample photo, or a tinted grey texture; (SIZE, SIZE, 3)."""
    kind = rng.random()
    if kind < 0.2:
        return np.full((SIZE, SIZE, 3), rng.uniform(230, 255), np.float32)
    if kind < 0.35:
        return np.full((SIZE, SIZE, 3), rng.uniform(0, 255, 3), np.float32)
    photo = _photo(PHOTOS[rng.integers(len(PHOTOS))] if kind < 0.8 else TEXTURES[rng.integers(len(TEXTURES))])
    crop = int(rng.integers(96, min(photo.shape[:2]) + 1))
    top, left = rng.integers(0, photo.shape[0] - crop + 1), rng.integers(0, photo.shape[1] - crop + 1)
    patch = cv2.resize(photo[top:top + crop, left:left + crop], (SIZE, SIZE), interpolation=cv2.INTER_AREA)
    if patch.ndim == 2:
        patch = patch[..., None] * rng.uniform(0.5, 1.0, 3)[None, None]
    return patch.astype(np.float32)


_PHOTO_CACHE: dict[str, np.ndarray] = {}


def _photo(name: str) -> np.ndarray:
    if name not in _PHOTO_CACHE:
        _PHOTO_CACHE[name] = getattr(skimage.data, name)()
    return _PHOTO_CACHE[name]


def _contour(mask: np.ndarray) -> list[np.ndarray]:
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    return list(contours)


def _styled(mask: np.ndarray, style: str, rng: np.random.Generator, scale: float) -> np.ndarray:
    """Where the paint goes, (side, side) float in 0..1: the filled mask, its outline, hatching, dashes."""
    if style == "solid":
        return mask.astype(np.float32)
    paint = np.zeros(mask.shape, np.uint8)
    width = max(1, round(scale * rng.uniform(1.4, 2.6)))
    if style in ("outline", "hatched"):
        cv2.drawContours(paint, _contour(mask), -1, 255, width, cv2.LINE_AA)
    if style == "hatched":  # parallel lines at a random angle, clipped to the shape
        hatch = np.zeros_like(paint)
        gap, angle = scale * rng.uniform(3.0, 4.5), rng.uniform(0, np.pi)
        side = mask.shape[0]
        direction = np.array([np.cos(angle), np.sin(angle)])
        normal = np.array([-direction[1], direction[0]])
        for offset in np.arange(-side, side, gap):
            middle = side / 2 + normal * offset
            cv2.line(hatch, _int(middle - 2 * side * direction), _int(middle + 2 * side * direction), 255,
                     max(1, round(scale)), cv2.LINE_AA)
        paint = np.maximum(paint, np.where(mask, hatch, 0).astype(np.uint8))
    if style == "dashed":  # every other run of contour pixels
        dash = max(2, round(scale * rng.uniform(2.5, 4.0)))
        for contour in _contour(mask):
            points = contour[:, 0]
            for start in range(0, len(points), 2 * dash):
                run = points[start:start + dash + 1]
                if len(run) > 1:
                    cv2.polylines(paint, [run], False, 255, width, cv2.LINE_AA)
    return paint.astype(np.float32) / 255.0


def draw_shape(rng: np.random.Generator, name: str) -> tuple[np.ndarray, np.ndarray]:
    """One SIZE x SIZE RGB uint8 image of the shape ``name``, drawn by this file's own code, and its
    mask (the pixels the paint covers at least half of)."""
    anti_aliased = rng.random() < 0.5
    scale = HIRES if anti_aliased else 1
    side = SIZE * scale
    radius = rng.uniform(*RADIUS_RANGE) * scale
    centre = tuple(rng.uniform(radius + 2 * scale, side - radius - 2 * scale, 2))
    shape = Image.new("L", (side, side), 0)
    canvas = np.zeros((side, side), np.uint8)
    DRAWERS[name](ImageDraw.Draw(shape), canvas, centre, radius, rng, scale)
    mask = np.maximum(np.asarray(shape), canvas) >= 128
    style = STYLES[rng.choice(len(STYLES), p=STYLE_WEIGHTS)]
    if not cv2.erode(mask.astype(np.uint8), np.ones((4 * scale + 1,) * 2, np.uint8)).any():
        style = "solid"  # line art (an arrowedLine, a pentagram): its outline would be the same strokes
    paint = Image.fromarray(np.round(_styled(mask, style, rng, scale) * 255).astype(np.uint8))
    if anti_aliased:
        paint = paint.resize((SIZE, SIZE), Image.LANCZOS)
    alpha = np.asarray(paint, np.float32)[..., None] / 255.0
    background = _background(rng)
    painted = alpha[..., 0] >= 0.5
    under = background[painted].mean(axis=0)
    candidates = np.concatenate([rng.uniform(0, 255, (16, 3)), [[0, 0, 0], [255, 255, 255]]])
    distances = np.linalg.norm(candidates - under, axis=1)
    colour = candidates[np.flatnonzero(distances >= MIN_CONTRAST)[0] if distances.max() >= MIN_CONTRAST
                        else np.argmax(distances)]
    return np.clip(np.rint(background + alpha * (colour - background)), 0, 255).astype(np.uint8), painted


def independent_set(per_class: int = PER_CLASS, seed: int = SEED) -> tuple[np.ndarray, ...]:
    """``per_class`` images of every class, (n, SIZE, SIZE, 3) uint8, their labels and masks."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(SHAPE_CLASSES)), per_class)
    images, masks = zip(*(draw_shape(rng, SHAPE_CLASSES[label]) for label in labels))
    return np.stack(images), labels, np.stack(masks)


@pytest.fixture(scope="module")
def drawn() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return independent_set()


@pytest.fixture(scope="module")
def scores(drawn: tuple[np.ndarray, ...]) -> tuple[float, dict[str, float]]:
    """The bundled model's accuracy on the drawings, overall and per class (predicted once)."""
    images, labels, _ = drawn
    logits = load_demo_model().predict(images.astype(np.float32), batch_size=200, verbose=0)
    predicted = np.argmax(logits, axis=1)
    per_class = {name: float(np.mean(predicted[labels == k] == k)) for k, name in enumerate(SHAPE_CLASSES)}
    accuracy = float(np.mean(predicted == labels))
    print(f"independent drawings: {accuracy:.3f} of {len(labels)}; per class {per_class}")
    return accuracy, per_class


def test_demo_model_recognises_most_shapes_drawn_by_other_code(scores: tuple[float, dict[str, float]]) -> None:
    accuracy, per_class = scores
    assert accuracy >= MIN_ACCURACY_NOW, per_class  # measured 0.900
    assert min(per_class.values()) >= MIN_CLASS_ACCURACY_NOW, per_class  # measured 0.84 (triangle)


@pytest.mark.xfail(strict=True, reason="issue 19 part 3's target: 95 % on independent drawings; the "
                   "bundled model scores 90.0 % (a wider model or a closer generator is the next step)")
def test_demo_model_recognises_shapes_drawn_by_other_code(scores: tuple[float, dict[str, float]]) -> None:
    accuracy, per_class = scores
    assert accuracy >= MIN_ACCURACY, per_class
