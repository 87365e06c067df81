"""How a convolution works, on the real model: one output unit of the first convolution, step by step.

CNN Explainer (Wang et al. 2020) teaches this on a toy network; here it is done with the chosen
model's own weights: the input patch under the kernel (after the model's preprocessing and padding),
the kernel, their elementwise product, the sum, the bias, the batch normalisation that follows (if
any), the activation, and the pooling step, with every number. The arithmetic is done explicitly in
NumPy and checked against what the model's own layers compute at that position.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from cnnviz.errors import MethodNotApplicableError, ParameterError
from cnnviz.inside.architecture import Geometry, layer_object, layers
from cnnviz.inside.kernels import PIXELWISE_AFFINE, filters
from cnnviz.models import LoadedModel
from cnnviz.prediction import model_input

#: Layers applied elementwise after a convolution that the explainer follows.
FOLLOWING_TYPES = ("BatchNormalization", "ReLU", "Activation", "LeakyReLU", "PReLU", "ELU")
POOLING_TYPES = ("MaxPooling2D", "AveragePooling2D")


@dataclass(frozen=True)
class PoolingStep:
    """The pooling that follows: the window of activations holding our unit, and its result."""

    layer: str
    kind: str  # "max" or "average"
    position: tuple[int, int]  # pooled unit (row, column)
    window: np.ndarray  # (k, k) activations under the pooling window (padding shown as 0)
    window_origin: tuple[int, int]  # (row, column) of window[0, 0] in the activation map
    result: float
    model_result: float  # the pooling layer's own output there


@dataclass(frozen=True)
class ConvolutionStep:
    """One unit of a convolution explained with numbers (arrays are (kh, kw, in_channels))."""

    layer: str
    filter_index: int
    position: tuple[int, int]  # output unit (row, column)
    field: tuple[
        float, float, float, float
    ]  # its receptive field in model-input pixels (top, left, bottom, right)
    image: np.ndarray  # the model-input image (h, w, 3) uint8
    patch: np.ndarray  # the values the kernel multiplies (preprocessed, 0 where padding)
    patch_pixels: np.ndarray  # raw RGB pixels under the kernel (0 where padding), for display
    kernel: np.ndarray
    products: np.ndarray  # patch * kernel
    weighted_sum: float
    bias: float
    pre_activation: float  # weighted_sum + bias
    normalization: tuple[str, float, float] | None  # (layer, scale, shift) of a following BatchNorm
    normalized: float
    activation_layers: tuple[str, ...]  # activation functions applied, in order
    activation: float
    model_activation: float  # what the model's own layers give at this unit
    feature_map: np.ndarray  # (H', W') the whole map of this filter after the activation
    pooling: PoolingStep | None
    seconds: float


def explain_convolution(
    loaded_model: LoadedModel,
    image: np.ndarray,
    position: tuple[int, int],
    filter_index: int = 0,
    layer: str | None = None,
    fit: str = "crop",
) -> ConvolutionStep:
    """Explain the first convolution's unit nearest to image ``position`` (row, column in the model input)."""
    started = time.perf_counter()
    view = filters(loaded_model, layer)
    if view.kind != "convolution":
        raise MethodNotApplicableError(
            f"Layer {view.layer!r} is a {view.kind} convolution; the step-by-step view shows ordinary "
            "convolutions."
        )
    if not 0 <= int(filter_index) < view.num_filters:
        raise ParameterError(
            f"Filter {filter_index} is out of range: {view.layer} has filters 0 to {view.num_filters - 1}."
        )
    table = layers(loaded_model)
    row = table.row(view.layer)
    pixels = model_input(loaded_model, image, fit)
    height, width = loaded_model.input_size
    if not (0 <= position[0] < height and 0 <= position[1] < width):
        raise ParameterError(
            f"Position {tuple(position)} is outside the {height}x{width} model input; rows go from 0 to "
            f"{height - 1} and columns from 0 to {width - 1}."
        )
    conv_input, raw_input = _layer_input(loaded_model, view.layer, pixels)
    operation = layer_object(loaded_model, view.layer)
    unit = _nearest_unit(row.geometry, position, row.output_shape)
    kernel = view.kernel[..., filter_index]
    patch, patch_pixels = _patch(conv_input, raw_input, operation, unit)
    products = patch * kernel
    weighted_sum = float(products.sum(dtype=np.float64))
    bias = float(view.bias[filter_index]) if view.bias is not None else 0.0
    value = weighted_sum + bias

    following = _following_layers(loaded_model, view.layer)
    maps = np.asarray(operation(conv_input[None]))  # the model's own layers on the whole input
    normalization = None
    activation_layers: list[str] = []
    if getattr(operation, "activation", None) is not None and operation.activation.__name__ != "linear":
        activation_layers.append(f"{view.layer} ({operation.activation.__name__})")
        value = float(np.asarray(operation.activation(np.array([[value]], np.float32)))[0, 0])
    normalized = value
    for name in following:
        layer_op = layer_object(loaded_model, name)
        maps = (
            np.asarray(layer_op(maps, training=False))
            if _takes_training(layer_op)
            else np.asarray(layer_op(maps))
        )
        if isinstance(layer_op, keras.layers.BatchNormalization):
            scale, shift = _batchnorm_affine(layer_op, filter_index)
            normalization = (name, scale, shift)
            value = normalized = value * scale + shift
        else:
            activation_layers.append(_activation_name(layer_op))
            value = _apply_single(layer_op, value, filter_index, maps.shape[-1])
    feature_map = maps[0, ..., filter_index]
    return ConvolutionStep(
        layer=view.layer,
        filter_index=int(filter_index),
        position=unit,
        field=row.geometry.field(*unit),
        image=pixels,
        patch=patch,
        patch_pixels=patch_pixels,
        kernel=kernel,
        products=products,
        weighted_sum=weighted_sum,
        bias=bias,
        pre_activation=weighted_sum + bias,
        normalization=normalization,
        normalized=normalized,
        activation_layers=tuple(activation_layers),
        activation=float(value),
        model_activation=float(feature_map[unit]),
        feature_map=feature_map,
        pooling=_pooling(loaded_model, following[-1] if following else view.layer, maps, unit, filter_index),
        seconds=time.perf_counter() - started,
    )


