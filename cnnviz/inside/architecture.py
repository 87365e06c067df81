"""The layer table: output shape, parameters, receptive field, jump, start and FLOPs of each layer.

Receptive-field arithmetic follows Dumoulin & Visin (2016, "A guide to convolution arithmetic") and
Araujo, Norris & Sim (2019, "Computing receptive fields of convolutional neural networks"): for a
layer with kernel ``k`` (dilated: ``d (k - 1) + 1``), stride ``s`` and left padding ``p``,
``size_out = size_in + (k - 1) jump_in``, ``jump_out = jump_in s`` and
``start_out = start_in + ((k - 1) / 2 - p) jump_in``. ``jump`` is the distance in input pixels between
two neighbouring units, ``start`` the centre of the first unit's field (pixel centres at 0, 1, ...).
Everything is computed from the model's own graph, per axis (kernels may be 1x7), through branches
(the widest input wins) and nested models. A layer that mixes in global information (global
pooling, squeeze-and-excitation) sees the whole image.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import keras

from cnnviz.errors import UnknownLayerError
from cnnviz.models import LoadedModel

Pair = tuple[float, float]

#: FLOPs counted per output element of layers without multiply-accumulates (an estimate).
ELEMENTWISE_FLOPS: dict[str, int] = {"BatchNormalization": 2, "LayerNormalization": 5}


@dataclass(frozen=True)
class Geometry:
    """Where the units of a layer look in the input image, per axis (rows, columns)."""

    size: Pair  # receptive field size in input pixels (may exceed the image)
    jump: Pair  # input pixels between neighbouring units
    start: Pair  # centre of unit (0, 0)'s field, in input pixel coordinates
    whole_image: bool = False  # True once global information (GAP, SE block) is mixed in

    def field(self, row: int, column: int) -> tuple[float, float, float, float]:
        """(top, left, bottom, right) of unit (row, column)'s field, inclusive, unclipped."""
        centre_r = self.start[0] + row * self.jump[0]
        centre_c = self.start[1] + column * self.jump[1]
        half_r, half_c = (self.size[0] - 1) / 2, (self.size[1] - 1) / 2
        return centre_r - half_r, centre_c - half_c, centre_r + half_r, centre_c + half_c


INPUT_GEOMETRY = Geometry(size=(1.0, 1.0), jump=(1.0, 1.0), start=(0.0, 0.0))


@dataclass(frozen=True)
class LayerInfo:
    """One row of the layer table."""

    name: str  # nested layers are written "outer/inner"
    type: str  # Keras class name
    output_shape: tuple[int | None, ...]  # without the batch axis
    params: int
    inputs: tuple[str, ...]  # names of the layers feeding this one ("" for the model input)
    geometry: Geometry | None  # None for non-spatial outputs (Dense, global pooling)
    macs: int  # multiply-accumulates for one image
    flops: int  # estimate: 2 per multiply-accumulate plus elementwise work

    @property
    def spatial(self) -> bool:
        return len(self.output_shape) == 3

    @property
    def channels(self) -> int | None:
        return self.output_shape[-1] if self.output_shape else None


@dataclass(frozen=True)
class LayerTable:
    """Every layer of a model in graph order, with totals."""

    model: str
    input_size: tuple[int, int]
    rows: tuple[LayerInfo, ...]

    def __iter__(self) -> Iterator[LayerInfo]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def total_params(self) -> int:
        return sum(row.params for row in self.rows)

    @property
    def total_macs(self) -> int:
        return sum(row.macs for row in self.rows)

    @property
    def total_flops(self) -> int:
        return sum(row.flops for row in self.rows)

    @cached_property
    def _index(self) -> dict[str, LayerInfo]:
        return {row.name: row for row in self.rows}

    def row(self, name: str) -> LayerInfo:
        """The row of a layer by its full name; UnknownLayerError lists the valid names otherwise."""
        if name in self._index:
            return self._index[name]
        raise UnknownLayerError(
            f"{self.model} has no layer {name!r}. Layers: {', '.join(r.name for r in self.rows)}."
        )

    def spatial_rows(self) -> tuple[LayerInfo, ...]:
        return tuple(row for row in self.rows if row.spatial)


