"""The result of an adversarial attack: images before and after, what changed, and what it cost.

Images are RGB uint8 at the model's input resolution: the attack works on the pixels the model
actually sees, so the adversarial image is exact (lossless) and can be saved as PNG and fed back.
Coordinates are (row, column) = (y, x), origin top-left, as everywhere in cnnviz.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ChangedPixel:
    """One pixel the attack changed: its position (row, column) and its colour before and after."""

    row: int
    column: int
    old: tuple[int, int, int]
    new: tuple[int, int, int]


@dataclass(frozen=True)
class AttackResult:
    """What an attack did to one image and whether it fooled the model.

    ``true_class`` is the class an untargeted attack lowers (the given true class, else the model's
    original top-1); ``target`` is the class a targeted attack raises (None when untargeted).
    ``fitness_history`` holds the best fitness after each generation (one-pixel: p(true class), or
    1 - p(target) when targeted) or after each gradient step; lower is better for the attacker.
    """

    method: str
    original: np.ndarray = field(repr=False)  # (h, w, 3) uint8, the image at the model's input size
    adversarial: np.ndarray = field(repr=False)  # (h, w, 3) uint8
    class_names: tuple[str, ...] = field(repr=False)
    original_class: int  # top-1 before the attack
    adversarial_class: int  # top-1 after the attack
    true_class: int
    target: int | None
    probabilities_before: np.ndarray = field(repr=False)  # (classes,)
    probabilities_after: np.ndarray = field(repr=False)
    success: bool
    queries: int  # images the model scored (a gradient step counts one query)
    fitness_history: np.ndarray = field(repr=False)
    params: Mapping[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def targeted(self) -> bool:
        return self.target is not None

    @property
    def original_label(self) -> str:
        return self.class_names[self.original_class]

    @property
    def adversarial_label(self) -> str:
        return self.class_names[self.adversarial_class]

    @property
    def confidence(self) -> float:
        """Probability of the adversarial image's top-1 class (the paper's "confidence")."""
        return float(self.probabilities_after[self.adversarial_class])

    @property
    def perturbation(self) -> np.ndarray:
        """adversarial - original, int16 (h, w, 3), in pixel units (0..255 scale)."""
        return self.adversarial.astype(np.int16) - self.original.astype(np.int16)

    @property
    def changed_mask(self) -> np.ndarray:
        """(h, w) bool: pixels where any channel changed."""
        return np.any(self.adversarial != self.original, axis=-1)

    @property
    def changed_pixels(self) -> tuple[ChangedPixel, ...]:
        """Every changed pixel with its old and new colour, in row-major order."""
        rows, columns = np.nonzero(self.changed_mask)
        return tuple(
            ChangedPixel(int(r), int(c), tuple(int(v) for v in self.original[r, c]),  # type: ignore[arg-type]
                         tuple(int(v) for v in self.adversarial[r, c]))  # type: ignore[arg-type]
            for r, c in zip(rows, columns)
        )

    @property
    def l0(self) -> int:
        """Number of pixels changed (a pixel counts once whatever channels changed)."""
        return int(np.count_nonzero(self.changed_mask))

    @property
    def l2(self) -> float:
        """Euclidean norm of the perturbation in pixel units (0..255 scale)."""
        return float(np.sqrt(np.sum(self.perturbation.astype(np.float64) ** 2)))

    @property
    def linf(self) -> float:
        """Largest change of any channel of any pixel, in pixel units (0..255 scale)."""
        return float(np.abs(self.perturbation).max(initial=0))

    def summary(self) -> dict[str, Any]:
        """Plain-Python figures for JSON output and tables (no image arrays)."""
        return {
            "method": self.method,
            "success": self.success,
            "targeted": self.targeted,
            "true_class": self.true_class,
            "target": self.target,
            "original_class": self.original_class,
            "original_label": self.original_label,
            "original_probability": float(self.probabilities_before[self.original_class]),
            "adversarial_class": self.adversarial_class,
            "adversarial_label": self.adversarial_label,
            "adversarial_probability": self.confidence,
            "true_class_probability_after": float(self.probabilities_after[self.true_class]),
            "queries": self.queries,
            "seconds": round(self.seconds, 3),
            "l0_pixels": self.l0,
            "l2": round(self.l2, 3),
            "linf": self.linf,
            "changed_pixels": [
                {"row": p.row, "column": p.column, "old": list(p.old), "new": list(p.new)}
                for p in self.changed_pixels[:MAX_PIXELS_IN_SUMMARY]
            ],
            "params": dict(self.params),
        }


#: Summaries list at most this many changed pixels (a gradient attack changes thousands).
MAX_PIXELS_IN_SUMMARY = 50
