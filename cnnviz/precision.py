"""Reduced precision for batched work: a model's mixed bfloat16 (CPU) or float16 (GPU) twin, used
where a short measurement says it is faster.

Mixed precision (Micikevicius et al., Mixed Precision Training, ICLR 2018; Keras' ``mixed_bfloat16``
and ``mixed_float16`` policies) keeps the weights in float32 and computes in 16 bits. On CPUs with
AVX-512 BF16 or AMX, VGG16 runs about 6x faster that way; on others, or for depthwise convolutions
(MobileNetV2), it is slower. So ``precision="auto"`` never assumes: the first time a model's batched
work needs it, :func:`choose` checks that the CPU has bfloat16 instructions, then times a batch
both ways after a warm-up (:func:`calibrate`) and keeps the twin only if it was clearly faster.
The decision is cached per model, input size and kind of work ("forward" or "gradient") for the
process, and reported with the measured speed-up (:class:`PrecisionChoice`).

Only the batched, perturbed calls use the twin (occluded, masked, noisy or path images, attack
candidates, maximisation steps); the clean image's class scores and activations stay float32, and
attacks re-check a success in float32 before reporting it. The twin's last layer computes in
float32, so its logits keep float32's resolution. Incremental inference (cnnviz.incremental) runs
on the twin too; where several ways of the same work apply, :func:`fastest` times them.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from cnnviz.errors import ParameterError
from cnnviz.models import LoadedModel

PRECISIONS = ("auto", "float32", "bfloat16")
DEFAULT_PRECISION = "auto"
ENVIRONMENT = "CNNVIZ_PRECISION"
KINDS = ("forward", "gradient")
#: The reduced policy is kept only when it ran at least this much faster: below it, timing noise
#: on a shared machine could pick a precision that gains nothing.
MIN_SPEEDUP = 1.25
#: Images per timed call, and timed calls per precision (after one warm-up call each).
CALIBRATION_BATCH = 8
CALIBRATION_REPEATS = 3
#: Noise of the calibration copies of an image, as a fraction of the pixel range (SmoothGrad's).
CALIBRATION_NOISE = 0.15
#: Forward work is calibrated on the image and this many copies with one patch covered (occlusion's
#: default patch, a side/8 square of the image's mean colour, at seeded places): occlusion and
#: Score-CAM maps are made of how much such changes move the class score, so that is what must agree.
CALIBRATION_PATCHES = 15
CALIBRATION_PATCH_FRACTION = 1 / 8
#: The reduced policy's answers must agree with float32's at least this much (Pearson r, see
#: :func:`agreement`): 16 bits hurt gradients (a ReLU that flips sign reroutes them) and the small
#: differences between similar images (random-weight ResNet50: occlusion maps r = 0.95).
MIN_AGREEMENT = 0.99
#: Gradient work needs more on the 8-copy calibration batch: random-weight ResNet50 passed 0.99 there
#: and its 16-sample SmoothGrad map then agreed to r = 0.987 only (docs/benchmarks.md).
MIN_GRADIENT_AGREEMENT = 0.995
_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
#: Heatmap methods whose batched model calls may run in reduced precision, and the kind of work.
METHOD_KINDS = {"occlusion": "forward", "scorecam": "forward", "smoothgrad": "gradient",
                "integrated_gradients": "gradient", "vargrad": "gradient", "squaregrad": "gradient"}


@dataclass(frozen=True)
class PrecisionChoice:
    """Which precision batched work ran in, and why: what was asked, the policy used and the
    measured speed-up of the reduced twin over float32 (None when nothing was measured)."""

    asked: str  # one of PRECISIONS
    policy: str  # "float32", "mixed_bfloat16" or "mixed_float16"
    speedup: float | None = None
    reason: str = ""

    @property
    def reduced(self) -> bool:
        return self.policy != "float32"

    def to_json(self) -> dict[str, Any]:
        return {"asked": self.asked, "policy": self.policy,
                "speedup": None if self.speedup is None else round(self.speedup, 2), "reason": self.reason}

    def describe(self) -> str:
        """One line for people: "mixed_bfloat16 (measured 5.9x faster than float32)"."""
        return f"{self.policy} ({self.reason})" if self.reason else self.policy


FLOAT32 = PrecisionChoice("float32", "float32", None, "asked")


def check_precision(precision: Any) -> str:
    """The precision (None: the process default, "auto" unless the CNNVIZ_PRECISION environment
    variable names another), or a ParameterError saying which values exist."""
    if precision is None:
        precision = os.environ.get(ENVIRONMENT, DEFAULT_PRECISION)
    if precision not in PRECISIONS:
        raise ParameterError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}.")
    return str(precision)


# --- hardware -------------------------------------------------------------------------------------
def on_gpu() -> bool:
    return bool(tf.config.list_logical_devices("GPU"))


@functools.lru_cache(maxsize=1)
def cpu_has_bfloat16() -> bool:
    """Whether this CPU computes bfloat16 natively: the avx512_bf16 / amx_bf16 flags on Linux,
    elsewhere a tiny measured matmul (bfloat16 at least as fast as float32)."""
    cpuinfo = Path("/proc/cpuinfo")
    if platform.system() == "Linux" and cpuinfo.is_file():
        flags = cpuinfo.read_text(errors="replace").split()
        return any(flag in flags for flag in _CPU_FLAGS)
    return _matmul_seconds(tf.bfloat16) <= _matmul_seconds(tf.float32)


def _matmul_seconds(dtype: tf.DType, side: int = 512, repeats: int = 5) -> float:
    a = tf.cast(tf.random.stateless_normal((side, side), seed=(1, 2)), dtype)
    tf.linalg.matmul(a, a).numpy()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        tf.linalg.matmul(a, a).numpy()
        times.append(time.perf_counter() - started)
    return min(times)


def reduced_policy() -> str:
    """The 16-bit policy worth trying here: float16 on a GPU, bfloat16 on a CPU."""
    return "mixed_float16" if on_gpu() else "mixed_bfloat16"


# --- the twin -----------------------------------------------------------------------------------
def _clone_layer(policy: str, last: str) -> Callable[[keras.layers.Layer], keras.layers.Layer]:
    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        config = layer.get_config()
        if "dtype" in config and not isinstance(layer, keras.layers.InputLayer):
            config["dtype"] = "float32" if layer.name == last else policy
        for key in config:  # the weights are copied next: skip drawing random ones (seconds on VGG16)
            if key.endswith("_initializer"):
                config[key] = "zeros"
        return layer.__class__.from_config(config)

    return clone


def build_twin_model(model: keras.Model, policy: str) -> keras.Model:
    """A copy of ``model`` computing in ``policy`` (same weights, same layer names), whose last
    layer computes in float32."""
    last = model.layers[-1].name
    twin = keras.models.clone_model(model, clone_function=_clone_layer(policy, last), recursive=True)
    if [w.shape for w in twin.weights] != [w.shape for w in model.weights]:
        raise ParameterError(f"Could not build a {policy} copy of this model (its weights differ); "
                             "use precision='float32'.")
    for copy, weight in zip(twin.weights, model.weights):  # variable to variable: no NumPy round trip
        copy.assign(weight)
    return twin


def twin(loaded_model: LoadedModel, policy: str) -> LoadedModel:
    """The LoadedModel computing in ``policy``: same classes, preprocessing and lock; its own cache
    of compiled functions. Built once per model and policy."""
    if policy == "float32":
        return loaded_model
    return loaded_model.cached(("precision.twin", policy), lambda: dataclasses.replace(
        loaded_model, name=loaded_model.name, model=build_twin_model(loaded_model.model, policy),
        _functions={}, lock=loaded_model.lock))


# --- measuring ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Calibration:
    """Median seconds per timed call in float32 and in the reduced policy."""

    float32_seconds: float
    reduced_seconds: float

    @property
    def speedup(self) -> float:
        return self.float32_seconds / max(self.reduced_seconds, 1e-12)


def calibrate(run_float32: Callable[[], Any], run_reduced: Callable[[], Any],
              repeats: int = CALIBRATION_REPEATS, clock: Callable[[], float] = time.perf_counter) -> Calibration:
    """Time ``run_float32`` and ``run_reduced`` after one warm-up call each (compiling), alternating
    so that a burst of load on a shared machine hits both; medians of ``repeats`` calls."""
    return Calibration(*_median_seconds([run_float32, run_reduced], repeats, clock))


def _median_seconds(runs: Sequence[Callable[[], Any]], repeats: int,
                    clock: Callable[[], float] = time.perf_counter) -> list[float]:
    """Median seconds of each of ``runs``: one warm-up call each, then ``repeats`` rounds calling
    them in turn (a burst of load on a shared machine hits them all)."""
    for run in runs:
        run()
    times: list[list[float]] = [[] for _ in runs]
    for _ in range(repeats):
        for kept, run in zip(times, runs):
            started = clock()
            run()
            kept.append(clock() - started)
    return [statistics.median(kept) for kept in times]


def decide(calibration: Calibration, policy: str, agreement: float = 1.0,
           min_speedup: float = MIN_SPEEDUP, min_agreement: float = MIN_AGREEMENT) -> PrecisionChoice:
    """Keep ``policy`` if it measured at least ``min_speedup`` times faster and its answers agreed
    with float32's (Pearson r of :func:`agreement`) at least ``min_agreement``; else float32."""
    speedup = calibration.speedup
    if speedup < min_speedup:
        return PrecisionChoice("auto", "float32", speedup,
                               f"{policy} measured {speedup:.2f}x the speed of float32: not worth it")
    if agreement < min_agreement:
        return PrecisionChoice("auto", "float32", speedup,
                               f"{policy} measured {speedup:.1f}x faster, but its answers agreed with "
                               f"float32's only to r = {agreement:.3f}")
    return PrecisionChoice("auto", policy, speedup, f"measured {speedup:.1f}x faster than float32")


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    if a.std() == 0 or b.std() == 0:
        return 1.0 if np.allclose(a, b) else 0.0
    return float(np.corrcoef(a, b)[0, 1])


