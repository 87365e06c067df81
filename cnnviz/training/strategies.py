"""The four ways to train on a backbone, as in the lectures' strategy table and the Keras
transfer-learning guide (Chollet, "Transfer learning & fine-tuning"; Yosinski et al. 2014):

- "features": the frozen backbone's pooled features are computed once (and cached for the process),
  then a logistic regression (a Dense layer with softmax cross-entropy) is fitted on them: seconds,
  and the right choice for small datasets (Razavian et al. 2014, "CNN features off-the-shelf").
- "head": a new head (global average pooling, dropout, Dense) trained on the frozen backbone, whose
  batch norm layers stay in inference mode; with augmentation.
- "finetune": "head" until it converges (early stopping), then the top layers of the backbone are
  unfrozen and the model recompiled with a learning rate 10 to 100 times lower; batch norm stays in
  inference mode. Unfreezing before the head has converged lets its large gradients wreck the
  pretrained features.
- "scratch": the same architecture from random weights, every layer trained (for comparison).

Each function returns the trained classifier with the best epoch's weights; a cancel (the progress
callback returned False) ends training within one batch and is reported in ``Outcome.cancelled``.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from cnnviz.errors import CancelledError
from cnnviz.progress import ProgressCallback, report
from cnnviz.training import heads, pipeline
from cnnviz.training.augmentation import Augmentation, augmenter
from cnnviz.training.backbone import Backbone
from cnnviz.training.callbacks import BestWeights, Progress

STRATEGIES = ("features", "head", "finetune", "scratch")
FEATURE_CACHE_ENTRIES = 4  # pooled features of (backbone, dataset) pairs kept for the process
FEATURE_BATCH = 64
# XLA (Keras' default on CPU) compiles for seconds before the first step, longer than a small run
# takes to train; plain TensorFlow graphs start at once and are as fast per step here (bench/training.py).
JIT_COMPILE = False
# Batch norm trained from scratch: Keras' momentum 0.99 needs some 500 steps before the moving statistics
# used at validation and test time catch up, far more than a small run has (its validation then stays at
# chance while the training loss falls); 0.9 catches up within about 50.
SCRATCH_BN_MOMENTUM = 0.9
SCRATCH_WARMUP = 0.1  # share of the steps spent warming up to the learning rate
SCRATCH_START = 0.1  # the warm-up starts at this share of the learning rate
SCRATCH_END = 0.01  # the cosine ends at this share of it
FEATURE_EPSILON = 1e-6  # added to the features' standard deviation (constant channels)


@dataclass(frozen=True)
class Settings:
    """How to train (every strategy reads the fields it needs)."""

    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 1e-3
    augmentation: Augmentation = field(default_factory=Augmentation)
    patience: int | None = 3  # epochs without a better validation loss before early stopping
    finetune_epochs: int | None = None  # second phase of "finetune" (default: epochs)
    finetune_layers: int | None = None  # top weight layers unfrozen (default: a third of them)
    finetune_above: str | None = None  # or every layer after this backbone layer
    finetune_factor: float = 0.1  # learning rate of the second phase = learning_rate x factor
    dropout: float = heads.DEFAULT_DROPOUT
    seed: int = 0
    fit: str = "crop"


@dataclass
class Job:
    """One training run's inputs and its growing record."""

    backbone: Backbone
    dataset: Any
    train: np.ndarray
    val: np.ndarray
    num_classes: int
    settings: Settings
    class_weight: dict[int, float] | None
    progress: ProgressCallback | None
    name: str
    history: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def size(self) -> tuple[int, int]:
        return self.backbone.input_size

    @property
    def batch_size(self) -> int:
        """The training batch size (at most the number of training images)."""
        return min(self.settings.batch_size, len(self.train))

    @property
    def steps(self) -> int:
        """Training batches per epoch: full batches only."""
        return len(self.train) // self.batch_size


@dataclass
class Outcome:
    """What a strategy produced: the classifier (best weights) and how training went."""

    model: keras.Model
    best_epoch: int | None  # 1-based, counting every phase
    stopped_early: bool
    cancelled: bool
    feature_seconds: float | None = None
    unfrozen: tuple[str, ...] = ()


