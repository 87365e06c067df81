"""The invariance probe and the catalog, on small or random-weight models."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz.errors import ParameterError
from cnnviz.inside import catalog, invariance_probe, measured_catalog
from cnnviz.inside.invariance import transform_image
from cnnviz.models import load_model
from cnnviz.prediction import class_probabilities


def test_transforms_move_pixels_where_expected():
    image = np.zeros((20, 20, 3), np.uint8)
    image[5, 4] = 255
    shifted = transform_image(image, "shift_x", 0.25, fill="black")
    assert shifted[5, 9].max() == 255 and shifted[5, 4].max() == 0  # 0.25 of 20 pixels = 5 to the right
    down = transform_image(image, "shift_y", -0.1, fill="black")
    assert down[3, 4].max() == 255
    image[:] = 0
    image[2, 10] = 255  # above the centre (9.5, 9.5)
    turned = transform_image(image, "rotate", 90, fill="black")  # anticlockwise: moves to the left
    assert np.unravel_index(turned[..., 0].argmax(), turned.shape[:2]) == (
        9,
        2,
    )  # (-7.5, 0.5) -> (-0.5, -7.5)


def test_probe_follows_the_top_class_and_the_untransformed_point_matches_predict():
    loaded = load_model("MobileNetV2", weights=None)
    image = np.random.default_rng(0).integers(0, 256, (224, 224, 3), dtype=np.uint8)
    calls = []
    probe = invariance_probe(
        loaded,
        image,
        "rotate",
        values=[-30, 0, 30],
        batch_size=2,
        progress=lambda done, total, info: calls.append((done, total)),
    )
    reference = class_probabilities(loaded, [image])[0]
    assert probe.class_index == int(reference.argmax())
    assert probe.probabilities[1] == pytest.approx(reference[probe.class_index], rel=1e-4)
    assert probe.images.shape == (3, 224, 224, 3) and calls == [(2, 3), (3, 3)]


def test_probe_rejects_bad_ranges():
    loaded = load_model("MobileNetV2", weights=None)
    image = np.zeros((224, 224, 3), np.uint8)
    with pytest.raises(ParameterError, match="Unknown transform"):
        invariance_probe(loaded, image, "shear")
    with pytest.raises(ParameterError, match="positive"):
        invariance_probe(loaded, image, "scale", values=[0.0, 1.0])
    with pytest.raises(ParameterError, match="between 1 and"):
        invariance_probe(loaded, image, "rotate", values=[])


def test_catalog_has_the_published_table_and_measures_latency_here():
    entries = {entry.name: entry for entry in catalog()}
    assert entries["ResNet50"].top1 == 74.9 and entries["MobileNetV2"].published_cpu_ms == 25.9
    (measured,) = measured_catalog(["MobileNetV2"], repeats=2)
    assert measured.measured.median_ms > 0 and measured.params_m == 3.5
    with pytest.raises(ParameterError, match="repeats"):
        measured_catalog(["MobileNetV2"], repeats=0)
    with pytest.raises(ParameterError, match="not in the published catalog"):
        measured_catalog(["shapes"])
