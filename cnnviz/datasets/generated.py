"""Generated datasets: the demo shapes (cnnviz.demo.shapes), N images per class, with masks.

Each image is drawn from its own seed (set seed, class, index), so any image can be regenerated on
demand in any order: a generated dataset holds no pixels, whatever its size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnviz.demo.shapes import DEMO_IMAGE_SIZE, MIN_IMAGE_SIZE, SHAPE_CLASSES, ShapeSample, generate_sample
from cnnviz.errors import ParameterError

MAX_IMAGES_PER_CLASS = 100_000
MAX_SIZE = 1024


@dataclass(frozen=True)
class GeneratedSource:
    """A recipe for a generated shapes dataset (open it with ``open_dataset``)."""

    images_per_class: int
    seed: int = 0
    size: int = DEMO_IMAGE_SIZE

    @property
    def name(self) -> str:
        return f"generated ({self.images_per_class} per class, seed {self.seed})"

    @property
    def class_names(self) -> tuple[str, ...]:
        return SHAPE_CLASSES

    def file(self, class_index: int, number: int) -> str:
        return f"generated/{SHAPE_CLASSES[class_index]}/{number}.png"

    def sample(self, class_index: int, number: int) -> ShapeSample:
        """Image ``number`` of class ``class_index``, the same on every call."""
        rng = np.random.default_rng([self.seed, class_index, number])
        # the generator's plain look (filled shapes, textured backgrounds): a task the labs' small
        # models learn in seconds; the demo model itself trains on the varied styles
        return generate_sample(rng, self.size, class_index, varied=False)

    def identity(self) -> str:
        return f"generated:{self.images_per_class}:{self.seed}:{self.size}"


def generated(images_per_class: int, seed: int = 0, size: int = DEMO_IMAGE_SIZE) -> GeneratedSource:
    """The shapes generator as a dataset source: ``images_per_class`` images of each of its classes."""
    for name, value, low, high in (("images_per_class", images_per_class, 1, MAX_IMAGES_PER_CLASS),
                                   ("size", size, MIN_IMAGE_SIZE, MAX_SIZE)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
            raise ParameterError(f"{name} must be an integer from {low} to {high}, got {value!r}.")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError(f"seed must be a non-negative integer, got {seed!r}.")
    return GeneratedSource(int(images_per_class), int(seed), int(size))
