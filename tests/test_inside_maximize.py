"""Activation maximisation on the demo model: real gains, every class reached, seeded, cancellable."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from inside_helpers import wrap

from cnnviz.errors import CancelledError, ClassIndexError, ParameterError, UnknownLayerError
from cnnviz.inside import Penalties, feature_maps, maximize
from cnnviz.models import load_model
from cnnviz.prediction import class_probabilities

CHANNELS = list(range(8))


@pytest.fixture(scope="module")
def demo():
    return load_model("shapes")


def test_every_class_image_is_classified_as_its_class(demo):
    result = maximize(demo, class_index=list(range(demo.num_classes)), steps=128, seed=0)
    assert result.images.shape == (demo.num_classes, 64, 64, 3) and result.images.dtype == np.uint8
    # measured again through the public predict path, on the uint8 images as shown
    probabilities = class_probabilities(demo, list(result.images))
    for class_index, row in enumerate(probabilities):
        assert row.argmax() == class_index and row[class_index] >= 0.9, demo.class_names[class_index]
    np.testing.assert_allclose(result.probabilities, probabilities.max(axis=1), atol=1e-4)
    assert np.all(result.final_objective > result.start_objective + 10)  # logits grew


@pytest.mark.parametrize("method", ["fourier", "pixel"])
def test_channel_activation_grows_at_least_tenfold_over_the_starting_noise(demo, method):
    result = maximize(demo, "last_conv", channels=CHANNELS, steps=128, seed=0, method=method)
    assert result.target_kind == "channel" and result.targets == tuple(CHANNELS)
    assert np.all(result.final_objective >= 10 * result.start_objective), result.gains
    assert np.all(result.final_objective > 1.0)
    assert result.params["optimised_layer"] == "head_bn"  # before the ReLU, as Lucid does
    assert result.params["transforms"] is (method == "fourier")
    assert result.history.shape == (128, 8)


def test_runs_are_seeded(demo):
    first = maximize(demo, class_index="circle", steps=8, seed=3)
    again = maximize(demo, class_index="circle", steps=8, seed=3)
    other = maximize(demo, class_index="circle", steps=8, seed=4)
    np.testing.assert_array_equal(first.images, again.images)
    assert not np.array_equal(first.images, other.images)


def test_progress_is_reported_and_cancel_stops(demo):
    calls = []
    maximize(demo, class_index=0, steps=40, progress=lambda done, total, info: calls.append((done, total)))
    assert calls[0] == (0, 40) and calls[-1] == (40, 40) and len(calls) == 4  # chunks of 16 steps
    with pytest.raises(CancelledError):
        maximize(demo, class_index=0, steps=64, progress=lambda done, total, info: done < 16)


def _gram_similarity(demo, images):
    """Cosine similarity of the last_conv Gram matrices of two images (what diversity pushes down)."""
    grams = []
    for image in images:
        values = feature_maps(demo, image, "last_conv")["last_conv"].maps.reshape(-1, 96)
        gram = (values.T @ values).ravel()
        grams.append(gram / np.linalg.norm(gram))
    return float(grams[0] @ grams[1])


def test_diversity_makes_images_of_one_target_differ_in_style(demo):
    plain = maximize(demo, "last_conv", channels=[1], images_per_target=2, steps=64, seed=0)
    varied = maximize(
        demo,
        "last_conv",
        channels=[1],
        images_per_target=2,
        steps=64,
        seed=0,
        penalties=Penalties(diversity=2.0),
    )
    assert varied.targets == (1, 1) and varied.params["diversity_layer"] == "last_conv"
    assert _gram_similarity(demo, varied.images) < _gram_similarity(demo, plain.images) - 0.2
    assert np.all(varied.final_objective >= 10 * np.maximum(varied.start_objective, 0.1))


def test_nested_models_resolve_inner_layer_names():
    inner_input = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", name="conv_a")(inner_input)
    x = keras.layers.ReLU(name="relu_a")(x)
    base = keras.Model(inner_input, keras.layers.Conv2D(16, 3, strides=2, name="conv_b")(x), name="base")
    inputs = keras.Input((32, 32, 3))
    outputs = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(base(inputs)))
    loaded = wrap(keras.Model(inputs, outputs), "nested", preprocess=lambda x: x / 127.5 - 1)
    result = maximize(loaded, "relu_a", channels=[0, 5], steps=16)  # inner name, resolved
    assert result.layer == "base/relu_a" and result.params["optimised_layer"] == "base/conv_a"
    assert result.images.shape == (2, 32, 32, 3) and np.all(result.final_objective > result.start_objective)


def test_bad_requests_raise_typed_errors(demo):
    with pytest.raises(ParameterError, match="steps must be a whole number from 1"):
        maximize(demo, class_index=0, steps=0)
    with pytest.raises(ParameterError, match="steps must be"):
        maximize(demo, class_index=0, steps=10**7)
    with pytest.raises(ParameterError, match="steps must be"):
        maximize(demo, class_index=0, steps=2.5)
    with pytest.raises(ParameterError, match="channels 0 to 95"):
        maximize(demo, "last_conv", channels=[96])
    with pytest.raises(UnknownLayerError, match="no layer called 'conv99'"):
        maximize(demo, "conv99", channels=[0])
    with pytest.raises(ParameterError, match="either channels"):
        maximize(demo, "last_conv", channels=[0], class_index=1)
    with pytest.raises(ParameterError, match="either channels"):
        maximize(demo)
    with pytest.raises(ClassIndexError, match="no class called 'dragon'"):
        maximize(demo, class_index="dragon")
    with pytest.raises(ParameterError, match="Unknown method"):
        maximize(demo, class_index=0, method="deepdream")
    with pytest.raises(ParameterError, match="not negative"):
        maximize(demo, class_index=0, penalties=Penalties(l2=-1))
