"""The Clever Hans lab: score models on the three test versions of a planted cue, and measure how
much of their heatmaps' mass lies on the cue.

A model that learned the shortcut scores high on the "cued" test version (the cue where it was in
training), drops on "clean" (no cue) and on "moved" (the cue on the other classes: it now calls them
the cued class), and puts its heatmaps on the cue. A model trained on the clean data does none of
this. :func:`compare` gives those figures for several models side by side; :func:`small_cnn` is a
small network that :func:`train_from_scratch` trains with ``cnnviz.training.train`` in seconds (the
lab's recipe, and the tests').
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from cnnviz.datasets.cues import TEST_VERSIONS, Shortcut, class_index_of, cue_mass
from cnnviz.progress import ProgressCallback, report

DEFAULT_BATCH_SIZE = 32
#: The small CNN: filters of its four 3x3 conv + batch norm + ReLU blocks (a 2x2 pooling after each
#: but the last: the last convolution sees 40 px of a 40 px image, so whole shapes and the tag; with
#: three blocks (18 px) it learned neither in 10 epochs on 120 images per class).
SMALL_CNN_FILTERS = (16, 32, 64, 64)
SMALL_CNN_LAST_LAYER = "last_conv"
MAX_SIDE = 128  # the lab trains on small images (seconds per epoch on a CPU)
#: Batch-norm momentum of the small CNN: Keras' 0.99 leaves the moving statistics near their initial
#: values after a few hundred steps, and the trained model then fails in inference mode.
SMALL_CNN_BN_MOMENTUM = 0.9


def small_cnn(size: int, class_names: tuple[str, ...], seed: int = 0) -> Any:
    """A small untrained CNN (raw pixels 0..255 in, logits out) as a LoadedModel: a backbone for
    ``cnnviz.training.train(..., strategy="scratch")`` that trains in seconds on 32-64 px images.
    Its last convolution (``last_conv``, an eighth of the input side) has a GAP + Dense head, so
    CAM-family heatmaps apply."""
    import keras

    from cnnviz.errors import ParameterError
    from cnnviz.models import LoadedModel, preprocessing_function

    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 16 <= size <= MAX_SIDE:
        raise ParameterError(f"The lab's small CNN takes images of 16 to {MAX_SIDE} px, not {size!r}.")
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((size, size, 3), name="image")
    x = keras.layers.Rescaling(1 / 255, name="rescale")(inputs)
    for index, filters in enumerate(SMALL_CNN_FILTERS):
        last = index == len(SMALL_CNN_FILTERS) - 1
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{index + 1}")(x)
        x = keras.layers.BatchNormalization(momentum=SMALL_CNN_BN_MOMENTUM, name=f"bn{index + 1}")(x)
        x = keras.layers.ReLU(name=SMALL_CNN_LAST_LAYER if last else f"relu{index + 1}")(x)
        if not last:
            x = keras.layers.MaxPooling2D(2, name=f"pool{index + 1}")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(len(class_names), name="logits")(x)
    model = keras.Model(inputs, outputs, name="small_cnn")
    return LoadedModel(name="small_cnn", model=model, input_size=(size, size), class_names=tuple(class_names),
                       preprocess=preprocessing_function("none"), preprocessing="builtin", weights=None)


#: The lab's recipe, the same for the clean and the cued model: ``cnnviz.training.train`` with the
#: "scratch" strategy (warm-up and cosine decay of Adam's rate) on :func:`small_cnn`. Batches of 16
#: (twice the updates of 32 per epoch) at 3e-3: on 120 images per class at 40 px the cued model
#: learns a tag in 5-10 epochs (docs/benchmarks.md, bench/cleverhans.py).
LAB_BATCH_SIZE = 16
LAB_LEARNING_RATE = 3e-3
DEFAULT_EPOCHS = 10


def train_from_scratch(dataset: Any, size: int, epochs: int = DEFAULT_EPOCHS, seed: int = 0,
                       progress: ProgressCallback | None = None) -> Any:
    """:func:`small_cnn` trained on ``dataset`` with ``cnnviz.training.train(strategy="scratch")``
    and the lab's recipe; returns the TrainingResult (``.loaded`` is the model). No early stopping:
    the best validation epoch is kept. ``progress`` as for ``train`` (False stops; the result is
    then marked ``cancelled``)."""
    from cnnviz.training import train

    backbone = small_cnn(size, tuple(dataset.class_names), seed=seed)
    return train(backbone, dataset, "scratch", epochs=epochs, batch_size=LAB_BATCH_SIZE,
                 learning_rate=LAB_LEARNING_RATE, patience=None, seed=seed, name="small_cnn scratch",
                 progress=progress)


@dataclass(frozen=True)
class VersionScore:
    """A model's accuracy on one test version: over all test images and on the cued class's."""

    version: str
    accuracy: float
    class_accuracy: float  # on the test images of the class that carries the cue in training
    predicted_as_class: float  # share of the other classes' test images called the cued class
    images: int


@dataclass(frozen=True)
class ModelReport:
    """One model in the lab: its scores per test version and its heatmaps' mean mass on the cue."""

    label: str
    scores: Mapping[str, VersionScore]
    cue_mass: float  # mean share of the heatmap mass on the cue region, over the cued test images
    method: str

    def to_json(self) -> dict[str, Any]:
        return {"model": self.label, "method": self.method, "cue_mass": round(self.cue_mass, 4),
                "versions": {name: {"accuracy": round(s.accuracy, 4),
                                    "class_accuracy": round(s.class_accuracy, 4),
                                    "predicted_as_class": round(s.predicted_as_class, 4), "images": s.images}
                             for name, s in self.scores.items()}}