def _layer_input(loaded_model: LoadedModel, name: str, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What the layer receives for this image, and the raw pixels carried through the same padding."""
    from cnnviz.inside.kernels import _chain_to_input

    chain = _chain_to_input(loaded_model, name)
    if chain is None:
        raise MethodNotApplicableError(
            f"Layer {name!r} does not read the image directly (only through preprocessing and padding), "
            "so the step-by-step view cannot show its input patch. Choose the first convolution."
        )
    values = np.asarray(loaded_model.preprocess(pixels[None].astype(np.float32)), np.float32)
    raw = pixels[None].astype(np.float32)
    for layer_name in chain:
        operation = layer_object(loaded_model, layer_name)
        values = np.asarray(operation(values), np.float32)
        if type(operation).__name__ not in PIXELWISE_AFFINE:
            raw = np.asarray(operation(raw), np.float32)
    return values[0], raw[0]


def _nearest_unit(
    geometry: Geometry | None, position: tuple[int, int], shape: tuple[int | None, ...]
) -> tuple[int, int]:
    assert geometry is not None
    unit = []
    for axis in range(2):
        index = round((position[axis] - geometry.start[axis]) / geometry.jump[axis])
        unit.append(int(np.clip(index, 0, int(shape[axis]) - 1)))  # type: ignore[arg-type]
    return unit[0], unit[1]


def _padded_window(values: np.ndarray, top: int, left: int, kh: int, kw: int) -> np.ndarray:
    """values[top:top+kh, left:left+kw] with zeros outside the array."""
    out = np.zeros((kh, kw, values.shape[-1]), values.dtype)
    r0, c0 = max(top, 0), max(left, 0)
    r1, c1 = min(top + kh, values.shape[0]), min(left + kw, values.shape[1])
    if r1 > r0 and c1 > c0:
        out[r0 - top : r1 - top, c0 - left : c1 - left] = values[r0:r1, c0:c1]
    return out


def _patch(
    conv_input: np.ndarray, raw_input: np.ndarray, operation: Any, unit: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    from cnnviz.inside.architecture import same_padding

    kh, kw = operation.kernel_size
    sh, sw = operation.strides
    dh, dw = operation.dilation_rate
    if (dh, dw) != (1, 1):
        raise MethodNotApplicableError("The step-by-step view does not show dilated convolutions.")
    pads = (0, 0)
    if operation.padding == "same":
        pads = (same_padding(conv_input.shape[0], kh, sh), same_padding(conv_input.shape[1], kw, sw))
    top, left = unit[0] * sh - pads[0], unit[1] * sw - pads[1]
    patch = _padded_window(conv_input, top, left, kh, kw)
    pixels = np.clip(_padded_window(raw_input, top, left, kh, kw), 0, 255).astype(np.uint8)
    return patch, pixels


def _consumers(loaded_model: LoadedModel, name: str) -> list[str]:
    return [row.name for row in layers(loaded_model) if name in row.inputs]


def _following_layers(loaded_model: LoadedModel, name: str) -> list[str]:
    """Elementwise layers (BatchNorm, activations) that directly follow the convolution, in order."""
    chain: list[str] = []
    current = name
    while True:
        consumers = _consumers(loaded_model, current)
        if len(consumers) != 1:
            return chain
        row = layers(loaded_model).row(consumers[0])
        if row.type not in FOLLOWING_TYPES or len(row.inputs) != 1:
            return chain
        chain.append(row.name)
        current = row.name


def _takes_training(operation: Any) -> bool:
    return isinstance(operation, (keras.layers.BatchNormalization, keras.layers.Dropout))


def _batchnorm_affine(operation: keras.layers.BatchNormalization, channel: int) -> tuple[float, float]:
    """BatchNorm at inference as y = scale * x + shift for one channel (Ioffe & Szegedy 2015)."""
    mean = float(operation.moving_mean.numpy()[channel])
    variance = float(operation.moving_variance.numpy()[channel])
    gamma = float(operation.gamma.numpy()[channel]) if operation.gamma is not None else 1.0
    beta = float(operation.beta.numpy()[channel]) if operation.beta is not None else 0.0
    scale = gamma / np.sqrt(variance + operation.epsilon)
    return float(scale), float(beta - mean * scale)


def _activation_name(operation: Any) -> str:
    if isinstance(operation, keras.layers.ReLU):
        cap = operation.max_value
        return f"{operation.name} (ReLU{'' if cap is None else f', capped at {float(cap):g}'})"
    function = getattr(operation, "activation", None)
    return f"{operation.name} ({getattr(function, '__name__', type(operation).__name__)})"


def _apply_single(operation: Any, value: float, channel: int, channels: int) -> float:
    """Apply an elementwise layer to one value of one channel (the layer may hold per-channel weights)."""
    probe = np.zeros((1, 1, 1, channels), np.float32)
    probe[..., channel] = value
    return float(np.asarray(operation(probe))[0, 0, 0, channel])


def _pooling(
    loaded_model: LoadedModel, last: str, maps: np.ndarray, unit: tuple[int, int], channel: int
) -> PoolingStep | None:
    """The pooling right after the activation (ZeroPadding2D allowed in between), for our unit."""
    from cnnviz.inside.architecture import same_padding

    consumers = _consumers(loaded_model, last)
    pad = (0, 0)
    values = maps
    if len(consumers) == 1 and layers(loaded_model).row(consumers[0]).type == "ZeroPadding2D":
        padding = layer_object(loaded_model, consumers[0])
        pad = (padding.padding[0][0], padding.padding[1][0])
        values = np.asarray(padding(maps))
        consumers = _consumers(loaded_model, consumers[0])
    if len(consumers) != 1 or layers(loaded_model).row(consumers[0]).type not in POOLING_TYPES:
        return None
    pool = layer_object(loaded_model, consumers[0])
    (kh, kw), (sh, sw) = pool.pool_size, pool.strides or pool.pool_size
    pooled = np.asarray(pool(values))[0, ..., channel]
    grid = values[0, ..., channel]
    pads = (0, 0)
    if pool.padding == "same":
        pads = (same_padding(grid.shape[0], kh, sh), same_padding(grid.shape[1], kw, sw))
    row_c, col_c = unit[0] + pad[0] + pads[0], unit[1] + pad[1] + pads[1]
    position = (
        int(np.clip((row_c - kh + 1 + sh - 1) // sh, 0, pooled.shape[0] - 1)),
        int(np.clip((col_c - kw + 1 + sw - 1) // sw, 0, pooled.shape[1] - 1)),
    )
    top, left = position[0] * sh - pads[0], position[1] * sw - pads[1]
    is_max = isinstance(pool, keras.layers.MaxPooling2D)
    window = _padded_window(grid[..., None], top, left, kh, kw)[..., 0]
    inside = _padded_window(np.ones_like(grid)[..., None], top, left, kh, kw)[..., 0] > 0
    result = float(window[inside].max() if is_max else window[inside].mean())
    return PoolingStep(
        layer=consumers[0],
        kind="max" if is_max else "average",
        position=position,
        window=window,
        window_origin=(top - pad[0], left - pad[1]),
        result=result,
        model_result=float(pooled[position]),
    )
