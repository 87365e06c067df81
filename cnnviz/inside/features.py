"""Feature maps: what every channel of a layer computes for one image (Zeiler & Fergus 2014).

One forward pass gives every layer asked for: the multi-output function of :mod:`cnnviz.graph` is
built once per model and layer set and reused. Asking a compiled graph for the output of every
layer is not free: TensorFlow can no longer fuse a convolution with the batch normalisation and
activation after it, and on MobileNetV2 the pass gets about 40 % slower. So a layer that is an
elementwise function of another layer asked for (BatchNormalization at inference, ReLU and the
usual activations) is not taken from the graph: it keeps a reference to that layer's maps and the
few numbers of its function, and is computed from them when it is first read. Per-channel
statistics (mean, max, min, standard deviation, fraction of positions active) are computed on
demand too, so a 2048-channel layer can be sorted and paged rather than drawn all at once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from cnnviz.errors import LayerNotSpatialError, ParameterError
from cnnviz.inside.access import activation_function, check_layer, spatial_layers
from cnnviz.inside.architecture import layers as layer_table
from cnnviz.models import LoadedModel
from cnnviz.prediction import model_input

SORT_KEYS = ("index", "mean", "max", "std", "active")
DEFAULT_PAGE_SIZE = 64  # channels drawn per page of a grid


#: Activation functions an elementwise layer may apply that are recomputed in NumPy.
ACTIVATIONS = {
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0),
    "relu6": lambda x: np.clip(x, 0, 6),
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "silu": lambda x: x / (1 + np.exp(-x)),
    "swish": lambda x: x / (1 + np.exp(-x)),
    "tanh": np.tanh,
    "hard_sigmoid": lambda x: np.clip(x + 3, 0, 6) / 6,
    "hard_silu": lambda x: x * np.clip(x + 3, 0, 6) / 6,
    "hard_swish": lambda x: x * np.clip(x + 3, 0, 6) / 6,
}


@dataclass(frozen=True)
class Elementwise:
    """One elementwise step from a layer's maps to the next layer's: affine, ReLU or a named activation."""

    kind: str  # "affine" (inference batch norm), "relu" (keras ReLU layer) or "activation"
    scale: np.ndarray | None = None
    shift: np.ndarray | None = None
    max_value: float | None = None
    negative_slope: float = 0.0
    threshold: float = 0.0
    function: str = "linear"

    def apply(self, values: np.ndarray) -> np.ndarray:
        if self.kind == "affine":
            out = values * self.scale
            out += self.shift
            return out
        if self.kind == "relu":
            if self.negative_slope == 0 and self.threshold == 0:
                out = np.maximum(values, 0)
            else:
                out = np.where(
                    values >= self.threshold, values, self.negative_slope * (values - self.threshold)
                )
            return out if self.max_value is None else np.minimum(out, self.max_value, out=out)
        return ACTIVATIONS[self.function](values).astype(np.float32, copy=False)


@dataclass(frozen=True)
class LayerMaps:
    """The activation maps of one layer for one image: ``maps`` is (height, width, channels).

    ``values`` are maps taken from the forward pass (this layer's, or those of a layer it is an
    elementwise function of, shared without copying) and ``steps`` lead from them to this layer.
    """

    layer: str
    values: np.ndarray
    steps: tuple[Elementwise, ...] = ()

    @cached_property
    def maps(self) -> np.ndarray:
        values = self.values
        for step in self.steps:
            values = step.apply(values)
        return values.astype(np.float32, copy=False)

    @property
    def channels(self) -> int:
        return int(self.maps.shape[-1])

    @cached_property
    def mean(self) -> np.ndarray:
        return self.maps.mean(axis=(0, 1))

    @cached_property
    def max(self) -> np.ndarray:
        return self.maps.max(axis=(0, 1))

    @cached_property
    def min(self) -> np.ndarray:
        return self.maps.min(axis=(0, 1))

    @cached_property
    def std(self) -> np.ndarray:
        return self.maps.std(axis=(0, 1))

    @cached_property
    def active(self) -> np.ndarray:
        """Fraction of positions where the channel is above zero (after a ReLU: where it fires)."""
        return (self.maps > 0).mean(axis=(0, 1))

    def channel(self, index: int) -> np.ndarray:
        """One channel's map (height, width); ParameterError when out of range."""
        if (
            isinstance(index, bool)
            or not isinstance(index, (int, np.integer))
            or not 0 <= index < self.channels
        ):
            raise ParameterError(
                f"Channel {index!r} is out of range: layer {self.layer!r} has channels 0 to "
                f"{self.channels - 1}."
            )
        return self.maps[..., int(index)]

    def order(self, by: str = "mean") -> np.ndarray:
        """Channel indices sorted by a statistic, strongest first ("index" keeps the layer's order)."""
        if by not in SORT_KEYS:
            raise ParameterError(f"Unknown sort key {by!r}; choose one of {', '.join(SORT_KEYS)}.")
        if by == "index":
            return np.arange(self.channels)
        return np.argsort(-getattr(self, by), kind="stable")

    def num_pages(self, page_size: int = DEFAULT_PAGE_SIZE) -> int:
        return max(1, math.ceil(self.channels / _check_page_size(page_size)))

    def page(self, page: int = 0, page_size: int = DEFAULT_PAGE_SIZE, by: str = "mean") -> np.ndarray:
        """The channel indices shown on one page of the sorted grid."""
        pages = self.num_pages(page_size)
        if isinstance(page, bool) or not isinstance(page, (int, np.integer)) or not 0 <= page < pages:
            raise ParameterError(
                f"Page {page!r} does not exist: layer {self.layer!r} has pages 0 to {pages - 1}."
            )
        return self.order(by)[page * page_size : (page + 1) * page_size]


