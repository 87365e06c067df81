"""Which layers the incremental walker recomputes box-wise, and how (everything else falls back).

Windowed layers (convolutions, pooling, zero padding) grow or shrink the changed box; element-wise
layers (batch norm in inference, activations, dropout, rescaling) keep it; merges (add, multiply,
concatenate, ...) take the union of their inputs' boxes. Exact types only: a subclass may change
``call``, so it falls back.
"""

from __future__ import annotations

from typing import Any

import keras

from cnnviz.incremental import patches

L = keras.layers
WINDOWED = {L.Conv2D: patches.conv2d, L.DepthwiseConv2D: patches.depthwise_conv2d,
            L.SeparableConv2D: patches.separable_conv2d, L.MaxPooling2D: patches.max_pool,
            L.AveragePooling2D: patches.average_pool, L.ZeroPadding2D: patches.identity}
ELEMENTWISE = (L.BatchNormalization, L.Activation, L.ReLU, L.LeakyReLU, L.ELU, L.Dropout,
               L.SpatialDropout2D, L.Rescaling)
MERGES = (L.Add, L.Multiply, L.Subtract, L.Average, L.Maximum, L.Minimum, L.Concatenate)
CHANNEL_AXES = (-1, 3)


def _windowed_ok(layer: Any) -> bool:
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        return False
    if type(layer) is L.Conv2D and layer.groups != 1:
        return False
    if type(layer) is L.AveragePooling2D and layer.padding != "valid":
        return False  # 'same' average pooling divides by the count of real inputs: not a plain window
    if type(layer) in (L.DepthwiseConv2D, L.SeparableConv2D):  # TF cannot stride and dilate at once
        return max(layer.strides) == 1 or max(layer.dilation_rate) == 1
    return True


def kind(layer: Any) -> str | None:
    """"window", "elementwise", "merge", or None (unknown: fall back)."""
    kind_of = type(layer)
    if kind_of in WINDOWED:
        return "window" if _windowed_ok(layer) else None
    if kind_of in ELEMENTWISE:
        if kind_of is L.BatchNormalization and layer.axis not in CHANNEL_AXES:
            return None
        return "elementwise"
    if kind_of in MERGES:
        if kind_of is L.Concatenate and layer.axis not in CHANNEL_AXES:
            return None
        return "merge"
    return None


def multiply_adds(layer: Any, output_shape: tuple[int, ...], input_channels: int) -> int:
    """Multiply-adds of a layer per image (convolutions and dense layers; others count 0)."""
    kind_of = type(layer)
    if None in output_shape:
        return 0
    if kind_of is L.Dense:
        return int(input_channels * layer.units)
    if kind_of not in (L.Conv2D, L.DepthwiseConv2D, L.SeparableConv2D) or len(output_shape) != 3:
        return 0
    height, width, channels = output_shape
    taps = int(layer.kernel_size[0] * layer.kernel_size[1])
    if kind_of is L.Conv2D:
        return height * width * taps * input_channels * channels // max(1, layer.groups)
    depth_multiplier = int(getattr(layer, "depth_multiplier", 1))
    depthwise = height * width * taps * input_channels * depth_multiplier
    if kind_of is L.SeparableConv2D:
        return depthwise + height * width * input_channels * depth_multiplier * channels
    return depthwise
