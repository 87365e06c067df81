"""The small frozen records a dataset is made of: a usable image, a skipped file, a split."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ImageRecord:
    """One usable image: its file as the user knows it and its label (None when unlabelled)."""

    file: str  # relative path inside the folder or zip ("circle/img3.png"); "generated/<class>/<i>.png"
    label: int | None  # index into Dataset.class_names
    sha256: str = ""  # of the decoded pixels (cnnviz.images.image_sha256); an id for generated sets
    height: int = 0  # full resolution, pixels
    width: int = 0


@dataclass(frozen=True)
class SkippedFile:
    """A file that is not in the dataset, and why ("truncated", "not an image", "duplicate of X")."""

    file: str
    reason: str  # a few words, stable enough to group by
    detail: str = ""  # the full message, for a tooltip or a log

    def to_json(self) -> dict[str, str]:
        return {"file": self.file, "reason": self.reason, "detail": self.detail}


@dataclass(frozen=True, eq=False)
class Split:
    """A seeded, stratified train / validation / test split: int indices into Dataset.records."""

    seed: int
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Split):
            return NotImplemented
        return (self.seed, self.fractions) == (other.seed, other.fractions) and all(
            np.array_equal(a, b) for a, b in zip(self.parts(), other.parts())
        )

    def parts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.train, self.val, self.test
