"""Train the bundled demo CNN on the procedural shapes: ``python -m cnnviz.demo.train``.

Each epoch draws fresh images (seed TRAIN_SEED + epoch), so the network never sees the same image
twice and has to learn shapes rather than memorise. It writes the weights and a metadata JSON
(accuracies, seeds, timing, versions) to models_cache/. Defaults finish in a few minutes on 2 CPU
cores.

The loss is cross-entropy plus a small localisation term: a spatial softmax over the true class's
map (the "logits" Dense applied at every "last_conv" position, i.e. its CAM) should put its mass on
cells whose centre lies on the shape (a multiple-instance pointing loss, using the masks the dataset
provides). Classification alone leaves the peak anywhere on a broad blob around the shape (a GAP
head does not care where evidence sits); with the term, the model's evidence sits on the shape, which
is what the heatmap tests need to check CAM, Grad-CAM, occlusion and Score-CAM implementations. The
saved model is the plain GAP + Dense CNN of demo_model; the term only changes its trained weights.

What changed and why (issue 19): the first bundled model was trained on the generator's first look,
every shape drawn one way (filled, one set of proportions, textured background). It scored 100 % on
those images and 31.5 % on shapes drawn by other code (tests/test_shapes_independent.py: Pillow and
OpenCV primitives, hatched fills, dashed outlines, photographs and paper as backgrounds); it called a
Pillow-drawn flat circle a triangle and a thin rotated cross an arrow. The script now trains on the
varied styles (generate_dataset(..., varied=True): filled, outlined, bordered, patterned and broken
outlines, line art; thin and thick strokes; random proportions; rotated, stretched, sheared; 11 % to
29 % of the side; anti-aliased or hard edges; textured, photo-like, plain, ramp, photograph and mosaic
backgrounds; clutter), which is much harder, so the defaults are 40 epochs of 9600 fresh images. The
architecture, its layer names and the localisation term are unchanged.

The bundled weights are this script's defaults (seeded; 1502 s on the 2-core machine shared with
other jobs): 94.9 % validation and 95.5 % test accuracy on the varied styles (CAM pointing 0.892),
100 % on the plain look (pointing 0.972), 90.0 % on the independent drawings (issue 19's target is
95 %: not met). Width is not the limit: a 1.5x wider network (437 k parameters, 40 epochs) reached the
same 95 % training accuracy and 90.5 % there. Nor were three more colour photographs as backgrounds
(scikit-learn's china and flower, matplotlib's grace_hopper; 40 % picture backgrounds, 12 epochs of
fine-tuning: 91.0 %), large objects cut by the frame painted behind the shapes (rims and blobs,
with those photographs: 90.5 %) or a term pushing background cells to vote for no class (90.0 %).
The misses sit on photographs (82-84 %: the rims of the coffee cup read as a ring or circle, the
cat's eyes) and in the hatched and dashed styles (84-87 %). Two more 15-epoch fine-tunings (learning
rate 1e-3, 2026-12-02) changed nothing there: dead-leaves backgrounds (Lee, Mumford and Huang, 2001:
large shaded discs, rims and boxes occluding one another, 16 % of images) with grey photographs mapped
through random colour ramps gave 89.3 %; adding outlier exposure (Hendrycks et al., 2019: 16
shape-free backgrounds per batch with a uniform target, weight 0.5) gave 90.0 %, although it cut the
mean top probability on shape-free crops of the held-out coffee photograph from 0.69 (the bundled
model) to 0.35.
So the backgrounds do not outvote the shape; the shape's own evidence is misread on those photographs.
Nor was it the few photographs: recolouring the picture backgrounds (channels swapped, inverted, grey
ones through random colour ramps), collages of two crops and scikit-learn's two colour photographs
raised the varied validation accuracy to 96.0 % in 15 epochs of fine-tuning but left the independent
drawings at 89.0 % (astronaut 70 %, coffee 70 %). The misses on the coffee photograph are shapes
lying across the cup's high-contrast rim, whose arcs join the shape's outline; thick high-contrast
arcs and bands drawn under the shape on 35 % of images lifted coffee to 83 % but made the task much
harder for this network (varied validation 88.8 %) and the drawings fell to 88.3 %.
``--remeasure`` measures a weights file again and rewrites its metadata's figures.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from cnnviz.demo.model import (  # noqa: E402
    DEMO_WEIGHTS_PATH,
    LAST_CONV_LAYER,
    LOGITS_LAYER,
    build_demo_model,
    pointing_game_hits,
    class_activation_maps,
)
from cnnviz.errors import ParameterError  # noqa: E402
from cnnviz.demo.shapes import (  # noqa: E402
    DEMO_IMAGE_SIZE,
    MAX_TRAIN_EPOCHS,
    SHAPE_CLASSES,
    TEST_SEED,
    TRAIN_SEED,
    VAL_SEED,
    generate_dataset,
)

DEFAULT_EPOCHS = 40
DEFAULT_SAMPLES_PER_EPOCH = 9600  # 150 batches
BATCH_SIZE = 64
LEARNING_RATE = 3e-3
WARMUP_FRACTION = 0.05  # of all steps, linear warm-up before the cosine decay
WEIGHT_DECAY = 1e-4
LOCALISATION_WEIGHT = 0.5  # weight of the pointing term beside cross-entropy
VAL_SAMPLES = 2000
TEST_SAMPLES = 1000
POINTING_SAMPLES = 500


@dataclass(frozen=True)
class TrainingReport:
    """What one training run achieved; written beside the weights as JSON."""

    class_names: tuple[str, ...]
    image_size: int
    epochs: int
    samples_per_epoch: int
    batch_size: int
    train_seeds: tuple[int, ...]
    localisation_weight: float
    val_seed: int
    test_seed: int
    val_accuracy: float
    test_accuracy: float
    test_samples: int
    cam_pointing_rate: float
    pointing_samples: int
    training_seconds: float
    param_count: int
    weights_bytes: int
    keras_version: str
    tensorflow_version: str
    python_version: str
    learning_rate: float = LEARNING_RATE
    initial_weights: str | None = None  # "name sha256:prefix" of the weights training started from
    # the same two figures on the generator's plain look (varied=False: generated datasets, the tests)
    plain_test_accuracy: float | None = None
    plain_cam_pointing_rate: float | None = None


def measure(model: keras.Model, test_samples: int = TEST_SAMPLES) -> dict[str, float | int]:
    """Test accuracy and CAM pointing rate on TEST_SEED images (never trained on), in the varied
    styles and in the plain look; the figures TrainingReport records."""
    figures: dict[str, float | int] = {"test_samples": test_samples}
    pointing_samples = min(POINTING_SAMPLES, test_samples)
    figures["pointing_samples"] = pointing_samples
    for prefix, varied in (("", True), ("plain_", False)):
        images, labels, masks = generate_dataset(test_samples, TEST_SEED, varied=varied)
        figures[f"{prefix}test_accuracy"] = round(accuracy(model, images, labels), 4)
        maps = class_activation_maps(model, images[:pointing_samples])
        figures[f"{prefix}cam_pointing_rate"] = round(
            float(np.mean(pointing_game_hits(maps, masks[:pointing_samples]))), 4
        )
    return figures


def metadata_path_for(weights_path: Path) -> Path:
    """The metadata JSON beside a weights file: shapes_demo.weights.h5 -> shapes_demo.json."""
    return weights_path.with_name(weights_path.name.removesuffix(".weights.h5") + ".json")


def _cell_targets(masks: np.ndarray, cells: int) -> np.ndarray:
    """(n, cells, cells) bool: is the centre of each last_conv cell on the shape?

    A bilinearly upsampled map peaks at a cell centre, so these are exactly the cells whose peak
    would win the pointing game. Where no centre lies on the shape (a thin band), any overlap counts.
    """
    n, size = len(masks), masks.shape[1]
    step = size // cells
    blocks = masks.reshape(n, cells, step, cells, step)
    middle = slice(step // 2 - 1, step // 2 + 1) if step >= 2 else slice(0, 1)
    centres = blocks[:, :, middle, :, middle].any(axis=(2, 4))
    overlaps = blocks.any(axis=(2, 4))
    empty = ~centres.any(axis=(1, 2))
    centres[empty] = overlaps[empty]
    return centres


def _batches(images: np.ndarray, *targets: np.ndarray, shuffle_seed: int | None = None) -> tf.data.Dataset:
    """Batches of float32 raw pixels and targets; images stay uint8 in memory until a batch is cast."""
    data = tf.data.Dataset.from_tensor_slices((images, *targets))
    if shuffle_seed is not None:
        data = data.shuffle(len(images), seed=shuffle_seed)
    return data.batch(BATCH_SIZE).map(lambda x, *rest: (tf.cast(x, tf.float32), *rest)).prefetch(2)


def accuracy(model: keras.Model, images: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy of a logits model on raw-pixel images (the demo training scripts' one measure)."""
    logits = model.predict(images.astype(np.float32), batch_size=256, verbose=0)
    return float(np.mean(np.argmax(logits, axis=1) == labels))