def layers(loaded_model: LoadedModel) -> LayerTable:
    """The layer table of a model (built once per model and cached)."""
    return loaded_model.cached(("inside", "layer_table"), lambda: _build_table(loaded_model))


def layer_object(loaded_model: LoadedModel, name: str) -> Any:
    """The Keras layer behind a layer name (UnknownLayerError lists valid names)."""
    from cnnviz.graph import get_layer

    return get_layer(loaded_model, name)


def layer_row(loaded_model: LoadedModel, name: str) -> LayerInfo:
    """The table row of a layer given by full or unique inner name (typed error listing names)."""
    from cnnviz.graph import resolve_layer

    return layers(loaded_model).row(resolve_layer(loaded_model, name))


def receptive_field(loaded_model: LoadedModel, layer: str) -> Geometry:
    """Receptive field size, jump and start of a spatial layer (LayerNotSpatialError otherwise)."""
    from cnnviz.errors import LayerNotSpatialError

    row = layer_row(loaded_model, layer)
    if row.geometry is None:
        raise LayerNotSpatialError(
            f"Layer {layer!r} ({row.type}, output {row.output_shape}) has no spatial output, so its "
            "units have no receptive field in the image; choose a convolution or pooling layer."
        )
    return row.geometry


# --- the table, from the flattened graph of cnnviz.graph ----------------------------------------
class _Shape:
    """Stands in for a tensor: only ``.shape`` (with the batch axis) is read below."""

    def __init__(self, shape: tuple[int | None, ...]) -> None:
        self.shape = (None, *shape)


def _build_table(loaded_model: LoadedModel) -> LayerTable:
    from cnnviz.graph import flat_graph

    graph = flat_graph(loaded_model)
    model_input = tuple(loaded_model.model.inputs[0].shape[1:])
    shapes: dict[str, tuple[int | None, ...]] = {"": model_input}
    geometries: dict[str, Geometry | None] = {"": INPUT_GEOMETRY}
    rows: list[LayerInfo] = []
    for entry in graph.layers:
        operation = entry.layer
        inputs = [_Shape(shapes.get(source, model_input)) for source in entry.inputs]
        output = _Shape(entry.output_shape)
        geometry = _output_geometry(operation, inputs, output, [geometries.get(s) for s in entry.inputs])
        shapes[entry.name], geometries[entry.name] = entry.output_shape, geometry
        macs = _macs(operation, inputs, output)
        rows.append(
            LayerInfo(
                name=entry.name,
                type=type(operation).__name__,
                output_shape=entry.output_shape,
                params=_params(operation),
                inputs=entry.inputs,
                geometry=geometry,
                macs=macs,
                flops=_flops(operation, inputs, output, macs),
            )
        )
    return LayerTable(loaded_model.name, loaded_model.input_size, tuple(rows))


def _params(operation: Any) -> int:
    try:
        return int(operation.count_params())
    except (ValueError, AttributeError):
        return 0


def _spatial(shape: Sequence[int | None]) -> tuple[int, int] | None:
    if len(shape) != 4 or shape[1] is None or shape[2] is None:
        return None
    return int(shape[1]), int(shape[2])


def _pair(value: Any) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    first, second = tuple(value)[:2]
    if isinstance(first, (tuple, list)):  # ((top, bottom), (left, right))
        return int(first[0]), int(second[0])
    return int(first), int(second)


