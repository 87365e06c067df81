"""Gradient x Input (Shrikumar et al., 2016; Ancona et al., 2018): the model input times the gradient
of the class logit with respect to it.

Convention (as Xplique): in the model's input space, after the preprocessing (for a model taking
values in -1..1 that is the preprocessed image, not the raw 0..255 pixels). ``raw`` is the signed
attribution summed over the colour channels at the input size; the heatmap shows its magnitude.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnviz.methods.core import FORGRAD, Maps, Method, Request, check_forgrad, model_input_gradients, top_classes
from cnnviz.models import LoadedModel

DEFAULTS = {FORGRAD: None}


def gradient_input(request: Request) -> Maps:
    inputs, gradients, logits = model_input_gradients(request.loaded_model, request.pixels,
                                                      request.class_indices)
    signed = (inputs * gradients).sum(axis=-1).astype(np.float32)
    return Maps(signed, top_classes(logits, request.class_indices), logits, full=np.abs(signed))


def check(params: dict[str, Any], loaded_model: LoadedModel) -> None:
    check_forgrad(params)


METHOD = Method(
    name="gradient_input", title="Gradient x Input", compute=gradient_input, uses_layer=False,
    defaults=DEFAULTS, check=check, signed=True,
    citation="Shrikumar et al., Not Just a Black Box, 2016; Ancona et al., ICLR 2018",
    about=("Each input value times how much the class score reacts to it: a first-order estimate of "
           "how much each pixel contributes. Signed (evidence for and against; the map shows its size), "
           "computed on the model's preprocessed input as Xplique does; as noisy as the gradient."),
)
