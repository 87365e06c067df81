"""LeNet-5 (LeCun, Bottou, Bengio & Haffner, 1998, "Gradient-based learning applied to document
recognition"), the second bundled demo model: it reads the generated digits of cnnviz.demo.digits.

Layer sizes are those of the paper and of lecture 4's table: In 32x32x1 -> C1 conv 6@5x5 (28x28, tanh)
-> S2 average pooling 2x2 (14x14) -> C3 conv 16@5x5 (10x10, tanh) -> S4 average pooling (5x5) -> C5
conv 120@5x5 (1x1, tanh) -> F6 dense 84 (tanh) -> Out 10. The 28x28 digit is zero-padded to 32x32,
as the paper centred MNIST's 28x28 field in a 32x32 input. Modern simplifications, as in most
re-implementations: C3 connects to all six S2 maps (the paper's table left some out: 1,516 weights
instead of 2,416), S2/S4 are plain averages (the paper's had a trainable coefficient, bias and
squashing), and Out is a Dense layer giving logits (the paper's Euclidean RBF units). The head is
Flatten + Dense, not global average pooling, so CAM does not apply (Grad-CAM and the others do).
Input: raw grayscale pixels 0..255 (Rescaling built in).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import keras

from cnnviz.demo.digits import DIGIT_CLASSES, DIGIT_IMAGE_SIZE
from cnnviz.errors import ModelError, WeightsDownloadError

REPO_ROOT = Path(__file__).resolve().parents[2]
LENET_WEIGHTS_PATH = REPO_ROOT / "models_cache" / "lenet5_digits.weights.h5"
LENET_METADATA_PATH = REPO_ROOT / "models_cache" / "lenet5_digits.json"
LENET_KERAS_NAME = "lenet5_digits"
LENET_INPUT_SIDE = 32  # the paper's input; the 28x28 digits are padded to it
MAX_REASON_CHARS = 200

#: Lecture 4's LeNet-5 table, bottom to top: (layer, type, maps, size, kernel, stride, activation).
LECTURE_TABLE: tuple[tuple[str, str, int | None, int, int | None, int | None, str | None], ...] = (
    ("In", "Input", 1, 32, None, None, None),
    ("C1", "Convolution", 6, 28, 5, 1, "tanh"),
    ("S2", "Avg Pooling", 6, 14, 2, 2, "tanh"),
    ("C3", "Convolution", 16, 10, 5, 1, "tanh"),
    ("S4", "Avg Pooling", 16, 5, 2, 2, "tanh"),
    ("C5", "Convolution", 120, 1, 5, 1, "tanh"),
    ("F6", "Fully Connected", None, 84, None, None, "tanh"),
    ("Out", "Fully Connected", None, 10, None, None, "RBF"),
)


def build_lenet(num_classes: int = len(DIGIT_CLASSES)) -> keras.Model:
    """The untrained LeNet-5: raw grayscale pixels (28, 28, 1), 0..255, in; ``num_classes`` logits out."""
    inputs = keras.Input((DIGIT_IMAGE_SIZE, DIGIT_IMAGE_SIZE, 1), dtype="float32", name="image")
    x = keras.layers.Rescaling(1 / 255, name="rescale")(inputs)
    x = keras.layers.ZeroPadding2D((LENET_INPUT_SIDE - DIGIT_IMAGE_SIZE) // 2, name="In")(x)
    x = keras.layers.Conv2D(6, 5, activation="tanh", name="C1")(x)
    x = keras.layers.AveragePooling2D(2, name="S2")(x)
    x = keras.layers.Conv2D(16, 5, activation="tanh", name="C3")(x)
    x = keras.layers.AveragePooling2D(2, name="S4")(x)
    x = keras.layers.Conv2D(120, 5, activation="tanh", name="C5")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(84, activation="tanh", name="F6")(x)
    outputs = keras.layers.Dense(num_classes, name="Out")(x)
    return keras.Model(inputs, outputs, name=LENET_KERAS_NAME)


def lenet_metadata() -> dict[str, Any]:
    """What the training script recorded about the bundled weights (accuracy, seeds, timing)."""
    if not LENET_METADATA_PATH.is_file():
        raise ModelError(f"LeNet-5's metadata file {LENET_METADATA_PATH} is missing; "
                         "run `python -m cnnviz.demo.train_lenet` to train the model and write it.")
    return json.loads(LENET_METADATA_PATH.read_text(encoding="utf-8"))


def load_lenet(weights_path: Path | str = LENET_WEIGHTS_PATH) -> keras.Model:
    """Build LeNet-5 and load its trained weights (bundled in models_cache/)."""
    path = Path(weights_path)
    retrain = "run `python -m cnnviz.demo.train_lenet` to train it (a few minutes on a CPU)"
    if not path.is_file():
        raise WeightsDownloadError(f"LeNet-5's weights file {path} is missing; {retrain}.")
    model = build_lenet()
    try:
        model.load_weights(path)
    except (OSError, ValueError) as error:
        text = str(error).strip()
        reason = text.splitlines()[0][:MAX_REASON_CHARS] if text else type(error).__name__
        raise WeightsDownloadError(f"LeNet-5's weights file {path} could not be loaded ({reason}); "
                                   f"{retrain}.") from error
    return model
