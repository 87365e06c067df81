"""The convolution explainer: the lecture's X example by hand, and the real model's own numbers."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from inside_helpers import wrap

from cnnviz.errors import ParameterError
from cnnviz.inside import explain_convolution
from cnnviz.models import load_model

# Lecture 04's toy example: a 9x9 "X" drawn with +1 on -1, and its diagonal 3x3 feature.
X = -np.ones((9, 9))
for i in range(1, 8):
    X[i, i] = X[i, 8 - i] = 1
DIAGONAL = np.where(np.eye(3) > 0, 1.0, -1.0)


def _x_model():
    inputs = keras.Input((9, 9, 3))
    x = keras.layers.Conv2D(1, 3, use_bias=False, name="match")(inputs)
    x = keras.layers.ReLU(name="relu")(x)
    x = keras.layers.MaxPooling2D(2, padding="same", name="pool")(x)
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(x)))
    kernel = np.zeros((3, 3, 3, 1), np.float32)
    kernel[:, :, 0, 0] = DIAGONAL / 9  # the lecture divides the match score by the 9 pixels
    model.get_layer("match").set_weights([kernel])
    return wrap(model, "x", preprocess=lambda pixels: pixels / 127.5 - 1)  # 0 -> -1, 255 -> +1


def test_the_lecture_x_example_numbers():
    image = np.repeat(((X + 1) * 127.5).astype(np.uint8)[..., None], 3, axis=2)
    step = explain_convolution(_x_model(), image, (1, 1))  # unit (0, 0) looks at pixels 0..2
    assert step.position == (0, 0)
    np.testing.assert_allclose(step.patch[..., 0], X[:3, :3], atol=1e-6)
    assert step.weighted_sum == pytest.approx(7 / 9)  # 0.77 in the lecture's first map
    assert step.activation == pytest.approx(7 / 9) and step.model_activation == pytest.approx(7 / 9)
    assert step.pooling.layer == "pool" and step.pooling.result == pytest.approx(1.0)  # 1.00 after pooling
    assert step.pooling.model_result == pytest.approx(1.0)
    centre = explain_convolution(_x_model(), image, (2, 2))
    assert centre.position == (1, 1) and centre.activation == pytest.approx(1.0)  # a perfect match


def test_every_step_agrees_with_the_real_model():
    loaded = load_model("ResNet50", weights=None)
    image = np.random.default_rng(3).integers(0, 256, (240, 300, 3), dtype=np.uint8)
    for position, channel in (((0, 0), 0), ((117, 60), 7), ((223, 223), 63)):
        step = explain_convolution(loaded, image, position, filter_index=channel)
        assert step.layer == "conv1_conv" and step.activation_layers == ("conv1_relu (relu)",)
        assert step.products.sum() == pytest.approx(step.weighted_sum, rel=1e-5)
        assert step.normalization[0] == "conv1_bn"
        assert step.activation == pytest.approx(step.model_activation, rel=1e-4, abs=1e-4)
        assert step.pooling.layer == "pool1_pool"
        assert step.pooling.result == pytest.approx(step.pooling.model_result, rel=1e-5)
        top, _, bottom, _ = step.field
        assert top <= position[0] + 2 and bottom >= position[0] - 2  # the unit's field covers the pixel


def test_out_of_range_filter_and_position():
    loaded = load_model("MobileNetV2", weights=None)
    image = np.zeros((224, 224, 3), np.uint8)
    with pytest.raises(ParameterError, match="filters 0 to 31"):
        explain_convolution(loaded, image, (5, 5), filter_index=32)
    with pytest.raises(ParameterError, match="outside the 224x224"):
        explain_convolution(loaded, image, (300, 5))


def test_demo_model_first_convolution_through_rescaling_batchnorm_relu_and_pooling():
    from cnnviz.demo.shapes import generate_sample

    loaded = load_model("shapes")
    image = generate_sample(7).image
    step = explain_convolution(loaded, image, (31, 40), filter_index=3)
    assert step.layer == "stem1_conv" and step.position == (31, 40)  # stride 1, same padding
    np.testing.assert_allclose(step.patch, image[30:33, 39:42] / 255.0, rtol=1e-6)  # Rescaling inside
    np.testing.assert_array_equal(step.patch_pixels, image[30:33, 39:42])
    assert step.bias == 0.0 and step.normalization[0] == "stem1_bn"
    assert step.activation == pytest.approx(step.model_activation, rel=1e-4, abs=1e-5)
    assert step.pooling.layer == "stem1_pool" and step.pooling.position == (15, 20)
    assert step.pooling.window.shape == (2, 2)
    assert step.pooling.result == pytest.approx(step.pooling.model_result, rel=1e-6)
    assert step.pooling.result == pytest.approx(step.feature_map[30:32, 40:42].max(), rel=1e-6)
