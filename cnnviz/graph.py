"""Layer access: names, the default target layer and cached multi-output activation functions.

Works through nested models (a transfer-learning model wrapping a keras.applications base, whose
layers are written ``outer/inner``, e.g. ``mobilenetv2_1.00_224/out_relu``) and Sequential models.
``keras.Model(outer.inputs, inner_layer.output)`` fails on nested models ("Output with path 0 is not
connected"), so activations are taken by *replaying* the functional graph operation by operation,
descending into nested models instead of calling them: every layer's output is then at hand, and
gradients flow from the logits back to any of them. Layers are called as they are (shared weights,
``training=False``); the model is never mutated.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import keras
import tensorflow as tf
from keras import tree

from cnnviz.errors import LayerNotSpatialError, UnknownLayerError
from cnnviz.models import LoadedModel

#: Separator between a nested model's name and its layer's name.
NESTED_SEPARATOR = "/"
#: How many close matches an unknown layer name's error lists first.
CLOSE_MATCHES = 8
#: How alike (difflib ratio, 0..1) a name must be to count as a close match.
CLOSE_CUTOFF = 0.6

ActivationsAndLogits = Callable[[Any], tuple[list[tf.Tensor], tf.Tensor]]
#: hook(full layer name, layer, outputs) -> outputs, applied to every layer's outputs during a replay.
OutputHook = Callable[[str, Any, list[Any]], list[Any]]
#: hook(full layer name, layer, args, kwargs) -> outputs, or None to call the layer as it is: replaces
#: a layer's computation during a replay (DeconvNet's ReLU, LRP's relevance rules need the inputs).
CallHook = Callable[[str, Any, tuple[Any, ...], dict[str, Any]], Any]


@dataclass(frozen=True)
class GraphLayer:
    """One layer of the flattened graph: full name, the keras layer, output shape, producers."""

    name: str
    layer: Any
    output_shape: tuple[int | None, ...]  # without the batch axis
    inputs: tuple[str, ...]  # names of the layers feeding it ("" for the model input)

    @property
    def spatial(self) -> bool:
        """Whether the output is a (height, width, channels) grid."""
        return len(self.output_shape) == 3


@dataclass(frozen=True)
class FlatGraph:
    """Every layer of a model, nested models flattened, in graph order (inputs to outputs)."""

    layers: tuple[GraphLayer, ...]
    output: str  # name of the layer producing the logits

    def __getitem__(self, name: str) -> GraphLayer:
        for entry in self.layers:
            if entry.name == name:
                return entry
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [entry.name for entry in self.layers]


# --- graph traversal ----------------------------------------------------------------------------
def _functional(model: Any) -> Any:
    """The functional graph of a model (Sequential models keep theirs in ``_functional``)."""
    return getattr(model, "_functional", None) or model


def _is_nested_model(operation: Any) -> bool:
    return isinstance(operation, keras.Model) and hasattr(_functional(operation), "_nodes_by_depth")


def _nodes_in_order(graph: Any) -> list[Any]:
    """The graph's nodes from the inputs to the outputs (deepest first), input nodes excluded."""
    by_depth = graph._nodes_by_depth
    return [node for depth in sorted(by_depth, reverse=True) for node in by_depth[depth]
            if node.operation is not None and not node.is_input]


def _flatten(graph: Any, prefix: str, producers: dict[int, str], layers: list[GraphLayer],
             seen: set[str]) -> None:
    """Append the layers of ``graph`` (recursing into nested models) and map tensors to producers."""
    for node in _nodes_in_order(graph):
        operation = node.operation
        inputs = list(node.input_tensors)
        if _is_nested_model(operation):
            inner = _functional(operation)
            for outer_tensor, inner_tensor in zip(inputs, inner.inputs):
                producers[id(inner_tensor)] = producers.get(id(outer_tensor), "")
            _flatten(inner, f"{prefix}{operation.name}{NESTED_SEPARATOR}", producers, layers, seen)
            for outer_tensor, inner_tensor in zip(node.outputs, inner.outputs):
                producers[id(outer_tensor)] = producers.get(id(inner_tensor), "")
            continue
        name = prefix + operation.name
        for tensor in node.outputs:
            producers[id(tensor)] = name
        if name in seen:  # a shared layer called again: keep its first call
            continue
        seen.add(name)
        shape = tuple(node.outputs[0].shape[1:]) if node.outputs else ()
        layers.append(GraphLayer(name, operation, shape,
                                 tuple(producers.get(id(t), "") for t in inputs)))