def _window(operation: Any) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int], str] | None:
    """(kernel, strides, dilation, padding) of a sliding-window layer, None for other layers."""
    if isinstance(operation, keras.layers.Conv2DTranspose):
        return None
    if hasattr(operation, "kernel_size") and hasattr(operation, "strides"):
        dilation = _pair(getattr(operation, "dilation_rate", 1))
        return _pair(operation.kernel_size), _pair(operation.strides), dilation, operation.padding
    if hasattr(operation, "pool_size") and hasattr(operation, "strides"):
        strides = operation.strides or operation.pool_size
        return _pair(operation.pool_size), _pair(strides), (1, 1), operation.padding
    return None


def same_padding(size_in: int, kernel: int, stride: int) -> int:
    """Rows (or columns) TensorFlow pads before the input for padding='same'."""
    size_out = math.ceil(size_in / stride)
    return max((size_out - 1) * stride + kernel - size_in, 0) // 2


def _slide(
    geometry: Geometry, kernel: tuple[int, int], strides: tuple[int, int], padding: tuple[float, float]
) -> Geometry:
    size, jump, start = [], [], []
    for axis in range(2):
        size.append(geometry.size[axis] + (kernel[axis] - 1) * geometry.jump[axis])
        start.append(geometry.start[axis] + ((kernel[axis] - 1) / 2 - padding[axis]) * geometry.jump[axis])
        jump.append(geometry.jump[axis] * strides[axis])
    return Geometry(tuple(size), tuple(jump), tuple(start), geometry.whole_image)  # type: ignore[arg-type]


def _output_geometry(
    operation: Any, inputs: list[Any], output: Any, in_geometries: list[Geometry | None]
) -> Geometry | None:
    out_hw = _spatial(output.shape)
    if out_hw is None:
        return None
    known = [(g, t) for g, t in zip(in_geometries, inputs) if g is not None and _spatial(t.shape)]
    if not known:
        return None
    whole = any(g is None or g.whole_image for g in in_geometries)
    geometry, tensor = max(known, key=lambda pair: pair[0].size[0] * pair[0].size[1])
    geometry = replace(geometry, whole_image=whole)
    in_hw = _spatial(tensor.shape)
    assert in_hw is not None
    window = _window(operation)
    if window is not None:
        kernel, strides, dilation, padding = window
        effective = tuple(dilation[a] * (kernel[a] - 1) + 1 for a in range(2))
        if padding == "same":
            pads = tuple(same_padding(in_hw[a], effective[a], strides[a]) for a in range(2))
        else:
            pads = (0, 0)
        return _slide(geometry, effective, strides, pads)  # type: ignore[arg-type]
    if isinstance(operation, keras.layers.ZeroPadding2D):
        (top, _), (left, _) = operation.padding
        return _slide(geometry, (1, 1), (1, 1), (top, left))
    if isinstance(operation, keras.layers.Cropping2D):
        (top, _), (left, _) = operation.cropping
        return _slide(geometry, (1, 1), (1, 1), (-top, -left))
    if out_hw == in_hw:
        return geometry  # elementwise, normalisation, merges, 1x1-preserving layers
    if isinstance(operation, keras.layers.UpSampling2D):
        # Output pixel i sits at input position (i + 0.5) / f - 0.5; nearest repeats input i // f,
        # bilinear blends the two input pixels around that position (one more jump of field).
        factor = _pair(operation.size)
        bilinear = operation.interpolation != "nearest"
        jump = tuple(geometry.jump[a] / factor[a] for a in range(2))
        offset = tuple((0.5 / factor[a] - 0.5) if bilinear else 0.0 for a in range(2))
        start = tuple(geometry.start[a] + offset[a] * geometry.jump[a] for a in range(2))
        size = tuple(geometry.size[a] + (geometry.jump[a] if bilinear else 0) for a in range(2))
        return Geometry(size, jump, start, geometry.whole_image)  # type: ignore[arg-type]
    return None  # a resize we cannot follow: say nothing rather than something wrong


# --- FLOPs --------------------------------------------------------------------------------------
def _elements(shape: Sequence[int | None]) -> int:
    return int(math.prod(int(d) for d in shape[1:] if d is not None))


