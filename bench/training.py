"""Training speed and memory: ``python bench/training.py [--per-class N] [--epochs E] [--runs R]``.

1. "features" vs "head" seconds per epoch on the frozen demo backbone, no augmentation (issue floor:
   features at least 5x faster: it skips the backbone after its one pass over the images).
2. A cnnviz training epoch ("head") vs a plain ``model.fit`` of the same model on the same images
   held in memory, same batch size and validation (floor: 0.9x the plain throughput). Keras' plain fit
   compiles with XLA on CPU by default; cnnviz does not (see strategies.JIT_COMPILE), both shown.
3. Resident memory over R trainings in one process (floor: under 300 MB growth for five).
4. The transfer experiment of tests/test_training.py at a larger size: test accuracy and seconds per
   epoch of "head" on the pretrained demo backbone, on random weights, "finetune" and "features".
Epoch times are medians over the epochs after the first (which traces the step).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from cnnviz.datasets import generated, open_dataset  # noqa: E402
from cnnviz.training import heads, pipeline, train  # noqa: E402
from cnnviz.training.backbone import resolve_backbone  # noqa: E402


def rss_mb() -> float:
    return float(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize() / 2**20


def epoch_seconds(history: list[dict]) -> float:
    return float(np.median([row["seconds"] for row in history[1:]]))


def plain_fit_seconds(dataset, epochs: int, batch_size: int, jit_compile: object) -> float:
    """Plain Keras: the same classifier, compiled the same way, fit on in-memory arrays."""
    import keras

    backbone = resolve_backbone("shapes")
    size = backbone.input_size
    train_x = pipeline.decode(dataset, dataset.indices("train"), size).astype(np.float32)
    val_x = pipeline.decode(dataset, dataset.indices("val"), size).astype(np.float32)
    train_y, val_y = dataset.labels(dataset.indices("train")), dataset.labels(dataset.indices("val"))
    model = heads.classifier(backbone.network(), family=backbone.preprocessing,
                             num_classes=len(dataset.class_names), input_size=size, frozen=True)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"],
                  jit_compile=jit_compile)
    times: list[float] = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)

    model.fit(train_x, train_y, batch_size=batch_size, epochs=epochs, validation_data=(val_x, val_y),
              callbacks=[Timer()], verbose=0)
    return float(np.median(times[1:]))


def speed(per_class: int, epochs: int, batch_size: int) -> None:
    dataset = open_dataset(generated(per_class, seed=0))
    print(f"dataset: {len(dataset)} generated images (8 classes), train {len(dataset.indices('train'))}, "
          f"batch {batch_size}, {epochs} epochs, demo backbone (64 x 64)")
    head = train("shapes", dataset, "head", epochs=epochs, batch_size=batch_size, patience=None)
    features = train("shapes", dataset, "features", epochs=epochs, batch_size=batch_size, patience=None)
    head_s, features_s = epoch_seconds(head.history), epoch_seconds(features.history)
    print(f"features vs head: {features_s * 1000:.1f} vs {head_s * 1000:.1f} ms per epoch: "
          f"{head_s / features_s:.1f}x faster (floor 5x); features' one pass over the images "
          f"{features.feature_seconds:.2f} s")
    for jit in (False, "auto"):
        plain = plain_fit_seconds(dataset, epochs, batch_size, jit)
        print(f"cnnviz head epoch vs plain model.fit (jit_compile={jit}): {head_s:.3f} vs {plain:.3f} s: "
              f"{plain / head_s:.2f}x the plain throughput (floor 0.9x)")


def memory(runs: int, per_class: int) -> None:
    dataset = open_dataset(generated(per_class, seed=1))
    start = rss_mb()
    sizes = []
    for run in range(runs):
        train("shapes", dataset, "finetune" if run % 2 else "head", epochs=2, finetune_epochs=1,
              batch_size=32, seed=run)
        sizes.append(rss_mb())
    print(f"RSS over {runs} trainings (head/finetune alternating): {start:.0f} MB before, after each: "
          + ", ".join(f"{s:.0f}" for s in sizes)
          + f" MB; growth {sizes[-1] - start:.0f} MB in all, {sizes[-1] - sizes[0]:.0f} MB after the first "
          "(floor 300 MB)")


def transfer(per_class: int, epochs: int) -> None:
    from training_helpers import accuracy, held_out, write_task_folder

    folder = write_task_folder(Path(tempfile.mkdtemp()), per_class=per_class)
    dataset = open_dataset(folder)
    images, labels = held_out(100)
    settings = dict(epochs=epochs, batch_size=16, learning_rate=1e-2, patience=None)
    print(f"transfer task: round vs angular (filled or outlined), {per_class} per class (OpenCV), held-out 200 (Pillow), "
          f"{epochs} epochs, batch 16, lr 0.01")
    for label, kwargs in (("head, pretrained demo backbone", dict(strategy="head")),
                          ("head, same architecture, random weights", dict(strategy="head", weights=None)),
                          ("finetune, pretrained", dict(strategy="finetune", finetune_epochs=epochs)),
                          ("features, pretrained", dict(strategy="features"))):
        strategy = kwargs.pop("strategy")
        result = train("shapes", dataset, strategy, **settings, **kwargs)
        print(f"  {label}: test {result.test_accuracy:.3f} ({result.images['test']} images), held-out "
              f"{accuracy(result.loaded, images, labels):.3f}, {epoch_seconds(result.history):.2f} s/epoch")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", choices=("speed", "memory", "transfer"))
    args = parser.parse_args()
    if args.only in (None, "speed"):
        speed(args.per_class, args.epochs, args.batch_size)
    if args.only in (None, "memory"):
        memory(args.runs, args.per_class // 2)
    if args.only in (None, "transfer"):
        transfer(80, 8)


if __name__ == "__main__":
    main()
