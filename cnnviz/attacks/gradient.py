"""Gradient attacks: FGSM (Goodfellow, Shlens & Szegedy, ICLR 2015) and PGD (Madry et al., ICLR 2018).

Epsilon is in pixel units whatever the model's preprocessing: ``epsilon=8`` allows each channel of
each pixel to move by 8 on the 0..255 scale (8/255 in [0, 1] units). The preprocessing runs inside
the gradient tape, so the gradient is taken with respect to raw 0..255 pixels. Each step is clipped
to the epsilon ball and to 0..255; the result is rounded to uint8 (staying within epsilon) and its
prediction checked again, so what is reported is what a saved PNG gives.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from cnnviz.attacks.common import AttackSetup, check_int, finish, prepare
from cnnviz.attacks.result import AttackResult
from cnnviz.errors import ParameterError
from cnnviz.models import LoadedModel
from cnnviz.progress import ProgressCallback, report

#: A common L-infinity budget for 0..255 images (Madry et al., 2018, CIFAR-10: 8/255).
DEFAULT_EPSILON = 8.0
DEFAULT_PGD_STEPS = 10
#: PGD step size as a multiple of epsilon / steps: the 2.5 * epsilon / steps rule of thumb of the
#: MadryLab ``robustness`` library (Engstrom et al., 2019), which lets the steps cross the ball from
#: any start. Madry et al. (2018) fixed theirs per data set instead (CIFAR-10: 7 steps of 2/255).
STEP_SIZE_FACTOR = 2.5
MAX_EPSILON = 255.0

LossGradient = Callable[[tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]]


def loss_gradient_function(loaded_model: LoadedModel) -> LossGradient:
    """Compiled ``(pixels, classes) -> (d cross-entropy / d pixels, probabilities)``, built once."""

    def build() -> LossGradient:
        height, width = loaded_model.input_size
        signature = [tf.TensorSpec([None, height, width, 3], tf.float32),
                     tf.TensorSpec([None], tf.int32)]

        @tf.function(input_signature=signature)
        def loss_gradient(pixels: tf.Tensor, classes: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            with tf.GradientTape() as tape:
                tape.watch(pixels)
                logits = loaded_model.model(loaded_model.preprocess(pixels), training=False)
                if loaded_model.multilabel:  # independent classes: -log sigmoid(z) of the class
                    loss = tf.nn.softplus(-tf.gather(logits, classes, axis=1, batch_dims=1))
                else:
                    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(classes, logits)
            return tape.gradient(loss, pixels), loaded_model.probabilities_from_logits(logits)

        return loss_gradient

    return loaded_model.cached(("attack", "loss_gradient"), build)


def check_epsilon(epsilon: float) -> float:
    """Epsilon in pixel units: at least 1 (a uint8 pixel cannot move less) and at most 255."""
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float, np.number)) \
            or not math.isfinite(epsilon) or epsilon <= 0:
        raise ParameterError(f"epsilon must be a positive number of pixel levels (e.g. 8), not {epsilon!r}.")
    if epsilon < 1:
        raise ParameterError(
            f"epsilon={epsilon} is below one pixel level: epsilon is in pixel units on the 0..255 "
            "scale (8 means 8/255), and a uint8 image cannot change by less than 1."
        )
    if epsilon > MAX_EPSILON:
        raise ParameterError(f"epsilon must be at most {MAX_EPSILON:.0f} pixel levels, not {epsilon}.")
    return float(epsilon)


def _run(loaded_model: LoadedModel, setup: AttackSetup, method: str, epsilon: float, steps: int,
         step_size: float, random_start: bool, seed: int | None,
         progress: ProgressCallback | None) -> AttackResult:
    """Signed-gradient steps projected on the L-infinity ball; rounded to uint8 at the end."""
    loss_gradient = loss_gradient_function(loaded_model)
    original = setup.image.astype(np.float32)
    low, high = np.maximum(original - epsilon, 0), np.minimum(original + epsilon, 255)
    pixels = original.copy()
    if random_start:
        noise = np.random.default_rng(seed).uniform(-epsilon, epsilon, original.shape)
        pixels = np.clip(original + noise.astype(np.float32), low, high)
    # untargeted: climb the loss of the true class; targeted: descend the loss of the target
    klass, direction = (setup.true_class, 1.0) if setup.target is None else (setup.target, -1.0)
    classes = tf.constant([klass], tf.int32)
    history = []
    for step in range(1, steps + 1):
        with loaded_model.lock:
            gradient, probabilities = loss_gradient(tf.constant(pixels[None]), classes)
        history.append(float(setup.fitness(probabilities.numpy()[0])))
        pixels = np.clip(pixels + direction * step_size * np.sign(gradient.numpy()[0]), low, high)
        report(progress, step, steps, best_fitness=min(history), queries=step)
    whole = math.floor(epsilon)  # rounding must not leave the ball: |delta| <= floor(epsilon)
    delta = np.clip(np.rint(pixels) - original, -whole, whole)
    adversarial = np.clip(original + delta, 0, 255).astype(np.uint8)
    params: dict[str, Any] = {"epsilon": epsilon, "steps": steps, "step_size": step_size,
                              "random_start": random_start, "seed": seed}
    return finish(loaded_model, setup, method, adversarial, steps, np.array(history), params)


def fgsm(loaded_model: LoadedModel, image: np.ndarray, *, epsilon: float = DEFAULT_EPSILON,
         target: int | str | None = None, true_class: int | str | None = None, fit: str = "crop",
         progress: ProgressCallback | None = None) -> AttackResult:
    """Fast gradient sign method (Goodfellow et al., 2015): one step of size epsilon (pixel units)."""
    epsilon = check_epsilon(epsilon)
    setup = prepare(loaded_model, image, target, true_class, fit)
    return _run(loaded_model, setup, "fgsm", epsilon, 1, epsilon, False, None, progress)


def pgd(loaded_model: LoadedModel, image: np.ndarray, *, epsilon: float = DEFAULT_EPSILON,
        steps: int = DEFAULT_PGD_STEPS, step_size: float | None = None, random_start: bool = True,
        target: int | str | None = None, true_class: int | str | None = None,
        seed: int | None = None, fit: str = "crop",
        progress: ProgressCallback | None = None) -> AttackResult:
    """Projected gradient descent (Madry et al., 2018) in the L-infinity ball of radius epsilon.

    ``step_size`` defaults to 2.5 * epsilon / steps (the ``robustness`` library's rule of thumb);
    ``random_start`` begins at a uniform point of the ball (seeded by ``seed``).
    """
    epsilon = check_epsilon(epsilon)
    steps = check_int("steps", steps, 1)
    if step_size is None:
        step_size = STEP_SIZE_FACTOR * epsilon / steps
    if isinstance(step_size, bool) or not isinstance(step_size, (int, float, np.number)) \
            or not math.isfinite(step_size) or step_size <= 0:
        raise ParameterError(f"step_size must be a positive number of pixel levels, not {step_size!r}.")
    setup = prepare(loaded_model, image, target, true_class, fit)
    return _run(loaded_model, setup, "pgd", epsilon, steps, float(step_size), bool(random_start),
                seed, progress)
