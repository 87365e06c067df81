"""Small models shared by the inside-the-network tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras

from cnnviz.models import LoadedModel


def wrap(
    model: keras.Model, name: str = "toy", preprocess: Callable[[Any], Any] | None = None
) -> LoadedModel:
    """A LoadedModel around a small Keras classifier (raw pixels in unless ``preprocess`` is given)."""
    height, width = (int(d) for d in model.inputs[0].shape[1:3])
    classes = int(model.outputs[0].shape[-1])
    return LoadedModel(
        name=name,
        model=model,
        input_size=(height, width),
        class_names=tuple(f"class {i}" for i in range(classes)),
        preprocess=preprocess or (lambda pixels: pixels),
        preprocessing="none",
        weights="file",
        labels_known=False,
    )
