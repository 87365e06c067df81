"""Guided backpropagation (Springenberg et al., 2015): the pixel gradient with every ReLU passing back
only positive gradients where its input was positive. Largest absolute value over the colours, as
gradient saliency."""

from __future__ import annotations

from typing import Any

from cnnviz.methods.core import FORGRAD, Maps, Method, Request, check_forgrad, input_gradients, top_classes
from cnnviz.methods.saliency import gradient_magnitude
from cnnviz.models import LoadedModel

DEFAULTS = {FORGRAD: None}


def guided_backprop(request: Request) -> Maps:
    gradients, logits = input_gradients(request.loaded_model, request.pixels, request.class_indices,
                                        backward="guided")
    return Maps(gradient_magnitude(gradients), top_classes(logits, request.class_indices), logits)


def check(params: dict[str, Any], loaded_model: LoadedModel) -> None:
    check_forgrad(params)


METHOD = Method(
    name="guided_backprop", title="Guided Backpropagation", compute=guided_backprop, uses_layer=False,
    defaults=DEFAULTS, check=check,
    citation="Springenberg et al., Striving for Simplicity: The All Convolutional Net, ICLR Workshops 2015",
    about=("The gradient with negative signals stopped at every ReLU on the way back: crisp, edge-like "
           "pictures. They look convincing but hardly change when the model's weights are randomised "
           "(Adebayo et al., 2018): they show the image's edges more than the model's reasons."),
)