def _check_page_size(page_size: int) -> int:
    if isinstance(page_size, bool) or not isinstance(page_size, (int, np.integer)) or page_size < 1:
        raise ParameterError(f"page_size must be a positive whole number, not {page_size!r}.")
    return int(page_size)


@dataclass(frozen=True)
class FeatureMaps:
    """Feature maps of several layers for one image, from one forward pass."""

    image: np.ndarray  # the model input (h, w, 3) uint8
    layers: tuple[LayerMaps, ...]
    probabilities: np.ndarray  # (classes,) the model's prediction for the same pass
    seconds: float

    @property
    def layer_names(self) -> tuple[str, ...]:
        return tuple(entry.layer for entry in self.layers)

    def __getitem__(self, layer: str) -> LayerMaps:
        for entry in self.layers:
            if entry.layer == layer:
                return entry
        raise KeyError(layer)


def _layer_names(loaded_model: LoadedModel, layers: str | Sequence[str] | None) -> tuple[str, ...]:
    if layers is None:
        return tuple(spatial_layers(loaded_model))
    asked = (layers,) if isinstance(layers, str) else tuple(layers)
    if not asked:
        raise ParameterError("Ask for at least one layer (or None for every spatial layer).")
    names = tuple(check_layer(loaded_model, name) for name in asked)
    table = layer_table(loaded_model)
    for name in names:
        row = table.row(name)
        if not row.spatial:
            raise LayerNotSpatialError(
                f"Layer {name!r} ({row.type}) outputs {row.output_shape}, not a (height, width, channels) "
                "grid, so it has no feature maps; choose a convolution, pooling or activation layer."
            )
    return names


