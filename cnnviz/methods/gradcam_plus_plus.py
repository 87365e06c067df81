"""Grad-CAM++ (Chattopadhay et al., 2018): pixel-wise weighted positive gradients.

With the exponential of the class score as the target, the second and third derivatives reduce to
powers of the first, giving the closed-form alphas below; the exp(score) factor is the same for every
channel of an image, so it cancels when the map is normalised and is left out (no overflow).
"""

from __future__ import annotations

import numpy as np

from cnnviz.methods.core import LayerPass, Maps, Method, Request, layer_pass, weighted_maps


def channel_weights(result: LayerPass) -> np.ndarray:
    """sum_ij alpha_ij relu(g_ij) with alpha = g^2 / (2 g^2 + sum(A) g^3)  (n, channels).

    As in the authors' implementation (and tf-keras-vis), each channel's alphas are scaled to sum
    to one over the positions.
    """
    grads, activations = result.gradients, result.activations
    squared, cubed = grads ** 2, grads ** 3
    total = activations.sum(axis=(1, 2), keepdims=True)
    denominator = 2.0 * squared + total * cubed
    alphas = squared / np.where(denominator != 0.0, denominator, 1.0)
    norm = alphas.sum(axis=(1, 2), keepdims=True)
    alphas = alphas / np.where(norm != 0.0, norm, 1.0)
    return (alphas * np.maximum(grads, 0.0)).sum(axis=(1, 2))


def gradcam_plus_plus(request: Request) -> Maps:
    result = layer_pass(request)
    return result.maps(weighted_maps(result.activations, channel_weights(result)))


METHOD = Method(
    name="gradcam++", title="Grad-CAM++", compute=gradcam_plus_plus,
    citation="Chattopadhay et al., Grad-CAM++, WACV 2018",
    about=("Like Grad-CAM, but each location's positive gradient gets its own weight, so several "
           "objects of the same class all light up rather than only the strongest. Same coarse grid."),
)
