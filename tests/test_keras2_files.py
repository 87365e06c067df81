"""Keras 2 files (tf.keras, what TensorFlow 2.15 and Teachable Machine wrote) and zipped SavedModels.

They are written here by tf_keras, the Keras 2 package (test-only dependency), and read by cnnviz's
Keras 3. The model is MobileNet-like and nested the way Teachable Machine exports it: a Sequential
holding a functional base (conv, DepthwiseConv2D, BatchNormalization, ReLU6) and a GAP + softmax
head. Its configs carry what Keras 3 refuses (DepthwiseConv2D ``groups``, BatchNormalization's list
``axis``, [[name, 0, 0]] endpoints); tf_keras 2.21 writes them exactly as TF 2.15 did, which the first
test checks. The answers must match tf_keras' own predictions of the same weights.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest

from cnnviz.errors import ModelFileError
from cnnviz.explanation import explain
from cnnviz.models import load_model_file
from cnnviz.prediction import class_probabilities

tf_keras = pytest.importorskip("tf_keras")

SIZE = 32


@pytest.fixture(scope="module")
def keras2_model() -> object:
    layers = tf_keras.layers
    tf_keras.utils.set_random_seed(3)
    image = tf_keras.Input((SIZE, SIZE, 3))
    x = layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False, name="conv1")(image)
    x = layers.BatchNormalization(name="conv1_bn")(x)
    x = layers.ReLU(6.0, name="conv1_relu")(x)
    x = layers.DepthwiseConv2D(3, padding="same", use_bias=False, name="conv_dw_1")(x)
    x = layers.BatchNormalization(name="conv_dw_1_bn")(x)
    x = layers.ReLU(6.0, name="conv_dw_1_relu")(x)
    x = layers.Conv2D(16, 1, use_bias=False, name="conv_pw_1")(x)
    x = layers.BatchNormalization(name="conv_pw_1_bn")(x)
    x = layers.ReLU(6.0, name="conv_pw_1_relu")(x)
    base = tf_keras.Model(image, x, name="mobilenet_like")
    head = [layers.GlobalAveragePooling2D(), layers.Dense(3, activation="softmax")]
    model = tf_keras.Sequential([base, *head])
    model.build((None, SIZE, SIZE, 3))
    for layer in base.layers:  # non-trivial BatchNorm statistics, so a wrong load shows
        if isinstance(layer, layers.BatchNormalization):
            gamma, beta, mean, variance = layer.get_weights()
            rng = np.random.default_rng(len(layer.name))
            layer.set_weights([gamma * rng.uniform(0.5, 2, gamma.shape),
                               beta + rng.uniform(0.2, 1, beta.shape),  # most units stay on
                               rng.normal(0, 0.2, mean.shape), rng.uniform(0.5, 2, variance.shape)])
    return model


@pytest.fixture(scope="module")
def pixels() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (4, SIZE, SIZE, 3)).astype(np.uint8)


def _expected(model: object, pixels: np.ndarray) -> np.ndarray:
    inputs = pixels.astype(np.float32) / 127.5 - 1  # "tf" preprocessing
    return np.asarray(model.predict(inputs, verbose=0))  # type: ignore[attr-defined]


def test_keras2_h5_with_depthwise_convolutions_loads(keras2_model: object, pixels: np.ndarray,
                                                      tmp_path: Path) -> None:
    path = tmp_path / "teachable.h5"
    keras2_model.save(path)  # type: ignore[attr-defined]
    with h5py.File(path) as file:
        config = json.dumps(json.loads(file.attrs["model_config"]))
    assert '"groups": 1' in config and '"axis": [3]' in config  # the Keras 2 config, as TF 2.15 wrote it
    with pytest.raises(Exception, match="DepthwiseConv2D|BatchNormalization"):
        keras.models.load_model(path, compile=False, safe_mode=True)  # plain Keras 3 refuses it
    loaded = load_model_file(path, labels=["a", "b", "c"], preprocessing="tf")
    assert loaded.head == "softmax"
    assert np.allclose(class_probabilities(loaded, list(pixels)), _expected(keras2_model, pixels), atol=1e-5)
    layer = "mobilenet_like/conv_pw_1_relu"
    # CAM of the nested model equals the one computed with tf_keras' own layers
    cam = explain(loaded, pixels[0], "cam", layer=layer)
    base, dense = keras2_model.layers[0], keras2_model.layers[-1]  # type: ignore[attr-defined]
    activations = np.asarray(base(pixels[:1].astype(np.float32) / 127.5 - 1))[0]
    expected = np.maximum(activations @ dense.get_weights()[0][:, cam.class_index], 0)
    assert np.allclose(cam.raw, expected, atol=1e-4) and np.ptp(expected) > 0
    assert explain(loaded, pixels[0], "gradcam", layer=layer).heatmap.shape == (SIZE, SIZE)


def test_zipped_savedmodel_loads_through_its_serving_signature(keras2_model: object, pixels: np.ndarray,
                                                               tmp_path: Path) -> None:
    folder = tmp_path / "exported"
    keras2_model.save(folder, save_format="tf")  # type: ignore[attr-defined]
    archive = shutil.make_archive(str(tmp_path / "exported"), "zip", tmp_path, "exported")
    loaded = load_model_file(archive, preprocessing="tf")
    # its outputs are softmax probabilities (detected): cnnviz works on their log
    assert np.allclose(class_probabilities(loaded, list(pixels)), _expected(keras2_model, pixels), atol=1e-5)
    heatmap = explain(loaded, pixels[1], "saliency")
    assert heatmap.heatmap.shape == (SIZE, SIZE) and np.ptp(heatmap.heatmap) > 0
    empty = tmp_path / "empty.zip"
    shutil.make_archive(str(tmp_path / "empty"), "zip", tmp_path / "exported" / "variables")
    with pytest.raises(ModelFileError, match="saved_model.pb"):
        load_model_file(empty)
