"""Class weights for imbalanced data: each class weighs n / (k * count), as scikit-learn's "balanced".

With them a class with a tenth of the images counts ten times more per image in the loss, so the
model cannot score well by ignoring it (King & Zeng 2001 on rare events; He & Garcia 2009 survey).
"""

from __future__ import annotations

import numpy as np

# "auto" turns weights on exactly when the dataset warns about imbalance (largest class over
# IMBALANCE_RATIO times the smallest): one threshold for the warning and the remedy.
from cnnviz.datasets.scan import IMBALANCE_RATIO


def balanced(labels: np.ndarray, num_classes: int) -> dict[int, float]:
    """{class index: weight} with weight = n / (num_classes * count); mean weight per image is 1."""
    counts = np.bincount(np.asarray(labels, np.int64), minlength=num_classes).astype(np.float64)
    weights = len(labels) / (num_classes * np.maximum(counts, 1.0))
    return {index: float(weight) for index, weight in enumerate(weights)}


def is_imbalanced(labels: np.ndarray, num_classes: int, ratio: float = IMBALANCE_RATIO) -> bool:
    counts = np.bincount(np.asarray(labels, np.int64), minlength=num_classes)
    present = counts[counts > 0]
    return bool(len(present) >= 2 and present.max() > ratio * present.min())


def choose(setting: bool | str, labels: np.ndarray, num_classes: int) -> dict[int, float] | None:
    """The weights to train with: ``True``, ``False``, or ``"auto"`` (on when the classes are imbalanced)."""
    if setting == "auto":
        setting = is_imbalanced(labels, num_classes)
    return balanced(labels, num_classes) if setting else None