def _macs(operation: Any, inputs: list[Any], output: Any) -> int:
    """Multiply-accumulates for one image of the convolution and dense layers."""
    if not inputs:
        return 0
    in_shape, out_shape = inputs[0].shape, output.shape
    out_positions = _elements(out_shape[:-1]) if len(out_shape) > 2 else 1
    in_channels = int(in_shape[-1]) if in_shape[-1] is not None else 0
    if isinstance(operation, keras.layers.Conv2DTranspose):
        kh, kw = _pair(operation.kernel_size)
        return _elements(in_shape[:-1]) * in_channels * kh * kw * int(out_shape[-1])
    if isinstance(operation, keras.layers.SeparableConv2D):
        kh, kw = _pair(operation.kernel_size)
        mult = int(operation.depth_multiplier)
        return out_positions * in_channels * mult * (kh * kw + int(out_shape[-1]))
    if isinstance(operation, keras.layers.DepthwiseConv2D):
        kh, kw = _pair(operation.kernel_size)
        return out_positions * int(out_shape[-1]) * kh * kw
    if isinstance(operation, keras.layers.Conv2D):
        kh, kw = _pair(operation.kernel_size)
        groups = int(getattr(operation, "groups", 1) or 1)
        return out_positions * int(out_shape[-1]) * kh * kw * (in_channels // groups)
    if isinstance(operation, keras.layers.Dense):
        return out_positions * in_channels * int(out_shape[-1])
    return 0


def _flops(operation: Any, inputs: list[Any], output: Any, macs: int) -> int:
    """2 per multiply-accumulate, plus one operation per output element for other work."""
    out_elements = _elements(output.shape)
    if macs:
        bias = out_elements if getattr(operation, "use_bias", False) else 0
        activation = getattr(getattr(operation, "activation", None), "__name__", "linear")
        return 2 * macs + bias + (out_elements if activation != "linear" else 0)
    name = type(operation).__name__
    window = _window(operation)
    if window is not None:  # pooling: one comparison or addition per window element
        return out_elements * window[0][0] * window[0][1]
    if "Global" in name and inputs:
        return _elements(inputs[0].shape)
    if len(inputs) > 1:  # Add, Multiply, Concatenate...
        return 0 if name == "Concatenate" else out_elements * (len(inputs) - 1)
    if name in ("InputLayer", "Reshape", "Flatten", "Dropout", "ZeroPadding2D", "Cropping2D"):
        return 0
    return out_elements * ELEMENTWISE_FLOPS.get(name, 1)


@dataclass(frozen=True)
class Shrinking:
    """What follows a layer, for telling a student where the maps first get smaller."""

    next_layer: LayerInfo | None  # the first layer reading this one's output
    shrinks_at: LayerInfo | None  # the first layer downstream whose units are further apart
    itself: bool  # the layer itself strides (its jump is larger than its input's)


def _jump(row: LayerInfo) -> float:
    return max(row.geometry.jump) if row.geometry is not None else math.inf


def shrinking_after(table: LayerTable, name: str) -> Shrinking:
    """Where the feature maps first shrink at or after layer ``name``: the layer itself (a strided
    convolution), or the first layer down its chain of consumers that strides or pools (VGG16's
    block1_conv1 -> block1_conv2 -> block1_pool)."""
    row = table.row(name)
    consumers: dict[str, list[LayerInfo]] = {}
    for other in table:
        for source in other.inputs:
            consumers.setdefault(source, []).append(other)
    known = {other.name for other in table}
    feeding = [table.row(source) for source in row.inputs if source in known]
    before = min((_jump(source) for source in feeding), default=1.0)
    if _jump(row) > before:
        return Shrinking(None, row, itself=True)
    following = consumers.get(name, [])
    next_layer = following[0] if following else None
    current = next_layer
    while current is not None:
        if _jump(current) > _jump(row):
            return Shrinking(next_layer, current, itself=False)
        after = consumers.get(current.name, [])
        current = after[0] if after else None
    return Shrinking(next_layer, None, itself=False)
