"""Predictions: the top classes of a model for one image or a batch of images."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cnnviz.errors import ParameterError
from cnnviz.images import prepare_image
from cnnviz.models import LoadedModel
from cnnviz.progress import ProgressCallback, report

DEFAULT_TOP = 5
DEFAULT_BATCH_SIZE = 32


@dataclass(frozen=True)
class Prediction:
    """One ranked answer of the model: class index, its label and its probability."""

    class_index: int
    label: str
    probability: float


def model_input(loaded_model: LoadedModel, image: np.ndarray, fit: str = "crop") -> np.ndarray:
    """The image resized to the model's input size (unchanged if it already has that size)."""
    if image.shape[:2] == loaded_model.input_size:
        return image
    return prepare_image(image, loaded_model.input_size, fit=fit)


def top_predictions(loaded_model: LoadedModel, probabilities: np.ndarray,
                    top: int = DEFAULT_TOP) -> list[Prediction]:
    """The ``top`` most probable classes of one probability vector, best first."""
    order = np.argsort(probabilities)[::-1][:top]
    return [Prediction(int(i), loaded_model.class_names[i], float(probabilities[i])) for i in order]


def _check_top(loaded_model: LoadedModel, top: int) -> int:
    if not isinstance(top, (int, np.integer)) or top < 1:
        raise ParameterError(f"top must be a positive whole number, not {top!r}.")
    return min(int(top), loaded_model.num_classes)


def class_probabilities(loaded_model: LoadedModel, images: Sequence[np.ndarray] | np.ndarray,
                        fit: str = "crop", batch_size: int = DEFAULT_BATCH_SIZE,
                        progress: ProgressCallback | None = None) -> np.ndarray:
    """Softmax probabilities (N, classes) for RGB uint8 images of any size, in batches.

    The model's lock is held per batch (other sessions sharing the model run in between), and
    ``progress`` hears after each batch.
    """
    if batch_size < 1:
        raise ParameterError(f"batch_size must be at least 1, not {batch_size}.")
    batch = np.stack([model_input(loaded_model, image, fit) for image in images])
    parts = []
    for start in range(0, len(batch), batch_size):
        with loaded_model.lock:
            parts.append(loaded_model.probabilities(batch[start:start + batch_size]))
        report(progress, min(start + batch_size, len(batch)), len(batch))
    return np.concatenate(parts) if parts else np.zeros((0, loaded_model.num_classes), np.float32)


def predict(loaded_model: LoadedModel, image: np.ndarray, top: int = DEFAULT_TOP,
            fit: str = "crop") -> list[Prediction]:
    """The ``top`` classes for one RGB uint8 image, resized to the model's input with ``fit``."""
    return predict_batch(loaded_model, [image], top=top, fit=fit)[0]


def predict_batch(loaded_model: LoadedModel, images: Sequence[np.ndarray], top: int = DEFAULT_TOP,
                  fit: str = "crop", batch_size: int = DEFAULT_BATCH_SIZE) -> list[list[Prediction]]:
    """The ``top`` classes for each of several images, computed in batches."""
    top = _check_top(loaded_model, top)
    if len(images) == 0:
        return []
    probabilities = class_probabilities(loaded_model, images, fit=fit, batch_size=batch_size)
    return [top_predictions(loaded_model, row, top) for row in probabilities]