def elementwise_step(operation: Any) -> Elementwise | None:
    """The layer as an elementwise NumPy step, or None if it is not one cnnviz can recompute."""
    import keras

    if isinstance(operation, keras.layers.BatchNormalization):
        if operation.axis not in (-1, 3) or getattr(operation, "renorm", False):
            return None
        variance = np.asarray(operation.moving_variance, np.float32)
        scale = 1.0 / np.sqrt(variance + operation.epsilon)
        if operation.gamma is not None:
            scale = scale * np.asarray(operation.gamma, np.float32)
        shift = -np.asarray(operation.moving_mean, np.float32) * scale
        if operation.beta is not None:
            shift = shift + np.asarray(operation.beta, np.float32)
        return Elementwise("affine", scale=scale.astype(np.float32), shift=shift.astype(np.float32))
    if isinstance(operation, keras.layers.ReLU):
        cap = None if operation.max_value is None else float(operation.max_value)
        return Elementwise(
            "relu",
            max_value=cap,
            negative_slope=float(operation.negative_slope),
            threshold=float(operation.threshold),
        )
    if type(operation) is keras.layers.Activation:
        name = getattr(operation.activation, "__name__", "")
        return Elementwise("activation", function=name) if name in ACTIVATIONS else None
    return None


def _pass_plan(
    loaded_model: LoadedModel, names: tuple[str, ...]
) -> tuple[tuple[str, ...], dict[str, tuple[str, Elementwise]]]:
    """Which layers the pass returns, and which follow elementwise from another layer asked for."""
    from cnnviz.inside.architecture import layer_object

    table = layer_table(loaded_model)
    asked = set(names)
    captured: list[str] = []
    derived: dict[str, tuple[str, Elementwise]] = {}
    for name in names:
        row = table.row(name)
        step = None
        if (
            len(row.inputs) == 1
            and row.inputs[0] in asked
            and table.row(row.inputs[0]).output_shape == row.output_shape
        ):
            step = elementwise_step(layer_object(loaded_model, name))
        if step is None:
            captured.append(name)
        else:
            derived[name] = (row.inputs[0], step)
    return tuple(captured), derived


def feature_maps(
    loaded_model: LoadedModel, image: np.ndarray, layers: str | Sequence[str] | None = None, fit: str = "crop"
) -> FeatureMaps:
    """Activation maps of ``layers`` (default: every spatial layer) for an RGB uint8 image, in one pass."""
    import tensorflow as tf

    started = time.perf_counter()
    key = layers if layers is None or isinstance(layers, str) else tuple(layers)
    names = loaded_model.cached(("inside", "feature_layers", key), lambda: _layer_names(loaded_model, layers))
    captured, derived = loaded_model.cached(
        ("inside", "feature_plan", names), lambda: _pass_plan(loaded_model, names)
    )
    pixels = model_input(loaded_model, image, fit)
    function = loaded_model.cached(
        ("inside", "feature_pass", captured), lambda: _compiled_pass(loaded_model, captured)
    )
    with loaded_model.lock:
        activations, probabilities = function(tf.constant(pixels[None], tf.float32))
    by_name = {name: LayerMaps(name, np.asarray(values)[0]) for name, values in zip(captured, activations)}
    for name in names:  # graph order: a layer's source comes before it
        if name in derived:
            source, step = derived[name]
            by_name[name] = LayerMaps(name, by_name[source].values, (*by_name[source].steps, step))
    return FeatureMaps(
        pixels,
        tuple(by_name[name] for name in names),
        np.asarray(probabilities)[0],
        time.perf_counter() - started,
    )


def _compiled_pass(loaded_model: LoadedModel, captured: tuple[str, ...]) -> Any:
    """Raw pixels -> (activations of ``captured``, probabilities), preprocessing included, compiled."""
    import tensorflow as tf

    function = activation_function(loaded_model, captured)
    height, width = loaded_model.input_size

    @tf.function(input_signature=[tf.TensorSpec([None, height, width, 3], tf.float32)])
    def forward(pixels: tf.Tensor) -> tuple[list[tf.Tensor], tf.Tensor]:
        activations, logits = function(loaded_model.preprocess(pixels))
        return activations, loaded_model.probabilities_from_logits(logits)

    return forward
