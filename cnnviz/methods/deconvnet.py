"""DeconvNet (Zeiler and Fergus, 2014): the class logit projected back to the pixels with every ReLU
passing back the positive part of the signal, whatever its forward input.

Convention: ``raw`` is the signed result summed over the colour channels at the input size (as a
signed method); the heatmap shows its magnitude. Gradients are taken w.r.t. the raw pixels.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnviz.methods.core import FORGRAD, Maps, Method, Request, check_forgrad, input_gradients, top_classes
from cnnviz.models import LoadedModel

DEFAULTS = {FORGRAD: None}


def deconvnet(request: Request) -> Maps:
    signal, logits = input_gradients(request.loaded_model, request.pixels, request.class_indices,
                                     backward="deconvnet")
    signed = signal.sum(axis=-1).astype(np.float32)
    return Maps(signed, top_classes(logits, request.class_indices), logits, full=np.abs(signed))


def check(params: dict[str, Any], loaded_model: LoadedModel) -> None:
    check_forgrad(params)


METHOD = Method(
    name="deconvnet", title="DeconvNet", compute=deconvnet, uses_layer=False, defaults=DEFAULTS,
    check=check, signed=True,
    citation="Zeiler and Fergus, Visualizing and Understanding Convolutional Networks, ECCV 2014",
    about=("Runs the class score backwards through the network, keeping only positive signals at each "
           "ReLU whatever happened on the way in. Shows image structure the upper layers respond to; "
           "largely class-independent. Signed, summed over colours; the map shows its size."),
)
