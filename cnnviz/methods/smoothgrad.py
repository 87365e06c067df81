"""SmoothGrad (Smilkov et al., arXiv 2017; ICML 2017 visualization workshop): pixel gradients
averaged over noisy copies of the image.

The noisy copies are laid out on the batch axis, ``batch_size`` per compiled call (this bounds the
memory), not computed one by one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnviz.methods.core import (
    DEFAULT_BATCH_SIZE,
    FORGRAD,
    Maps,
    Method,
    Request,
    batches,
    check_number,
    check_forgrad,
    check_positive_int,
    clean_pass,
    input_gradients,
)
from cnnviz.methods.saliency import gradient_magnitude
from cnnviz.models import LoadedModel
from cnnviz.progress import report

#: Noise standard deviation as a fraction of the pixel range (the paper finds 10-20 % best).
DEFAULT_NOISE = 0.15
DEFAULT_SAMPLES = 32
PIXEL_RANGE = 255.0
MAX_SAMPLES = 1024
DEFAULTS = {"samples": DEFAULT_SAMPLES, "noise": DEFAULT_NOISE, "batch_size": DEFAULT_BATCH_SIZE, "seed": 0,
            FORGRAD: None}


def noisy_gradient_moments(request: Request, classes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and mean square of each image's pixel gradient over ``samples`` noisy copies (n, h, w, 3)."""
    params = request.params
    rng = np.random.default_rng(params["seed"])
    sigma = params["noise"] * PIXEL_RANGE
    samples, batch_size = params["samples"], params["batch_size"]
    total = len(request.pixels) * samples
    means = np.zeros(request.pixels.shape, np.float32)
    squares = np.zeros(request.pixels.shape, np.float32)
    for index, pixels in enumerate(request.pixels):
        for part in batches(samples, batch_size):
            count = part.stop - part.start
            noise = rng.normal(0.0, sigma, (count, *pixels.shape)).astype(np.float32)
            gradients, _ = input_gradients(request.batched_model, pixels[None].astype(np.float32) + noise,
                                           np.full(count, classes[index], np.int32))
            means[index] += gradients.sum(axis=0) / samples
            squares[index] += (gradients ** 2).sum(axis=0) / samples
            report(request.progress, index * samples + part.stop, total, image=index + 1)
    return means, squares


def mean_noisy_gradients(request: Request, classes: np.ndarray) -> np.ndarray:
    """Each image's pixel gradient averaged over ``samples`` noisy copies (n, h, w, 3)."""
    return noisy_gradient_moments(request, classes)[0]


def smoothgrad(request: Request) -> Maps:
    logits, classes = clean_pass(request)
    return Maps(gradient_magnitude(mean_noisy_gradients(request, classes)), classes, logits)


def check(params: dict[str, Any], loaded_model: LoadedModel) -> None:
    check_positive_int(params, "samples", maximum=MAX_SAMPLES)
    check_positive_int(params, "batch_size")
    check_number(params, "noise", 0.0, 1.0)
    check_positive_int(params, "seed", minimum=0)
    check_forgrad(params)


METHOD = Method(
    name="smoothgrad", title="SmoothGrad", compute=smoothgrad, uses_layer=False, defaults=DEFAULTS,
    check=check, progress=True,
    citation=("Smilkov et al., SmoothGrad: removing noise by adding noise, arXiv 2017 "
              "(ICML Workshop on Visualization for Deep Learning)"),
    about=("Gradient saliency averaged over many noisy copies of the image, which washes out the "
           "speckle and keeps what the model consistently reacts to. Still sensitivity, not evidence, "
           "and drawn as a magnitude (bright may mean for or against the class); costs one model run "
           "per copy."),
)
