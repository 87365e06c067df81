"""The graph walker: replays a model on a batch of patched images, box by box (Krypton).

Every layer's clean activation comes from one ordinary pass over the clean image (``clean_pass``).
The perturbed batch then walks the functional graph node by node (descending into nested models):
a known layer recomputes only its changed box (``patches``); once a layer's box would cover its
whole map, or for a layer it does not know, the layer runs in full (``fallback``) and so does
everything after it that takes only full inputs. The walker also totals the multiply-adds it does
against the full model's, an estimate of the speed-up that decides whether incremental pays.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from cnnviz.graph import _call_inference, _functional, _is_nested_model, _nodes_in_order, _replay
from cnnviz.incremental import boxes, layers, patches
from cnnviz.incremental.fallback import run_in_full
from cnnviz.incremental.patches import State, boxed, read

INPUT = ""  # the clean-pass key of the preprocessed model input


def clean_pass(model: Any, inputs: tf.Tensor) -> dict[str, tf.Tensor]:
    """Every layer's first output on ``inputs`` (by full layer name), the input under ``INPUT``."""
    captured: dict[str, tf.Tensor] = {INPUT: inputs}

    def keep(name: str, layer: Any, outputs: list[Any]) -> list[Any]:
        if name not in captured and outputs and len(outputs[0].shape) == 4:
            captured[name] = outputs[0]
        return outputs

    _replay(_functional(model), [inputs], "", frozenset(), {}, keep)
    return captured


class Walker:
    """Walks one model for patches of one size; ``cost`` is (incremental, full) multiply-adds.
    ``threshold`` < 1 is Krypton's approximate mode (``boxes.capped``)."""

    def __init__(self, model: Any, patch_size: tuple[int, int], threshold: float = 1.0) -> None:
        self.model, self.patch_size, self.threshold = model, patch_size, threshold
        self.cost = [0, 0]

    def __call__(self, clean: dict[str, tf.Tensor], patch_values: tf.Tensor, row_t: tf.Tensor,
                 column_t: tf.Tensor) -> tf.Tensor:
        """The model's output for the clean input with each image's patch pasted at (row_t, column_t)."""
        self.cost = [0, 0]
        self.row_t, self.column_t, self.clean = row_t, column_t, clean
        height, width = clean[INPUT].shape[1:3]
        start = boxed(patch_values, boxes.input_axis(height, self.patch_size[0]),
                      boxes.input_axis(width, self.patch_size[1]), row_t, column_t, clean[INPUT])
        outputs = self._walk(_functional(self.model), [start], "", set())
        return tf.cast(patches.materialize(outputs[0]), tf.float32)  # a 16-bit twin's logits too

    def _walk(self, graph: Any, inputs: Sequence[State], prefix: str, seen: set[str]) -> list[State]:
        states: dict[int, State] = {id(x): s for x, s in zip(graph.inputs, inputs)}
        for node in _nodes_in_order(graph):
            if any(id(x) not in states for x in node.input_tensors):
                continue
            operation = node.operation
            if _is_nested_model(operation):
                inner = [states[id(x)] for x in node.input_tensors]
                outputs = self._walk(_functional(operation), inner,
                                     f"{prefix}{operation.name}/", seen)
            else:
                name = prefix + operation.name
                outputs = self._step(node, name, states, name in seen)
                seen.add(name)
            for x, state in zip(node.outputs, outputs):
                states[id(x)] = state
        return [states[id(x)] for x in graph.outputs]

    def _step(self, node: Any, name: str, states: dict[int, State], repeated: bool) -> list[State]:
        inputs = [states[id(x)] for x in node.input_tensors]
        operation = node.operation
        # The clean pass knows every spatial size, also where the model leaves it open (None).
        shape = (tuple(self.clean[name].shape[1:]) if name in self.clean
                 else tuple(node.outputs[0].shape[1:]) if node.outputs else ())
        macs = layers.multiply_adds(operation, shape, int(node.input_tensors[0].shape[-1])
                                    if node.input_tensors else 0)
        self.cost[1] += macs
        kind = layers.kind(operation)
        boxable = (kind is not None and not repeated and len(node.outputs) == 1 and len(shape) == 3
                   and name in self.clean and all(len(x.shape) == 4 for x in node.input_tensors)
                   and not any(s.full for s in inputs))
        if boxable and kind == "elementwise":
            state = inputs[0]
            self.cost[0] += macs
            values = tf.cast(_call_inference(operation, [state.values], {}), self.clean[name].dtype)
            return [State(values, state.rows, state.columns, state.row_starts, state.column_starts,
                          self.clean[name])]
        if boxable and kind == "window":
            result = self._window(operation, inputs[0], shape, name, macs)
            if result is not None:
                return [result]
        if boxable and kind == "merge":
            result = self._merge(operation, inputs, name)
            if result is not None:
                return [result]
        self.cost[0] += macs
        return run_in_full(node, states)

    def _window(self, operation: Any, state: State, shape: tuple[int, ...], name: str,
                macs: int) -> State | None:
        """A windowed layer on each image's box, or None when the box covers the whole output."""
        windows = [patches.padded_window(axis, operation, boxes.window, length)
                   for axis, length in enumerate((state.rows.length, state.columns.length))]
        rows = boxes.capped(boxes.through_window(state.rows, windows[0], int(shape[0])), self.threshold)
        columns = boxes.capped(boxes.through_window(state.columns, windows[1], int(shape[1])),
                               self.threshold)
        if rows.full and columns.full:
            return None
        (row_starts, row_size), (column_starts, column_size) = (boxes.region(rows, windows[0]),
                                                                 boxes.region(columns, windows[1]))
        pad = (windows[0].pad_before, max(0, int(row_starts.max()) + row_size
                                          - windows[0].pad_before - state.rows.length),
               windows[1].pad_before, max(0, int(column_starts.max()) + column_size
                                          - windows[1].pad_before - state.columns.length))
        fill = -np.inf if type(operation) is layers.L.MaxPooling2D else 0.0
        region = read(state, tf.gather(tf.constant(row_starts), self.row_t),
                      tf.gather(tf.constant(column_starts), self.column_t), (row_size, column_size),
                      pad, fill)
        self.cost[0] += macs * rows.size * columns.size // (rows.length * columns.length)
        values = layers.WINDOWED[type(operation)](operation)(region)
        return boxed(values, rows, columns, self.row_t, self.column_t, self.clean[name])

    def _merge(self, operation: Any, inputs: list[State], name: str) -> State | None:
        """A merge on the union of its inputs' boxes, or None when that covers the whole map."""
        rows = boxes.capped(boxes.union([s.rows for s in inputs]), self.threshold)
        columns = boxes.capped(boxes.union([s.columns for s in inputs]), self.threshold)
        if rows.full and columns.full:
            return None
        row_starts = tf.gather(tf.constant(rows.starts), self.row_t)
        column_starts = tf.gather(tf.constant(columns.starts), self.column_t)
        regions = [read(s, row_starts, column_starts, (rows.size, columns.size)) for s in inputs]
        values = _call_inference(operation, [regions], {})
        return boxed(values, rows, columns, self.row_t, self.column_t, self.clean[name])