def _score_drops(loaded_model: LoadedModel, logits: np.ndarray) -> np.ndarray:
    """How much each later row lowers the first row's top class: its logit and its probability (the
    model's own: a softmax, or sigmoids for a multi-label head)."""
    logits = np.asarray(logits, np.float64)
    top = int(np.argmax(logits[0]))
    probabilities = np.asarray(loaded_model.probabilities_from_logits(logits), np.float64)
    return np.stack([logits[0, top] - logits[1:, top], probabilities[0, top] - probabilities[1:, top]])


def agreement(loaded_model: LoadedModel, kind: str, float32_output: np.ndarray,
              reduced_output: np.ndarray) -> float:
    """Pearson r between the two precisions' answers on the calibration batch (see
    :func:`calibration_pixels`): "forward", the lower of two: the logits minus their mean over the
    batch, and the drops of the first image's top class (logit and probability) under each covered
    patch, which is what occlusion and Score-CAM maps are made of; "gradient", the SmoothGrad-like
    map of the batch (mean absolute gradient over the noisy copies, summed over colours)."""
    if kind == "gradient":
        return _pearson(*(np.abs(g).mean(axis=0).sum(axis=-1) for g in (float32_output, reduced_output)))
    centred = _pearson(*(g - g.mean(axis=0) for g in (float32_output, reduced_output)))
    drops = [_pearson(a, b) for a, b in zip(_score_drops(loaded_model, float32_output),
                                            _score_drops(loaded_model, reduced_output))]
    return min(centred, *drops)


