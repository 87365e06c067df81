"""The Clever Hans lab: score models on the three test versions of a planted cue, and measure how
much of their heatmaps' mass lies on the cue.

A model that learned the shortcut scores high on the "cued" test version (the cue where it was in
training), drops on "clean" (no cue) and on "moved" (the cue on the other classes: it now calls them
the cued class), and puts its heatmaps on the cue. A model trained on the clean data does none of
this. :func:`compare` gives those figures for several models side by side; :func:`small_cnn` is a
small network to train from scratch in seconds (the lab's default, and the tests').
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from cnnviz.datasets.cues import TEST_VERSIONS, Shortcut, class_index_of, cue_mass
from cnnviz.progress import ProgressCallback, report

DEFAULT_BATCH_SIZE = 32
#: The small CNN: filters of its three 3x3 conv + batch norm + ReLU blocks (two 2x2 poolings between).
SMALL_CNN_FILTERS = (16, 32, 48)
SMALL_CNN_LAST_LAYER = "last_conv"
#: Batch-norm momentum of the small CNN: Keras' 0.99 leaves the moving statistics near their initial
#: values after a few hundred steps, and the trained model then fails in inference mode.
SMALL_CNN_BN_MOMENTUM = 0.9


def small_cnn(size: int, class_names: tuple[str, ...], seed: int = 0) -> Any:
    """A small untrained CNN (raw pixels 0..255 in, logits out) as a LoadedModel: a backbone for
    ``cnnviz.training.train(..., strategy="scratch")`` that trains in seconds on 32-64 px images.
    Its last convolution (``last_conv``, a quarter of the input side) has a GAP + Dense head, so
    CAM-family heatmaps apply."""
    import keras

    from cnnviz.models import LoadedModel, preprocessing_function

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


#: Training of the small CNN (plain Keras fit, Adam, cross-entropy on the logits).
FIT_LEARNING_RATE = 3e-3
FIT_BATCH_SIZE = 32
MAX_FIT_SIDE = 128  # the training images are held in memory at this side at most


def fit_small_cnn(dataset: Any, size: int, epochs: int, seed: int = 0,
                  progress: ProgressCallback | None = None) -> Any:
    """:func:`small_cnn` trained from scratch on ``dataset``'s train split (``size`` px images held in
    memory: at most MAX_FIT_SIDE). ``progress`` is called after every batch (returning False stops).

    The lab's own short recipe, used until ``cnnviz.training.train(strategy="scratch")`` learns this
    small network as fast (see DATASET_API.md).
    """
    import keras

    from cnnviz.errors import ParameterError

    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 16 <= size <= MAX_FIT_SIDE:
        raise ParameterError(f"The lab trains on images of 16 to {MAX_FIT_SIDE} px, not {size!r}.")
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ParameterError(f"epochs must be a whole number of at least 1, not {epochs!r}.")
    loaded = small_cnn(size, tuple(dataset.class_names), seed=seed)
    indices = np.asarray(dataset.indices("train"))
    images = np.concatenate([batch for _, batch in dataset.batches(indices, (size, size), batch_size=256)])
    labels = np.asarray(dataset.labels(indices))
    steps = -(-len(indices) // FIT_BATCH_SIZE) * epochs

    class Progress(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.done = 0

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            self.done += 1
            report(progress, self.done, steps, loss=float((logs or {}).get("loss", float("nan"))))

    loaded.model.compile(keras.optimizers.Adam(FIT_LEARNING_RATE),
                         keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    with loaded.lock:
        loaded.model.fit(images.astype(np.float32), labels, epochs=int(epochs), batch_size=FIT_BATCH_SIZE,
                         verbose=0, shuffle=True, callbacks=[Progress()] if progress else [])
    return loaded


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


__all__ = ["small_cnn", "fit_small_cnn", "compare", "score_versions", "heatmap_cue_mass", "predictions",
           "seen_region", "VersionScore",
           "ModelReport"]
