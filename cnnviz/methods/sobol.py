"""Sobol attribution (Fel et al., 2021): how much of the class score's variance each cell of a coarse
grid explains, on its own and through its interactions (the total-order Sobol index).

Masks are a scrambled Sobol quasi-Monte-Carlo sequence over the ``grid_size`` x ``grid_size`` cells
(values in [0, 1], nearest-upsampled, multiplying the model's input as Xplique's "inpainting");
``designs`` base designs A and B give designs * (cells + 2) masked images (A, B, and A with cell i
taken from B). Jansen's estimator: ST_i = E[(f(A) - f(A_B^i))^2] / (2 Var f).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnviz.methods.core import DEFAULT_BATCH_SIZE, Maps, Method, Request, check_positive_int, clean_pass
from cnnviz.methods.perturbation import SCORES, check_sampling, masked_scores
from cnnviz.models import LoadedModel
from cnnviz.progress import report

DEFAULT_GRID = 8
DEFAULT_DESIGNS = 32
MAX_DESIGNS = 1024
DEFAULTS = {"grid_size": DEFAULT_GRID, "designs": DEFAULT_DESIGNS, "batch_size": DEFAULT_BATCH_SIZE,
            "seed": 0, "score": "probability"}


def sobol_designs(designs: int, cells: int, seed: int) -> np.ndarray:
    """The masks (designs * (cells + 2), cells) in [0, 1]: A, B, then A with column i from B, i = 0..cells-1."""
    import warnings

    from scipy.stats import qmc

    with warnings.catch_warnings():  # a count that is not a power of 2 only loses some balance
        warnings.simplefilter("ignore", UserWarning)
        points = qmc.Sobol(2 * cells, scramble=True, seed=seed).random(designs).astype(np.float32)
    a, b = points[:, :cells], points[:, cells:]
    mixed = np.repeat(a[None], cells, axis=0)  # (cells, designs, cells)
    mixed[np.arange(cells), :, np.arange(cells)] = b.T
    return np.concatenate([a, b, mixed.reshape(-1, cells)])


def jansen_total_order(scores: np.ndarray, designs: int, cells: int) -> np.ndarray:
    """Total-order Sobol indices (cells,) from the scores of :func:`sobol_designs`' masks."""
    f_a, f_b = scores[:designs], scores[designs:2 * designs]
    f_mixed = scores[2 * designs:].reshape(cells, designs)
    variance = np.var(np.concatenate([f_a, f_b]))
    if variance <= 0:
        return np.zeros(cells, np.float32)
    return (((f_a[None] - f_mixed) ** 2).mean(axis=1) / (2 * variance)).astype(np.float32)


def sobol(request: Request) -> Maps:
    params, loaded_model = request.params, request.loaded_model
    logits, classes = clean_pass(request)
    grid, designs = params["grid_size"], params["designs"]
    cells = grid * grid
    masks = sobol_designs(designs, cells, params["seed"]).reshape(-1, grid, grid)
    total = len(request.pixels) * len(masks)
    report(request.progress, 0, total)
    maps = []
    for index, pixels in enumerate(request.pixels):
        scores = masked_scores(loaded_model, pixels, masks, len(masks), int(classes[index]), dict(params),
                               resize="nearest", progress=request.progress, done=index * len(masks),
                               total=total, image=index + 1)
        maps.append(jansen_total_order(scores, designs, cells).reshape(grid, grid))
    return Maps(np.stack(maps), classes, logits)


def check(params: dict[str, Any], loaded_model: LoadedModel) -> None:
    check_sampling(params, MAX_DESIGNS, samples="designs")
    check_positive_int(params, "grid_size", minimum=2, maximum=min(32, *loaded_model.input_size))


METHOD = Method(
    name="sobol", title="Sobol attribution", compute=sobol, uses_layer=False, defaults=DEFAULTS, check=check,
    progress=True, choices={"score": SCORES},
    citation="Fel et al., Look at the Variance! Efficient Black-box Explanations with Sobol-based "
             "Sensitivity Analysis, NeurIPS 2021",
    about=("Dims the cells of a coarse grid at random (quasi-random designs) and measures how much of "
           "the change in the model's confidence each cell accounts for, alone or together with others. "
           "Black-box and principled; as coarse as the grid, and one model run per mask (thousands)."),
)
