"""Grad-CAM (Selvaraju et al., 2017): channels weighted by the mean gradient of the class score."""

from __future__ import annotations

import numpy as np

from cnnviz.methods.core import LayerPass, Maps, Method, Request, layer_pass, weighted_maps


def channel_weights(result: LayerPass) -> np.ndarray:
    """Global-average-pooled gradients (n, channels): how much each channel raises the class score."""
    return result.gradients.mean(axis=(1, 2))


def gradcam(request: Request) -> Maps:
    result = layer_pass(request)
    return result.maps(weighted_maps(result.activations, channel_weights(result)))


METHOD = Method(
    name="gradcam", title="Grad-CAM", compute=gradcam,
    citation="Selvaraju et al., Grad-CAM, ICCV 2017",
    about=("Where the chosen layer's features raise the class score: each feature map is weighted by "
           "its average gradient. Coarse (one value per cell of the layer's grid, 7 x 7 on most ImageNet "
           "models) and blind to evidence against the class; it shows where, not what."),
)
