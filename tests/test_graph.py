"""Layer access: names, default target layers, nested models, activations with gradients."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf

from cnnviz import graph
from cnnviz.demo.model import build_demo_model
from cnnviz.errors import LayerNotSpatialError, UnknownLayerError
from cnnviz.models import LoadedModel, preprocessing_function

SMALL = (96, 96, 3)


def wrap(model: keras.Model, name: str, preprocessing: str = "none") -> LoadedModel:
    height, width = (int(d) for d in model.inputs[0].shape[1:3])
    classes = int(model.outputs[0].shape[-1])
    return LoadedModel(name=name, model=model, input_size=(height, width),
                       class_names=tuple(f"class {i}" for i in range(classes)),
                       preprocess=preprocessing_function(preprocessing), preprocessing=preprocessing,
                       weights=None, labels_known=False)


@pytest.fixture(scope="module")
def base() -> keras.Model:
    return keras.applications.MobileNetV2(weights=None, include_top=False, input_shape=SMALL, alpha=0.35)


@pytest.fixture(scope="module")
def transfer(base: keras.Model) -> LoadedModel:
    """The usual transfer-learning model: preprocessing layer, a keras.applications base, a new head."""
    inputs = keras.Input(SMALL)
    x = keras.layers.Rescaling(1 / 127.5, offset=-1, name="scale")(inputs)
    x = base(x, training=False)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.Dropout(0.2, name="drop")(x)
    outputs = keras.layers.Dense(3, name="head")(x)
    return wrap(keras.Model(inputs, outputs, name="transfer"), "transfer")


@pytest.fixture(scope="module")
def sequential(base: keras.Model) -> LoadedModel:
    model = keras.Sequential([keras.Input(SMALL), keras.layers.Rescaling(1 / 127.5, offset=-1), base,
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(4)], name="seq")
    return wrap(model, "seq")


def pixels(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, shape).astype(np.float32)


@pytest.mark.parametrize(("constructor", "expected"), [
    (keras.applications.MobileNetV2, "out_relu"),
    (keras.applications.ResNet50, "conv5_block3_out"),
    (keras.applications.EfficientNetB0, "top_activation"),
])
def test_default_target_layer_is_after_activation_and_add(constructor: Callable[..., Any],
                                                          expected: str) -> None:
    loaded = wrap(constructor(weights=None, classifier_activation=None), "zoo")
    assert graph.default_target_layer(loaded) == expected
    head = [entry.layer for entry in graph.downstream_layers(loaded, expected)]
    assert isinstance(head[0], keras.layers.GlobalAveragePooling2D)
    assert head[-1].name == "predictions"


def test_demo_model_default_layer_and_head() -> None:
    loaded = wrap(build_demo_model(), "shapes")
    assert graph.default_target_layer(loaded) == "last_conv"
    assert [e.name for e in graph.downstream_layers(loaded, "last_conv")] == ["gap", "logits"]
    assert graph.spatial_layer_names(loaded)[0] == "rescale"
    assert "logits" in graph.layer_names(loaded) and "logits" not in graph.spatial_layer_names(loaded)


@pytest.mark.parametrize("fixture", ["transfer", "sequential"])
def test_nested_model_activations_match_and_have_gradients(fixture: str, request: pytest.FixtureRequest,
                                                           base: keras.Model) -> None:
    loaded: LoadedModel = request.getfixturevalue(fixture)
    layer = graph.default_target_layer(loaded)
    assert layer == f"{base.name}/out_relu"  # the name contains a dot: mobilenetv2_0.35_96
    function = graph.activations_and_logits(loaded, [layer])
    x = tf.constant(pixels((2, *SMALL)))
    (activations,), logits = function(x)  # eager, compiled
    np.testing.assert_allclose(logits.numpy(), loaded.model(x, training=False).numpy(), rtol=1e-4, atol=1e-4)
    assert activations.shape == (2, 3, 3, 1280)
    with tf.GradientTape() as tape:  # eager under a tape
        (acts,), out = function(x)
        score = tf.reduce_sum(out[:, 1])
    gradient = tape.gradient(score, acts)
    assert gradient is not None and float(tf.reduce_sum(tf.abs(gradient))) > 0

    @tf.function
    def compiled_gradient(inputs: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as inner:
            (a,), o = function(inputs)
            s = tf.reduce_sum(o[:, 1])
        return inner.gradient(s, a)

    np.testing.assert_allclose(compiled_gradient(x).numpy(), gradient.numpy(), rtol=1e-3, atol=1e-6)


def test_input_gradient_through_preprocessing(transfer: LoadedModel) -> None:
    function = graph.activations_and_logits(transfer, ["scale"])
    x = tf.constant(pixels((1, *SMALL)))
    with tf.GradientTape() as tape:
        tape.watch(x)
        (scaled,), logits = function(x)
        score = logits[0, 0]
    np.testing.assert_allclose(scaled.numpy(), x.numpy() / 127.5 - 1, atol=1e-5)
    assert tape.gradient(score, x).shape == x.shape


def test_functions_are_built_once(transfer: LoadedModel) -> None:
    first = graph.activations_and_logits(transfer, ["out_relu", "scale"])
    again = graph.activations_and_logits(transfer, [graph.resolve_layer(transfer, "out_relu"), "scale"])
    assert first is again


def test_resolve_layer_errors_list_names(transfer: LoadedModel, base: keras.Model) -> None:
    assert graph.resolve_layer(transfer, "out_relu") == f"{base.name}/out_relu"  # unique inner name
    with pytest.raises(UnknownLayerError) as error:
        graph.resolve_layer(transfer, "out_rellu")
    message = str(error.value)
    assert "Closest: " + f"{base.name}/out_relu" in message and "head" in message
    with pytest.raises(LayerNotSpatialError, match="'head'"):
        graph.resolve_layer(transfer, "head", spatial=True)
    assert graph.resolve_layer(transfer, "head") == "head"
    assert isinstance(graph.get_layer(transfer, "head"), keras.layers.Dense)
