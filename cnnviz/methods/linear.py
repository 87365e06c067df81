"""The affine part of a weighted layer (Dense, Conv, DepthwiseConv) with a kernel and bias of choice.

DeconvNet replaces a fused ReLU after the affine part; LRP recomputes the affine part with modified
weights (positive part, gamma-boosted, batch norm folded in). Never mutates the layer.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf
from keras import ops


def _dense(layer: Any) -> Any:
    """The Dense layer itself, or the one behind cnnviz's logits view of a softmax Dense."""
    inner = getattr(layer, "dense", None)
    return inner if isinstance(inner, keras.layers.Dense) else layer


def has_affine(layer: Any) -> bool:
    """Whether :func:`affine` knows the layer: Dense, Conv1D/2D/3D, DepthwiseConv2D."""
    layer = _dense(layer)
    return (isinstance(layer, keras.layers.Dense)
            or (isinstance(layer, keras.layers.DepthwiseConv2D))
            or (hasattr(layer, "convolution_op") and not isinstance(layer, keras.layers.SeparableConv2D)
                and not isinstance(layer, keras.layers.Conv2DTranspose)))


def kernel_and_bias(layer: Any) -> tuple[tf.Tensor, tf.Tensor | None]:
    """The layer's kernel and bias (None without one)."""
    layer = _dense(layer)
    bias = getattr(layer, "bias", None) if getattr(layer, "use_bias", True) else None
    return tf.convert_to_tensor(layer.kernel), None if bias is None else tf.convert_to_tensor(bias)


def affine(layer: Any, x: tf.Tensor, kernel: tf.Tensor | None = None, bias: tf.Tensor | None = None,
           use_bias: bool = True) -> tf.Tensor:
    """The layer's output before its activation, with ``kernel`` / ``bias`` in place of its own if given."""
    own_kernel, own_bias = kernel_and_bias(layer)
    kernel = own_kernel if kernel is None else kernel
    bias = (own_bias if bias is None else bias) if use_bias else None
    layer = _dense(layer)
    if isinstance(layer, keras.layers.Dense):
        z = ops.matmul(x, kernel)
    elif isinstance(layer, keras.layers.DepthwiseConv2D):
        z = ops.depthwise_conv(x, kernel, strides=layer.strides, padding=layer.padding,
                               dilation_rate=layer.dilation_rate, data_format=layer.data_format)
    else:
        z = layer.convolution_op(x, kernel)
    if bias is not None:
        z = z + bias  # channels last (the only layout cnnviz's models use)
    return z