def calibration_pixels(loaded_model: LoadedModel, image: np.ndarray | None = None,
                       kind: str = "gradient") -> np.ndarray:
    """The batch timed and compared. With ``image`` (at the model's input size): for "gradient"
    work, CALIBRATION_BATCH noisy copies (as SmoothGrad makes them); for "forward" work, the image
    and CALIBRATION_PATCHES copies with one patch covered. Without one, random pixels. Seeded: the
    same image gives the same batch."""
    height, width = loaded_model.input_size
    rng = np.random.default_rng(0)
    if image is None or tuple(np.shape(image)[:2]) != (height, width):
        return rng.integers(0, 256, (CALIBRATION_BATCH, height, width, 3)).astype(np.float32)
    image = np.asarray(image, np.float32)
    if kind == "forward":
        patch = max(1, round(min(height, width) * CALIBRATION_PATCH_FRACTION))
        batch = np.repeat(image[None], CALIBRATION_PATCHES + 1, axis=0)
        tops = rng.integers(0, height - patch + 1, CALIBRATION_PATCHES)
        lefts = rng.integers(0, width - patch + 1, CALIBRATION_PATCHES)
        for copy, top, left in zip(batch[1:], tops, lefts):
            copy[top:top + patch, left:left + patch] = image.mean(axis=(0, 1))
        return batch
    noise = rng.normal(0.0, CALIBRATION_NOISE * 255.0, (CALIBRATION_BATCH, height, width, 3))
    return np.clip(image[None] + noise, 0, 255).astype(np.float32)


