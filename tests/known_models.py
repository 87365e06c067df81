"""Hand-built tiny models with known explanations, for the method and metric tests (like captum's)."""

from __future__ import annotations

import keras
import numpy as np

from cnnviz.models import LoadedModel, preprocessing_function


def loaded(model: keras.Model, size: int, preprocessing: str = "none", classes: int = 2) -> LoadedModel:
    """A LoadedModel around a hand-built Keras model (raw pixels in, logits out)."""
    return LoadedModel(name="known", model=model, input_size=(size, size),
                       class_names=tuple(f"c{i}" for i in range(classes)),
                       preprocess=preprocessing_function(preprocessing), preprocessing=preprocessing, weights=None)


def randomise_batch_norms(model: keras.Model, seed: int) -> None:
    """Seeded statistics for every batch norm: fresh ones are the identity, and folding them (or
    computing them in 16 bits) would test nothing."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            channels = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 2.0, channels), rng.normal(0, 0.5, channels),
                               rng.normal(0, 0.3, channels), rng.uniform(0.05, 0.5, channels)])


def cell_model(weights: np.ndarray, size: int) -> LoadedModel:
    """Logit 0 = sum_i weights[i] * (mean of the pixels of grid cell i, 0..1); logit 1 = 0.

    ``weights`` is (grid, grid): the image is cut into grid x grid cells of size / grid pixels. The
    model is additive (linear) over the cells' mean values, so every attribution has a known answer.
    """
    grid = weights.shape[0]
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.AveragePooling2D(size // grid)(x)  # (grid, grid, 3) cell means
    x = keras.layers.Flatten()(x)
    dense = keras.layers.Dense(2, use_bias=False)
    model = keras.Model(inputs, dense(x))
    kernel = np.zeros((grid * grid * 3, 2), np.float32)
    kernel[:, 0] = np.repeat(weights.ravel() / 3, 3)
    dense.set_weights([kernel])
    return loaded(model, size)


def cell_image(colours: np.ndarray, size: int) -> np.ndarray:
    """An image of flat grey cells: ``colours`` (grid, grid) values 0..255."""
    grid = colours.shape[0]
    cell = size // grid
    return np.repeat(np.repeat(colours, cell, axis=0), cell, axis=1)[..., None].repeat(3, axis=2).astype(np.uint8)
