"""One-pixel attack (Su, Vargas & Sakurai, "One pixel attack for fooling deep neural networks",
IEEE TEVC 2019, arXiv:1710.08864): change a few pixels, found by differential evolution.

Each candidate is ``(row, column, r, g, b)`` per attacked pixel, in raw pixel space (0..255) at the
model's input resolution. The search settings follow the paper: population 400, up to 100 generations after
the first, DE/rand/1 with F = 0.5 and no crossover, positions uniform and colours from N(128, 127)
clipped to 0..255 in the first generation; fitness p(true class) untargeted, 1 - p(target)
targeted. Stopping rule: cnnviz stops as soon as a candidate changes the top class (untargeted) or
makes the target the top class (checked batch by batch); the paper's early stop is a probability
threshold instead (the target class above 50 % for targeted attacks, the true class below 5 % for
non-targeted ones), so cnnviz's adversarial images may be less confident than the paper's.
Each batch of candidates is built in uint8 and cast inside the model's compiled forward function.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from cnnviz.attacks.common import AttackSetup, check_int, finish, prepare
from cnnviz.attacks.evolution import DEFAULT_MUTATION, DEFAULT_RECOMBINATION, check_settings, minimise
from cnnviz.attacks.result import AttackResult
from cnnviz.errors import ParameterError
from cnnviz.incremental import check_mode, pixel_probabilities, worth_it
from cnnviz.models import LoadedModel
from cnnviz.precision import check_precision, choose, incremental_or_reduced, twin
from cnnviz.progress import ProgressCallback, report

METHOD = "onepixel"
DEFAULT_PIXELS = 1
#: (population, generations): the paper's setting, and a small budget for big models.
PRESETS: Mapping[str, tuple[int, int]] = {"paper": (400, 100), "quick": (100, 20)}
DEFAULT_PRESET = "paper"
#: Models whose input side exceeds this get the "quick" preset by default (the app's choice).
QUICK_ABOVE = 160
#: First-generation colours ~ N(COLOUR_MEAN, COLOUR_STD), clipped to 0..255 (Su et al., 2019).
COLOUR_MEAN = 128.0
COLOUR_STD = 127.0
#: Candidates scored per model call (the early-stop check runs after each call): by default the
#: whole population, split into equal parts when a call would hold more than this many pixels
#: (4 Mi: a population of 400 at 64x64 in one call; at 224x224, 83 images at most, so 400 goes in
#: 5 calls of 80 and 100 in 2 of 50). This bounds the memory a call needs.
MAX_BATCH_PIXELS = 1 << 22
GENES_PER_PIXEL = 5  # row, column, r, g, b


def default_batch_size(input_size: tuple[int, int], popsize: int) -> int:
    """The population in one call, or in equal parts of at most MAX_BATCH_PIXELS pixels each."""
    largest = max(1, MAX_BATCH_PIXELS // (input_size[0] * input_size[1]))
    calls = math.ceil(popsize / largest)
    return math.ceil(popsize / calls)


def budget(preset: str = DEFAULT_PRESET, popsize: int | None = None,
           maxiter: int | None = None) -> tuple[int, int]:
    """(population, generations) from a preset, each overridable."""
    if preset not in PRESETS:
        raise ParameterError(f"Unknown preset {preset!r}; choose one of {', '.join(PRESETS)}.")
    default_popsize, default_maxiter = PRESETS[preset]
    return (default_popsize if popsize is None else popsize,
            default_maxiter if maxiter is None else maxiter)


def default_preset(input_size: tuple[int, int]) -> str:
    """The preset the app starts with: "quick" for large inputs (ImageNet models), else "paper"."""
    return "quick" if max(input_size) > QUICK_ABOVE else DEFAULT_PRESET


def max_queries(popsize: int, maxiter: int) -> int:
    """Most model queries a run can make: the first population, every generation, one re-check."""
    return popsize * (maxiter + 1) + 1


def bounds(input_size: tuple[int, int], pixels: int) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds of a candidate; positions are floored, so row < height."""
    height, width = input_size
    lower = np.tile([0.0, 0.0, 0.0, 0.0, 0.0], pixels)
    upper = np.tile([np.nextafter(height, 0), np.nextafter(width, 0), 255.0, 255.0, 255.0], pixels)
    return lower, upper


