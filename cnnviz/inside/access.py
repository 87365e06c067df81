"""A thin adapter over :mod:`cnnviz.graph` (layer lookup and cached multi-output activations).

Everything inside-the-network needs from the graph goes through these four functions, so the
package has one seam to the shared layer access and never builds sub-models of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from cnnviz.models import LoadedModel

ActivationFunction = Callable[[Any], tuple[list[Any], Any]]


def activation_function(loaded_model: LoadedModel, layers: Sequence[str]) -> ActivationFunction:
    """f(preprocessed inputs) -> (activations of ``layers`` in order, logits); built once, cached."""
    from cnnviz.graph import activations_and_logits

    return activations_and_logits(loaded_model, tuple(layers))


def spatial_layers(loaded_model: LoadedModel) -> list[str]:
    """Names of the layers with a (height, width, channels) output, input to output."""
    from cnnviz.graph import spatial_layer_names

    return list(spatial_layer_names(loaded_model))


def default_layer(loaded_model: LoadedModel) -> str:
    """The layer explanations default to (the last spatial layer before the head)."""
    from cnnviz.graph import default_target_layer

    return default_target_layer(loaded_model)


def check_layer(loaded_model: LoadedModel, name: str) -> str:
    """The full name of a layer (``outer/inner`` in nested models); UnknownLayerError lists valid names."""
    from cnnviz.graph import resolve_layer

    return resolve_layer(loaded_model, name)
