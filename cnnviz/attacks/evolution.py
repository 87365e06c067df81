"""Differential evolution, DE/rand/1 (Storn & Price, 1997), vectorised over the population in NumPy.

The one-pixel attack (Su et al., 2019) uses it with no crossover: each child is
``x_r1 + F * (x_r2 - x_r3)`` (three distinct members, none of them the parent) and replaces its
parent only if it is at least as fit. The objective scores a whole population in one call (one batch
of model queries) and may ask to stop early, for example when a candidate fools the model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from cnnviz.errors import ParameterError

#: Differential weight F of the paper (Su et al., 2019, section 3.2).
DEFAULT_MUTATION = 0.5
#: Probability that a gene comes from the mutant (scipy's ``recombination``); 1.0 = no crossover.
DEFAULT_RECOMBINATION = 1.0
#: DE/rand/1 needs three members besides the parent.
MIN_POPULATION = 4

#: ``objective(population) -> (fitness, stop)``: fitness (N,) to minimise; ``stop`` is None or the
#: index of a member that ends the search at once (it need not be the fittest). An objective that
#: stops part-way through a population marks the members it did not score with NaN.
Objective = Callable[[np.ndarray], tuple[np.ndarray, "int | None"]]
#: ``on_generation(generation, best_fitness)``, called after the first population (generation 0)
#: and after each generation.
GenerationCallback = Callable[[int, float], None]


@dataclass(frozen=True)
class Evolution:
    """Outcome of a run: the best member (or the one that stopped the search) and the history."""

    best: np.ndarray  # (D,) the member returned
    best_fitness: float
    generations: int  # generations run after the first population
    evaluations: int  # members scored, the first population included
    history: np.ndarray  # (generations + 1,) best fitness after each generation
    stopped_early: bool


def check_settings(popsize: int, maxiter: int, mutation: float, recombination: float) -> None:
    """Typed errors for settings differential evolution cannot run with."""
    if not _is_int(popsize) or popsize < MIN_POPULATION:
        raise ParameterError(
            f"The population must be a whole number of at least {MIN_POPULATION} (DE/rand/1 mixes "
            f"three other members into each child), not {popsize!r}."
        )
    if not _is_int(maxiter) or maxiter < 0:
        raise ParameterError(f"The number of generations must be a whole number >= 0, not {maxiter!r}.")
    if not 0.0 < float(mutation) <= 2.0:
        raise ParameterError(f"The mutation factor F must be in (0, 2], not {mutation!r}.")
    if not 0.0 < float(recombination) <= 1.0:
        raise ParameterError(f"The recombination rate must be in (0, 1], not {recombination!r}.")


def _scored(fitness: np.ndarray) -> int:
    return int(np.count_nonzero(~np.isnan(fitness)))


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def donors(size: int, rng: np.random.Generator) -> np.ndarray:
    """(size, 3) indices r1, r2, r3 for each member i: distinct, and none equal to i."""
    members = np.arange(size)[:, None]
    picks = np.empty((size, 3), np.intp)
    redraw = np.ones(size, bool)
    while redraw.any():  # rejection sampling: a redraw is rare when the population is large
        fresh = rng.integers(0, size - 1, (int(redraw.sum()), 3))
        picks[redraw] = fresh + (fresh >= members[redraw])  # skip i itself
        a, b, c = picks.T
        redraw = (a == b) | (a == c) | (b == c)
    return picks


def mutants(population: np.ndarray, rng: np.random.Generator, mutation: float) -> np.ndarray:
    """DE/rand/1 mutants ``x_r1 + F (x_r2 - x_r3)``."""
    r1, r2, r3 = donors(len(population), rng).T
    return population[r1] + mutation * (population[r2] - population[r3])


def minimise(objective: Objective, initial: np.ndarray, lower: np.ndarray, upper: np.ndarray,
             maxiter: int, rng: np.random.Generator, *, mutation: float = DEFAULT_MUTATION,
             recombination: float = DEFAULT_RECOMBINATION,
             on_generation: GenerationCallback | None = None) -> Evolution:
    """Minimise ``objective`` from ``initial`` (N, D) by DE/rand/1 with one-to-one selection.

    Children are clipped to [lower, upper]. With ``recombination < 1`` each gene comes from the
    mutant with that probability (binomial crossover, one gene always from the mutant).
    """
    check_settings(len(initial), maxiter, mutation, recombination)
    population = np.clip(np.asarray(initial, dtype=np.float64), lower, upper)
    fitness, stop = objective(population)
    evaluations = _scored(fitness)
    history = [float(np.nanmin(fitness))]
    if on_generation is not None:
        on_generation(0, history[-1])
    generation = 0
    while stop is None and generation < maxiter:
        generation += 1
        children = mutants(population, rng, mutation)
        if recombination < 1.0:
            keep = rng.random(children.shape) >= recombination
            keep[np.arange(len(children)), rng.integers(children.shape[1], size=len(children))] = False
            children = np.where(keep, population, children)
        children = np.clip(children, lower, upper)
        child_fitness, stop = objective(children)
        evaluations += _scored(child_fitness)
        if stop is not None:
            history.append(min(history[-1], float(np.nanmin(child_fitness))))
            if on_generation is not None:
                on_generation(generation, history[-1])
            return Evolution(children[stop].copy(), float(child_fitness[stop]), generation,
                             evaluations, np.array(history), True)
        better = child_fitness <= fitness
        population[better] = children[better]
        fitness = np.where(better, child_fitness, fitness)
        history.append(float(fitness.min()))
        if on_generation is not None:
            on_generation(generation, history[-1])
    if stop is not None:  # the first population already holds a stopping member
        return Evolution(population[stop].copy(), float(fitness[stop]), 0, evaluations,
                         np.array(history), True)
    best = int(np.argmin(fitness))
    return Evolution(population[best].copy(), float(fitness[best]), generation, evaluations,
                     np.array(history), False)
