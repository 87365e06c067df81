"""Calibration: do the model's confidences mean what they say?

Expected calibration error (Naeini et al., 2015; as used by Guo et al., 2017, "On Calibration of
Modern Neural Networks"): the confidences (top probability) are put in equal-width bins
(0, 0.1], (0.1, 0.2], ..., and ECE = sum over bins of (images in bin / images) * |accuracy - mean
confidence|. The bins are the reliability diagram: accuracy against confidence, a perfectly
calibrated model on the diagonal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnviz.errors import ParameterError

DEFAULT_BINS = 10
_TOLERANCE = 1e-9


@dataclass(frozen=True)
class ReliabilityBin:
    """One confidence bin (lower, upper]: how many images, their mean confidence and accuracy."""

    lower: float
    upper: float
    count: int
    confidence: float | None  # mean top probability in the bin; None when empty
    accuracy: float | None  # fraction correct in the bin; None when empty

    def to_json(self) -> dict[str, float | int | None]:
        return {"lower": self.lower, "upper": self.upper, "count": self.count,
                "confidence": self.confidence, "accuracy": self.accuracy}


@dataclass(frozen=True)
class Calibration:
    """Expected calibration error and the reliability-diagram bins it is computed from."""

    ece: float
    bins: tuple[ReliabilityBin, ...]

    def to_json(self) -> dict[str, object]:
        return {"ece": self.ece, "bins": [b.to_json() for b in self.bins]}


def calibration(confidences: np.ndarray, correct: np.ndarray, bins: int = DEFAULT_BINS) -> Calibration:
    """ECE and reliability bins of top-1 ``confidences`` (n,) and ``correct`` (n,) bool."""
    confidences = np.asarray(confidences, np.float64)
    correct = np.asarray(correct, bool)
    if confidences.shape != correct.shape or confidences.ndim != 1 or confidences.size == 0:
        raise ParameterError("calibration needs as many confidences as correct flags, at least one.")
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ParameterError(f"bins must be a positive integer, got {bins!r}.")
    # bin b holds (b / bins, (b + 1) / bins]; a confidence of exactly 0 goes to the first bin. The
    # tolerance keeps 0.3 in (0.2, 0.3] although 0.3 * 10 = 3.0000000000000004 in floating point.
    which = np.clip(np.ceil(confidences * bins - _TOLERANCE).astype(np.int64) - 1, 0, bins - 1)
    result, ece = [], 0.0
    for b in range(bins):
        members = which == b
        count = int(members.sum())
        confidence = float(confidences[members].mean()) if count else None
        accuracy = float(correct[members].mean()) if count else None
        if count:
            ece += count / len(confidences) * abs(accuracy - confidence)  # type: ignore[operator]
        result.append(ReliabilityBin(b / bins, (b + 1) / bins, count, confidence, accuracy))
    return Calibration(float(ece), tuple(result))
