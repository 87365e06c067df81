"""The procedural shapes dataset: deterministic, balanced, and with masks that really are the shapes."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest

from cnnviz.errors import ClassIndexError, ParameterError
from cnnviz.demo.shapes import (
    DEMO_IMAGE_SIZE,
    MAX_RADIUS_FRACTION,
    MAX_TRAIN_EPOCHS,
    MIN_RADIUS_FRACTION,
    RING_HOLE_RANGE,
    SHAPE_CLASSES,
    STYLES,
    TEST_SEED,
    TRAIN_SEED,
    VAL_SEED,
    ShapeSample,
    generate_dataset,
    generate_sample,
)


@pytest.fixture(scope="module")
def dataset() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return generate_dataset(400, seed=7, varied=True)


def test_dataset_shapes_and_types(dataset: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    images, labels, masks = dataset
    assert images.shape == (400, DEMO_IMAGE_SIZE, DEMO_IMAGE_SIZE, 3) and images.dtype == np.uint8
    assert labels.shape == (400,) and labels.dtype == np.int64
    assert masks.shape == (400, DEMO_IMAGE_SIZE, DEMO_IMAGE_SIZE) and masks.dtype == bool


def test_same_seed_same_data_other_seed_other_data() -> None:
    first, again = generate_dataset(24, seed=3, varied=True), generate_dataset(24, seed=3, varied=True)
    other = generate_dataset(24, seed=4, varied=True)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])
    np.testing.assert_array_equal(generate_sample(5).image, generate_sample(np.random.default_rng(5)).image)
    assert not np.array_equal(generate_sample(5).image, generate_sample(6).image)


def test_at_least_six_classes_all_present_and_balanced(dataset: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    assert len(SHAPE_CLASSES) >= 6 and len(set(SHAPE_CLASSES)) == len(SHAPE_CLASSES)
    counts = np.bincount(dataset[1], minlength=len(SHAPE_CLASSES))
    assert counts.max() - counts.min() <= 1 and counts.min() > 0


def test_masks_are_non_empty_and_the_shape_stays_inside_the_image(
    dataset: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    masks = dataset[2]
    areas = masks.sum(axis=(1, 2))
    side = DEMO_IMAGE_SIZE
    assert areas.min() > 0.005 * side * side  # never a speck
    assert areas.max() < 0.35 * side * side  # always plenty of background for a pointing game
    edges = (masks[:, 0], masks[:, -1], masks[:, :, 0], masks[:, :, -1])
    assert not any(edge.any() for edge in edges)  # never cut by the image edge


def test_shape_spans_a_fair_part_of_the_side(dataset: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    masks = dataset[2]
    widths = np.array([np.ptp(np.nonzero(m.any(axis=0))[0]) + 1 for m in masks]) / DEMO_IMAGE_SIZE
    assert widths.min() >= MIN_RADIUS_FRACTION  # at least ~12 % of the side
    assert widths.max() <= 2.4 * MAX_RADIUS_FRACTION + 0.05  # at most ~50 %


@pytest.mark.parametrize(
    ("name", "fill", "outlined_fill"),
    [("circle", (1.0, 1.0), 0.5), ("ring", (1.0 - RING_HOLE_RANGE[1] ** 2, 1.0 - RING_HOLE_RANGE[0] ** 2), 0.75)],
)
def test_mask_area_tracks_the_shape_size(name: str, fill: tuple[float, float], outlined_fill: float) -> None:
    """A filled circle's mask (an ellipse after the stretch and shear) fills its convex hull; a ring's
    leaves a hole of RING_HOLE_RANGE; an outlined shape's mask is only its strokes."""
    index = SHAPE_CLASSES.index(name)
    rng = np.random.default_rng(11)
    outlined_shares = []
    for _ in range(20):
        mask = generate_sample(rng, 128, index, style="filled", varied=True).mask
        hull = np.zeros(mask.shape, np.uint8)
        points = cv2.findNonZero(mask.astype(np.uint8))
        cv2.fillPoly(hull, [cv2.convexHull(points)], 1)
        share = mask.sum() / hull.sum()
        assert fill[0] - 0.06 <= share <= fill[1] + 0.03
        outlined = generate_sample(rng, 128, index, style="outlined", varied=True).mask
        hull[:] = 0
        cv2.fillPoly(hull, [cv2.convexHull(cv2.findNonZero(outlined.astype(np.uint8)))], 1)
        outlined_shares.append(outlined.sum() / hull.sum())
    assert np.median(outlined_shares) < outlined_fill  # small shapes have relatively thick strokes


def test_bigger_images_hold_proportionally_bigger_shapes() -> None:
    small = generate_dataset(160, seed=2, size=64)[2].sum(axis=(1, 2)).mean()
    large = generate_dataset(160, seed=2, size=128)[2].sum(axis=(1, 2)).mean()
    assert large / small == pytest.approx(4.0, rel=0.25)