def _training_step(model: keras.Model, optimizer: keras.optimizers.Optimizer) -> Any:
    """A compiled step: cross-entropy + LOCALISATION_WEIGHT x pointing loss on the true class's CAM."""
    # the logits Dense applied at every last_conv position: one CAM per class, (n, h, w, classes)
    class_maps = model.get_layer(LOGITS_LAYER)(model.get_layer(LAST_CONV_LAYER).output)
    trainer = keras.Model(model.inputs, [model.outputs[0], class_maps])
    cross_entropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def step(images: tf.Tensor, labels: tf.Tensor, cells: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        with tf.GradientTape() as tape:
            logits, maps = trainer(images, training=True)
            classification = cross_entropy(labels, logits)
            true_maps = tf.gather(maps, labels, axis=3, batch_dims=1)  # (n, h, w)
            flat = tf.reshape(true_maps, (tf.shape(true_maps)[0], -1))
            log_share = tf.nn.log_softmax(flat, axis=1)
            on_shape = tf.reshape(cells, tf.shape(flat))
            pointing = -tf.reduce_mean(
                tf.reduce_logsumexp(tf.where(on_shape, log_share, tf.fill(tf.shape(flat), -1e9)), axis=1)
            )
            loss = classification + LOCALISATION_WEIGHT * pointing
        gradients = tape.gradient(loss, trainer.trainable_variables)
        optimizer.apply_gradients(zip(gradients, trainer.trainable_variables))
        correct = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, axis=1), labels), tf.float32))
        return classification, pointing, correct

    return step