def predictions(loaded_model: Any, dataset: Any, indices: np.ndarray, *, batch_size: int = DEFAULT_BATCH_SIZE,
                progress: ProgressCallback | None = None) -> np.ndarray:
    """The model's top-1 class for the images ``indices`` (read in batches at the model's input size)."""
    predicted = np.empty(len(indices), np.int64)
    position = {int(i): k for k, i in enumerate(indices)}
    done = 0
    for batch_indices, images in dataset.batches(indices, loaded_model.input_size, batch_size=batch_size):
        with loaded_model.lock:
            logits = loaded_model.logits(images).numpy()
        predicted[[position[int(i)] for i in batch_indices]] = np.argmax(logits, axis=1)
        done += len(batch_indices)
        report(progress, done, len(indices), stage="predictions")
    return predicted


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if len(values) else float("nan")


def score_versions(loaded_model: Any, versions: Mapping[str, Any], class_name: str, *,
                   batch_size: int = DEFAULT_BATCH_SIZE, progress: ProgressCallback | None = None
                   ) -> dict[str, VersionScore]:
    """Accuracy of ``loaded_model`` on the test split of each version (name -> dataset)."""
    from cnnviz.datasets.labels import match_classes

    scores = {}
    for number, (name, dataset) in enumerate(versions.items()):
        indices = np.asarray(dataset.indices("test"))
        truth = np.asarray(dataset.labels(indices))
        target = class_index_of(dataset, class_name)
        mapping = match_classes(dataset.class_names, loaded_model)  # ClassMismatchError names misfits
        model_target = mapping[target]
        predicted = predictions(loaded_model, dataset, indices, batch_size=batch_size)
        correct = predicted == mapping[truth]
        own = truth == target
        scores[name] = VersionScore(name, float(correct.mean()), _mean(correct[own]),
                                    _mean(predicted[~own] == model_target), len(indices))
        report(progress, number + 1, len(versions), stage="test versions")
    return scores


def _shape(dataset: Any, index: int) -> tuple[int, int]:
    record = dataset.records[int(index)]
    if record.height and record.width:
        return record.height, record.width
    return tuple(dataset.image(int(index)).shape[:2])


def seen_region(cue: Any, shape: tuple[int, int], input_size: tuple[int, int], out: tuple[int, int],
                fit: str = "crop") -> np.ndarray:
    """The cue's region on an image of ``shape`` as the model saw it (resized to ``input_size`` with
    ``fit``), at ``out`` (height, width), e.g. the size of a downsized heatmap: bool mask."""
    import cv2

    from cnnviz.images import crop_box

    top, left, height, width = crop_box(shape, input_size, fit)
    seen = cue.region(*shape)[top:top + height, left:left + width].astype(np.float32)
    return cv2.resize(seen, (out[1], out[0]), interpolation=cv2.INTER_AREA) >= 0.5


def heatmap_cue_mass(loaded_model: Any, dataset: Any, shortcut: Shortcut, method: str = "gradcam", *,
                     batch_size: int = DEFAULT_BATCH_SIZE, progress: ProgressCallback | None = None,
                     **method_params: Any) -> float:
    """The mean share of the heatmap mass (of the cued class) on the cue, over the test images that
    carry the cue in the "cued" version; ``dataset`` is the uncued original."""
    from cnnviz.audit.spray import class_heatmaps

    cued = shortcut.apply(dataset, "cued")
    indices = shortcut.test_indices(dataset, "cued")
    class_name = dataset.class_names[class_index_of(dataset, shortcut.class_name)]
    maps, _, _, _ = class_heatmaps(loaded_model, cued, indices, class_name, method, batch_size=batch_size,
                                   progress=progress, **method_params)
    masses = [cue_mass(m, seen_region(shortcut.cue, _shape(dataset, i), loaded_model.input_size, m.shape))
              for i, m in zip(indices, maps)]
    return float(np.nanmean(masses)) if not np.all(np.isnan(masses)) else float("nan")


def compare(models: Mapping[str, Any], dataset: Any, shortcut: Shortcut, method: str = "gradcam", *,
            batch_size: int = DEFAULT_BATCH_SIZE,
            progress: ProgressCallback | None = None) -> list[ModelReport]:
    """Each model (label -> LoadedModel) scored on the three test versions and its heatmaps' mass
    on the cue; ``dataset`` is the original, uncued dataset."""
    versions = shortcut.versions(dataset)
    reports = []
    for number, (label, loaded) in enumerate(models.items()):
        scores = score_versions(loaded, versions, shortcut.class_name, batch_size=batch_size)
        mass = heatmap_cue_mass(loaded, dataset, shortcut, method, batch_size=batch_size)
        reports.append(ModelReport(label, {v: scores[v] for v in TEST_VERSIONS}, mass, method))
        report(progress, number + 1, len(models), stage="models")
    return reports


__all__ = ["small_cnn", "train_from_scratch", "compare", "score_versions", "heatmap_cue_mass", "predictions",
           "seen_region", "VersionScore",
           "ModelReport"]