def flat_graph(loaded_model: LoadedModel) -> FlatGraph:
    """The model's layers with nested models flattened (built once per model)."""

    def build() -> FlatGraph:
        graph = _functional(loaded_model.model)
        producers: dict[int, str] = {}
        layers: list[GraphLayer] = []
        _flatten(graph, "", producers, layers, set())
        return FlatGraph(tuple(layers), producers.get(id(graph.outputs[0]), ""))

    return loaded_model.cached(("graph.flat",), build)


def layer_names(loaded_model: LoadedModel) -> list[str]:
    """Every layer, in graph order; layers of nested models are written ``outer/inner``."""
    return flat_graph(loaded_model).names


def spatial_layer_names(loaded_model: LoadedModel) -> list[str]:
    """Layers with a 4-D (batch, height, width, channels) output, in graph order."""
    return [entry.name for entry in flat_graph(loaded_model).layers if entry.spatial]


def default_target_layer(loaded_model: LoadedModel) -> str:
    """The layer explanations default to: the last spatial layer before global pooling.

    It is taken after its activation, batch norm and residual add (``out_relu`` on MobileNetV2,
    ``conv5_block3_out`` on ResNet50, ``top_activation`` on EfficientNet), not the last Conv2D,
    whose pre-activation maps give degenerate heatmaps. Grids of 1 x 1 (after a global pooling that
    keeps its axes, as in MobileNetV3's head) do not count.
    """
    spatial = [entry for entry in flat_graph(loaded_model).layers if entry.spatial]
    if not spatial:
        raise LayerNotSpatialError(
            f"{loaded_model.name} has no layer with a (height, width, channels) output, so there "
            "is no layer to explain; heatmaps need a convolutional network."
        )
    grids = [entry for entry in spatial if (entry.output_shape[0] or 2) * (entry.output_shape[1] or 2) > 1]
    return (grids or spatial)[-1].name


def _close_matches(text: str, names: Sequence[str]) -> list[str]:
    """Names resembling ``text`` (whole or their last part after ``/``), best first."""

    def likeness(name: str) -> float:
        short = name.rsplit(NESTED_SEPARATOR, 1)[-1]
        ratio = max(difflib.SequenceMatcher(None, text.lower(), part.lower()).ratio()
                    for part in (name, short))
        return ratio + (1.0 if text and text.lower() in name.lower() else 0.0)

    scored = sorted(((likeness(name), index, name) for index, name in enumerate(names)),
                    key=lambda item: (-item[0], item[1]))
    return [name for score, _, name in scored if score >= CLOSE_CUTOFF][:CLOSE_MATCHES]


def resolve_layer(loaded_model: LoadedModel, name: str, spatial: bool = False) -> str:
    """The full name of a layer given by name (or by its unique inner name in a nested model).

    Unknown names raise :class:`UnknownLayerError` listing the valid names, close matches first;
    with ``spatial=True`` a layer without a (height, width, channels) output raises
    :class:`LayerNotSpatialError`.
    """
    graph = flat_graph(loaded_model)
    names = graph.names
    text = str(name).strip()
    if text not in names:
        suffix = [n for n in names if n.endswith(NESTED_SEPARATOR + text)]
        if len(suffix) != 1:
            valid = spatial_layer_names(loaded_model) if spatial else names
            close = _close_matches(text, valid)
            rest = [n for n in valid if n not in close]
            hint = f" Closest: {', '.join(close)}." if close else ""
            kind = "layers with a spatial output" if spatial else "layers"
            raise UnknownLayerError(
                f"{loaded_model.name} has no layer called {text!r}.{hint} Valid {kind} "
                f"({len(valid)}): {', '.join(close + rest)}."
            )
        text = suffix[0]
    entry = graph[text]
    if spatial and not entry.spatial:
        raise LayerNotSpatialError(
            f"Layer {text!r} ({type(entry.layer).__name__}) outputs {entry.output_shape}, not a "
            "(height, width, channels) grid; choose a convolution, activation or pooling layer, "
            f"such as {default_target_layer(loaded_model)!r}."
        )
    return text


def get_layer(loaded_model: LoadedModel, name: str) -> Any:
    """The keras layer object of a (possibly nested) layer name."""
    return flat_graph(loaded_model)[resolve_layer(loaded_model, name)].layer


def downstream_layers(loaded_model: LoadedModel, name: str) -> list[GraphLayer]:
    """The layers that depend on ``name``'s output, in graph order (the head after a target layer)."""
    graph = flat_graph(loaded_model)
    reached = {resolve_layer(loaded_model, name)}
    result = []
    for entry in graph.layers:
        if any(source in reached for source in entry.inputs):
            reached.add(entry.name)
            result.append(entry)
    return result


