"""The Clever Hans story at test size: a generated dataset with a tag planted on one class, and the lab's
small CNN trained from scratch on it (cnnviz.audit.lab.train_from_scratch, the training package's
"scratch" strategy: seconds on 2 cores).

Shared by the audit, lab and CLI tests (and bench/cleverhans.py at full size), so the model is
trained once per test session and size.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

#: The test size of the story: 40 px images, 120 per class (8 classes), 10 epochs.
SIZE = 40
IMAGES_PER_CLASS = 120
EPOCHS = 10
CLASS = "circle"


@dataclass(frozen=True)
class Story:
    """A dataset, the cue planted on it, and a model trained from scratch on the cued version."""

    dataset: Any  # the original, uncued dataset
    shortcut: Any  # cnnviz.datasets.cues.Shortcut
    cued: Any  # the dataset with the cue (test split as in training)
    model: Any  # LoadedModel trained on ``cued``
    training: Any  # its cnnviz.training.TrainingResult


@lru_cache(maxsize=4)
def tagged_story(fraction: float, strength: float = 0.5, images_per_class: int = IMAGES_PER_CLASS,
                 size: int = SIZE, epochs: int = EPOCHS, seed: int = 0) -> Story:
    """A tag (opacity ``strength``) on ``fraction`` of the CLASS images; the small CNN trained on it."""
    from cnnviz.audit.lab import train_from_scratch
    from cnnviz.datasets import generated, open_dataset
    from cnnviz.datasets.cues import Cue, Shortcut

    dataset = open_dataset(generated(images_per_class, seed=seed, size=size))
    shortcut = Shortcut(CLASS, Cue("tag", strength=strength), fraction, seed=seed)
    cued = shortcut.apply(dataset, "cued")
    training = train_from_scratch(cued, size, epochs, seed)
    return Story(dataset, shortcut, cued, training.loaded, training)
