"""What every attack does before and after its search: resize, check the classes, re-check the answer."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from cnnviz.attacks.result import AttackResult
from cnnviz.errors import ParameterError
from cnnviz.models import LoadedModel
from cnnviz.prediction import model_input


@dataclass(frozen=True)
class AttackSetup:
    """The image at the model's input size, the model's answer for it, and the classes at stake."""

    image: np.ndarray  # (h, w, 3) uint8
    probabilities: np.ndarray  # (classes,)
    original_class: int
    true_class: int  # lowered by an untargeted attack
    target: int | None  # raised by a targeted attack
    started: float  # time.perf_counter() at the start

    def fitness(self, probabilities: np.ndarray) -> np.ndarray:
        """p(true class) untargeted, 1 - p(target) targeted: lower is better for the attacker."""
        if self.target is None:
            return probabilities[..., self.true_class].astype(np.float64)
        return 1.0 - probabilities[..., self.target].astype(np.float64)

    def fooled(self, probabilities: np.ndarray) -> np.ndarray:
        """Top-1 is no longer the true class (untargeted), or is the target (targeted)."""
        top = np.argmax(probabilities, axis=-1)
        return top == self.target if self.target is not None else top != self.true_class


def prepare(loaded_model: LoadedModel, image: np.ndarray, target: int | str | None,
            true_class: int | str | None, fit: str) -> AttackSetup:
    """Resize to the model input (the attack works at that resolution) and validate the classes."""
    started = time.perf_counter()
    check_image(image)
    pixels = np.ascontiguousarray(model_input(loaded_model, image, fit))
    with loaded_model.lock:
        probabilities = loaded_model.probabilities(pixels[None])[0]
    original = int(np.argmax(probabilities))
    if target is not None:
        target_index = loaded_model.class_index(target)
        if target_index == original:
            raise ParameterError(
                f"The model already predicts the target class {target_index} "
                f"({loaded_model.class_names[target_index]!r}) for this image: choose another "
                "target, or leave the target out for an untargeted attack."
            )
        return AttackSetup(pixels, probabilities, original, original, target_index, started)
    true_index = original if true_class is None else loaded_model.class_index(true_class)
    if true_index != original:
        raise ParameterError(
            f"The model already misclassifies this image: it predicts class {original} "
            f"({loaded_model.class_names[original]!r}), not the true class {true_index} "
            f"({loaded_model.class_names[true_index]!r}), so there is nothing to attack. "
            "Leave true_class out to attack the predicted class."
        )
    return AttackSetup(pixels, probabilities, original, true_index, None, started)


def finish(loaded_model: LoadedModel, setup: AttackSetup, method: str, adversarial: np.ndarray,
           queries: int, history: np.ndarray, params: Mapping[str, Any]) -> AttackResult:
    """Score the final uint8 image once more (one query) and build the result from that answer."""
    with loaded_model.lock:
        after = loaded_model.probabilities(adversarial[None])[0]
    return AttackResult(
        method=method, original=setup.image, adversarial=adversarial,
        class_names=loaded_model.class_names, original_class=setup.original_class,
        adversarial_class=int(np.argmax(after)), true_class=setup.true_class, target=setup.target,
        probabilities_before=setup.probabilities, probabilities_after=after,
        success=bool(setup.fooled(after)), queries=queries + 1,
        fitness_history=np.asarray(history, dtype=np.float64), params=dict(params),
        seconds=time.perf_counter() - setup.started,
    )


def check_int(name: str, value: object, minimum: int) -> int:
    """A whole number >= minimum, else a ParameterError naming the setting."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ParameterError(f"{name} must be a whole number >= {minimum}, not {value!r}.")
    return int(value)


def check_image(image: object) -> None:
    """An RGB uint8 array (height, width, 3), as load_image returns."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 \
            or image.shape[2] != 3 or min(image.shape[:2]) < 1:
        kind = f"{image.dtype} array of shape {image.shape}" if isinstance(image, np.ndarray) \
            else type(image).__name__
        raise ParameterError(f"Expected an RGB uint8 image (height, width, 3) from load_image, got a {kind}.")
