"""Train the bundled LeNet-5 on generated digits: ``python -m cnnviz.demo.train_lenet``.

Like the shapes model's script (cnnviz.demo.train): every epoch draws fresh digits (seed TRAIN_SEED +
epoch, cnnviz.demo.digits), so the network learns digits rather than memorising images; seeds are
fixed; the weights and a metadata JSON (accuracies, seeds, timing, versions) go to models_cache/.
Plain cross-entropy with Adam and a cosine learning-rate decay; about two minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from cnnviz.demo.digits import (  # noqa: E402
    DIGIT_CLASSES,
    DIGIT_IMAGE_SIZE,
    MAX_TRAIN_EPOCHS,
    TEST_SEED,
    TRAIN_SEED,
    VAL_SEED,
    generate_digits,
)
from cnnviz.demo.lenet import LENET_WEIGHTS_PATH, build_lenet  # noqa: E402
from cnnviz.demo.train import accuracy, metadata_path_for  # noqa: E402
from cnnviz.errors import ParameterError  # noqa: E402

DEFAULT_EPOCHS = 10
DEFAULT_SAMPLES_PER_EPOCH = 12000
BATCH_SIZE = 64
LEARNING_RATE = 2e-3
VAL_SAMPLES = 2000
TEST_SAMPLES = 5000


@dataclass(frozen=True)
class LenetReport:
    """What one training run achieved; written beside the weights as JSON."""

    class_names: tuple[str, ...]
    image_size: int
    epochs: int
    samples_per_epoch: int
    batch_size: int
    train_seeds: tuple[int, ...]
    val_seed: int
    test_seed: int
    val_accuracy: float
    test_accuracy: float
    test_samples: int
    training_seconds: float
    param_count: int
    weights_bytes: int
    keras_version: str
    tensorflow_version: str
    python_version: str


def gray(images: np.ndarray) -> np.ndarray:
    """(n, h, w, 1) float32 from the generator's equal-channel RGB digits."""
    return images[..., :1].astype(np.float32)


def train_lenet(epochs: int = DEFAULT_EPOCHS, samples_per_epoch: int = DEFAULT_SAMPLES_PER_EPOCH,
                out: Path | str = LENET_WEIGHTS_PATH, verbose: bool = True, *,
                val_samples: int = VAL_SAMPLES, test_samples: int = TEST_SAMPLES) -> LenetReport:
    """Train LeNet-5 from scratch with fixed seeds, save weights + metadata, return the figures."""
    if not 1 <= epochs <= MAX_TRAIN_EPOCHS:
        raise ParameterError(f"epochs must be in 1..{MAX_TRAIN_EPOCHS}, got {epochs}.")
    if samples_per_epoch < BATCH_SIZE or min(val_samples, test_samples) < 1:
        raise ParameterError(f"Need at least {BATCH_SIZE} training images per epoch and one image "
                             f"to evaluate, got {samples_per_epoch}, {val_samples}, {test_samples}.")
    out = Path(out)
    if not out.name.endswith(".weights.h5"):
        raise ParameterError(f"The weights file name must end with .weights.h5, got {out.name!r}.")
    say = print if verbose else (lambda *_args, **_kwargs: None)
    start = time.perf_counter()
    keras.utils.set_random_seed(TRAIN_SEED)
    model = build_lenet()
    steps = epochs * (-(-samples_per_epoch // BATCH_SIZE))
    schedule = keras.optimizers.schedules.CosineDecay(LEARNING_RATE, steps)
    model.compile(keras.optimizers.Adam(schedule),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    say(f"LeNet-5: {model.count_params():,} parameters, {len(DIGIT_CLASSES)} classes")
    val_images, val_labels, _ = generate_digits(val_samples, VAL_SEED)
    train_seeds = tuple(TRAIN_SEED + epoch for epoch in range(epochs))
    for epoch, seed in enumerate(train_seeds):
        images, labels, _ = generate_digits(samples_per_epoch, seed)
        history = model.fit(gray(images), labels, batch_size=BATCH_SIZE, epochs=1, verbose=0)
        val_accuracy = accuracy(model, gray(val_images), val_labels)
        say(f"epoch {epoch + 1}/{epochs}: loss {history.history['loss'][-1]:.4f}, train acc "
            f"{history.history['accuracy'][-1]:.4f}, val acc {val_accuracy:.4f}, "
            f"{time.perf_counter() - start:.0f}s")
    training_seconds = time.perf_counter() - start
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save_weights(out)
    test_images, test_labels, _ = generate_digits(test_samples, TEST_SEED)
    test_accuracy = accuracy(model, gray(test_images), test_labels)
    report = LenetReport(
        class_names=DIGIT_CLASSES, image_size=DIGIT_IMAGE_SIZE, epochs=epochs,
        samples_per_epoch=samples_per_epoch, batch_size=BATCH_SIZE, train_seeds=train_seeds,
        val_seed=VAL_SEED, test_seed=TEST_SEED, val_accuracy=round(val_accuracy, 4),
        test_accuracy=round(test_accuracy, 4), test_samples=test_samples,
        training_seconds=round(training_seconds, 1), param_count=int(model.count_params()),
        weights_bytes=out.stat().st_size, keras_version=keras.__version__,
        tensorflow_version=tf.__version__, python_version=platform.python_version(),
    )
    metadata = metadata_path_for(out)
    metadata.write_text(json.dumps(asdict(report), indent=2) + "\n", encoding="utf-8")
    say(f"done in {training_seconds:.0f}s: val acc {val_accuracy:.4f}, test acc {test_accuracy:.4f} "
        f"(seed {TEST_SEED}); wrote {out} ({report.weights_bytes:,} bytes) and {metadata}")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cnnviz.demo.train_lenet",
                                     description="Train the bundled LeNet-5 on generated digits.")
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS,
                        help=f"epochs (default {DEFAULT_EPOCHS})")
    parser.add_argument("--samples", type=int, default=DEFAULT_SAMPLES_PER_EPOCH,
                        help=f"fresh digits per epoch (default {DEFAULT_SAMPLES_PER_EPOCH})")
    parser.add_argument("--out", type=Path, default=LENET_WEIGHTS_PATH,
                        help=f"weights file, *.weights.h5 (default {LENET_WEIGHTS_PATH})")
    args = parser.parse_args(argv)
    try:
        train_lenet(args.epochs, args.samples, args.out)
    except ParameterError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