def _runner(loaded_model: LoadedModel, kind: str, pixels: np.ndarray, outputs: list[Any]) -> Callable[[], Any]:
    """A call of the batched work of ``kind``, keeping its last answer in ``outputs``."""
    if kind == "forward":
        return lambda: outputs.append(loaded_model.logits(pixels).numpy())
    from cnnviz.methods.core import TOP_CLASS, input_gradients

    classes = np.full(len(pixels), TOP_CLASS, np.int32)
    return lambda: outputs.append(input_gradients(loaded_model, pixels, classes)[0])


_DECISIONS: dict[tuple[int, tuple[int, int], str, str], PrecisionChoice] = {}


def choose(loaded_model: LoadedModel, precision: str | None = None, kind: str = "forward",
           image: np.ndarray | None = None) -> PrecisionChoice:
    """The precision batched ``kind`` work ("forward" or "gradient") runs in on ``loaded_model``.

    "float32" and "bfloat16" are taken as asked ("bfloat16" means mixed bfloat16, also on a GPU);
    "auto" measures once per model, input size and kind (a few batches, seconds on VGG16; on noisy
    copies of ``image`` if given, the first image explained), then answers from the process-wide cache.
    """
    precision = check_precision(precision)
    if kind not in KINDS:
        raise ParameterError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}.")
    if precision == "float32":
        return FLOAT32
    if precision == "bfloat16":
        return PrecisionChoice("bfloat16", "mixed_bfloat16", None, "asked")
    policy = reduced_policy()
    if policy == "mixed_bfloat16" and not cpu_has_bfloat16():
        return PrecisionChoice("auto", "float32", None, "this CPU has no bfloat16 instructions")
    key = (id(loaded_model), tuple(loaded_model.input_size), kind, policy)
    with loaded_model.lock:
        if key not in _DECISIONS:
            pixels = calibration_pixels(loaded_model, image, kind)
            float32_outputs: list[Any] = []
            reduced_outputs: list[Any] = []
            calibration = calibrate(_runner(loaded_model, kind, pixels, float32_outputs),
                                    _runner(twin(loaded_model, policy), kind, pixels, reduced_outputs))
            _DECISIONS[key] = decide(calibration, policy,
                                     agreement(loaded_model, kind, float32_outputs[-1], reduced_outputs[-1]),
                                     min_agreement=MIN_GRADIENT_AGREEMENT if kind == "gradient"
                                     else MIN_AGREEMENT)
            loaded_model.cached(("precision.decided", kind, policy), lambda: _Forget(key))
        return _DECISIONS[key]


