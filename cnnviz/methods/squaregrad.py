"""SquareGrad (Hooker et al., 2019): the mean square of the pixel gradients over noisy copies.

Same noisy copies and parameters as SmoothGrad; the per-colour mean square is averaged over the
colour channels (Xplique's reduction).
"""

from __future__ import annotations

import numpy as np

from cnnviz.methods import smoothgrad
from cnnviz.methods.core import Maps, Method, Request, clean_pass


def squaregrad(request: Request) -> Maps:
    logits, classes = clean_pass(request)
    _, squares = smoothgrad.noisy_gradient_moments(request, classes)
    return Maps(squares.mean(axis=-1).astype(np.float32), classes, logits)


METHOD = Method(
    name="squaregrad", title="SquareGrad", compute=squaregrad, uses_layer=False, defaults=smoothgrad.DEFAULTS,
    check=smoothgrad.check, progress=True,
    citation="Hooker et al., A Benchmark for Interpretability Methods in Deep Neural Networks, NeurIPS 2019",
    about=("SmoothGrad with squared gradients: noisy copies of the image, and the average squared "
           "gradient per pixel. Squaring lets strong reactions dominate and removes the sign; averaged "
           "over colours; one model run per copy."),
)