# --- replay ----------------------------------------------------------------------------------------
def _call_inference(operation: Any, args: Any, kwargs: dict[str, Any]) -> Any:
    """Call a layer as the functional model would, in inference mode (batch norm, dropout)."""
    if "training" in getattr(operation, "_call_context_args", {}):
        kwargs = {**kwargs, "training": False}
    return operation(*args, **kwargs)


def _replay(graph: Any, inputs: Sequence[Any], prefix: str, wanted: frozenset[str],
            captured: dict[str, Any], hook: OutputHook | None = None,
            call_hook: CallHook | None = None) -> list[Any]:
    """Run ``graph`` on ``inputs`` node by node, keeping the first output of the ``wanted`` layers."""
    values: dict[int, Any] = {id(x): y for x, y in zip(graph.inputs, inputs)}
    for node in _nodes_in_order(graph):
        if any(id(x) not in values for x in node.input_tensors):
            continue  # not computable from these inputs (as in keras' own Functional.call)
        operation = node.operation
        if _is_nested_model(operation):
            inner = _functional(operation)
            inner_inputs = [values[id(x)] for x in node.input_tensors]
            outputs = _replay(inner, inner_inputs, f"{prefix}{operation.name}{NESTED_SEPARATOR}",
                              wanted, captured, hook, call_hook)
        else:
            args, kwargs = node.arguments.fill_in(values)
            name = prefix + operation.name
            replaced = call_hook(name, operation, args, kwargs) if call_hook is not None else None
            outputs = tree.flatten(_call_inference(operation, args, kwargs) if replaced is None else replaced)
            if hook is not None:
                outputs = hook(name, operation, outputs)
            if name in wanted and name not in captured:
                captured[name] = outputs[0]
        for x, y in zip(node.outputs, outputs):
            values[id(x)] = y
    return [values[id(x)] for x in graph.outputs]


def replay_function(loaded_model: LoadedModel, layers: Sequence[str],
                    output_hook: OutputHook | None = None,
                    call_hook: CallHook | None = None) -> ActivationsAndLogits:
    """The uncompiled f(preprocessed inputs) -> (activations of ``layers``, logits).

    ``output_hook`` may replace each layer's outputs (guided backpropagation wraps ReLU outputs);
    ``call_hook`` may replace a layer's whole computation (DeconvNet, LRP).
    """
    names = tuple(resolve_layer(loaded_model, name) for name in layers)
    graph = _functional(loaded_model.model)
    wanted = frozenset(names)

    def activations_and_logits(inputs: Any) -> tuple[list[tf.Tensor], tf.Tensor]:
        captured: dict[str, Any] = {}
        outputs = _replay(graph, [inputs], "", wanted, captured, output_hook, call_hook)
        return [captured[name] for name in names], outputs[0]

    return activations_and_logits


def _input_signature(loaded_model: LoadedModel) -> tf.TensorSpec:
    shape = tuple(_functional(loaded_model.model).inputs[0].shape)
    return tf.TensorSpec([None, *shape[1:]], tf.float32)


def _recording() -> bool:
    """Whether a GradientTape is recording now (eager mode)."""
    from tensorflow.python.eager import record  # noqa: PLC0415  (no public equivalent)

    return bool(record.could_possibly_record())


def activations_and_logits(loaded_model: LoadedModel, layers: Sequence[str]) -> ActivationsAndLogits:
    """f(preprocessed inputs) -> (activations of ``layers`` in order, logits), built once and reused.

    Usable inside a ``tf.GradientTape``: gradients flow from the logits back to the activations
    and to the inputs. Called eagerly without a tape it runs a compiled ``tf.function``; inside a
    caller's ``tf.function`` (the fast way to take gradients) it is traced inline; eagerly under a
    recording tape it replays the graph eagerly (correct, slower), because a tape cannot
    differentiate one output of a compiled call with respect to another.
    Inputs are float32 batches of the model's input shape, already preprocessed.
    """
    names = tuple(resolve_layer(loaded_model, name) for name in layers)

    def build() -> ActivationsAndLogits:
        replay = replay_function(loaded_model, names)
        compiled = tf.function(replay, input_signature=[_input_signature(loaded_model)])

        def activations_and_logits(inputs: Any) -> tuple[list[tf.Tensor], tf.Tensor]:
            if tf.inside_function() or _recording():
                return replay(tf.cast(inputs, tf.float32))
            return compiled(tf.cast(inputs, tf.float32))

        return activations_and_logits

    return loaded_model.cached(("graph.activations_and_logits", names), build)


__all__ = ["GraphLayer", "FlatGraph", "flat_graph", "layer_names", "spatial_layer_names",
           "default_target_layer", "resolve_layer", "get_layer", "downstream_layers",
           "replay_function", "activations_and_logits", "NESTED_SEPARATOR", "OutputHook", "CallHook"]
