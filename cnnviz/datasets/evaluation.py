"""evaluate: a model on a dataset's split, image by image, summed up as a data scientist would.

Images go through the model's compiled forward pass (LoadedModel.probabilities) in batches decoded
one batch ahead (Dataset.batches), holding the model's lock per batch so app sessions can share
it. Results: accuracy, top-5 accuracy (models with more than 5 classes), per-class precision /
recall / F1 / support (scikit-learn's definitions, zero when a class is never predicted), the
confusion matrix, the most confident mistakes, the least confident correct answers and the
calibration (cnnviz.datasets.calibration).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cnnviz.datasets.calibration import Calibration, calibration
from cnnviz.datasets.dataset import DEFAULT_BATCH_SIZE, Dataset
from cnnviz.datasets.labels import ClassMappingSource, match_classes
from cnnviz.datasets.records import SkippedFile
from cnnviz.errors import DatasetLayoutError, EmptyDatasetError
from cnnviz.precision import batched_model, check_precision
from cnnviz.progress import ProgressCallback, report

TOP_K = 5
#: How many correct answers with the lowest confidence are kept (every mistake is kept).
LEAST_CONFIDENT_KEPT = 20


@dataclass(frozen=True)
class ScoredImage:
    """One evaluated image: its true class, the model's answer and that answer's probability."""

    index: int  # into Dataset.records
    file: str
    true: str  # dataset class name
    predicted: str  # a name from Evaluation.predicted_classes
    probability: float  # of the predicted class
    true_probability: float  # of the true class

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "true": self.true, "predicted": self.predicted,
                "probability": self.probability, "true_probability": self.true_probability,
                "index": self.index}


@dataclass(frozen=True)
class Evaluation:
    """How a model does on a dataset split; ``to_json`` gives the CLI's keys."""

    model: str
    dataset: str
    split: str
    images: int
    classes: tuple[str, ...]  # dataset classes: the confusion matrix's rows
    predicted_classes: tuple[str, ...]  # its columns: the dataset classes, then other model classes
    accuracy: float
    top5_accuracy: float | None  # None when the model has 5 classes or fewer
    per_class: dict[str, dict[str, float | int]]  # name -> precision, recall, f1, support
    confusion_matrix: np.ndarray  # (classes, predicted_classes) int, sums to images
    skipped: tuple[SkippedFile, ...]
    warnings: tuple[str, ...]
    mistakes: tuple[ScoredImage, ...]  # every mistake, most confident first
    least_confident_correct: tuple[ScoredImage, ...]
    calibration: Calibration
    indices: np.ndarray  # (n,) record indices, in evaluation order
    true: np.ndarray  # (n,) dataset class index
    true_model: np.ndarray  # (n,) model class index of the true class
    probabilities: np.ndarray  # (n, model classes) float32
    predicted: np.ndarray  # (n,) model class index
    class_mapping: np.ndarray  # dataset class index -> model class index
    predicted_column: np.ndarray  # (n,) column of each image's answer in the confusion matrix
    seconds: float = 0.0
    timing: dict[str, float] = field(default_factory=dict)  # model, waiting for images, total
    precision: dict[str, Any] | None = None  # how the batches ran (cnnviz.precision.PrecisionChoice)

    @property
    def correct(self) -> np.ndarray:
        return self.predicted == self.true_model

    def cell(self, row: str | int, column: str | int) -> np.ndarray:
        """Record indices of the images in a confusion-matrix cell (true row, predicted column)."""
        r = self.classes.index(row) if isinstance(row, str) else int(row)
        c = self.predicted_classes.index(column) if isinstance(column, str) else int(column)
        return self.indices[(self.true == r) & (self.predicted_column == c)]

    def to_json(self) -> dict[str, Any]:
        macro = {key: float(np.mean([v[key] for v in self.per_class.values()]))
                 for key in ("precision", "recall", "f1")}
        return {
            "model": self.model, "dataset": self.dataset, "split": self.split,
            "images": self.images, "classes": list(self.classes),
            "predicted_classes": list(self.predicted_classes),
            "accuracy": self.accuracy, "top5_accuracy": self.top5_accuracy,
            "per_class": self.per_class, "macro_average": macro,
            "confusion_matrix": self.confusion_matrix.tolist(),
            "skipped": [s.to_json() for s in self.skipped], "warnings": list(self.warnings),
            "mistakes": [m.to_json() for m in self.mistakes],
            "least_confident_correct": [m.to_json() for m in self.least_confident_correct],
            "calibration": self.calibration.to_json(), "seconds": self.seconds,
            "precision": self.precision,
        }


def _columns(mapping: np.ndarray, predicted: np.ndarray, num_model_classes: int) -> tuple[np.ndarray, list[int]]:
    """Each model class's confusion-matrix column (-1: none) and the model classes the dataset lacks
    that were predicted (they get the columns after the dataset's classes, in model order)."""
    columns = np.full(num_model_classes, -1, np.int64)
    columns[mapping] = np.arange(len(mapping))
    extra = [int(m) for m in np.unique(predicted) if columns[m] < 0]
    columns[np.array(extra, np.int64)] = len(mapping) + np.arange(len(extra))
    return columns, extra


def _scored(indices: np.ndarray, order: np.ndarray, files: list[str], true_names: list[str],
            predicted_names: list[str], probability: np.ndarray, true_probability: np.ndarray
            ) -> tuple[ScoredImage, ...]:
    return tuple(ScoredImage(int(indices[i]), files[i], true_names[i], predicted_names[i],
                             float(probability[i]), float(true_probability[i])) for i in order)


