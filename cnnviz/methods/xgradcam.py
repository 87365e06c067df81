"""XGrad-CAM (Fu et al., 2020): channels weighted by their gradients averaged with the activations as
weights, w_c = sum_ij A_ij g_ij / sum_ij A_ij, the weighting their two axioms (sensitivity and
conservation) call for."""

from __future__ import annotations

import numpy as np

from cnnviz.methods.core import EPSILON, LayerPass, Maps, Method, Request, layer_pass, weighted_maps


def channel_weights(result: LayerPass) -> np.ndarray:
    """sum(A * g) / sum(A) per channel (n, channels)."""
    activations, grads = result.activations, result.gradients
    return (activations * grads).sum(axis=(1, 2)) / (activations.sum(axis=(1, 2)) + EPSILON)


def xgradcam(request: Request) -> Maps:
    result = layer_pass(request)
    return result.maps(weighted_maps(result.activations, channel_weights(result)))


METHOD = Method(
    name="xgradcam", title="XGrad-CAM", compute=xgradcam,
    citation="Fu et al., Axiom-based Grad-CAM, BMVC 2020",
    about=("Grad-CAM with each channel's gradient averaged where the channel is active rather than "
           "everywhere, which makes the map add up closer to the class score. Same coarse grid as "
           "Grad-CAM; usually very close to it."),
)