def train_demo(
    epochs: int = DEFAULT_EPOCHS,
    samples_per_epoch: int = DEFAULT_SAMPLES_PER_EPOCH,
    out: Path | str = DEMO_WEIGHTS_PATH,
    verbose: bool = True,
    *,
    val_samples: int = VAL_SAMPLES,
    test_samples: int = TEST_SAMPLES,
    learning_rate: float = LEARNING_RATE,
    init: Path | str | None = None,
) -> TrainingReport:
    """Train the demo CNN with fixed seeds, save weights + metadata, return the figures.

    From scratch, or fine-tuned from the weights file ``init``. ``val_samples`` and ``test_samples``
    size the evaluation sets (smaller ones make smoke tests quick). The weights are saved after every
    epoch, so a run stopped early keeps its last finished epoch (the metadata comes at the end).
    """
    if not 1 <= epochs <= MAX_TRAIN_EPOCHS:
        raise ParameterError(
            f"epochs must be in 1..{MAX_TRAIN_EPOCHS} (training seeds must stay clear of the test seed), "
            f"got {epochs}."
        )
    if min(val_samples, test_samples) < 1:
        raise ParameterError(f"Evaluation needs at least one image, got {val_samples} and {test_samples}.")
    if samples_per_epoch < BATCH_SIZE:
        raise ParameterError(
            f"samples per epoch must be at least the batch size {BATCH_SIZE}, got {samples_per_epoch}."
        )
    out = Path(out)
    if not out.name.endswith(".weights.h5"):
        raise ParameterError(
            f"The weights file name must end with .weights.h5 (Keras requires it), got {out.name!r}."
        )
    say = print if verbose else (lambda *_args, **_kwargs: None)
    start = time.perf_counter()
    keras.utils.set_random_seed(TRAIN_SEED)

    model = build_demo_model()
    initial_weights = None
    if init is not None:
        init = Path(init)
        model.load_weights(init)
        initial_weights = f"{init.name} sha256:{hashlib.sha256(init.read_bytes()).hexdigest()[:16]}"
    steps_per_epoch = -(-samples_per_epoch // BATCH_SIZE)
    total_steps = epochs * steps_per_epoch
    warmup_steps = max(1, int(WARMUP_FRACTION * total_steps))
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, max(1, total_steps - warmup_steps), warmup_target=learning_rate, warmup_steps=warmup_steps
    )
    optimizer = keras.optimizers.AdamW(schedule, weight_decay=WEIGHT_DECAY)
    step = _training_step(model, optimizer)
    cells = model.get_layer(LAST_CONV_LAYER).output.shape[1]
    say(f"demo CNN: {model.count_params():,} parameters, {len(SHAPE_CLASSES)} classes, {DEMO_IMAGE_SIZE}px images")
    val_images, val_labels, _ = generate_dataset(val_samples, VAL_SEED, varied=True)
    train_seeds = tuple(TRAIN_SEED + epoch for epoch in range(epochs))
    for epoch, seed in enumerate(train_seeds):
        images, labels, masks = generate_dataset(samples_per_epoch, seed, varied=True)
        totals = np.zeros(3)
        for batch in _batches(images, labels, _cell_targets(masks, cells), shuffle_seed=seed):
            totals += [float(value) for value in step(*batch)]
        classification, pointing, correct = totals / steps_per_epoch
        val_accuracy = accuracy(model, val_images, val_labels)
        say(
            f"epoch {epoch + 1}/{epochs}: cross-entropy {classification:.4f}, pointing loss {pointing:.4f}, "
            f"train acc {correct:.4f}, val acc {val_accuracy:.4f}, {time.perf_counter() - start:.0f}s"
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        model.save_weights(out)
    training_seconds = time.perf_counter() - start

    out.parent.mkdir(parents=True, exist_ok=True)
    model.save_weights(out)
    figures = measure(model, test_samples)
    report = TrainingReport(
        class_names=SHAPE_CLASSES,
        image_size=DEMO_IMAGE_SIZE,
        epochs=epochs,
        samples_per_epoch=samples_per_epoch,
        batch_size=BATCH_SIZE,
        train_seeds=train_seeds,
        localisation_weight=LOCALISATION_WEIGHT,
        val_seed=VAL_SEED,
        test_seed=TEST_SEED,
        val_accuracy=round(val_accuracy, 4),
        **figures,
        training_seconds=round(training_seconds, 1),
        param_count=int(model.count_params()),
        weights_bytes=out.stat().st_size,
        learning_rate=learning_rate,
        initial_weights=initial_weights,
        keras_version=keras.__version__,
        tensorflow_version=tf.__version__,
        python_version=platform.python_version(),
    )
    metadata_path = metadata_path_for(out)
    metadata_path.write_text(json.dumps(asdict(report), indent=2) + "\n", encoding="utf-8")
    say(
        f"done in {training_seconds:.0f}s: val acc {val_accuracy:.4f}, test acc {report.test_accuracy:.4f} "
        f"(seed {TEST_SEED}; plain look {report.plain_test_accuracy:.4f}), CAM pointing "
        f"{report.cam_pointing_rate:.3f} (plain {report.plain_cam_pointing_rate:.3f}); wrote {out} "
        f"({report.weights_bytes:,} bytes) and {metadata_path}"
    )
    return report


def remeasure(weights: Path | str = DEMO_WEIGHTS_PATH, test_samples: int = TEST_SAMPLES) -> dict[str, Any]:
    """Measure trained weights again (after the measures changed) and rewrite their metadata's
    figures; the training fields stay as the run wrote them. Returns the new metadata."""
    weights = Path(weights)
    metadata_path = metadata_path_for(weights)
    if not metadata_path.is_file():
        raise ParameterError(f"{metadata_path} is missing: only weights written by a training run can be remeasured.")
    model = build_demo_model()
    model.load_weights(weights)
    metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
    metadata.update(measure(model, test_samples))
    metadata_path.write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    return metadata


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cnnviz.demo.train",
        description="Train the bundled demo CNN on the procedural shapes (a few minutes on a CPU).",
    )
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS, help=f"epochs (default {DEFAULT_EPOCHS})")
    parser.add_argument(
        "--samples", type=int, default=DEFAULT_SAMPLES_PER_EPOCH,
        help=f"fresh images per epoch (default {DEFAULT_SAMPLES_PER_EPOCH})",
    )
    parser.add_argument(
        "--out", type=Path, default=DEMO_WEIGHTS_PATH,
        help=f"weights file, *.weights.h5; the metadata JSON goes beside it (default {DEMO_WEIGHTS_PATH})",
    )
    parser.add_argument(
        "--learning-rate", type=float, default=LEARNING_RATE,
        help=f"peak learning rate (default {LEARNING_RATE})",
    )
    parser.add_argument("--init", type=Path, default=None, help="fine-tune from this weights file")
    parser.add_argument("--remeasure", action="store_true",
                        help="do not train: measure the weights at --out again and rewrite their metadata's figures")
    args = parser.parse_args(argv)
    try:
        if args.remeasure:
            print(json.dumps(remeasure(args.out), indent=2))
            return 0
        train_demo(args.epochs, args.samples, args.out, learning_rate=args.learning_rate, init=args.init)
    except ParameterError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