def _probabilities(loaded_model: Any, dataset: Dataset, indices: np.ndarray, batch_size: int, fit: str,
                   progress: ProgressCallback | None) -> tuple[np.ndarray, dict[str, float]]:
    """Softmax outputs (n, model classes) of the images at ``indices``, batch by batch."""
    result = np.empty((len(indices), loaded_model.num_classes), np.float32)
    done, model_seconds, waiting = 0, 0.0, 0.0
    started = time.perf_counter()
    batches = dataset.batches(indices, loaded_model.input_size, batch_size=batch_size, fit=fit)
    with contextlib.closing(batches):
        while True:
            before = time.perf_counter()
            try:
                _, pixels = next(batches)
            except StopIteration:
                break
            ready = time.perf_counter()
            with loaded_model.lock:
                result[done : done + len(pixels)] = loaded_model.probabilities(pixels)
            waiting += ready - before
            model_seconds += time.perf_counter() - ready
            done += len(pixels)
            report(progress, done, len(indices), stage="evaluating")
    total = time.perf_counter() - started
    return result, {"total": total, "model": model_seconds, "waiting_for_images": waiting}


def evaluate(loaded_model: Any, dataset: Dataset, *, split: str = "test", batch_size: int = DEFAULT_BATCH_SIZE,
             class_mapping: ClassMappingSource = None, fit: str = "crop",
             progress: ProgressCallback | None = None, precision: str | None = None) -> Evaluation:
    """Evaluate ``loaded_model`` on the images of ``split`` ("test", "val", "train" or "all").

    The dataset's classes are matched to the model's by name (or through ``class_mapping``: a
    dict, or a JSON / CSV file, dataset class -> model class); ClassMismatchError otherwise.
    ``progress(done, total, info)`` follows the batches and may cancel (CancelledError).
    ``precision`` ("auto", "float32", "bfloat16"; cnnviz.precision): the batches run in 16 bits
    where that measured faster (logits agree with float32 to r > 0.9999, but a near tie between two
    classes may fall the other way: pass "float32" for figures to the last image).
    """
    from sklearn.metrics import precision_recall_fscore_support

    if not dataset.labelled:
        raise DatasetLayoutError(
            f"{dataset.name} is unlabelled (a flat folder), so there is nothing to score predictions "
            "against; put the images in one subfolder per class, or use predict / embed."
        )
    mapping = match_classes(dataset.class_names, loaded_model, class_mapping)  # before any decoding
    indices = dataset.indices(split)
    if len(indices) == 0:
        raise EmptyDatasetError(
            f"The {split} split of {dataset.name} holds no image ({len(dataset)} images in all); "
            "evaluate on split 'all', or add images."
        )
    scorer, choice = batched_model(loaded_model, check_precision(precision), "forward")
    probabilities, timing = _probabilities(scorer, dataset, indices, batch_size, fit, progress)
    true = dataset.labels(indices)
    true_model = mapping[true]
    predicted = np.argmax(probabilities, axis=1)
    rows = np.arange(len(indices))
    confidence = probabilities[rows, predicted]
    true_probability = probabilities[rows, true_model]
    correct = predicted == true_model

    model_to_column, extra = _columns(mapping, predicted, probabilities.shape[1])
    predicted_column = model_to_column[predicted]
    predicted_classes = tuple(dataset.class_names) + tuple(loaded_model.class_names[m] for m in extra)
    matrix = np.zeros((len(dataset.class_names), len(predicted_classes)), np.int64)
    np.add.at(matrix, (true, predicted_column), 1)

    precision, recall, f1, support = precision_recall_fscore_support(
        true_model, predicted, labels=mapping, zero_division=0
    )
    per_class = {name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
                 for name, p, r, f, s in zip(dataset.class_names, precision, recall, f1, support)}
    top5 = None
    if loaded_model.num_classes > TOP_K:
        top = np.argpartition(-probabilities, TOP_K - 1, axis=1)[:, :TOP_K]
        top5 = float(np.mean((top == true_model[:, None]).any(axis=1)))

    files = dataset.files(indices)
    true_names = [dataset.class_names[t] for t in true]
    predicted_names = [predicted_classes[c] for c in predicted_column]
    wrong = np.flatnonzero(~correct)
    right = np.flatnonzero(correct)
    scored = (indices, files, true_names, predicted_names, confidence, true_probability)
    mistakes = _scored(scored[0], wrong[np.argsort(-confidence[wrong], kind="stable")], *scored[1:])
    least = _scored(scored[0], right[np.argsort(confidence[right], kind="stable")][:LEAST_CONFIDENT_KEPT],
                    *scored[1:])
    return Evaluation(
        model=loaded_model.name, dataset=dataset.name, split=split, images=int(len(indices)),
        classes=tuple(dataset.class_names), predicted_classes=predicted_classes,
        accuracy=float(correct.mean()), top5_accuracy=top5, per_class=per_class,
        confusion_matrix=matrix, skipped=tuple(dataset.skipped), warnings=tuple(dataset.warnings),
        mistakes=mistakes, least_confident_correct=least,
        calibration=calibration(confidence, correct), indices=indices, true=true, true_model=true_model,
        probabilities=probabilities, predicted=predicted, class_mapping=mapping, predicted_column=predicted_column,
        seconds=timing["total"], timing=timing, precision=choice.to_json(),
    )
