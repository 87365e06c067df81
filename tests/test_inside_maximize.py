"""Activation maximisation on the demo model: real gains, every class reached, seeded, cancellable."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from inside_helpers import wrap

from cnnviz.errors import CancelledError, ClassIndexError, ParameterError, UnknownLayerError
from cnnviz.inside import Penalties, feature_maps, maximize
from cnnviz.inside import parametrization as param
from cnnviz.inside.top_examples import demo_images
from cnnviz.models import load_model
from cnnviz.prediction import class_probabilities


@pytest.fixture(scope="module")
def demo():
    return load_model("shapes")


def _channels_the_noise_leaves_lowest(
    demo, layer: str, count: int, method: str = "fourier", among: np.ndarray | None = None
) -> list[int]:
    """The ``count`` channels of ``layer`` (of ``among`` if given) that the seeded starting noise of a
    ``count``-image run pushes furthest below zero before the ReLU: behind it they start at 0, not
    excited at all. Picked from the model rather than by number, so a retrained model keeps the premise."""
    start = maximize(demo, layer, channels=[0] * count, steps=1, seed=0, method=method)
    before_relu = start.params["optimised_layer"]
    maps = [feature_maps(demo, image, before_relu)[before_relu].maps for image in start.start_images]
    response = np.max([m.mean(axis=(0, 1)) for m in maps], axis=0)
    candidates = np.arange(response.size) if among is None else np.asarray(among)
    return [int(c) for c in candidates[np.argsort(response[candidates], kind="stable")[:count]]]


def test_every_class_image_is_classified_as_its_class(demo):
    result = maximize(demo, class_index=list(range(demo.num_classes)), steps=128, seed=0)
    assert result.images.shape == (demo.num_classes, 64, 64, 3) and result.images.dtype == np.uint8
    # measured again through the public predict path, on the uint8 images as shown
    probabilities = class_probabilities(demo, list(result.images))
    for class_index, row in enumerate(probabilities):
        assert row.argmax() == class_index and row[class_index] >= 0.9, demo.class_names[class_index]
    np.testing.assert_allclose(result.probabilities, probabilities.max(axis=1), atol=1e-4)
    assert np.all(result.final_objective > result.start_objective + 10)  # logits grew


@pytest.fixture(scope="module")
def real_channel_means(demo) -> np.ndarray:
    """Mean activation of every last_conv channel (thin border dropped, as the objective does) on 32
    generated demo images: what real inputs make these channels do."""
    return np.array([
        feature_maps(demo, image, "last_conv")["last_conv"].maps[1:-1, 1:-1, :].mean(axis=(0, 1))
        for image in demo_images(32, seed=5)
    ])


# The Fourier parametrisation with its transforms climbs more slowly than plain pixel ascent: it
# gets the default number of steps (256), pixels half of that.
@pytest.mark.parametrize(("method", "steps"), [("fourier", 256), ("pixel", 128)])
def test_channel_activation_grows_tenfold_over_the_noise_and_beyond_real_images(
    demo, real_channel_means, method, steps
):
    # channels that real images excite (typical > 0.3) and the starting noise does not
    excited = np.flatnonzero(real_channel_means.mean(axis=0) > 0.3)
    channels = _channels_the_noise_leaves_lowest(demo, "last_conv", 8, method, among=excited)
    result = maximize(demo, "last_conv", channels=channels, steps=steps, seed=0, method=method)
    assert result.target_kind == "channel" and result.targets == tuple(channels)
    # After the ReLU the starting noise scores about 0 (the channels are not excited yet), so 10x
    # the noise alone would prove nothing: the floor is 10x the noise or a typical real image.
    on_real = real_channel_means[:, channels]
    typical, strongest = on_real.mean(axis=0), on_real.max(axis=0)
    assert np.all(typical > 0.3) and np.all(result.start_objective < 0.05), result.start_objective
    assert np.all(result.final_objective >= 10 * np.maximum(result.start_objective, typical)), result.final_objective
    assert np.all(result.final_objective >= 2.5 * strongest)  # more than any of the real images
    assert result.params["optimised_layer"] == "head_bn"  # before the ReLU, as Lucid does
    assert result.params["transforms"] is (method == "fourier")
    assert result.history.shape == (steps, 8)


def test_the_objective_is_the_channel_mean_without_a_thin_border(demo):
    """start and final objectives are the channel's mean activation on the images as shown, one
    pixel of the 16x16 map dropped all round (1/16 of the side)."""
    result = maximize(demo, "last_conv", channels=[1, 4], steps=16, seed=0)
    for images, objective in ((result.start_images, result.start_objective), (result.images, result.final_objective)):
        for image, channel, value in zip(images, result.targets, objective):
            maps = feature_maps(demo, image, "last_conv")["last_conv"].maps
            assert value == pytest.approx(maps[1:-1, 1:-1, channel].mean(), rel=1e-4, abs=1e-6)
            if value > 0.1:
                assert value != pytest.approx(maps[:, :, channel].mean(), rel=1e-3)  # the border is out


# stem1 channels climb slowly (the channels furthest below 0 reach 0.4-0.6 in 160 steps); gap's in 64
@pytest.mark.parametrize(("layer", "steps"), [("stem1_pool", 160), ("gap", 64)])
def test_channels_of_a_pooling_layer_after_a_relu_are_optimised_before_the_relu(demo, layer, steps):
    """Channels the starting noise leaves at 0 behind a ReLU and a pooling layer still grow."""
    channels = _channels_the_noise_leaves_lowest(demo, layer, 4)
    result = maximize(demo, layer, channels=channels, steps=steps, seed=0)
    assert result.params["optimised_layer"] == {"stem1_pool": "stem1_bn", "gap": "head_bn"}[layer]
    assert np.all(result.start_objective < 0.05), result.start_objective
    assert np.all(result.final_objective > 0.3), result.final_objective


def _pixel_measures(images: np.ndarray) -> dict[str, float]:
    """What each penalty pushes down, measured on the images as shown (uint8 -> [0, 1])."""
    x = tf.constant(images.astype(np.float32) / 255)
    return {
        "l1": float(tf.reduce_mean(tf.abs(x - 0.5))),
        "l2": float(tf.reduce_mean(tf.square(x - 0.5))),
        "total_variation": float(tf.reduce_mean(param.total_variation(x))),
        "blur": float(tf.reduce_mean(tf.square(x - param.gaussian_blur(x, 1.0)))),
    }


def test_each_penalty_lowers_what_it_penalises_and_the_class_is_still_reached(demo):
    classes = [0, 3, 5]
    steps = 96  # in 64 the l1 and total-variation runs left the circle at 0.7 to 0.8
    plain = _pixel_measures(maximize(demo, class_index=classes, steps=steps, seed=0).images)
    weights = {"l1": 5.0, "l2": 20.0, "total_variation": 20.0, "blur": 100.0}
    for name, weight in weights.items():
        penalties = Penalties(**{name: weight})
        result = maximize(demo, class_index=classes, steps=steps, seed=0, penalties=penalties)
        assert _pixel_measures(result.images)[name] < 0.9 * plain[name], name
        assert np.all(result.probabilities >= 0.9), (name, result.probabilities)
        assert result.params["penalties"][name] == weight


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


def test_diversity_makes_images_of_one_target_differ_in_style(demo, real_channel_means):
    excited = np.flatnonzero(real_channel_means.mean(axis=0) > 0.3)
    channel = _channels_the_noise_leaves_lowest(demo, "last_conv", 1, among=excited)[0]
    plain = maximize(demo, "last_conv", channels=[channel], images_per_target=2, steps=64, seed=0)
    # weight 1: at 2 the demo model's diversity term outweighs the channel and one image of the
    # pair stays near 0 in 64 steps
    varied = maximize(
        demo,
        "last_conv",
        channels=[channel],
        images_per_target=2,
        steps=64,
        seed=0,
        penalties=Penalties(diversity=1.0),
    )
    assert varied.targets == (channel, channel) and varied.params["diversity_layer"] == "last_conv"
    assert _gram_similarity(demo, varied.images) < _gram_similarity(demo, plain.images) - 0.2
    floor = 10 * np.maximum(varied.start_objective, 0.1)
    assert np.all(varied.final_objective >= floor), varied.final_objective


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
    for seed in (-1, 2.5, 2**64):
        with pytest.raises(ParameterError, match="seed must be a whole number from 0"):
            maximize(demo, class_index=0, seed=seed)
