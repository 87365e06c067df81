"""Predictions for the demo model (known right answers) and an ImageNet architecture."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz.errors import ParameterError
from cnnviz.models import load_model
from cnnviz.prediction import predict, predict_batch
from cnnviz.demo.shapes import SHAPE_CLASSES, TEST_SEED, generate_sample


@pytest.fixture(scope="module")
def demo():
    return load_model("shapes")


def test_demo_model_names_the_shape(demo) -> None:
    rng = np.random.default_rng(TEST_SEED)
    for class_index, name in enumerate(SHAPE_CLASSES):
        sample = generate_sample(rng, class_index=class_index)
        best = predict(demo, sample.image, top=3)[0]
        assert (best.class_index, best.label) == (class_index, name)
        assert best.probability > 0.5


def test_results_are_ranked_probabilities(demo) -> None:
    sample = generate_sample(TEST_SEED)
    predictions = predict(demo, sample.image, top=len(SHAPE_CLASSES))
    probabilities = [p.probability for p in predictions]
    assert probabilities == sorted(probabilities, reverse=True)
    assert sum(probabilities) == pytest.approx(1.0, abs=1e-4)
    assert sorted(p.class_index for p in predictions) == list(range(len(SHAPE_CLASSES)))


def test_batch_matches_single_images_and_any_size_is_resized(demo) -> None:
    rng = np.random.default_rng(TEST_SEED + 1)
    images = [generate_sample(rng).image for _ in range(5)]
    images[2] = np.repeat(np.repeat(images[2], 3, axis=0), 3, axis=1)  # 192x192: resized to 64x64
    batched = predict_batch(demo, images, top=2, batch_size=2)
    for image, result in zip(images, batched):
        single = predict(demo, image, top=2)
        assert [p.class_index for p in single] == [p.class_index for p in result]
        assert single[0].probability == pytest.approx(result[0].probability, abs=1e-5)


def test_imagenet_architecture_predicts_1000_classes() -> None:
    loaded = load_model("MobileNetV2", weights=None)
    image = np.random.default_rng(0).integers(0, 256, (300, 400, 3)).astype(np.uint8)
    predictions = predict(loaded, image, top=5)
    assert len(predictions) == 5 and all(0 <= p.class_index < 1000 for p in predictions)
    assert predictions[0].probability >= predictions[-1].probability


def test_top_must_be_positive(demo) -> None:
    with pytest.raises(ParameterError, match="top must be a positive"):
        predict(demo, generate_sample(0).image, top=0)
