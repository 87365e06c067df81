"""RISE (Petsiuk et al., 2018): the image seen through many random masks; each pixel's importance is
the class score averaged over the masks that kept it.

Each mask is a random ``grid_size`` x ``grid_size`` grid of cells kept with probability
``keep``, upsampled bilinearly to (grid_size + 1) cells' worth of pixels and cropped at a random
shift, as in the paper. The map is sum_i score_i M_i / (samples * keep). Masks multiply the model's
input (the removed part becomes the preprocessing's zero, as in RISE's and Xplique's code); the
score is the class probability (``score="logit"``: the logit, as Xplique on a logits model).
``normalise="masks"`` divides each pixel by how often the masks kept it instead of samples * keep
(Xplique's variant; it removes the masks' uneven coverage near the borders).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from cnnviz.methods.core import (
    DEFAULT_BATCH_SIZE,
    Maps,
    Method,
    Request,
    EPSILON,
    batches,
    check_choice,
    check_number,
    check_positive_int,
    clean_pass,
)
from cnnviz.methods.perturbation import SCORES, check_sampling, masked_scores
from cnnviz.models import LoadedModel
from cnnviz.progress import report

DEFAULT_SAMPLES = 2000
MAX_SAMPLES = 20000
DEFAULT_GRID = 7
NORMALISATIONS = ("samples", "masks")
DEFAULTS = {"samples": DEFAULT_SAMPLES, "grid_size": DEFAULT_GRID, "keep": 0.5,
            "batch_size": DEFAULT_BATCH_SIZE, "seed": 0, "score": "probability", "normalise": "samples"}


def rise_masks(rng: np.random.Generator, count: int, grid_size: int, keep: float,
               size: tuple[int, int]) -> np.ndarray:
    """``count`` RISE masks (count, height, width) in [0, 1]: random grids, bilinear, randomly shifted."""
    height, width = size
    cell = (int(np.ceil(height / grid_size)), int(np.ceil(width / grid_size)))
    up = ((grid_size + 1) * cell[0], (grid_size + 1) * cell[1])
    grids = (rng.random((count, grid_size, grid_size)) < keep).astype(np.float32)
    shifts = rng.integers(0, cell, size=(count, 2))
    masks = np.empty((count, height, width), np.float32)
    for index, (grid, (dy, dx)) in enumerate(zip(grids, shifts)):
        big = cv2.resize(grid, (up[1], up[0]), interpolation=cv2.INTER_LINEAR)
        masks[index] = big[dy:dy + height, dx:dx + width]
    return masks


def rise(request: Request) -> Maps:
    params, loaded_model = request.params, request.loaded_model
    logits, classes = clean_pass(request)
    samples, size = params["samples"], loaded_model.input_size
    total = len(request.pixels) * samples
    report(request.progress, 0, total)
    maps = np.zeros((len(request.pixels), *size), np.float32)
    for index, pixels in enumerate(request.pixels):
        rng = np.random.default_rng(params["seed"])
        coverage = np.zeros(size, np.float64)
        for part in batches(samples, params["batch_size"]):  # drawn, scored and added up per batch
            masks = rise_masks(rng, part.stop - part.start, params["grid_size"], params["keep"], size)
            scores = masked_scores(loaded_model, pixels, masks, len(masks), int(classes[index]), dict(params),
                                   progress=request.progress, done=index * samples + part.start,
                                   total=total, image=index + 1)
            maps[index] += np.tensordot(scores, masks, axes=1)
            coverage += masks.sum(axis=0)
        maps[index] /= (samples * params["keep"] if params["normalise"] == "samples"
                        else np.maximum(coverage, EPSILON))
    return Maps(maps, classes, logits)


def check(params: dict[str, Any], loaded_model: LoadedModel) -> None:
    check_sampling(params, MAX_SAMPLES)
    check_positive_int(params, "grid_size", minimum=2, maximum=min(loaded_model.input_size))
    check_number(params, "keep", 0.01, 0.99)
    check_choice(params, "normalise", NORMALISATIONS)


METHOD = Method(
    name="rise", title="RISE", compute=rise, uses_layer=False, defaults=DEFAULTS, check=check, progress=True,
    choices={"score": SCORES, "normalise": NORMALISATIONS},
    citation="Petsiuk et al., RISE: Randomized Input Sampling for Explanation, BMVC 2018",
    about=("Shows the model the image through thousands of random blotchy masks and credits each "
           "pixel with the average confidence of the masks that kept it. Black-box (any model), "
           "smooth and usually well placed, but slow (one model run per mask) and a little noisy."),
)
