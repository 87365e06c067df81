"""Adversarial examples: ``attack(loaded_model, image, method="onepixel" | "fgsm" | "pgd", **params)``.

- ``onepixel``: a few pixels changed, found by differential evolution (Su et al., 2019).
- ``fgsm``: one signed-gradient step of size epsilon (Goodfellow et al., 2015).
- ``pgd``: projected gradient descent in the L-infinity ball (Madry et al., 2018).

All work on the image resized to the model's input (``fit``), in raw pixel units (0..255), and
return an :class:`AttackResult` whose ``adversarial`` uint8 image is classified as reported.
Coordinates are (row, column), origin top-left.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from cnnviz.attacks.gradient import fgsm, pgd
from cnnviz.attacks.onepixel import PRESETS, one_pixel_attack
from cnnviz.attacks.result import AttackResult, ChangedPixel
from cnnviz.errors import ParameterError
from cnnviz.models import LoadedModel

METHODS: dict[str, Callable[..., AttackResult]] = {
    "onepixel": one_pixel_attack,
    "fgsm": fgsm,
    "pgd": pgd,
}


def parameters(method: str) -> tuple[str, ...]:
    """The keyword settings a method accepts."""
    function = _method(method)
    return tuple(name for name, p in inspect.signature(function).parameters.items()
                 if p.kind is inspect.Parameter.KEYWORD_ONLY)


def _method(method: str) -> Callable[..., AttackResult]:
    if method not in METHODS:
        raise ParameterError(f"Unknown attack {method!r}; choose one of {', '.join(METHODS)}.")
    return METHODS[method]


def attack(loaded_model: LoadedModel, image: np.ndarray, method: str = "onepixel",
           **params: Any) -> AttackResult:
    """Attack ``image`` with ``method``; ``params`` are that method's settings (see ``parameters``).

    Common settings: ``target`` (class index or label; None = untargeted), ``true_class`` (the class
    an untargeted attack lowers; default the model's prediction), ``seed``, ``fit``, ``progress``.
    """
    function = _method(method)
    unknown = sorted(set(params) - set(parameters(method)))
    if unknown:
        raise ParameterError(
            f"{method} has no setting {', '.join(map(repr, unknown))}; its settings are "
            f"{', '.join(parameters(method))}."
        )
    return function(loaded_model, image, **params)


__all__ = ["attack", "AttackResult", "ChangedPixel", "METHODS", "PRESETS", "parameters",
           "one_pixel_attack", "fgsm", "pgd"]
