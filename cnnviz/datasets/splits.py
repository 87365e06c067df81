"""Seeded, stratified train / validation / test splits.

Each class is shuffled with its own generator (seed, class), and cut by largest remainders so the
three parts come as close to the asked fractions as whole images allow, class by class: the same
seed always gives the same split, and adding images to one class does not reshuffle the others.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cnnviz.datasets.records import Split
from cnnviz.errors import ParameterError

DEFAULT_FRACTIONS = (0.7, 0.15, 0.15)


def check_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    """Three non-negative fractions (train, val, test) that add up to 1."""
    try:
        values = tuple(float(f) for f in fractions)
    except (TypeError, ValueError):
        values = ()
    if len(values) != 3 or min(values) < 0 or abs(sum(values) - 1) > 1e-6 or values[0] <= 0:
        raise ParameterError(
            f"split must be three fractions (train, validation, test) that add up to 1 with a "
            f"positive train part, such as {DEFAULT_FRACTIONS}; got {fractions!r}."
        )
    return values  # type: ignore[return-value]


def _counts(n: int, fractions: tuple[float, float, float]) -> tuple[int, int, int]:
    """How many of n images go to each part (largest remainder; ties favour train, then test)."""
    exact = [n * f for f in fractions]
    counts = [int(np.floor(x)) for x in exact]
    order = sorted(range(3), key=lambda i: (-(exact[i] - counts[i]), (0, 2, 1).index(i)))
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    return counts[0], counts[1], counts[2]


def stratified_split(labels: np.ndarray, seed: int = 0,
                     fractions: Sequence[float] = DEFAULT_FRACTIONS) -> Split:
    """Split record indices by class (labels -1 = unlabelled form one group); sorted indices."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError(f"seed must be a non-negative integer, got {seed!r}.")
    fractions = check_fractions(fractions)
    labels = np.asarray(labels, np.int64)
    parts: list[list[np.ndarray]] = [[], [], []]
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        shuffled = np.random.default_rng([int(seed), int(label) + 1]).permutation(members)
        train, val, _ = _counts(len(members), fractions)
        for part, chunk in zip(parts, np.split(shuffled, [train, train + val])):
            part.append(chunk)
    train, val, test = (np.sort(np.concatenate(p)) if p else np.zeros(0, np.int64) for p in parts)
    return Split(int(seed), train.astype(np.int64), val.astype(np.int64), test.astype(np.int64), fractions)
