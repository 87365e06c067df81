"""Time estimates before an attack starts: measured model throughput times the attack's query budget.

Throughput is measured once per model and batch size (on random uint8 images, after one warm-up
call that also traces the compiled function the attack reuses) and kept in ``LoadedModel.cached``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from cnnviz.attacks.common import check_int
from cnnviz.attacks.gradient import loss_gradient_function
from cnnviz.attacks.onepixel import default_batch_size, max_queries
from cnnviz.models import LoadedModel

#: Time at least this long (and at least MIN_REPEATS calls) when measuring throughput.
MIN_MEASURE_SECONDS = 0.3
MIN_REPEATS = 2


@dataclass(frozen=True)
class Budget:
    """How many model queries an attack may make and about how long that takes at most."""

    method: str
    max_queries: int
    queries_per_second: float
    seconds: float  # upper bound: the one-pixel attack usually stops earlier when it succeeds


def _timed(call: Callable[[], object]) -> float:
    """Seconds per call, after a warm-up call."""
    call()
    repeats, started = 0, time.perf_counter()
    while repeats < MIN_REPEATS or time.perf_counter() - started < MIN_MEASURE_SECONDS:
        call()
        repeats += 1
    return (time.perf_counter() - started) / repeats


def queries_per_second(loaded_model: LoadedModel, batch_size: int) -> float:
    """Images per second of the compiled forward pass on uint8 batches of ``batch_size``."""
    batch_size = check_int("batch_size", batch_size, 1)

    def measure() -> float:
        batch = np.random.default_rng(0).integers(
            0, 256, (batch_size, *loaded_model.input_size, 3), dtype=np.uint8)
        with loaded_model.lock:
            return batch_size / _timed(lambda: loaded_model.logits(batch).numpy())

    return loaded_model.cached(("attack", "queries_per_second", batch_size), measure)


def gradient_steps_per_second(loaded_model: LoadedModel) -> float:
    """Gradient steps (forward and backward pass on one image) per second."""

    def measure() -> float:
        loss_gradient = loss_gradient_function(loaded_model)
        pixels = tf.constant(np.full((1, *loaded_model.input_size, 3), 128, np.float32))
        classes = tf.constant([0], tf.int32)
        with loaded_model.lock:
            return 1.0 / _timed(lambda: loss_gradient(pixels, classes)[0].numpy())

    return loaded_model.cached(("attack", "gradient_steps_per_second"), measure)


def estimate_onepixel(loaded_model: LoadedModel, popsize: int, maxiter: int,
                      batch_size: int | None = None) -> Budget:
    """Most queries and time of a one-pixel attack with this population and generation count."""
    if batch_size is None:
        batch_size = default_batch_size(loaded_model.input_size, popsize)
    rate = queries_per_second(loaded_model, min(batch_size, popsize))
    queries = max_queries(popsize, maxiter)
    return Budget("onepixel", queries, rate, queries / rate)


def estimate_gradient(loaded_model: LoadedModel, steps: int, method: str = "pgd") -> Budget:
    """Queries and time of a gradient attack of ``steps`` steps (FGSM: one step)."""
    rate = gradient_steps_per_second(loaded_model)
    return Budget(method, steps + 1, rate, (steps + 1) / rate)
