"""Integrated Gradients (Sundararajan et al., 2017): gradients summed along the straight path from a
baseline image to the image, times the difference; the attributions add up to the change in the
class logit between baseline and image (completeness), exactly for the integral and approximately
for its ``steps``-interval trapezoidal sum: :func:`completeness` measures how close a heatmap came.

The path's images are laid out on the batch axis (``batch_size`` per compiled call). The raw map
keeps the signed attribution summed over colours; the heatmap shows its magnitude, so its bright
pixels include evidence against the class as well as for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from cnnviz.methods.core import (
    DEFAULT_BATCH_SIZE,
    FORGRAD,
    Maps,
    Method,
    Request,
    batches,
    check_choice,
    check_forgrad,
    check_positive_int,
    clean_pass,
    input_gradients,
)
from cnnviz.models import LoadedModel
from cnnviz.progress import report

#: "model_zero" is the image whose preprocessed input is 0 (Xplique's baseline, in the model's input space).
BASELINES = ("black", "grey", "white", "blur", "noise", "model_zero")
DEFAULT_STEPS = 32
MAX_STEPS = 1024
GREY = 128.0
#: Sundararajan et al. (2017, section 3) suggest enough steps to bring the attributions' sum within
#: 5 % of the logit difference (20 to 300 steps in their experiments).
COMPLETENESS_TOLERANCE = 0.05
#: Gaussian blur sigma of the "blur" baseline, as a fraction of the image's shorter side.
BLUR_SIGMA_FRACTION = 1 / 16
DEFAULTS = {"steps": DEFAULT_STEPS, "baseline": "black", "batch_size": DEFAULT_BATCH_SIZE, "seed": 0,
            FORGRAD: None}


def baseline_image(pixels: np.ndarray, baseline: str, seed: int = 0) -> np.ndarray:
    """The reference image the path starts from (float32, the image's shape)."""
    if baseline == "black":
        return np.zeros(pixels.shape, np.float32)
    if baseline == "white":
        return np.full(pixels.shape, 255.0, np.float32)
    if baseline == "grey":
        return np.full(pixels.shape, GREY, np.float32)
    if baseline == "noise":
        return np.random.default_rng(seed).uniform(0.0, 255.0, pixels.shape).astype(np.float32)
    sigma = max(min(pixels.shape[:2]) * BLUR_SIGMA_FRACTION, 0.5)
    return cv2.GaussianBlur(pixels.astype(np.float32), (0, 0), sigmaX=sigma, sigmaY=sigma)


def model_zero_image(loaded_model: LoadedModel) -> np.ndarray:
    """The raw pixels (float32, input size) that the model's preprocessing maps to 0.

    The preprocessing is affine per pixel, but may mix colours (caffe's RGB -> BGR): its 3 x 3 matrix
    is read from the images of the unit colours, then solved for 0.
    """
    height, width = loaded_model.input_size
    probes = np.zeros((4, height, width, 3), np.float32)
    probes[1:, ..., :] = np.eye(3, dtype=np.float32)[:, None, None, :]  # black, red, green, blue
    outputs = np.asarray(loaded_model.preprocess(probes), np.float64)[:, 0, 0, :]
    offset, matrix = outputs[0], (outputs[1:] - outputs[0]).T  # output channel x input colour
    zero = np.linalg.lstsq(matrix, -offset, rcond=None)[0]
    return np.broadcast_to(zero.astype(np.float32), (height, width, 3)).copy()


def attributions(request: Request, classes: np.ndarray) -> np.ndarray:
    """Per-pixel, per-colour attributions (n, h, w, 3), trapezoidal rule over ``steps`` intervals."""
    params = request.params
    steps, batch_size = params["steps"], params["batch_size"]
    alphas = np.linspace(0.0, 1.0, steps + 1, dtype=np.float32)
    trapezoid = np.full(steps + 1, 1.0 / steps, np.float32)
    trapezoid[[0, -1]] /= 2
    result = np.zeros(request.pixels.shape, np.float32)
    total = len(request.pixels) * (steps + 1)
    for index, pixels in enumerate(request.pixels):
        image = pixels.astype(np.float32)
        start = (model_zero_image(request.loaded_model) if params["baseline"] == "model_zero"
                 else baseline_image(pixels, params["baseline"], params["seed"]))
        mean_gradient = np.zeros(image.shape, np.float32)
        for part in batches(steps + 1, batch_size):
            path = start[None] + alphas[part, None, None, None] * (image - start)[None]
            gradients, _ = input_gradients(request.batched_model, path,
                                           np.full(len(path), classes[index], np.int32))
            mean_gradient += np.tensordot(trapezoid[part], gradients, axes=1)
            report(request.progress, index * (steps + 1) + part.stop, total, image=index + 1)
        result[index] = (image - start) * mean_gradient
    return result


def integrated_gradients(request: Request) -> Maps:
    logits, classes = clean_pass(request)
    signed = attributions(request, classes).sum(axis=-1)
    return Maps(signed, classes, logits, full=np.abs(signed))


@dataclass(frozen=True)
class Completeness:
    """The completeness check of one Integrated Gradients heatmap: the sum of its attributions
    against the change of the class logit from the baseline to the image (equal for the exact
    integral; the finite number of steps leaves a gap)."""

    attribution_sum: float
    logit_difference: float  # logit(image) - logit(baseline), the explained class
    steps: int

    @property
    def relative_gap(self) -> float:
        """|sum - difference| / |difference| (0 is exact)."""
        return abs(self.attribution_sum - self.logit_difference) / max(abs(self.logit_difference), 1e-7)

    @property
    def enough_steps(self) -> bool:
        """Within COMPLETENESS_TOLERANCE of the logit difference (the paper's 5 %)."""
        return self.relative_gap <= COMPLETENESS_TOLERANCE


def completeness(loaded_model: LoadedModel, heatmap: Any) -> Completeness:
    """How close an Integrated Gradients heatmap (a :class:`cnnviz.explanation.Heatmap`) came to
    completeness: its attributions' sum (``raw`` holds them signed, summed over colours) against the
    class logit of its image minus that of its baseline (one model call for both)."""
    params = heatmap.params
    pixels = np.asarray(heatmap.image, np.float32)
    start = baseline_image(heatmap.image, params["baseline"], params["seed"])
    with loaded_model.lock:
        logits = loaded_model.logits(np.stack([pixels, start])).numpy()[:, heatmap.class_index]
    return Completeness(float(np.sum(heatmap.raw, dtype=np.float64)), float(logits[0] - logits[1]),
                        int(params["steps"]))


def check(params: dict[str, Any], loaded_model: LoadedModel) -> None:
    check_positive_int(params, "steps", maximum=MAX_STEPS)
    check_positive_int(params, "batch_size")
    check_choice(params, "baseline", BASELINES)
    check_positive_int(params, "seed", minimum=0)
    check_forgrad(params)


METHOD = Method(
    name="integrated_gradients", title="Integrated Gradients", compute=integrated_gradients,
    uses_layer=False, defaults=DEFAULTS, check=check, progress=True, signed=True,
    choices={"baseline": BASELINES},
    citation="Sundararajan et al., Axiomatic Attribution for Deep Networks, ICML 2017",
    about=("Follows a straight path from a baseline image (black by default) to the photo and adds up "
           "the gradients on the way. The attributions add up to the change in the class score only "
           "approximately, with a finite number of steps: the page shows the sum against the change, "
           "and more steps close the gap. The map draws their magnitude, so bright pixels include "
           "evidence against the class as well as for it. The answer depends on the baseline: with a "
           "black one, dark objects get little credit."),
)
