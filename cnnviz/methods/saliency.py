"""Vanilla gradient saliency (Simonyan et al., 2014): |d class score / d pixel|, max over colours."""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnviz.methods.core import FORGRAD, Maps, Method, Request, check_forgrad, input_gradients, top_classes
from cnnviz.models import LoadedModel

DEFAULTS = {FORGRAD: None}


def gradient_magnitude(gradients: np.ndarray) -> np.ndarray:
    """The saliency map of pixel gradients (n, h, w, 3): largest absolute value over the channels."""
    return np.abs(gradients).max(axis=-1).astype(np.float32)


def saliency(request: Request) -> Maps:
    gradients, logits = input_gradients(request.loaded_model, request.pixels, request.class_indices)
    return Maps(gradient_magnitude(gradients), top_classes(logits, request.class_indices), logits)


def check(params: dict[str, Any], loaded_model: LoadedModel) -> None:
    check_forgrad(params)


METHOD = Method(
    name="saliency", title="Gradient saliency", compute=saliency, uses_layer=False, defaults=DEFAULTS,
    check=check,
    citation="Simonyan et al., Deep Inside Convolutional Networks, ICLR Workshops 2014",
    about=("How much each pixel, changed a little, would change the class score. Pixel-sharp but "
           "noisy, and it shows sensitivity rather than evidence: an edge the model reacts to lights "
           "up even if it did not drive the decision. The map draws the gradient's magnitude, so a "
           "bright pixel may push against the class as much as for it."),
)
