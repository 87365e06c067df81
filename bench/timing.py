"""Timing shared by the bench scripts: interleaved calls, so that load on the machine hits all alike."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np


def interleaved_medians(functions: dict[str, Callable[[], Any]], repeats: int,
                        warm_ups: int = 1) -> dict[str, float]:
    """Median seconds of each function over ``repeats`` rounds of one call each, after ``warm_ups``
    untimed calls of each (tracing, caches)."""
    for function in functions.values():
        for _ in range(warm_ups):
            function()
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            started = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - started)
    return {name: float(np.median(values)) for name, values in times.items()}