def test_shape_colour_stands_out_from_the_background_around_it(
    dataset: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    images, _, masks = dataset
    kernel = np.ones((7, 7), np.uint8)
    distances = []
    for image, mask in zip(images[:200], masks[:200]):
        around = cv2.dilate(mask.astype(np.uint8), kernel).astype(bool) & ~mask
        inside_colour = image[mask].astype(float).mean(axis=0)
        around_colour = image[around].astype(float).mean(axis=0)
        distances.append(np.linalg.norm(inside_colour - around_colour))
    assert np.mean(distances) > 80
    assert np.percentile(distances, 5) > 40


def test_colour_says_nothing_about_the_class(dataset: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    """Mean shape colour per class stays close to the overall mean: the class is in the outline."""
    images, labels, masks = dataset
    colours = np.array([image[mask].mean(axis=0) for image, mask in zip(images, masks)])
    overall = colours.mean(axis=0)
    for index in range(len(SHAPE_CLASSES)):
        assert np.linalg.norm(colours[labels == index].mean(axis=0) - overall) < 35


def test_backgrounds_are_mostly_textured_and_sometimes_plain(
    dataset: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    """Textured backgrounds make a network learn outlines; plain ones (paper, a screen) are how people draw."""
    images, _, masks = dataset
    spreads = np.array([image[~mask].astype(float).std(axis=0).mean() for image, mask in zip(images, masks)])
    assert np.mean(spreads > 6) > 0.75
    assert np.mean(spreads < 6) > 0.05


def test_class_index_is_respected() -> None:
    rng = np.random.default_rng(0)
    for index, name in enumerate(SHAPE_CLASSES):
        sample = generate_sample(rng, class_index=index)
        assert isinstance(sample, ShapeSample)
        assert (sample.label, sample.class_name) == (index, name)


@pytest.mark.parametrize("bad", [-1, len(SHAPE_CLASSES), 2.0, "circle"])
def test_unknown_class_index_is_a_typed_error(bad: object) -> None:
    with pytest.raises(ClassIndexError, match="class_index"):
        generate_sample(0, class_index=bad)  # type: ignore[arg-type]


def test_size_is_respected() -> None:
    sample = generate_sample(1, size=96)
    assert sample.image.shape == (96, 96, 3) and sample.mask.shape == (96, 96)
    assert generate_dataset(3, seed=1, size=80)[0].shape == (3, 80, 80, 3)


@pytest.mark.parametrize("bad", [8, 31, 64.0])
def test_too_small_or_odd_size_is_a_typed_error(bad: object) -> None:
    with pytest.raises(ParameterError, match="size"):
        generate_sample(0, size=bad)  # type: ignore[arg-type]


def test_each_style_can_be_asked_for_and_an_unknown_one_is_a_typed_error() -> None:
    filled, outlined, bordered, patterned, broken = (
        generate_sample(7, 128, class_index=0, style=style, varied=True) for style in STYLES
    )
    assert outlined.mask.sum() < 0.6 * filled.mask.sum()  # the same circle: only its stroke
    assert bordered.mask.sum() >= filled.mask.sum()  # the border adds half a stroke outside
    assert patterned.mask.sum() < 0.9 * filled.mask.sum()  # the background shows between the pattern
    assert broken.mask.sum() < outlined.mask.sum()  # an outline with gaps
    with pytest.raises(ParameterError, match="style must be one of"):
        generate_sample(0, style="hatched", varied=True)


def test_the_plain_look_is_filled_shapes_with_fixed_proportions() -> None:
    """varied=False (generated datasets): every circle fills its disc, every ring has the same hole."""
    for index, fill in ((SHAPE_CLASSES.index("circle"), 1.0), (SHAPE_CLASSES.index("ring"), 0.75)):
        shares = []
        for seed in range(8):
            mask = generate_sample(seed, 128, index, varied=False).mask.astype(np.uint8)
            hull = np.zeros_like(mask)
            cv2.fillPoly(hull, [cv2.convexHull(cv2.findNonZero(mask))], 1)
            shares.append(mask.sum() / hull.sum())
        assert np.allclose(shares, fill, atol=0.05)
    with pytest.raises(ParameterError, match="varied samples only"):
        generate_sample(0, style="filled", varied=False)


def test_negative_count_is_a_typed_error() -> None:
    with pytest.raises(ParameterError, match="number of samples"):
        generate_dataset(-1, seed=0)


def test_test_seed_is_never_a_training_or_validation_seed() -> None:
    training_seeds = range(TRAIN_SEED, TRAIN_SEED + MAX_TRAIN_EPOCHS)
    assert TEST_SEED not in training_seeds and VAL_SEED not in training_seeds and TEST_SEED != VAL_SEED


def test_generator_does_not_import_tensorflow() -> None:
    code = "import sys, cnnviz.demo.shapes; sys.exit('tensorflow' in sys.modules or 'keras' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