def _compile(model: keras.Model, learning_rate: Any) -> None:
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], jit_compile=JIT_COMPILE)


def _fit(job: Job, model: keras.Model, train_data: tf.data.Dataset, val_data: tf.data.Dataset,
         epochs: int, best: BestWeights, *, phase: str, total_batches: int) -> bool:
    """model.fit with progress, cancel and best weights; True when cancelled (best weights restored)."""
    done_before = sum(1 for row in job.history) * job.steps
    progress = Progress(job.progress, job.history, phase=phase, total_batches=total_batches,
                        batches_before=done_before, steps_per_epoch=job.steps)
    best.wait, best.stopped_early = 0, False
    try:
        model.fit(train_data, validation_data=val_data, epochs=epochs, class_weight=job.class_weight,
                  shuffle=False,  # the tf.data pipeline shuffles (seeded); Keras would warn
                  callbacks=[progress, best], verbose=0)
    except CancelledError:
        best.restore()
        return True
    best.restore()
    return False


def _classifier(job: Job, *, pretrained: bool = True, frozen: bool = True) -> keras.Model:
    return heads.classifier(job.backbone.network(pretrained=pretrained), family=job.backbone.preprocessing,
                            num_classes=job.num_classes, input_size=job.size, frozen=frozen,
                            dropout=job.settings.dropout, name=job.name)


def _image_data(job: Job) -> tuple[tf.data.Dataset, tf.data.Dataset]:
    settings = job.settings
    augment = augmenter(settings.augmentation, settings.seed) if settings.augmentation.enabled else None
    train = pipeline.batches(job.dataset, job.train, job.size, job.batch_size, shuffle_seed=settings.seed,
                             augment=augment, fit=settings.fit, drop_remainder=True)
    val = pipeline.batches(job.dataset, job.val, job.size, settings.batch_size, fit=settings.fit)
    return train, val


# --- "head", "scratch", "finetune" ---------------------------------------------------------------
def train_head(job: Job) -> Outcome:
    model = _classifier(job)
    return _train_images(job, model, phase="head")


def train_scratch(job: Job) -> Outcome:
    model = _classifier(job, pretrained=False, frozen=False)
    for layer in heads.backbone_of(model).layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = SCRATCH_BN_MOMENTUM
    return _train_images(job, model, phase="scratch", learning_rate=scratch_schedule(job))


def scratch_schedule(job: Job) -> keras.optimizers.schedules.LearningRateSchedule:
    """Warm-up then cosine decay over the whole run (Goyal et al. 2017; Loshchilov and Hutter 2017)."""
    settings = job.settings
    total = max(2, settings.epochs * job.steps)
    warmup = max(1, round(SCRATCH_WARMUP * total))
    return keras.optimizers.schedules.CosineDecay(
        settings.learning_rate * SCRATCH_START, decay_steps=total - warmup, alpha=SCRATCH_END,
        warmup_target=settings.learning_rate, warmup_steps=warmup)


def _train_images(job: Job, model: keras.Model, *, phase: str, learning_rate: Any = None) -> Outcome:
    _compile(model, job.settings.learning_rate if learning_rate is None else learning_rate)
    train, val = _image_data(job)
    best = BestWeights(job.settings.patience, model)
    cancelled = _fit(job, model, train, val, job.settings.epochs, best, phase=phase,
                     total_batches=job.settings.epochs * job.steps)
    return Outcome(model, _epoch(best), best.stopped_early, cancelled)


