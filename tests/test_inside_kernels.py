"""Filter views: preprocessing folded into first-layer kernels, depthwise/separable layers, errors."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from inside_helpers import wrap

from cnnviz.errors import LayerWithoutKernelError, UnknownLayerError
from cnnviz.inside import filters
from cnnviz.models import load_model
from cnnviz.render.inside import filter_input_grid, rgb_kernel_tiles


def test_caffe_models_show_their_first_kernels_in_rgb_order():
    view = filters(load_model("ResNet50", weights=None))  # caffe preprocessing: BGR, mean subtraction
    assert view.layer == "conv1_conv" and view.rgb
    np.testing.assert_allclose(view.pixel_kernel, view.kernel[:, :, ::-1, :], rtol=1e-5)


def test_tf_preprocessing_scales_the_first_kernels():
    view = filters(load_model("MobileNetV2", weights=None))  # pixels / 127.5 - 1
    np.testing.assert_allclose(view.pixel_kernel, view.kernel / 127.5, rtol=1e-4)
    tiles = rgb_kernel_tiles(view.pixel_kernel)
    assert tiles.dtype == np.uint8 and tiles.shape[2] == 3


def _preprocessing_model():
    inputs = keras.Input((12, 12, 3))
    x = keras.layers.Rescaling(1 / 255, name="rescale")(inputs)
    x = keras.layers.Normalization(mean=[0.5, 0.4, 0.3], variance=[0.04, 0.09, 0.16], name="norm")(x)
    x = keras.layers.Conv2D(4, 3, name="first")(x)
    x = keras.layers.SeparableConv2D(6, 3, depth_multiplier=2, name="separable")(x)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    return keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(x)))


def test_folded_kernel_reproduces_the_layer_on_raw_pixels():
    model = _preprocessing_model()
    view = filters(wrap(model))
    assert view.layer == "first" and view.rgb
    rng = np.random.default_rng(1)
    a, b = (rng.uniform(0, 255, (1, 12, 12, 3)).astype(np.float32) for _ in range(2))
    probe = keras.Model(model.inputs[0], model.get_layer("first").output)
    difference = probe(a).numpy() - probe(b).numpy()  # the bias and the mean cancel out
    expected = tf.nn.conv2d(a - b, view.pixel_kernel, 1, "VALID").numpy()
    np.testing.assert_allclose(difference, expected, rtol=1e-3, atol=1e-4)


def test_separable_and_depthwise_kernels():
    view = filters(wrap(_preprocessing_model()), "separable")
    assert view.kind == "separable" and view.kernel.shape == (3, 3, 4, 2)
    assert view.pointwise.shape == (8, 6) and view.num_filters == 6 and not view.rgb
    depthwise = filters(load_model("MobileNetV2", weights=None), "block_1_depthwise")
    assert depthwise.kind == "depthwise" and depthwise.kernel.shape == (3, 3, 96, 1)
    deep = filters(load_model("MobileNetV2", weights=None), "block_1_project")
    assert filter_input_grid(deep.kernel, 0).shape[2] == 3 and deep.pixel_kernel is None


def test_layers_without_kernels_are_refused_clearly():
    loaded = wrap(_preprocessing_model())
    with pytest.raises(LayerWithoutKernelError, match="MaxPooling2D, which has no convolution kernel"):
        filters(loaded, "pool")
    with pytest.raises(UnknownLayerError, match="no layer called 'nope'.*first, separable, pool"):
        filters(loaded, "nope")


def test_depthwise_layers_count_one_filter_per_output_channel():
    loaded = load_model("MobileNetV2", weights=None)
    view = filters(loaded, "block_1_depthwise")
    channels = int(loaded.model.get_layer("block_1_depthwise").output.shape[-1])
    assert view.num_filters == channels == 96 and len(view.norms()) == 96
    assert view.description == "96 depthwise filters (one 3x3 kernel per input channel, 96 channels)"


def test_depth_multiplier_and_separable_layers_are_counted_and_described():
    inputs = keras.Input((10, 10, 4))
    x = keras.layers.DepthwiseConv2D(3, depth_multiplier=3, name="depthwise")(inputs)
    x = keras.layers.SeparableConv2D(5, 3, depth_multiplier=2, name="separable")(x)
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(x)))
    depthwise = filters(wrap(model), "depthwise")
    assert depthwise.num_filters == model.get_layer("depthwise").output.shape[-1] == 12
    assert depthwise.description == "12 depthwise filters (3 3x3 kernels per input channel, 4 channels)"
    separable = filters(wrap(model), "separable")
    assert separable.num_filters == model.get_layer("separable").output.shape[-1] == 5
    assert separable.description == (
        "24 depthwise filters (2 3x3 kernels per input channel, 12 channels), then 5 pointwise "
        "1x1x24 filters"
    )


def test_cli_names_depthwise_filters(capsys, tmp_path):
    from cnnviz.cli import main

    out = str(tmp_path / "k.png")
    assert main(["filters", "--model", "MobileNetV2", "--weights", "none", "--layer", "block_1_depthwise",
                 "--out", out]) == 0
    assert "96 depthwise filters (one 3x3 kernel per input channel" in capsys.readouterr().out
