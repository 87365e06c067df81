"""The model catalog: published figures of the Keras applications beside latency measured here.

Published figures (accuracy, parameters, depth, CPU/GPU time per inference step) come from
:mod:`cnnviz.zoo`; each entry names its source (:func:`figure_source`): the Keras applications table
as lecture 1 quotes it, the same table on keras.io for ConvNeXt (which the lecture predates), and the
table in Keras' MobileNetV3 documentation (not in the applications table). ``tests/data/
catalog_sources.tsv`` holds those rows and a test keeps the catalog equal to them. Keras measured the
times as the average of one step of a batch of 32 on a 92-core AMD EPYC CPU or an A100 GPU: divided
by 32 that is the time per image at batch 32 (the inverse of the throughput), not the latency of one
image. cnnviz measures the median time of a compiled forward pass on this machine for the batch size
asked for, with random weights (the time of a forward pass does not depend on the weight values,
and nothing has to be downloaded). Depth, as Keras counts it, is the number of layers with weights
(ResNet50: 53 convolutions, 53 batch normalisations and the Dense layer make 107).

ConvNeXt Base, Large and XLarge were pretrained on ImageNet-21k (about 14 million images, 21,841
classes) and then fine-tuned on ImageNet-1k (Keras' ConvNeXt documentation): their top-1 is not
comparable with that of models trained on ImageNet-1k alone.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass, replace

import numpy as np
import tensorflow as tf

from cnnviz.errors import ParameterError
from cnnviz.models import LoadedModel
from cnnviz.progress import ProgressCallback, report
from cnnviz.zoo import ModelSpec, get_spec, imagenet_models

DEFAULT_REPEATS = 10
WARMUP_CALLS = 2  # the first call traces and compiles; the second warms caches
PUBLISHED_BATCH_SIZE = 32
MAX_REPEATS = 1000
MAX_BATCH_SIZE = 256

LECTURE_TABLE = "Keras applications table, as quoted in lecture 1"
KERAS_IO_TABLE = "keras.io applications table (ConvNeXt rows; not in the lecture)"
MOBILENET_V3_DOCS = "Keras MobileNetV3 documentation (table of its docstring; not in the lecture)"
IMAGENET_1K = "ImageNet-1k"
IMAGENET_21K = "ImageNet-21k, then fine-tuned on ImageNet-1k"
#: Pretrained on ImageNet-21k before ImageNet-1k (Keras' ConvNeXt documentation).
PRETRAINED_ON_21K = frozenset({"ConvNeXtBase", "ConvNeXtLarge", "ConvNeXtXLarge"})


def figure_source(name: str) -> str:
    """Where the published figures of a catalog model come from."""
    if name.startswith("ConvNeXt"):
        return KERAS_IO_TABLE
    if name.startswith("MobileNetV3"):
        return MOBILENET_V3_DOCS
    return LECTURE_TABLE


def pretraining(name: str) -> str:
    """The data the published weights were trained on."""
    return IMAGENET_21K if name in PRETRAINED_ON_21K else IMAGENET_1K


@dataclass(frozen=True)
class Latency:
    """Forward-pass time measured here: median and fastest of ``repeats`` compiled calls."""

    batch_size: int
    repeats: int
    median_ms: float  # per batch
    min_ms: float

    @property
    def per_image_ms(self) -> float:
        return self.median_ms / self.batch_size


@dataclass(frozen=True)
class CatalogEntry:
    """One model of the catalog: its published figures, and latency measured here if asked for."""

    name: str
    family: str
    input_size: tuple[int, int]
    size_mb: float | None
    top1: float | None
    top5: float | None
    params_m: float | None
    depth: int | None
    published_cpu_ms: float | None  # per step of a batch of 32 (Keras table)
    published_gpu_ms: float | None
    source: str = LECTURE_TABLE  # where the published figures come from
    pretraining: str = IMAGENET_1K  # what the published weights were trained on
    measured: Latency | None = None

    @property
    def pretrained_on_21k(self) -> bool:
        return self.pretraining == IMAGENET_21K


def _entry(spec: ModelSpec) -> CatalogEntry:
    return CatalogEntry(
        name=spec.name,
        family=spec.family,
        input_size=spec.input_size,
        size_mb=spec.size_mb,
        top1=spec.top1,
        top5=spec.top5,
        params_m=spec.params_m,
        depth=spec.depth,
        published_cpu_ms=spec.cpu_ms,
        published_gpu_ms=spec.gpu_ms,
        source=figure_source(spec.name),
        pretraining=pretraining(spec.name),
    )


def catalog() -> tuple[CatalogEntry, ...]:
    """Published figures of every ImageNet model of the zoo (nothing is built or measured)."""
    return tuple(_entry(spec) for spec in imagenet_models())


def _check(batch_size: int, repeats: int) -> None:
    if not 1 <= int(batch_size) <= MAX_BATCH_SIZE:
        raise ParameterError(f"batch_size must be between 1 and {MAX_BATCH_SIZE}, not {batch_size}.")
    if not 1 <= int(repeats) <= MAX_REPEATS:
        raise ParameterError(f"repeats must be between 1 and {MAX_REPEATS}, not {repeats}.")


def time_forward(
    model: object, input_size: tuple[int, int], batch_size: int = 1, repeats: int = DEFAULT_REPEATS
) -> Latency:
    """Median time of a compiled forward pass of a Keras model on random input of that batch size."""
    _check(batch_size, repeats)
    inputs = tf.constant(np.random.default_rng(0).uniform(-1, 1, (batch_size, *input_size, 3)), tf.float32)
    forward = tf.function(lambda x: model(x, training=False))  # type: ignore[operator]
    for _ in range(WARMUP_CALLS):
        forward(inputs).numpy()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        forward(inputs).numpy()
        times.append(1000 * (time.perf_counter() - started))
    return Latency(int(batch_size), int(repeats), float(np.median(times)), float(np.min(times)))


def measure_latency(
    loaded_model: LoadedModel, batch_size: int = 1, repeats: int = DEFAULT_REPEATS
) -> Latency:
    """Forward-pass latency of a loaded model on this machine (holding its lock)."""
    with loaded_model.lock:
        return time_forward(loaded_model.model, loaded_model.input_size, batch_size, repeats)


def measured_catalog(
    names: list[str] | tuple[str, ...],
    batch_size: int = 1,
    repeats: int = DEFAULT_REPEATS,
    progress: ProgressCallback | None = None,
) -> tuple[CatalogEntry, ...]:
    """Catalog entries of ``names`` with latency measured here (each architecture built with random
    weights, timed, then released, so measuring many models does not keep them all in memory)."""
    _check(batch_size, repeats)
    specs = [get_spec(name) for name in names]
    entries = []
    for done, spec in enumerate(specs):
        if spec.is_demo:
            raise ParameterError(f"{spec.name} is not in the published catalog; choose ImageNet models.")
        model = spec.constructor(weights=None, input_shape=(*spec.input_size, 3), classifier_activation=None)
        entries.append(
            replace(_entry(spec), measured=time_forward(model, spec.input_size, batch_size, repeats))
        )
        del model
        gc.collect()
        report(progress, done + 1, len(specs), model=spec.name)
    return tuple(entries)
