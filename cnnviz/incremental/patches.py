"""Per-layer patch recomputation: read a layer's input region, recompute only its changed box.

A :class:`State` is one tensor of the perturbed batch, held as the clean image's activation plus
each image's changed box (values and start), or, once the box covers the map, as the full batch.
A windowed layer (convolution, pooling, padding) reads, per image, the input region its output box
needs (clean values with the changed box pasted in, padding added as the layer would) and runs the
layer's own operation on it with 'valid' padding: each recomputed output sees exactly the inputs it
sees in the full computation, so the result is the full computation's (Krypton, Nakandala et al.,
SIGMOD 2019).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras
import tensorflow as tf

from cnnviz.incremental.boxes import Axis, Window

Apply = Callable[[tf.Tensor], tf.Tensor]


@dataclass(frozen=True)
class State:
    """A (N, H, W, C) activation of the perturbed batch: clean map + changed boxes, or ``full``."""

    values: tf.Tensor  # (N, box rows, box columns, C); the whole batch when full
    rows: Axis | None = None  # None when full
    columns: Axis | None = None
    row_starts: tf.Tensor | None = None  # (N,) box start of each image
    column_starts: tf.Tensor | None = None
    clean: tf.Tensor | None = None  # (1, H, W, C), the clean image's activation

    @property
    def full(self) -> bool:
        return self.rows is None


def boxed(values: tf.Tensor, rows: Axis, columns: Axis, row_t: tf.Tensor, column_t: tf.Tensor,
          clean: tf.Tensor) -> State:
    """A boxed state; ``row_t``/``column_t`` are each image's patch start in the model input.
    The box is held in the clean activation's dtype (the layer's compute dtype)."""
    return State(tf.cast(values, clean.dtype), rows, columns, tf.gather(tf.constant(rows.starts), row_t),
                 tf.gather(tf.constant(columns.starts), column_t), clean)


def _grid(row_start: tf.Tensor, column_start: tf.Tensor, rows: int, columns: int) -> tf.Tensor:
    """(N, rows, columns, 2) indices of each image's region."""
    r = row_start[:, None] + tf.range(rows)[None]
    c = column_start[:, None] + tf.range(columns)[None]
    shape = tf.stack([tf.shape(r)[0], rows, columns])
    return tf.stack([tf.broadcast_to(r[:, :, None], shape), tf.broadcast_to(c[:, None, :], shape)], -1)


def read(state: State, row_start: tf.Tensor, column_start: tf.Tensor, size: tuple[int, int],
         pad: tuple[int, int, int, int] = (0, 0, 0, 0), pad_value: float = 0.0) -> tf.Tensor:
    """Each image's (size) region of ``state`` padded by (top, bottom, left, right), from the
    given starts in padded coordinates: clean values with the image's changed box pasted in."""
    paddings = [[0, 0], [pad[0], pad[1]], [pad[2], pad[3]], [0, 0]]
    if state.full:
        source = tf.pad(state.values, paddings, constant_values=pad_value)
        if tuple(source.shape[1:3]) == size:
            return source
        return tf.gather_nd(source, _grid(row_start, column_start, *size), batch_dims=1)
    clean = tf.pad(state.clean, paddings, constant_values=pad_value)[0]
    base = tf.gather_nd(clean, _grid(row_start, column_start, *size))
    local_rows = row_start[:, None] + tf.range(size[0])[None] - (state.row_starts + pad[0])[:, None]
    local_columns = column_start[:, None] + tf.range(size[1])[None] - (state.column_starts + pad[2])[:, None]
    box_rows, box_columns = state.values.shape[1], state.values.shape[2]
    inside = (((local_rows >= 0) & (local_rows < box_rows))[:, :, None, None]
              & ((local_columns >= 0) & (local_columns < box_columns))[:, None, :, None])
    shape = tf.shape(base)[:3]
    rows = tf.broadcast_to(tf.clip_by_value(local_rows, 0, box_rows - 1)[:, :, None], shape)
    columns = tf.broadcast_to(tf.clip_by_value(local_columns, 0, box_columns - 1)[:, None, :], shape)
    indices = tf.stack([rows, columns], -1)
    pasted = tf.gather_nd(state.values, indices, batch_dims=1)
    return tf.where(inside, pasted, base)


