"""HSIC attribution (Novello et al., 2022): how strongly the class score depends on whether each cell
of a coarse grid is shown, measured by the Hilbert-Schmidt independence criterion.

``designs`` binary masks over the ``grid_size`` x ``grid_size`` cells come from a Latin hypercube
(each cell shown in half of them), nearest-upsampled and multiplying the model's input (Xplique's
"inpainting"). For cell i, HSIC_i = tr(K_i H L H) / (n - 1)^2 with K_i the indicator kernel of the
cell's on/off values, L a Gaussian kernel of the scores (bandwidth: their median distance) and H the
centring matrix. Every value is >= 0: dependence, without a direction.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnviz.methods.core import DEFAULT_BATCH_SIZE, Maps, Method, Request, check_positive_int, clean_pass
from cnnviz.methods.perturbation import SCORES, check_sampling, masked_scores
from cnnviz.models import LoadedModel
from cnnviz.progress import report

DEFAULT_GRID = 8
DEFAULT_DESIGNS = 500
MAX_DESIGNS = 4000
DEFAULTS = {"grid_size": DEFAULT_GRID, "designs": DEFAULT_DESIGNS, "batch_size": DEFAULT_BATCH_SIZE,
            "seed": 0, "score": "probability"}


def binary_designs(designs: int, cells: int, seed: int) -> np.ndarray:
    """(designs, cells) 0/1 masks from a Latin hypercube thresholded at 1/2."""
    from scipy.stats import qmc

    return (qmc.LatinHypercube(cells, seed=seed).random(designs) > 0.5).astype(np.float32)


def hsic_indices(designs: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """HSIC between each cell's on/off value and the scores (cells,)."""
    count = len(scores)
    distances = np.abs(scores[:, None] - scores[None, :])
    off_diagonal = distances[np.triu_indices(count, 1)]
    bandwidth = np.median(off_diagonal) if off_diagonal.size and np.median(off_diagonal) > 0 else 1.0
    gram = np.exp(-distances ** 2 / (2 * bandwidth ** 2))
    centring = np.eye(count) - 1.0 / count
    centred = centring @ gram @ centring
    on, off = designs.astype(np.float64), 1.0 - designs.astype(np.float64)
    traces = np.einsum("ni,nm,mi->i", on, centred, on) + np.einsum("ni,nm,mi->i", off, centred, off)
    return (traces / (count - 1) ** 2).astype(np.float32)


def hsic(request: Request) -> Maps:
    params, loaded_model = request.params, request.loaded_model
    logits, classes = clean_pass(request)
    grid = params["grid_size"]
    designs = binary_designs(params["designs"], grid * grid, params["seed"])
    masks = designs.reshape(-1, grid, grid)
    total = len(request.pixels) * len(masks)
    report(request.progress, 0, total)
    maps = []
    for index, pixels in enumerate(request.pixels):
        scores = masked_scores(loaded_model, pixels, masks, len(masks), int(classes[index]), dict(params),
                               resize="nearest", progress=request.progress, done=index * len(masks),
                               total=total, image=index + 1)
        maps.append(hsic_indices(designs, scores.astype(np.float64)).reshape(grid, grid))
    return Maps(np.stack(maps), classes, logits)


def check(params: dict[str, Any], loaded_model: LoadedModel) -> None:
    check_sampling(params, MAX_DESIGNS, samples="designs")
    check_positive_int(params, "designs", minimum=4)
    check_positive_int(params, "grid_size", minimum=2, maximum=min(32, *loaded_model.input_size))


METHOD = Method(
    name="hsic", title="HSIC attribution", compute=hsic, uses_layer=False, defaults=DEFAULTS, check=check,
    progress=True, choices={"score": SCORES},
    citation="Novello et al., Making Sense of Dependence: Efficient Black-box Explanations Using "
             "Dependence Measure, NeurIPS 2022",
    about=("Shows or hides the cells of a coarse grid at random and measures, with a statistical "
           "dependence test (HSIC), how much the model's confidence depends on each cell. Black-box, "
           "catches interactions, needs fewer model runs than Sobol; as coarse as the grid; no sign."),
)