def initial_population(rng: np.random.Generator, popsize: int, input_size: tuple[int, int],
                       pixels: int) -> np.ndarray:
    """Positions uniform over the image, colours N(128, 127) clipped to 0..255 (Su et al., 2019)."""
    height, width = input_size
    genes = np.empty((popsize, pixels, GENES_PER_PIXEL))
    genes[..., 0] = rng.uniform(0, height, (popsize, pixels))
    genes[..., 1] = rng.uniform(0, width, (popsize, pixels))
    genes[..., 2:] = np.clip(rng.normal(COLOUR_MEAN, COLOUR_STD, (popsize, pixels, 3)), 0, 255)
    return genes.reshape(popsize, pixels * GENES_PER_PIXEL)


def decode(candidates: np.ndarray, input_size: tuple[int, int]
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows (N, k), columns (N, k) and uint8 colours (N, k, 3) of N candidates of k pixels."""
    genes = candidates.reshape(len(candidates), -1, GENES_PER_PIXEL)
    rows = np.clip(np.floor(genes[..., 0]), 0, input_size[0] - 1).astype(np.intp)
    columns = np.clip(np.floor(genes[..., 1]), 0, input_size[1] - 1).astype(np.intp)
    colours = np.clip(np.rint(genes[..., 2:]), 0, 255).astype(np.uint8)
    return rows, columns, colours


def apply(image: np.ndarray, candidate: np.ndarray) -> np.ndarray:
    """A copy of ``image`` with one candidate's pixels set (a later pixel wins on a repeat)."""
    rows, columns, colours = decode(candidate[None], image.shape[:2])
    adversarial = image.copy()
    adversarial[rows[0], columns[0]] = colours[0]
    return adversarial


class _BatchEvaluator:
    """Scores candidates in uint8 batches; stops at the first batch holding a fooling candidate.

    ``on_batch(best_fitness_of_batch)`` runs after each batch that does not end a generation, so
    progress (and cancelling) is reported between model calls even when a generation takes many.
    """

    def __init__(self, loaded_model: LoadedModel, setup: AttackSetup, batch_size: int,
                 stop_early: bool, on_batch: Callable[[float], None], incremental: str = "auto",
                 precision: str | None = None) -> None:
        self.loaded_model, self.setup, self.stop_early = loaded_model, setup, stop_early
        self.batch_size, self.on_batch, self.incremental = batch_size, on_batch, incremental
        self.buffer = np.empty((batch_size, *setup.image.shape), np.uint8)
        self.buffer[:] = setup.image
        self.queries = 0
        self.scorer, self.choice = loaded_model, choose(loaded_model, precision, "forward", setup.image)
        self.routed = not self.choice.reduced

    def _route(self, batch: np.ndarray, rows: np.ndarray, columns: np.ndarray, colours: np.ndarray) -> None:
        """Which model scores candidates: the reduced twin's full pass, or incremental inference
        (float32) where that pays; when both do ("auto"), one measured batch decides (cached)."""
        self.routed = True
        reduced = twin(self.loaded_model, self.choice.policy)
        image, mode, model = self.setup.image, self.incremental, self.loaded_model
        if self.choice.asked == "bfloat16" or mode == "off" or (
                mode == "auto" and not worth_it(model, image, (1, 1))) or rows.shape[1] != 1:
            self.scorer, self.incremental = reduced, "off"
            return
        if mode == "on":
            self.choice = dataclasses.replace(self.choice, policy="float32",
                                              reason="incremental inference runs in float32")
            return
        self.choice = incremental_or_reduced(
            model, ("onepixel", len(batch)),
            lambda: pixel_probabilities(model, image, batch, rows, columns, colours, "on"),
            lambda: pixel_probabilities(reduced, image, batch, rows, columns, colours, "off"))
        if self.choice.reduced:
            self.scorer, self.incremental = reduced, "off"

    def _confirmed(self, batch: np.ndarray, fooled: np.ndarray) -> np.ndarray:
        """The fooling candidates that also fool the float32 model (16-bit scores may round a
        near tie the other way); one float32 query each."""
        if self.scorer is self.loaded_model or not len(fooled):
            return fooled
        self.queries += len(fooled)
        return fooled[self.setup.fooled(self.loaded_model.probabilities(batch[fooled]))]

    def __call__(self, population: np.ndarray) -> tuple[np.ndarray, int | None]:
        image, fitness = self.setup.image, np.full(len(population), np.nan)
        rows, columns, colours = decode(population, image.shape[:2])
        for start in range(0, len(population), self.batch_size):
            stop = min(start + self.batch_size, len(population))
            index = np.arange(stop - start)[:, None]
            batch = self.buffer[:stop - start]
            batch[index, rows[start:stop], columns[start:stop]] = colours[start:stop]
            with self.loaded_model.lock:
                if not self.routed:
                    self._route(batch, rows[start:stop], columns[start:stop], colours[start:stop])
                probabilities = pixel_probabilities(self.scorer, image, batch, rows[start:stop],
                                                    columns[start:stop], colours[start:stop],
                                                    self.incremental)
                fooled = np.flatnonzero(self.setup.fooled(probabilities))
                if self.stop_early:
                    fooled = self._confirmed(batch, fooled)
            batch[index, rows[start:stop], columns[start:stop]] = image[rows[start:stop],
                                                                        columns[start:stop]]
            self.queries += stop - start
            fitness[start:stop] = self.setup.fitness(probabilities)
            if self.stop_early and len(fooled):
                return fitness, start + int(fooled[np.argmin(fitness[start + fooled])])
            if stop < len(population):
                self.on_batch(float(fitness[start:stop].min()))
        return fitness, None


def one_pixel_attack(loaded_model: LoadedModel, image: np.ndarray, *, pixels: int = DEFAULT_PIXELS,
                     target: int | str | None = None, true_class: int | str | None = None,
                     preset: str = DEFAULT_PRESET, popsize: int | None = None,
                     maxiter: int | None = None, mutation: float = DEFAULT_MUTATION,
                     recombination: float = DEFAULT_RECOMBINATION,
                     batch_size: int | None = None, stop_early: bool = True,
                     seed: int | None = None, fit: str = "crop", incremental: str = "auto",
                     precision: str | None = None,
                     progress: ProgressCallback | None = None) -> AttackResult:
    """Change ``pixels`` pixels to lower the true class (or raise ``target``), by DE (Su et al., 2019).

    ``preset`` gives (popsize, maxiter): "paper" (400, 100) or "quick" (100, 20); ``popsize`` and
    ``maxiter`` override it. ``recombination=1.0`` means no crossover, as in the paper.
    ``batch_size`` candidates are scored per model call (default: see ``default_batch_size``);
    ``stop_early=False`` runs every generation even after a success (for benchmarks). The image is
    resized to the model's input with ``fit`` and attacked at that resolution. ``progress`` gets
    ``(generations done, maxiter, {"best_fitness", "queries"})`` after each generation and after
    each model call within one, and cancels by returning False. The same
    ``seed`` gives the same run. ``incremental`` ("auto", "on", "off") scores one-pixel candidates by
    incremental inference (cnnviz.incremental; same scores) where that is faster. ``precision``
    ("auto", "float32", "bfloat16"; cnnviz.precision) scores candidates in 16 bits where that is
    faster; a candidate that fools the 16-bit model stops the search only if it fools the float32
    model too, and the reported result is always scored in float32.
    """
    pixels = check_int("The number of pixels", pixels, 1)
    popsize, maxiter = budget(preset, popsize, maxiter)
    check_settings(popsize, maxiter, mutation, recombination)
    batch_size = default_batch_size(loaded_model.input_size, popsize) if batch_size is None \
        else check_int("batch_size", batch_size, 1)
    setup = prepare(loaded_model, image, target, true_class, fit)
    rng = np.random.default_rng(seed)
    # A child better than the best member always replaces its parent, so the running minimum of
    # the fitness scored so far is the best member's fitness, also part-way through a generation.
    last = {"generation": 0, "best_fitness": np.inf}

    def on_generation(generation: int, best_fitness: float) -> None:
        last.update(generation=generation, best_fitness=best_fitness)
        report(progress, generation, maxiter, best_fitness=best_fitness, queries=evaluator.queries)

    def on_batch(batch_best: float) -> None:
        last["best_fitness"] = min(last["best_fitness"], batch_best)
        report(progress, last["generation"], maxiter, best_fitness=last["best_fitness"],
               queries=evaluator.queries)

    check_mode(incremental)
    check_precision(precision)
    evaluator = _BatchEvaluator(loaded_model, setup, min(batch_size, popsize), stop_early, on_batch,
                                incremental, precision)

    lower, upper = bounds(loaded_model.input_size, pixels)
    evolution = minimise(evaluator, initial_population(rng, popsize, loaded_model.input_size, pixels),
                         lower, upper, maxiter, rng, mutation=mutation,
                         recombination=recombination, on_generation=on_generation)
    params: dict[str, Any] = {
        "pixels": pixels, "preset": preset, "popsize": popsize, "maxiter": maxiter,
        "mutation": mutation, "recombination": recombination, "batch_size": batch_size,
        "stop_early": stop_early, "seed": seed, "fit": fit, "generations": evolution.generations,
        "incremental": incremental, "precision": evaluator.choice.to_json(),
    }
    return finish(loaded_model, setup, METHOD, apply(setup.image, evolution.best),
                  evaluator.queries, evolution.history, params)