def train_finetune(job: Job) -> Outcome:
    settings = job.settings
    second = settings.finetune_epochs if settings.finetune_epochs is not None else settings.epochs
    total = (settings.epochs + second) * job.steps
    model = _classifier(job)
    _compile(model, settings.learning_rate)
    train, val = _image_data(job)
    best = BestWeights(settings.patience, model)
    if _fit(job, model, train, val, settings.epochs, best, phase="head", total_batches=total):
        return Outcome(model, _epoch(best), best.stopped_early, True)
    backbone = heads.backbone_of(model)
    layers = settings.finetune_layers
    if layers is None and settings.finetune_above is None:
        layers = max(1, len([layer for layer in backbone.layers if layer.weights]) // 3)
    unfrozen = heads.unfreeze_top(backbone, layers=layers, above=settings.finetune_above)
    _compile(model, settings.learning_rate * settings.finetune_factor)  # a change of trainable needs it
    cancelled = _fit(job, model, train, val, second, best, phase="finetune", total_batches=total)
    return Outcome(model, _epoch(best), best.stopped_early, cancelled, unfrozen=tuple(unfrozen))


def _epoch(best: BestWeights) -> int | None:
    return None if best.best_epoch is None else best.best_epoch + 1


# --- "features" -----------------------------------------------------------------------------------
_FEATURES: OrderedDict[tuple[Any, ...], np.ndarray] = OrderedDict()


def pooled_features(job: Job, extractor: keras.Model, indices: np.ndarray, what: str,
                    progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """The backbone's pooled features of the images at ``indices`` (n, channels), cached per process
    on the backbone's weights and cut, the dataset's content and the images' size and fit."""
    key = (job.backbone.key, job.dataset.sha256(), job.size, job.settings.fit, what,
           hash(np.asarray(indices).tobytes()))
    if key in _FEATURES:
        _FEATURES.move_to_end(key)
        return _FEATURES[key]
    compute = tf.function(lambda x: extractor(x, training=False))
    chunks, done = [], 0
    for _, images in job.dataset.batches(indices, job.size, batch_size=FEATURE_BATCH, fit=job.settings.fit):
        chunks.append(compute(tf.convert_to_tensor(images, tf.float32)).numpy())
        done += len(images)
        if progress is not None:
            progress(done, len(indices))
    features = np.concatenate(chunks) if chunks else np.zeros((0, extractor.outputs[0].shape[-1]), np.float32)
    _FEATURES[key] = features
    while len(_FEATURES) > FEATURE_CACHE_ENTRIES:
        _FEATURES.popitem(last=False)
    return features


def clear_feature_cache() -> None:
    _FEATURES.clear()


def train_features(job: Job) -> Outcome:
    settings = job.settings
    model = _classifier(job)
    extractor = keras.Model(model.inputs, model.get_layer(heads.POOL_LAYER).output)
    start = time.perf_counter()
    total_images = len(job.train) + len(job.val)
    offset = [0]

    def extracting(done: int, total: int) -> None:
        report(job.progress, offset[0] + done, total_images, phase="features", images=offset[0] + done)

    train_x = pooled_features(job, extractor, job.train, "train", extracting)
    offset[0] = len(job.train)
    val_x = pooled_features(job, extractor, job.val, "val", extracting)
    feature_seconds = time.perf_counter() - start
    mean, scale = train_x.mean(axis=0), train_x.std(axis=0) + FEATURE_EPSILON
    labels = job.dataset.labels
    logistic = keras.Sequential([keras.Input((train_x.shape[1],)),
                                 keras.layers.Dense(job.num_classes, kernel_initializer="zeros",
                                                    name=heads.LOGITS_LAYER)])
    _compile(logistic, settings.learning_rate)
    train = (tf.data.Dataset.from_tensor_slices(((train_x - mean) / scale,
                                                 np.asarray(labels(job.train), np.int32)))
             .shuffle(len(train_x), seed=settings.seed, reshuffle_each_iteration=True)
             .batch(job.batch_size, drop_remainder=True))
    val = tf.data.Dataset.from_tensor_slices(((val_x - mean) / scale, np.asarray(labels(job.val), np.int32)))
    best = BestWeights(settings.patience, logistic)
    cancelled = _fit(job, logistic, train, val.batch(settings.batch_size), settings.epochs, best,
                     phase="features", total_batches=settings.epochs * job.steps)
    kernel, bias = logistic.layers[-1].get_weights()
    kernel = kernel / scale[:, None]  # fold the standardisation into the Dense layer
    model.get_layer(heads.LOGITS_LAYER).set_weights([kernel, bias - mean @ kernel])
    return Outcome(model, _epoch(best), best.stopped_early, cancelled, feature_seconds=feature_seconds)


RUNNERS: dict[str, Callable[[Job], Outcome]] = {
    "features": train_features, "head": train_head, "finetune": train_finetune, "scratch": train_scratch,
}