def materialize(state: State) -> tf.Tensor:
    """The full (N, H, W, C) batch of a state."""
    if state.full:
        return state.values
    zeros = tf.zeros_like(state.row_starts)
    return read(state, zeros, zeros, (state.rows.length, state.columns.length))


# --- the layers' own operations on a region, 'valid' padding -------------------------------------
def _strides(layer: Any) -> list[int]:
    return [1, *layer.strides, 1]


def _computed(layer: Any, value: Any) -> tf.Tensor:
    """``value`` (an input or a float32 variable) in the layer's compute dtype, as Keras' mixed
    precision casts it when the layer is called (bfloat16 in a mixed_bfloat16 twin)."""
    return tf.cast(value, layer.compute_dtype)


def _biased(layer: Any, y: tf.Tensor) -> tf.Tensor:
    return layer.activation(y + _computed(layer, layer.bias) if layer.use_bias else y)


def conv2d(layer: keras.layers.Conv2D) -> Apply:
    def apply(x: tf.Tensor) -> tf.Tensor:
        y = tf.nn.conv2d(_computed(layer, x), _computed(layer, layer.kernel), _strides(layer), "VALID",
                         dilations=list(layer.dilation_rate))
        return _biased(layer, y)
    return apply


def depthwise_conv2d(layer: keras.layers.DepthwiseConv2D) -> Apply:
    def apply(x: tf.Tensor) -> tf.Tensor:
        y = tf.nn.depthwise_conv2d(_computed(layer, x), _computed(layer, layer.kernel), _strides(layer),
                                   "VALID", dilations=list(layer.dilation_rate))
        return _biased(layer, y)
    return apply


def separable_conv2d(layer: keras.layers.SeparableConv2D) -> Apply:
    def apply(x: tf.Tensor) -> tf.Tensor:
        y = tf.nn.separable_conv2d(_computed(layer, x), _computed(layer, layer.depthwise_kernel),
                                   _computed(layer, layer.pointwise_kernel), _strides(layer), "VALID",
                                   dilations=list(layer.dilation_rate))
        return _biased(layer, y)
    return apply


def max_pool(layer: Any) -> Apply:
    return lambda x: tf.nn.max_pool2d(_computed(layer, x), list(layer.pool_size), _strides(layer), "VALID")


def average_pool(layer: Any) -> Apply:
    return lambda x: tf.nn.avg_pool2d(_computed(layer, x), list(layer.pool_size), _strides(layer), "VALID")


def identity(layer: Any) -> Apply:
    return lambda x: _computed(layer, x)


def window_of(axis: int, layer: Any) -> tuple[int, int, int]:
    """(kernel, stride, dilation) of a windowed layer along axis 0 (rows) or 1 (columns)."""
    if isinstance(layer, keras.layers.ZeroPadding2D):
        return 1, 1, 1
    kernel = layer.pool_size if hasattr(layer, "pool_size") else layer.kernel_size
    dilation = getattr(layer, "dilation_rate", (1, 1))
    return int(kernel[axis]), int(layer.strides[axis]), int(dilation[axis])


def padded_window(axis: int, layer: Any, window: Callable[..., Window], length_in: int) -> Window:
    """The layer's window along an axis, ZeroPadding2D as a 1-tap window with its padding before."""
    if isinstance(layer, keras.layers.ZeroPadding2D):
        return Window(1, 1, 1, int(layer.padding[axis][0]))
    kernel, stride, dilation = window_of(axis, layer)
    return window(kernel, stride, dilation, layer.padding, length_in)
