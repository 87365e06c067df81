"""The clean fallback: a layer the incremental walker does not know runs as it always does.

Its inputs are materialised in full (clean activations with each image's changed box pasted in)
and the layer is called exactly as the functional model calls it, so the result is the ordinary
computation's; everything after it is then computed in full (ordinary speed, same result).
"""

from __future__ import annotations

from typing import Any

from keras import tree

from cnnviz.graph import _call_inference
from cnnviz.incremental.patches import State, materialize


def run_in_full(node: Any, states: dict[int, State]) -> list[State]:
    """Call ``node``'s layer on the full inputs; every output is a full state."""
    values = {id(x): materialize(states[id(x)]) for x in node.input_tensors}
    args, kwargs = node.arguments.fill_in(values)
    return [State(output) for output in tree.flatten(_call_inference(node.operation, args, kwargs))]
