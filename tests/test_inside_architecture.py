"""The layer table: receptive fields checked against gradients, FLOPs against published figures."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from inside_helpers import wrap

from cnnviz.errors import LayerNotSpatialError, UnknownLayerError
from cnnviz.inside import layers, receptive_field
from cnnviz.models import load_model


@pytest.fixture(scope="module")
def mobilenet():
    return load_model("MobileNetV2", weights=None)


def test_mobilenet_v2_multiply_adds_match_the_paper(mobilenet):
    table = layers(mobilenet)
    # Sandler et al. (2018), Table 4: MobileNetV2 1.0 at 224x224 needs 300 M multiply-adds, 3.4 M params
    # (3.5 M with the classifier, as Keras counts).
    assert table.total_macs == pytest.approx(300e6, rel=0.01)
    assert table.total_params == mobilenet.model.count_params()
    assert table.row("Conv1").output_shape == (112, 112, 32)
    assert table.row("out_relu").geometry.size == (491, 491)
    assert table.row("out_relu").geometry.jump == (32, 32)
    assert table.row("predictions").geometry is None


def test_resnet50_receptive_field_and_flops_match_the_literature():
    table = layers(load_model("ResNet50", weights=None))
    # Araujo, Norris & Sim (2019): ResNet-50's last block sees 483 x 483 pixels with a jump of 32;
    # He et al. (2016): 3.8 x 10^9 multiply-adds.
    last = table.row("conv5_block3_out").geometry
    assert last.size == (483, 483) and last.jump == (32, 32)
    assert table.total_macs == pytest.approx(3.86e9, rel=0.01)


def test_lecture_convolution_arithmetic():
    # Lecture 04: 5x5 kernels, 200 maps of 150 x 100 from an RGB input, stride 1, SAME padding:
    # each neuron sums 5 * 5 * 3 = 75 inputs, 225 million multiplications in all.
    inputs = keras.Input((150, 100, 3))
    outputs = keras.layers.Dense(2)(
        keras.layers.Flatten()(keras.layers.Conv2D(200, 5, padding="same")(inputs))
    )
    table = layers(wrap(keras.Model(inputs, outputs)))
    assert table.rows[0].macs == 225_000_000


def test_stacked_small_kernels_see_as_far_as_one_large_kernel_with_fewer_weights():
    # Lecture 03: three stacked 3x3 convolutions (27 weights) see 7x7, like one 7x7 kernel (49 weights).
    def net(kernels):
        inputs = keras.Input((32, 32, 1))
        x = inputs
        for k in kernels:
            x = keras.layers.Conv2D(1, k, use_bias=False)(x)
        return keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(x)))

    stacked, single = layers(wrap(net([3, 3, 3]))), layers(wrap(net([7])))
    assert stacked.rows[2].geometry.size == single.rows[0].geometry.size == (7, 7)
    assert sum(r.params for r in stacked.rows[:3]) == 27 and single.rows[0].params == 49


def _nested_model():
    base = keras.applications.MobileNetV2(weights=None, include_top=False, input_shape=(96, 96, 3))
    inputs = keras.Input((96, 96, 3))
    x = keras.layers.GlobalAveragePooling2D()(base(inputs))
    return base, keras.Model(inputs, keras.layers.Dense(3)(x))


def test_receptive_fields_equal_the_support_of_the_input_gradient_in_a_nested_model():
    base, outer = _nested_model()
    loaded = wrap(outer, "nested")
    x = tf.constant(np.random.default_rng(0).uniform(-1, 1, (1, 96, 96, 3)), tf.float32)
    for inner in ("expanded_conv_project", "block_2_add", "block_5_project_BN"):
        geometry = receptive_field(loaded, f"{base.name}/{inner}")
        probe = keras.Model(base.inputs, base.get_layer(inner).output)
        height = probe.outputs[0].shape[1]
        for unit in ((height // 2, height // 2), (0, 0), (height - 1, 1)):
            with tf.GradientTape() as tape:
                tape.watch(x)
                value = tf.reduce_sum(probe(x)[0, unit[0], unit[1], :])
            support = np.argwhere(np.abs(tape.gradient(value, x).numpy()[0]).sum(-1) > 0)
            top, left, bottom, right = geometry.field(*unit)
            expected = [max(top, 0), max(left, 0), min(bottom, 95), min(right, 95)]
            assert [*support.min(0), *support.max(0)] == expected, (inner, unit)


def test_global_information_makes_the_receptive_field_the_whole_image():
    inputs = keras.Input((16, 16, 3))
    features = keras.layers.Conv2D(8, 3, padding="same", name="conv")(inputs)
    squeeze = keras.layers.GlobalAveragePooling2D(keepdims=True, name="squeeze")(features)
    excite = keras.layers.Conv2D(8, 1, activation="sigmoid", name="excite")(squeeze)
    scaled = keras.layers.Multiply(name="scaled")([features, excite])
    outputs = keras.layers.Dense(2)(keras.layers.Flatten()(scaled))
    table = layers(wrap(keras.Model(inputs, outputs)))
    assert not table.row("conv").geometry.whole_image
    assert table.row("scaled").geometry.whole_image
    assert table.row("scaled").geometry.size == (3, 3)  # the local path is still 3x3


def test_sequential_models_and_typed_errors():
    model = keras.Sequential(
        [
            keras.Input((28, 28, 3)),
            keras.layers.Conv2D(4, 3, strides=2, name="c1"),
            keras.layers.MaxPooling2D(2, name="p1"),
            keras.layers.Flatten(name="flat"),
            keras.layers.Dense(10, name="out"),
        ]
    )
    loaded = wrap(model, "seq")
    geometry = receptive_field(loaded, "p1")
    assert geometry.size == (5, 5) and geometry.jump == (4, 4) and geometry.start == (2, 2)
    with pytest.raises(UnknownLayerError, match="no layer called 'conv9'.*c1"):
        receptive_field(loaded, "conv9")
    with pytest.raises(LayerNotSpatialError, match="no spatial output"):
        receptive_field(loaded, "out")
