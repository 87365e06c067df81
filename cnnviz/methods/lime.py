"""LIME (Ribeiro et al., 2016) on superpixels: a weighted linear model of the class score over which
superpixels are shown, fitted to random perturbations of the image.

``segments`` SLIC superpixels; ``samples`` coalitions (the first shows everything, the others each
superpixel with probability 1/2); hidden superpixels show ``fill``; each sample is weighted by
sqrt(exp(-d^2 / kernel_width^2)) with d its cosine distance to the full image, and a ridge
regression (alpha 1) gives one coefficient per superpixel, as the lime package does for images.
``raw`` is the signed coefficient painted on its superpixel (input size).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnviz.methods import superpixels
from cnnviz.methods.core import DEFAULT_BATCH_SIZE, Maps, Method, Request, check_number, clean_pass
from cnnviz.methods.occlusion import FILLS
from cnnviz.methods.perturbation import SCORES
from cnnviz.models import LoadedModel
from cnnviz.progress import report

DEFAULT_SAMPLES = 1000
DEFAULT_KERNEL_WIDTH = 0.25
RIDGE = 1.0
DEFAULTS = {"samples": DEFAULT_SAMPLES, "segments": superpixels.DEFAULT_SEGMENTS,
            "kernel_width": DEFAULT_KERNEL_WIDTH, "fill": "mean", "batch_size": DEFAULT_BATCH_SIZE,
            "seed": 0, "score": "probability"}


def lime_coalitions(rng: np.random.Generator, samples: int, segments: int) -> np.ndarray:
    """(samples, segments) 0/1: all ones first, then each superpixel shown with probability 1/2."""
    coalitions = rng.integers(0, 2, (samples, segments)).astype(np.float32)
    coalitions[0] = 1.0
    return coalitions


def lime_weights(coalitions: np.ndarray, kernel_width: float) -> np.ndarray:
    """LIME's exponential kernel on the cosine distance to the all-ones coalition."""
    shown = coalitions.sum(axis=1)
    cosine = shown / np.maximum(np.sqrt(shown) * np.sqrt(coalitions.shape[1]), 1e-12)
    distance = 1.0 - cosine
    return np.sqrt(np.exp(-distance ** 2 / kernel_width ** 2))


def lime(request: Request) -> Maps:
    params, loaded_model = request.params, request.loaded_model
    logits, classes = clean_pass(request)
    total = len(request.pixels) * params["samples"]
    report(request.progress, 0, total)
    maps = []
    for index, pixels in enumerate(request.pixels):
        labels = superpixels.segment(pixels, params["segments"])
        coalitions = lime_coalitions(np.random.default_rng(params["seed"]), params["samples"],
                                     int(labels.max()) + 1)
        scores = superpixels.coalition_scores(loaded_model, pixels, labels, coalitions, int(classes[index]),
                                              dict(params), request.progress, index * params["samples"],
                                              total, index + 1)
        coefficients, _ = superpixels.weighted_least_squares(
            coalitions.astype(np.float64), scores.astype(np.float64),
            lime_weights(coalitions, params["kernel_width"]), ridge=RIDGE)
        maps.append(superpixels.paint(labels, coefficients))
    return Maps(np.stack(maps), classes, logits)


def check(params: dict[str, Any], loaded_model: LoadedModel) -> None:
    superpixels.check(params, loaded_model)
    check_number(params, "kernel_width", 0.01, 10.0)


METHOD = Method(
    name="lime", title="LIME", compute=lime, uses_layer=False, defaults=DEFAULTS, check=check, progress=True,
    signed=True, choices={"fill": FILLS, "score": SCORES},
    citation="Ribeiro et al., \"Why Should I Trust You?\", KDD 2016",
    about=("Cuts the image into superpixels, hides random sets of them and fits a simple linear model "
           "of the confidence: each superpixel's weight is its credit (signed; the map shows the "
           "positive part). Model-agnostic and easy to read; depends on the segmentation and the fill."),
)
