"""The compiled passes fold each batch norm into the convolution before it (a speed-up): the maps and
scores must stay those of the model as Keras runs it. Checked against the unchanged model with an
independent tape, on a tiny network whose batch norms have far-from-identity statistics, plain and
wrapped in an outer model, including a target layer that is itself a folded convolution."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from cnnviz.explanation import explain
from tests.known_models import loaded, randomise_batch_norms

SIZE = 32


def _network(name: str) -> keras.Model:
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.Conv2D(8, 3, padding="same", use_bias=False, name="conv")(x)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.ReLU(6.0)(x)
    x = keras.layers.DepthwiseConv2D(3, padding="same", name="depthwise")(x)
    x = keras.layers.BatchNormalization(name="depthwise_bn")(x)
    x = keras.layers.ReLU(name="last_relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3, name="logits")(x), name=name)
    randomise_batch_norms(model, seed=3)
    return model


@pytest.fixture(scope="module")
def models():
    keras.utils.set_random_seed(0)
    plain = _network("plain")
    inputs = keras.Input((SIZE, SIZE, 3))
    wrapped = keras.Model(inputs, keras.layers.Dense(3, name="head")(keras.layers.ReLU()(_network("base")(inputs))))
    return plain, wrapped


def _image() -> np.ndarray:
    return np.random.default_rng(5).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)


def _input_gradient(model: keras.Model, image: np.ndarray, class_index: int) -> tuple[np.ndarray, np.ndarray]:
    x = tf.constant(image[None], tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        logits = model(x, training=False)
        score = logits[0, class_index]
    return tape.gradient(score, x).numpy()[0], logits.numpy()[0]


@pytest.mark.parametrize("which", [0, 1])
def test_gradients_and_probabilities_are_the_unfolded_models(models, which) -> None:
    model = models[which]
    image = _image()
    gradient, logits = _input_gradient(model, image, 1)
    result = explain(loaded(model, SIZE, classes=3), image, "saliency", class_index=1)
    np.testing.assert_allclose(result.raw, np.abs(gradient).max(axis=-1), rtol=1e-3, atol=1e-6 * np.abs(gradient).max())
    probabilities = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    assert result.probability == pytest.approx(probabilities[1], rel=1e-4)


def test_gradcam_on_a_folded_convolution_reads_that_convolution(models) -> None:
    model = models[0]
    image = _image()
    probe = keras.Model(model.inputs, [model.get_layer("conv").output, model.outputs[0]])
    with tf.GradientTape() as tape:
        activations, logits = probe(tf.constant(image[None], tf.float32), training=False)
        score = logits[0, 2]
    gradients = tape.gradient(score, activations).numpy()[0]
    expected = np.maximum((activations.numpy()[0] * gradients.mean(axis=(0, 1))).sum(axis=-1), 0.0)
    result = explain(loaded(model, SIZE, classes=3), image, "gradcam", class_index=2, layer="conv")
    np.testing.assert_allclose(result.raw, expected, rtol=1e-3, atol=1e-5 * expected.max())


def test_one_image_folds_only_small_kernels_and_one_image_and_a_batch_match_keras() -> None:
    """On one image a batch norm after a kernel larger than twice the layer's output stays unfolded
    (cnnviz.methods.core.SINGLE_IMAGE_FOLD_RATIO); a batch folds every pair. Both must give Keras'
    gradients: a bug in which batch norms are skipped (identity) without their kernel folded shows here."""
    from cnnviz.explanation import explain_batch
    from cnnviz.graph import flat_graph
    from cnnviz.methods.core import _worth_folding

    keras.utils.set_random_seed(1)
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.Conv2D(8, 3, strides=4, padding="same", name="small")(x)  # 8x8x8 out, 216 weights
    x = keras.layers.BatchNormalization(name="small_bn")(keras.layers.Activation("linear")(x))
    x = keras.layers.ReLU()(keras.layers.BatchNormalization(name="direct_bn")(
        keras.layers.Conv2D(8, 1, name="direct")(x)))
    x = keras.layers.Conv2D(32, 3, strides=4, padding="same", name="large")(x)  # 2x2x32 out, 2304 weights
    x = keras.layers.ReLU()(keras.layers.BatchNormalization(name="large_bn")(x))
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3, name="logits")(x))
    randomise_batch_norms(model, seed=4)
    model_ = loaded(model, SIZE, classes=3)
    graph = flat_graph(model_)
    assert _worth_folding(graph["direct"], single=True) and not _worth_folding(graph["large"], single=True)
    assert _worth_folding(graph["large"], single=False)
    images = [_image(), np.random.default_rng(6).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)]
    one = explain(model_, images[0], "saliency", class_index=2)
    both = explain_batch(model_, images, "saliency", class_index=2)
    for image, result in zip([images[0], *images], [one, *both]):
        gradient, _ = _input_gradient(model, image, 2)
        np.testing.assert_allclose(result.raw, np.abs(gradient).max(axis=-1), rtol=1e-3,
                                   atol=1e-6 * np.abs(gradient).max())
    np.testing.assert_allclose(one.raw, both[0].raw, rtol=1e-3, atol=1e-6 * np.abs(one.raw).max())
