"""VarGrad (Adebayo et al., 2018): the variance of the pixel gradients over noisy copies of the image.

Same noisy copies and parameters as SmoothGrad (``samples``, ``noise``, ``batch_size``, ``seed``);
the per-colour variance is averaged over the colour channels (Xplique's reduction).
"""

from __future__ import annotations

import numpy as np

from cnnviz.methods import smoothgrad
from cnnviz.methods.core import Maps, Method, Request, clean_pass


def vargrad(request: Request) -> Maps:
    logits, classes = clean_pass(request)
    means, squares = smoothgrad.noisy_gradient_moments(request, classes)
    variance = np.maximum(squares - means ** 2, 0.0)
    return Maps(variance.mean(axis=-1).astype(np.float32), classes, logits)


METHOD = Method(
    name="vargrad", title="VarGrad", compute=vargrad, uses_layer=False, defaults=smoothgrad.DEFAULTS,
    check=smoothgrad.check, progress=True,
    citation="Adebayo et al., Local Explanation Methods for Deep Neural Networks Lack Sensitivity to "
             "Parameter Values, ICLR Workshops 2018",
    about=("How much the gradient changes between noisy copies of the image: bright where the model's "
           "sensitivity is unstable. Always positive (no sign), averaged over colours; one model run "
           "per copy."),
)
