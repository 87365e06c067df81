"""KernelSHAP (Lundberg and Lee, 2017) on superpixels: Shapley values of the superpixels for the class
score, estimated by a weighted linear regression over random coalitions.

Coalition sizes are drawn from the Shapley kernel, pi(s) ~ (M - 1) / (s (M - s)) for M superpixels,
then a uniform subset of that size; the empty and the full coalition enter with a very large weight
so that the values add up to score(image) - score(all hidden) (efficiency). Same superpixels and fill
as LIME. ``raw`` is each superpixel's signed Shapley value painted on it (input size).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnviz.methods import superpixels
from cnnviz.methods.core import DEFAULT_BATCH_SIZE, Maps, Method, Request, clean_pass
from cnnviz.methods.occlusion import FILLS
from cnnviz.methods.perturbation import SCORES
from cnnviz.models import LoadedModel
from cnnviz.progress import report

DEFAULT_SAMPLES = 1000
#: Weight of the empty and the full coalition (constraints, in the least-squares form).
ENDPOINT_WEIGHT = 1e6
DEFAULTS = {"samples": DEFAULT_SAMPLES, "segments": superpixels.DEFAULT_SEGMENTS, "fill": "mean",
            "batch_size": DEFAULT_BATCH_SIZE, "seed": 0, "score": "probability"}


def shapley_coalitions(rng: np.random.Generator, samples: int, segments: int) -> np.ndarray:
    """(samples + 2, segments) 0/1: the full and the empty coalition, then sizes from the Shapley kernel."""
    if segments < 2:  # one superpixel: its value is score(image) - score(hidden)
        return np.array([[1.0], [0.0]], np.float32)
    sizes = np.arange(1, segments)
    kernel = (segments - 1) / (sizes * (segments - sizes))
    drawn = rng.choice(sizes, size=samples, p=kernel / kernel.sum())
    coalitions = np.zeros((samples + 2, segments), np.float32)
    coalitions[0] = 1.0
    order = rng.random((samples, segments)).argsort(axis=1)
    coalitions[2:] = order < drawn[:, None]
    return coalitions


def kernel_shap(request: Request) -> Maps:
    params, loaded_model = request.params, request.loaded_model
    logits, classes = clean_pass(request)
    total = len(request.pixels) * (params["samples"] + 2)
    report(request.progress, 0, total)
    maps = []
    for index, pixels in enumerate(request.pixels):
        labels = superpixels.segment(pixels, params["segments"])
        coalitions = shapley_coalitions(np.random.default_rng(params["seed"]), params["samples"],
                                        int(labels.max()) + 1)
        scores = superpixels.coalition_scores(loaded_model, pixels, labels, coalitions, int(classes[index]),
                                              dict(params), request.progress, index * (params["samples"] + 2),
                                              total, index + 1)
        weights = np.ones(len(coalitions))
        weights[:2] = ENDPOINT_WEIGHT
        values, _ = superpixels.weighted_least_squares(coalitions.astype(np.float64), scores.astype(np.float64),
                                                       weights)
        maps.append(superpixels.paint(labels, values))
    return Maps(np.stack(maps), classes, logits)


def check(params: dict[str, Any], loaded_model: LoadedModel) -> None:
    superpixels.check(params, loaded_model)


METHOD = Method(
    name="kernel_shap", title="KernelSHAP", compute=kernel_shap, uses_layer=False, defaults=DEFAULTS,
    check=check, progress=True, signed=True, choices={"fill": FILLS, "score": SCORES},
    citation="Lundberg and Lee, A Unified Approach to Interpreting Model Predictions, NeurIPS 2017",
    about=("Shapley values of the superpixels: each one's fair share of the confidence, averaged over "
           "random sets of the others (a weighted regression). The shares add up to the confidence "
           "with everything shown minus with everything hidden. Signed; depends on segmentation and fill."),
)
