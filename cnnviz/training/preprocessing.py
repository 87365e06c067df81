"""Preprocessing as Keras layers, so that a trained model takes raw 0..255 RGB pixels itself.

A backbone's ``LoadedModel.preprocess`` is a Python function, which a saved .keras file cannot hold
(Lambda layers are refused in safe mode). Every family cnnviz knows is an affine map per colour
channel, possibly with the channels reversed, so built-in layers express them exactly: Rescaling for
"none"/"builtin"/"scale01"/"tf", Normalization for "torch", and for "caffe" (BGR, ImageNet mean
subtracted) a Normalization followed by a frozen 1x1 convolution that swaps red and blue.
The exported model begins with a Rescaling or Normalization layer, which is how
``cnnviz.models.load_model_file`` recognises a model that wants raw pixels.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from cnnviz.errors import ParameterError

# keras.applications.imagenet_utils' constants (RGB order), on the 0..255 scale.
IMAGENET_MEAN_RGB = np.array([123.68, 116.779, 103.939], np.float32)
TORCH_MEAN = np.array([0.485, 0.456, 0.406], np.float32) * 255.0
TORCH_STD = np.array([0.229, 0.224, 0.225], np.float32) * 255.0
LAYER_NAME = "preprocess"


def _channel_swap(name: str) -> keras.layers.Conv2D:
    """A frozen 1x1 convolution that reverses the channel order (RGB -> BGR)."""
    swap = keras.layers.Conv2D(3, 1, use_bias=False, trainable=False, name=name)
    swap.build((None, None, None, 3))
    swap.set_weights([np.eye(3, dtype=np.float32)[::-1].reshape(1, 1, 3, 3)])
    return swap


def preprocessing_layers(family: str) -> list[keras.layers.Layer]:
    """Layers mapping raw 0..255 RGB to what a backbone of this preprocessing family expects."""
    if family in ("none", "builtin"):
        return [keras.layers.Rescaling(1.0, name=LAYER_NAME)]  # identity; marks "takes raw pixels"
    if family == "scale01":
        return [keras.layers.Rescaling(1 / 255.0, name=LAYER_NAME)]
    if family == "tf":
        return [keras.layers.Rescaling(1 / 127.5, offset=-1.0, name=LAYER_NAME)]
    if family == "torch":
        return [keras.layers.Normalization(mean=TORCH_MEAN, variance=TORCH_STD**2, name=LAYER_NAME)]
    if family == "caffe":
        return [keras.layers.Normalization(mean=IMAGENET_MEAN_RGB, variance=np.ones(3, np.float32),
                                           name=LAYER_NAME),
                _channel_swap(f"{LAYER_NAME}_bgr")]
    raise ParameterError(f"No preprocessing layers for the family {family!r}.")


def apply(layers: list[keras.layers.Layer], x: Any) -> Any:
    """Call the layers in order on a tensor."""
    for layer in layers:
        x = layer(x)
    return x