class _Forget:
    """Drops a model's cached decision when the model is freed (ids are reused after that)."""

    def __init__(self, key: tuple[int, tuple[int, int], str, str]) -> None:
        self.key = key

    def __del__(self) -> None:
        _DECISIONS.pop(self.key, None)


@dataclass(frozen=True)
class Way:
    """One way of doing the same batched work (see :func:`fastest`): in words, the policy it
    computes in, and one call of it on a sample."""

    label: str  # "incremental inference in float32"
    policy: str
    run: Callable[[], Any]


#: Timed rounds of :func:`fastest` (after one warm-up call of each way).
FASTEST_REPEATS = 2


def fastest(loaded_model: LoadedModel, key: Any, ways: Sequence[Way],
            agreement_of: Callable[[Any, Any], float] | None = None) -> tuple[int, PrecisionChoice]:
    """The fastest of ``ways`` (the same work done otherwise: incremental inference or the full
    pass, in float32 or in 16 bits), timed alternately after warm-up; cached per model and ``key``:
    (its index, the choice: its policy, its speed-up over the runner-up, every figure in the reason).
    With ``agreement_of(first way's answer, a way's answer)`` (Pearson r), a way in another policy
    than the first one's must agree with it at least MIN_AGREEMENT to be chosen: a 16-bit way that
    passed :func:`choose` on its calibration batch may still blur finer work (smaller patches)."""

    def measure() -> tuple[int, PrecisionChoice]:
        answers: list[list[Any]] = [[] for _ in ways]
        runs = [functools.partial(lambda way, kept: kept.append(way.run()), way, kept)
                for way, kept in zip(ways, answers)]
        seconds = _median_seconds(runs, FASTEST_REPEATS)
        agreed = [1.0 if agreement_of is None or way.policy == ways[0].policy
                  else agreement_of(answers[0][-1], kept[-1]) for way, kept in zip(ways, answers)]
        allowed = [i for i, r in enumerate(agreed) if r >= MIN_AGREEMENT]
        best = min(allowed, key=lambda i: seconds[i])
        others = [i for i in allowed if i != best]
        ratios = [seconds[i] / max(seconds[best], 1e-12) for i in others]
        faster = [f"{ratio:.1f}x faster than {ways[i].label}" for i, ratio in zip(others, ratios)]
        refused = [f"{ways[i].label} ({seconds[0] / max(seconds[i], 1e-12):.1f}x the speed of "
                   f"{ways[0].label}) agreed with it only to r = {agreed[i]:.3f}"
                   for i in range(len(ways)) if i not in allowed]
        reason = "; ".join([f"{ways[best].label} measured {', '.join(faster)}" if faster
                            else ways[best].label, *refused])
        return best, PrecisionChoice("auto", ways[best].policy, min(ratios, default=1.0), reason)

    return loaded_model.cached(("precision.fastest", key), measure)


def incremental_or_reduced(loaded_model: LoadedModel, key: Any, run_incremental: Callable[[], Any],
                           run_reduced: Callable[[], Any]) -> PrecisionChoice:
    """The faster of incremental inference in float32 and the reduced twin's full pass
    (:func:`fastest`): float32 or the twin's policy, with the speed-up of the winner over the other."""
    return fastest(loaded_model, key, [
        Way("incremental inference in float32", "float32", run_incremental),
        Way("the full pass in 16 bits", reduced_policy(), run_reduced)])[1]


def batched_model(loaded_model: LoadedModel, precision: str | None = None, kind: str = "forward",
                  image: np.ndarray | None = None) -> tuple[LoadedModel, PrecisionChoice]:
    """(the model batched ``kind`` work should call, the choice behind it); see :func:`choose`."""
    choice = choose(loaded_model, precision, kind, image)
    return twin(loaded_model, choice.policy), choice


__all__ = ["PRECISIONS", "DEFAULT_PRECISION", "PrecisionChoice", "check_precision", "choose",
           "batched_model", "twin", "calibrate", "decide", "Calibration", "cpu_has_bfloat16",
           "incremental_or_reduced", "fastest", "Way", "METHOD_KINDS"]
