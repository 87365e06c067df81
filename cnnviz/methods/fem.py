"""FEM, the feature explanation method (Fuad et al., 2020): in each channel of the chosen layer, keep
the locations whose activation stands out (above the channel's mean plus ``k`` standard deviations),
weight that binary map by the channel's mean activation, and add up. Gradient-free and class-agnostic.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnviz.methods.core import Maps, Method, Request, check_number, layer_pass
from cnnviz.models import LoadedModel

DEFAULT_K = 2.0
DEFAULTS = {"k": DEFAULT_K}


def fem_maps(activations: np.ndarray, k: float) -> np.ndarray:
    """sum_c mean(A_c) * [A_c > mean(A_c) + k std(A_c)]  (n, h, w)."""
    means = activations.mean(axis=(1, 2), keepdims=True)
    stds = activations.std(axis=(1, 2), keepdims=True)
    standing_out = activations > means + k * stds
    return (standing_out * means).sum(axis=-1).astype(np.float32)


def fem(request: Request) -> Maps:
    result = layer_pass(request, gradients=False)
    return result.maps(fem_maps(result.activations, float(request.params["k"])))


def check(params: dict[str, Any], loaded_model: LoadedModel) -> None:
    check_number(params, "k", 0.0, 10.0)


METHOD = Method(
    name="fem", title="FEM", compute=fem, defaults=DEFAULTS, check=check,
    citation="Fuad et al., Features Understanding in 3D CNNs for Actions Recognition in Video, IPTA 2020",
    about=("Marks, in every feature map of the layer, the spots that stand out (more than k standard "
           "deviations above the map's mean) and weights them by how active the map is. No gradients "
           "and no class: it shows the layer's salient features, the same for every class."),
)
