"""``train(backbone, dataset, strategy, ...)``: transfer learning on a cnnviz Dataset.

The result's ``loaded`` is a :class:`cnnviz.models.LoadedModel` like any other (raw 0..255 RGB in,
logits out, the dataset's class names), so every engine function takes it: explain, feature_maps,
maximize, attack, evaluate, embed. Training is seeded: the same seed and settings give the same
figures on a CPU.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import keras
import numpy as np

from cnnviz.errors import DatasetLayoutError, ParameterError, TooFewImagesError
from cnnviz.models import LoadedModel, preprocessing_function
from cnnviz.progress import ProgressCallback
from cnnviz.training import class_weights, export, heads, strategies
from cnnviz.training.augmentation import Augmentation
from cnnviz.training.backbone import Backbone, BackboneSource, resolve_backbone
from cnnviz.training.strategies import STRATEGIES, Settings

MIN_TRAIN_PER_CLASS = 2
MAX_EPOCHS = 1000
MAX_BATCH_SIZE = 1024


@dataclass(eq=False)
class TrainingResult:
    """A trained model and how it got there."""

    loaded: LoadedModel  # the trained classifier, usable by every engine function
    strategy: str
    backbone: str
    cut: str
    backbone_weights: str | None  # "imagenet", "bundled", "file", or None (random)
    class_names: tuple[str, ...]
    settings: Settings
    history: list[dict[str, Any]]  # one row per epoch: epoch, phase, loss, accuracy, val_loss, ...
    test_accuracy: float | None  # on the dataset's test split (None when cancelled or no test images)
    evaluation: Any | None  # cnnviz.datasets.Evaluation of the test split
    best_epoch: int | None
    stopped_early: bool
    cancelled: bool
    seconds: float
    feature_seconds: float | None  # "features": the one pass of the backbone over the images
    images: dict[str, int] = field(default_factory=dict)  # train / val / test counts
    unfrozen: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def seconds_per_epoch(self) -> float | None:
        """Median time of one epoch (the last phase)."""
        if not self.history:
            return None
        phase = self.history[-1]["phase"]
        return float(np.median([row["seconds"] for row in self.history if row["phase"] == phase]))

    def save(self, path: str | Path) -> tuple[Path, Path]:
        """Write the .keras file and the labels file beside it (model.keras, model.labels.txt)."""
        return export.save(self.loaded, path)

    def to_json(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy, "backbone": self.backbone, "cut": self.cut,
            "backbone_weights": self.backbone_weights, "classes": list(self.class_names),
            "history": [{k: row[k] for k in ("epoch", "phase", "loss", "accuracy", "val_loss",
                                             "val_accuracy", "seconds")} for row in self.history],
            "test_accuracy": self.test_accuracy, "best_epoch": self.best_epoch,
            "stopped_early": self.stopped_early, "cancelled": self.cancelled,
            "seconds": round(self.seconds, 3), "seconds_per_epoch": self.seconds_per_epoch,
            "feature_seconds": self.feature_seconds, "images": self.images,
            "settings": {"epochs": self.settings.epochs, "batch_size": self.settings.batch_size,
                         "learning_rate": self.settings.learning_rate,
                         "augmentation": self.settings.augmentation.to_json(),
                         "seed": self.settings.seed, "patience": self.settings.patience},
            "unfrozen": list(self.unfrozen), "warnings": list(self.warnings),
        }


def _check_settings(strategy: str, settings: Settings) -> None:
    if strategy not in STRATEGIES:
        raise ParameterError(f"Unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}.")
    if not 1 <= settings.epochs <= MAX_EPOCHS:
        raise ParameterError(f"epochs must be 1 to {MAX_EPOCHS}, not {settings.epochs}.")
    if settings.finetune_epochs is not None and not 1 <= settings.finetune_epochs <= MAX_EPOCHS:
        raise ParameterError(f"fine-tuning epochs must be 1 to {MAX_EPOCHS}, not {settings.finetune_epochs}.")
    if not 1 <= settings.batch_size <= MAX_BATCH_SIZE:
        raise ParameterError(f"batch size must be 1 to {MAX_BATCH_SIZE}, not {settings.batch_size}.")
    if not 0 < settings.learning_rate <= 1:
        raise ParameterError(f"learning rate must be in (0, 1], not {settings.learning_rate}.")
    if not 0 < settings.finetune_factor <= 1:
        raise ParameterError(f"the fine-tuning factor must be in (0, 1], not {settings.finetune_factor}.")
    if settings.patience is not None and settings.patience < 1:
        raise ParameterError(f"patience must be at least 1 epoch (or None), not {settings.patience}.")


def check_dataset(dataset: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The train, val and test indices, or a typed error when the dataset cannot train a classifier."""
    classes = tuple(dataset.class_names)
    if not dataset.labelled or not classes:
        raise DatasetLayoutError(
            f"{dataset.name} is not labelled: training needs one subfolder per class "
            "(class_a/img1.png, class_b/img2.png, ...).")
    if len(classes) < 2:
        raise DatasetLayoutError(
            f"{dataset.name} has one class ({classes[0]}): a classifier needs at least two. Add a "
            "subfolder of images for each other class (class_a/..., class_b/...).")
    train, val, test = (np.asarray(dataset.indices(split)) for split in ("train", "val", "test"))
    counts = np.bincount(np.asarray(dataset.labels(train), np.int64), minlength=len(classes))
    few = [f"{name} ({count})" for name, count in zip(classes, counts) if count < MIN_TRAIN_PER_CLASS]
    if few:
        raise TooFewImagesError(
            f"Too few training images in {', '.join(few)}: each class needs at least "
            f"{MIN_TRAIN_PER_CLASS} in the training split (about {MIN_TRAIN_PER_CLASS + 2} images in "
            "all, as 15 % go to validation and 15 % to test). Add images to these classes.")
    if len(val) == 0:
        raise TooFewImagesError(
            f"{dataset.name} has no validation images, which early stopping needs; add images "
            "(a split of 70/15/15 % needs at least 7 images).")
    return train, val, test


