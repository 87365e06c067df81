"""The small bundled demo CNN that classifies the procedural shapes (cnnviz.shapes).

It makes the app work offline and gives correctness tests a model whose right answer is known.
The head is conv -> GlobalAveragePooling2D -> Dense (logits), so classic CAM (Zhou et al., 2016)
applies: the class map is the "last_conv" activations weighted by the "logits" Dense kernel.
Preprocessing is built in (Rescaling), so the model takes raw pixels 0..255.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import keras

from cnnviz.errors import ModelError, WeightsDownloadError
from cnnviz.shapes import DEMO_IMAGE_SIZE, SHAPE_CLASSES

REPO_ROOT = Path(__file__).resolve().parents[1]
DEMO_WEIGHTS_PATH = REPO_ROOT / "models_cache" / "shapes_demo.weights.h5"
DEMO_METADATA_PATH = REPO_ROOT / "models_cache" / "shapes_demo.json"
DEMO_MODEL_NAME = "shapes_demo"
LAST_CONV_LAYER = "last_conv"
GAP_LAYER = "gap"
LOGITS_LAYER = "logits"
# Filters of each conv block; a block is 3x3 convs (+ BatchNorm + ReLU), then 2x2 max-pooling
# except after the last block. Three poolings: 64 x 64 input -> 8 x 8 "last_conv".
CONV_BLOCKS: tuple[tuple[int, ...], ...] = ((24,), (48,), (64, 64), (128, 128))


def build_demo_model(num_classes: int = len(SHAPE_CLASSES), size: int = DEMO_IMAGE_SIZE) -> keras.Model:
    """The untrained demo CNN: raw pixels (size, size, 3) in, ``num_classes`` logits out."""
    inputs = keras.Input((size, size, 3), dtype="float32", name="image")
    x = keras.layers.Rescaling(1 / 255, name="rescale")(inputs)
    for block, widths in enumerate(CONV_BLOCKS, start=1):
        last_block = block == len(CONV_BLOCKS)
        for conv, filters in enumerate(widths, start=1):
            x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"block{block}_conv{conv}")(x)
            x = keras.layers.BatchNormalization(name=f"block{block}_bn{conv}")(x)
            last = last_block and conv == len(widths)
            x = keras.layers.ReLU(name=LAST_CONV_LAYER if last else f"block{block}_relu{conv}")(x)
        if not last_block:
            x = keras.layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
    x = keras.layers.GlobalAveragePooling2D(name=GAP_LAYER)(x)
    outputs = keras.layers.Dense(num_classes, name=LOGITS_LAYER)(x)
    return keras.Model(inputs, outputs, name=DEMO_MODEL_NAME)


def demo_class_names() -> tuple[str, ...]:
    """Class names of the demo model, in the order of its logits."""
    return SHAPE_CLASSES


def demo_metadata() -> dict[str, Any]:
    """What train_demo recorded about the bundled weights (accuracy, seeds, timing, versions)."""
    if not DEMO_METADATA_PATH.is_file():
        raise ModelError(
            f"The demo model's metadata file {DEMO_METADATA_PATH} is missing; "
            "run `python -m cnnviz.train_demo` to train the model and write it."
        )
    return json.loads(DEMO_METADATA_PATH.read_text(encoding="utf-8"))


def load_demo_model(weights_path: Path | str = DEMO_WEIGHTS_PATH) -> keras.Model:
    """Build the demo CNN and load its trained weights (bundled in models_cache/)."""
    path = Path(weights_path)
    if not path.is_file():
        raise WeightsDownloadError(
            f"The demo model's weights file {path} is missing; "
            "run `python -m cnnviz.train_demo` to train the model (a few minutes on a CPU)."
        )
    model = build_demo_model()
    try:
        model.load_weights(path)
    except (OSError, ValueError) as error:
        raise WeightsDownloadError(
            f"The demo model's weights file {path} could not be loaded ({error}); "
            "run `python -m cnnviz.train_demo` to train the model again."
        ) from error
    return model
