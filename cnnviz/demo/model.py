"""The small bundled demo CNN that classifies the procedural shapes (cnnviz.demo.shapes).

It makes the app work offline and gives correctness tests a model whose right answer is known.
The head is conv -> GlobalAveragePooling2D -> Dense (logits), so classic CAM (Zhou et al., 2016)
applies: the class map is the "last_conv" activations weighted by the "logits" Dense kernel.
Preprocessing is built in (Rescaling), so the model takes raw pixels 0..255. train_demo adds a
small localisation term to its loss, so the model's evidence sits on the shape (see train_demo).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import keras
import numpy as np

from cnnviz.errors import ModelError, WeightsDownloadError
from cnnviz.demo.shapes import DEMO_IMAGE_SIZE, SHAPE_CLASSES

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_WEIGHTS_PATH = REPO_ROOT / "models_cache" / "shapes_demo.weights.h5"
DEMO_METADATA_PATH = REPO_ROOT / "models_cache" / "shapes_demo.json"
DEMO_MODEL_NAME = "shapes_demo"
LAST_CONV_LAYER = "last_conv"
GAP_LAYER = "gap"
LOGITS_LAYER = "logits"
CAM_BATCH_SIZE = 256
MAX_REASON_CHARS = 200  # Keras' load errors can print whole tensors: keep the first line only
# Filters of the conv layers (3x3 conv + BatchNorm + ReLU each). The image goes down to 16 x 16
# ("fine" features), then on to 8 x 8 where two convs give a receptive field of 54 pixels, wider than
# any shape; those "coarse" features come back up to 16 x 16, are added to the fine ones, and one
# more conv makes "last_conv". Why: with 8 x 8 maps a heatmap peak can only sit on an 8-pixel grid
# (off narrow shapes), and 16 x 16 maps with a small receptive field see only edges (peaks beside
# the shape); this top-down path gives 16 x 16 maps whose units still see whole shapes.
STEM_FILTERS = (16, 32)  # 64 -> 32 -> 16
FINE_FILTERS = 64  # at 16 x 16
COARSE_FILTERS = (96, 96)  # at 8 x 8
LAST_CONV_FILTERS = 96  # at 16 x 16


def _conv_bn_relu(x: Any, filters: int, name: str, relu_name: str | None = None) -> Any:
    x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=relu_name or f"{name}_relu")(x)


def build_demo_model(num_classes: int = len(SHAPE_CLASSES), size: int = DEMO_IMAGE_SIZE) -> keras.Model:
    """The untrained demo CNN: raw pixels (size, size, 3) in, ``num_classes`` logits out."""
    inputs = keras.Input((size, size, 3), dtype="float32", name="image")
    x = keras.layers.Rescaling(1 / 255, name="rescale")(inputs)
    for index, filters in enumerate(STEM_FILTERS, start=1):
        x = _conv_bn_relu(x, filters, f"stem{index}")
        x = keras.layers.MaxPooling2D(2, name=f"stem{index}_pool")(x)
    fine = _conv_bn_relu(x, FINE_FILTERS, "fine")
    x = keras.layers.MaxPooling2D(2, name="fine_pool")(fine)
    for index, filters in enumerate(COARSE_FILTERS, start=1):
        x = _conv_bn_relu(x, filters, f"coarse{index}")
    x = keras.layers.Conv2D(FINE_FILTERS, 1, name="coarse_project")(x)
    x = keras.layers.UpSampling2D(2, interpolation="bilinear", name="coarse_upsample")(x)
    x = keras.layers.Add(name="merge")([fine, x])
    x = _conv_bn_relu(x, LAST_CONV_FILTERS, "head", relu_name=LAST_CONV_LAYER)
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
            "run `python -m cnnviz.demo.train` to train the model and write it."
        )
    return json.loads(DEMO_METADATA_PATH.read_text(encoding="utf-8"))


def load_demo_model(weights_path: Path | str = DEMO_WEIGHTS_PATH) -> keras.Model:
    """Build the demo CNN and load its trained weights (bundled in models_cache/)."""
    path = Path(weights_path)
    if not path.is_file():
        raise WeightsDownloadError(
            f"The demo model's weights file {path} is missing; "
            "run `python -m cnnviz.demo.train` to train the model (a few minutes on a CPU)."
        )
    model = build_demo_model()
    try:
        model.load_weights(path)
    except (OSError, ValueError) as error:
        text = str(error).strip()
        reason = text.splitlines()[0][:MAX_REASON_CHARS] if text else type(error).__name__
        raise WeightsDownloadError(
            f"The demo model's weights file {path} could not be loaded ({reason}); "
            "run `python -m cnnviz.demo.train` to train the model again."
        ) from error
    return model


def class_activation_maps(
    model: keras.Model, images: np.ndarray, class_indices: np.ndarray | None = None
) -> np.ndarray:
    """Reference CAM (Zhou et al., 2016) of the demo model, upsampled to the images' size.

    ``last_conv`` activations weighted by the ``logits`` kernel column of each image's class (its
    predicted class when ``class_indices`` is None). Returns (n, H, W) float32. A small independent
    oracle for checking the bundled model and the heatmap engine, not the engine itself.
    """
    images = np.asarray(images)
    probe = keras.Model(model.inputs, [model.get_layer(LAST_CONV_LAYER).output, model.outputs[0]])
    activations, logits = probe.predict(images.astype(np.float32), batch_size=CAM_BATCH_SIZE, verbose=0)
    classes = np.argmax(logits, axis=1) if class_indices is None else np.asarray(class_indices)
    kernel = model.get_layer(LOGITS_LAYER).get_weights()[0]  # (channels, classes)
    maps = np.einsum("nhwc,cn->nhw", activations, kernel[:, classes])
    height, width = images.shape[1:3]
    return np.stack([cv2.resize(m, (width, height), interpolation=cv2.INTER_LINEAR) for m in maps])


def pointing_game_hits(heatmaps: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Pointing game (Zhang et al., 2016) without tolerance: is each heatmap's maximum on the object?"""
    flat = heatmaps.reshape(len(heatmaps), -1)
    peaks = np.argmax(flat, axis=1)
    return masks.reshape(len(masks), -1)[np.arange(len(masks)), peaks]