def _inference_copy(model: keras.Model) -> keras.Model:
    """The trained network without optimizer state or compiled training functions (memory)."""
    copy = keras.Model.from_config(model.get_config())
    copy.set_weights(model.get_weights())
    return copy


def _test_report(loaded: LoadedModel, dataset: Any, test: np.ndarray, settings: Settings) -> Any:
    """cnnviz.datasets.evaluate on the test split (accuracy, per class, confusion matrix...), or None."""
    if len(test) == 0:
        return None
    from cnnviz.datasets import evaluate

    return evaluate(loaded, dataset, split="test", batch_size=settings.batch_size, fit=settings.fit)


def train(backbone: BackboneSource | Backbone, dataset: Any, strategy: str = "head", *,
          weights: str | None = "imagenet", cut: str | None = None, epochs: int = 10,
          batch_size: int = 32, learning_rate: float = 1e-3,
          augmentation: Augmentation | None = None, class_weights_setting: bool | str = "auto",
          patience: int | None = 3, finetune_epochs: int | None = None,
          finetune_layers: int | None = None, finetune_above: str | None = None,
          finetune_factor: float = 0.1, seed: int = 0, fit: str = "crop", name: str | None = None,
          progress: ProgressCallback | None = None) -> TrainingResult:
    """Train a classifier for ``dataset``'s classes on ``backbone`` with one of STRATEGIES.

    ``backbone``: a zoo name ("MobileNetV2"), "shapes" (the bundled demo model, pretrained offline),
    a .keras/.h5 path, a LoadedModel, or a resolved :class:`Backbone`; ``weights`` and ``cut`` as in
    :func:`resolve_backbone`. ``class_weights_setting``: True, False or "auto" (on when the classes
    are imbalanced). ``progress(done, total, info)`` is called after every batch and epoch;
    returning False stops within one batch: the result then holds the best epoch's weights so far
    (``cancelled`` True, no test report). Typed errors for bad input, before any training.
    """
    settings = Settings(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                        augmentation=augmentation or Augmentation(), patience=patience,
                        finetune_epochs=finetune_epochs, finetune_layers=finetune_layers,
                        finetune_above=finetune_above, finetune_factor=finetune_factor, seed=seed, fit=fit)
    _check_settings(strategy, settings)
    train_idx, val_idx, test_idx = check_dataset(dataset)
    chosen = backbone if isinstance(backbone, Backbone) else resolve_backbone(backbone, weights=weights, cut=cut)
    if finetune_above is not None and strategy == "finetune":
        heads.check_layer_name(chosen.source.model, finetune_above)  # now, not after the head phase
    # "scratch" starts from random weights whatever the backbone's: its random-weights warnings say nothing
    notes = [] if strategy == "scratch" else list(chosen.warnings)
    if strategy == "features" and settings.augmentation.enabled:
        notes.append("Augmentation is ignored by the 'features' strategy: its features are computed "
                     "once per image; choose 'head' to train with augmentation.")
        settings = replace(settings, augmentation=Augmentation())
    num_classes = len(dataset.class_names)
    train_labels = np.asarray(dataset.labels(train_idx))
    weights_by_class = class_weights.choose(class_weights_setting, train_labels, num_classes)
    if weights_by_class is not None and class_weights_setting == "auto":
        notes.append("The classes are imbalanced: class weights are on (rare classes count more in the loss).")

    keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    label = name or f"{chosen.name} {strategy}"
    job = strategies.Job(backbone=chosen, dataset=dataset, train=train_idx, val=val_idx,
                         num_classes=num_classes, settings=settings, class_weight=weights_by_class,
                         progress=progress, name=_model_name(label))
    outcome = strategies.RUNNERS[strategy](job)
    history, notes = job.history, notes + job.notes
    model = _inference_copy(outcome.model)
    del outcome.model, job
    gc.collect()  # the training copy, its optimizer state and its pipelines (memory across runs)
    loaded = LoadedModel(name=label, model=model, input_size=chosen.input_size,
                         class_names=tuple(dataset.class_names), preprocess=preprocessing_function("none"),
                         preprocessing="builtin", weights="trained", labels_known=True)
    if outcome.cancelled:
        kept = (f"the weights of epoch {outcome.best_epoch}, the best so far" if outcome.best_epoch
                else "the weights of the last batch (no epoch had finished)")
        notes.append(f"Stopped by the user after {len(history)} epoch(s); the model keeps {kept}. "
                     "It was not evaluated on the test split.")
        evaluation = None
    else:
        evaluation = _test_report(loaded, dataset, test_idx, settings)
    test_accuracy = None if evaluation is None else float(evaluation.accuracy)
    return TrainingResult(
        loaded=loaded, strategy=strategy, backbone=chosen.name, cut=chosen.cut,
        backbone_weights=chosen.weights, class_names=tuple(dataset.class_names), settings=settings,
        history=history, test_accuracy=test_accuracy, evaluation=evaluation,
        best_epoch=outcome.best_epoch, stopped_early=outcome.stopped_early, cancelled=outcome.cancelled,
        seconds=time.perf_counter() - start, feature_seconds=outcome.feature_seconds,
        images={"train": len(train_idx), "val": len(val_idx), "test": len(test_idx)},
        unfrozen=outcome.unfrozen, warnings=tuple(notes))


def _model_name(label: str) -> str:
    """A Keras model name from a run's label ("shapes head" -> "shapes_head")."""
    return "".join(c if c.isalnum() or c in "_-" else "_" for c in label)[:60] or "trained"
