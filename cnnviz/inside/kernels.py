"""Filter views: the learned convolution kernels of a layer, as numbers ready to draw.

The first convolution looks at the image itself, so its kernels are small RGB pictures (Krizhevsky et
al. 2012; Zeiler & Fergus 2014 showed the edge and colour-blob detectors they become). Preprocessing
(``preprocess_input`` and Rescaling/Normalization layers in the model) is affine per pixel, so it is
folded into the kernel: the tiles are drawn in raw RGB pixel space, with BGR (caffe) models flipped
back to RGB. Deeper kernels read feature maps, not colours: they are shown as one grey tile per input
channel. Depthwise kernels have one tile per channel; separable convolutions add a 1x1 pointwise mix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from cnnviz.errors import LayerWithoutKernelError
from cnnviz.inside.architecture import LayerInfo, layer_object, layer_row, layers
from cnnviz.models import LoadedModel

#: Layers between the input and the first convolution that do not change what a kernel means.
PIXELWISE_AFFINE = ("Rescaling", "Normalization")
GEOMETRY_ONLY = ("ZeroPadding2D", "InputLayer")
#: Raw pixel value used to probe the preprocessing (large enough to keep rounding negligible).
PROBE_VALUE = 100.0
CONVOLUTION_TYPES = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D)


@dataclass(frozen=True)
class Filters:
    """The kernels of one convolution layer.

    ``kernel`` is (kh, kw, in, out) for a convolution and (kh, kw, in, multiplier) for a depthwise or
    separable layer (whose 1x1 mix is ``pointwise``, (in * multiplier, out)). ``pixel_kernel`` is the
    same kernel acting on raw RGB pixels (0..255, R G B order) when the layer reads the image through
    per-pixel preprocessing only; it is None for deeper layers.
    """

    layer: str
    layer_type: str
    kind: str  # "convolution", "depthwise" or "separable"
    kernel: np.ndarray
    pointwise: np.ndarray | None
    bias: np.ndarray | None
    pixel_kernel: np.ndarray | None
    strides: tuple[int, int]
    padding: str
    input_layer: str  # the layer feeding this one ("" for the model input)

    @property
    def rgb(self) -> bool:
        """Whether the kernels can be drawn as colour tiles (they read the image's R, G, B)."""
        return self.pixel_kernel is not None and self.pixel_kernel.shape[2] == 3

    @property
    def num_filters(self) -> int:
        """Output channels, one filter each: in x multiplier for a depthwise layer, the pointwise
        outputs for a separable one."""
        if self.pointwise is not None:
            return int(self.pointwise.shape[1])
        if self.kind == "depthwise":
            return int(self.kernel.shape[2] * self.kernel.shape[3])
        return int(self.kernel.shape[3])

    @property
    def description(self) -> str:
        """The filters in words, e.g. '96 depthwise filters (one 3x3 kernel per input channel, 96
        channels)' (for captions and the CLI)."""
        height, width, channels, multiplier = (int(d) for d in self.kernel.shape)
        if self.kind == "convolution":
            return f"{self.num_filters} filters of {height}x{width}x{channels}"
        per_channel = "one" if multiplier == 1 else f"{multiplier}"
        depthwise = (
            f"{channels * multiplier} depthwise filters ({per_channel} {height}x{width} "
            f"kernel{'' if multiplier == 1 else 's'} per input channel, {channels} channels)"
        )
        if self.pointwise is None:
            return depthwise
        return f"{depthwise}, then {self.num_filters} pointwise 1x1x{channels * multiplier} filters"

    @property
    def input_channels(self) -> int:
        return int(self.kernel.shape[2])

    def norms(self) -> np.ndarray:
        """L2 norm of each output filter's spatial kernel (sorting by strength)."""
        if self.kind == "convolution":
            return np.sqrt((self.kernel**2).sum(axis=(0, 1, 2)))
        return np.sqrt((self.kernel**2).sum(axis=(0, 1))).reshape(-1)


def first_convolution(loaded_model: LoadedModel) -> str:
    """Name of the first convolution layer in graph order (nested models included)."""
    for row in layers(loaded_model):
        if isinstance(layer_object(loaded_model, row.name), CONVOLUTION_TYPES):
            return row.name
    raise LayerWithoutKernelError(f"{loaded_model.name} has no convolution layer to show.")


def filters(loaded_model: LoadedModel, layer: str | None = None) -> Filters:
    """The kernels of ``layer`` (default: the first convolution), in pixel space if it reads the image."""
    row = layer_row(loaded_model, layer or first_convolution(loaded_model))
    name = row.name
    operation = layer_object(loaded_model, name)
    kind, kernel, pointwise = _kernels(operation, row)
    bias = operation.bias.numpy() if getattr(operation, "bias", None) is not None else None
    input_layer = row.inputs[0] if row.inputs else ""
    pixel_kernel = None
    if kernel.shape[2] == 3 and kind == "convolution":
        jacobian = _preprocessing_jacobian(loaded_model, name)
        if jacobian is not None:
            pixel_kernel = np.einsum("hwco,cd->hwdo", kernel, jacobian).astype(np.float32)
    strides = tuple(int(s) for s in operation.strides)
    return Filters(
        layer=name,
        layer_type=row.type,
        kind=kind,
        kernel=kernel,
        pointwise=pointwise,
        bias=bias,
        pixel_kernel=pixel_kernel,
        strides=strides,  # type: ignore[arg-type]
        padding=str(operation.padding),
        input_layer=input_layer,
    )


def _kernels(operation: Any, row: LayerInfo) -> tuple[str, np.ndarray, np.ndarray | None]:
    if isinstance(operation, keras.layers.SeparableConv2D):
        pointwise = operation.pointwise_kernel.numpy()
        return "separable", operation.depthwise_kernel.numpy(), pointwise[0, 0]
    if isinstance(operation, keras.layers.DepthwiseConv2D):
        return "depthwise", operation.kernel.numpy(), None
    if isinstance(operation, keras.layers.Conv2D) and not isinstance(operation, keras.layers.Conv2DTranspose):
        return "convolution", operation.kernel.numpy(), None
    raise LayerWithoutKernelError(
        f"Layer {row.name!r} is a {row.type}, which has no convolution kernel to show. Choose a "
        "Conv2D, DepthwiseConv2D or SeparableConv2D layer (the layer table marks them)."
    )


def _chain_to_input(loaded_model: LoadedModel, name: str) -> list[str] | None:
    """The layers from the model input to ``name``'s input, if all are per-pixel affine or padding."""
    table = layers(loaded_model)
    chain: list[str] = []
    current = table.row(name)
    while current.inputs and current.inputs[0] != "":
        if len(current.inputs) != 1:
            return None
        current = table.row(current.inputs[0])
        if current.type not in PIXELWISE_AFFINE + GEOMETRY_ONLY:
            return None
        chain.append(current.name)
    return chain[::-1]


def _preprocessing_jacobian(loaded_model: LoadedModel, name: str) -> np.ndarray | None:
    """The 3x3 matrix mapping a raw RGB pixel change to the layer's input channels, if affine."""
    chain = _chain_to_input(loaded_model, name)
    if chain is None:
        return None
    probes = np.zeros((7, 1, 1, 3), np.float32)  # 0, then 1x and 2x PROBE_VALUE on each channel
    for channel in range(3):
        probes[1 + channel, 0, 0, channel] = PROBE_VALUE
        probes[4 + channel, 0, 0, channel] = 2 * PROBE_VALUE
    values = np.asarray(loaded_model.preprocess(probes.copy()), np.float32)
    for layer_name in chain:
        operation = layer_object(loaded_model, layer_name)
        if type(operation).__name__ in PIXELWISE_AFFINE:
            values = np.asarray(operation(values), np.float32)
    base = values[0, 0, 0]
    single = values[1:4, 0, 0] - base  # (raw channel, input channel)
    double = values[4:7, 0, 0] - base
    if not np.allclose(double, 2 * single, rtol=1e-3, atol=1e-4 * (np.abs(single).max() + 1e-12)):
        return None  # not affine: keep the kernel in its own input space
    return (single / PROBE_VALUE).T  # (input channel, raw channel)
