"""Transfer learning (cnnviz.training): every strategy on a task the demo model never saw as classes
(round versus angular shapes, filled or outlined, drawn by test code), export round trip, cancel, bad input.

Held-out images come from a second drawer (Pillow instead of OpenCV), so the accuracies below are
about "round or angular", not about one drawing routine.
"""

from __future__ import annotations

import resource
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnviz.datasets import open_dataset
from cnnviz.errors import (DatasetLayoutError, LayerNotSpatialError, ParameterError, TooFewImagesError,
                           UnknownLayerError)
from cnnviz.models import load_model_file
from cnnviz.training import Augmentation, preview, resolve_backbone, suggest, train
from cnnviz.training import class_weights
from cnnviz.training.export import labels_path
from training_helpers import TASK_CLASSES, accuracy, held_out, write_task_folder

SETTINGS = dict(epochs=6, batch_size=16, learning_rate=1e-2, seed=0,
                augmentation=Augmentation(flip="horizontal", zoom=0.05, contrast=0.1))


@pytest.fixture(scope="module")
def task(tmp_path_factory: pytest.TempPathFactory):
    return open_dataset(write_task_folder(tmp_path_factory.mktemp("task"), per_class=40))


@pytest.fixture(scope="module")
def independent() -> tuple[np.ndarray, np.ndarray]:
    return held_out(per_class=40)


@pytest.fixture(scope="module")
def runs(task) -> dict[str, object]:
    """The transfer experiment: same head, same budget, pretrained or random demo backbone."""
    return {"head": train("shapes", task, "head", **SETTINGS),
            "random": train("shapes", task, "head", weights=None, **SETTINGS),
            "finetune": train("shapes", task, "finetune", finetune_epochs=3, **SETTINGS)}


def test_head_on_the_pretrained_demo_backbone_beats_random_weights_and_finetune_keeps_up(
        runs, independent) -> None:
    head, random, finetune = runs["head"], runs["random"], runs["finetune"]
    images, labels = independent
    head_held_out, random_held_out = accuracy(head.loaded, images, labels), accuracy(random.loaded, images, labels)
    assert head.test_accuracy >= 0.9 and random.test_accuracy <= 0.75, (head.test_accuracy, random.test_accuracy)
    assert head_held_out >= 0.7 and head_held_out - random_held_out >= 0.15, (head_held_out, random_held_out)
    assert random.warnings and "random weights" in random.warnings[0]
    # finetune: the same head phase, then the top backbone layers at a 10x lower rate
    assert [row["phase"] for row in finetune.history].count("finetune") >= 1 and finetune.unfrozen
    assert finetune.test_accuracy >= head.test_accuracy - 1 / head.images["test"]
    assert accuracy(finetune.loaded, images, labels) >= head_held_out - 0.1
    assert finetune.loaded.class_names == TASK_CLASSES == head.loaded.class_names


def test_features_strategy_fits_a_linear_head_on_features_computed_once(task, independent) -> None:
    first = train("shapes", task, "features", epochs=15, batch_size=16, learning_rate=1e-2)
    again = train("shapes", task, "features", epochs=15, batch_size=16, learning_rate=1e-2)
    assert first.test_accuracy >= 0.9 and accuracy(first.loaded, *independent) >= 0.7
    assert again.feature_seconds < first.feature_seconds / 5  # the cached features, no backbone pass
    assert [r["loss"] for r in again.history] == [r["loss"] for r in first.history]  # seeded


def test_scratch_trains_the_architecture_from_random_weights(task, runs) -> None:
    scratch = train("shapes", task, "scratch", epochs=3, batch_size=16, learning_rate=1e-3)
    assert scratch.history[-1]["loss"] < scratch.history[0]["loss"]
    pretrained = resolve_backbone("shapes").source.model.get_layer("stem1_conv").get_weights()[0]
    inner = scratch.loaded.model.get_layer("shapes_backbone").get_layer("stem1_conv").get_weights()[0]
    assert inner.shape == pretrained.shape and not np.allclose(inner, pretrained)
    # the frozen strategies leave the backbone's weights exactly as they were
    head_inner = runs["head"].loaded.model.get_layer("shapes_backbone").get_layer("stem1_conv").get_weights()[0]
    np.testing.assert_array_equal(head_inner, pretrained)


def test_export_round_trip_gives_identical_predictions(runs, independent, tmp_path: Path) -> None:
    import cnnviz

    result = runs["head"]
    model_path, labels_file = result.save(tmp_path / "model.keras")
    assert labels_file == labels_path(model_path) == tmp_path / "model.labels.txt"
    assert labels_file.read_text().splitlines() == list(TASK_CLASSES)
    loaded = load_model_file(model_path, labels=labels_file)  # safe mode, preprocessing detected
    images = independent[0][:24]
    np.testing.assert_array_equal(loaded.probabilities(images), result.loaded.probabilities(images))
    assert loaded.class_names == TASK_CLASSES and loaded.input_size == (64, 64)
    heatmap = cnnviz.explain(loaded, images[0], method="gradcam")  # every engine function takes it
    assert heatmap.heatmap.shape[:2] == images[0].shape[:2]


def test_cancel_stops_within_one_batch_and_keeps_the_best_epoch(task, runs) -> None:
    calls: list[dict] = []

    def progress(done: int, total: int, info: dict) -> bool | None:
        calls.append(dict(info))
        return False if (info.get("epoch"), info.get("batch")) == (2, 2) and "val_loss" not in info else None

    result = train("shapes", task, "head", progress=progress, **SETTINGS)
    stop = next(i for i, c in enumerate(calls) if (c.get("epoch"), c.get("batch")) == (2, 2))
    assert calls[stop + 1:] == []  # no batch ran after the callback said stop
    assert result.cancelled and len(result.history) == 1 and result.best_epoch == 1
    assert result.test_accuracy is None and "Stopped" in result.warnings[-1]
    assert result.loaded.probabilities(task.model_input(0, (64, 64))[None]).shape == (1, 2)
    # seeded: its first epoch (shuffle, augmentation, dropout) is the uncancelled run's first epoch
    figures = ("loss", "accuracy", "val_loss", "val_accuracy")
    assert [result.history[0][k] for k in figures] == [runs["head"].history[0][k] for k in figures]


def test_images_of_another_size_are_resized_to_the_backbone(tmp_path: Path, independent) -> None:
    write_task_folder(tmp_path, per_class=30, seed=3, size=96)
    for i, file in enumerate(sorted(tmp_path.rglob("*.png"))):  # mixed sizes and proportions
        if i % 2:
            Image.open(file).resize((80, 72)).save(file)
    result = train("shapes", open_dataset(tmp_path), "features", epochs=15, batch_size=16, learning_rate=1e-2)
    assert result.loaded.input_size == (64, 64) and result.test_accuracy >= 0.8


def _folder(root: Path, counts: dict[str, int]) -> Path:
    rng = np.random.default_rng(0)
    for name, count in counts.items():
        (root / name).mkdir(parents=True)
        for i in range(count):
            Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(root / name / f"{i}.png")
    return root


def test_bad_input_gets_typed_errors_before_training(tmp_path: Path, task) -> None:
    with pytest.raises(DatasetLayoutError, match="one class"):
        open_dataset(_folder(tmp_path / "one", {"cat": 6}))
    with pytest.raises(TooFewImagesError, match="at least 2"):
        train("shapes", open_dataset(_folder(tmp_path / "few", {"cat": 1, "dog": 8})), "head")
    with pytest.raises(LayerNotSpatialError, match="gap"):
        resolve_backbone("shapes", cut="gap")
    with pytest.raises(LayerNotSpatialError):
        train("shapes", task, "head", cut="logits")
    with pytest.raises(UnknownLayerError, match="last_conv"):
        resolve_backbone("shapes", cut="no_such_layer")
    with pytest.raises(UnknownLayerError, match="fine-tune above"):
        train("shapes", task, "finetune", finetune_above="no_such_layer")
    with pytest.raises(ParameterError, match="strategy"):
        train("shapes", task, "transfer")
    with pytest.raises(ParameterError, match="epochs"):
        train("shapes", task, "head", epochs=0)


def test_augmentation_preview_grid() -> None:
    images = np.stack([np.tile(np.arange(32, dtype=np.uint8)[None, :, None] * 8, (32, 1, 3))] * 2)
    flipped = preview(images, Augmentation(flip="horizontal"), versions=8, seed=1)
    assert flipped.shape == (64, 9 * 32, 3)
    np.testing.assert_array_equal(flipped[:32, :32], images[0])  # first column: the images as given
    versions = [flipped[:32, 32 * k:32 * (k + 1)] for k in range(1, 9)]
    assert all(np.array_equal(v, images[0]) or np.array_equal(v, images[0][:, ::-1]) for v in versions)
    assert any(np.array_equal(v, images[0][:, ::-1]) for v in versions)
    strong = preview(images, Augmentation(rotation=0.2, brightness=0.3), versions=3, seed=1)
    assert np.array_equal(strong, preview(images, Augmentation(rotation=0.2, brightness=0.3), versions=3, seed=1))
    assert not np.array_equal(strong[:32, 32:64], images[0])
    assert Augmentation.from_names("flip,zoom") == Augmentation(flip="horizontal", zoom=0.1)
    with pytest.raises(ParameterError, match="blur"):
        Augmentation.from_names("flip,blur")


def test_class_weights_balance_rare_classes() -> None:
    labels = np.array([0] * 60 + [1] * 10)
    weights = class_weights.balanced(labels, 2)
    assert weights[1] == pytest.approx(6 * weights[0]) and weights[0] * 60 + weights[1] * 10 == pytest.approx(70)
    assert class_weights.choose("auto", labels, 2) is not None  # 6x: the dataset warns about it
    assert class_weights.choose("auto", np.array([0] * 30 + [1] * 20), 2) is None


def test_strategy_guide_follows_the_lecture_table() -> None:
    assert suggest(20).strategy == "features" and suggest(150).strategy == "head"
    assert suggest(2000).strategy == "finetune" and "earlier" in suggest(20, similar=False).reason


def test_repeated_trainings_in_one_process_keep_memory_bounded(task) -> None:
    def rss_mb() -> float:
        return float(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize() / 2**20

    train("shapes", task, "head", epochs=1, batch_size=16)  # warm-up: first traces and allocations
    before = rss_mb()
    for seed in range(2):
        train("shapes", task, "head", epochs=1, batch_size=16, seed=seed)
    assert rss_mb() - before < 100  # bench/training.py measures five runs


@pytest.mark.parametrize("family", ["none", "builtin", "scale01", "tf", "caffe", "torch"])
def test_preprocessing_layers_equal_the_families_functions(family: str) -> None:
    """The exported model carries its preprocessing as layers: they must compute what
    cnnviz.models' (keras.applications') preprocessing functions compute."""
    from cnnviz.models import preprocessing_function
    from cnnviz.training import preprocessing

    pixels = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype(np.float32)
    layers = preprocessing.preprocessing_layers(family)
    np.testing.assert_allclose(np.asarray(preprocessing.apply(layers, pixels)),
                               preprocessing_function(family)(pixels), rtol=1e-5, atol=1e-4)


def test_a_split_too_big_for_memory_is_streamed_each_epoch_in_a_seeded_order(task, monkeypatch) -> None:
    from cnnviz.training import pipeline

    monkeypatch.setattr(pipeline, "IN_MEMORY_LIMIT_BYTES", 0)
    indices = task.indices("train")

    def epoch_orders(seed: int) -> list[list[int]]:
        data = pipeline.batches(task, indices, (64, 64), 16, shuffle_seed=seed)
        orders = []
        for _ in range(2):  # two epochs of one pipeline
            pixels = np.concatenate([x.numpy() for x, _ in data])
            assert pixels.shape == (len(indices), 64, 64, 3)
            orders.append([int(p.sum()) for p in pixels])  # identifies each image
        return orders

    first, again = epoch_orders(5), epoch_orders(5)
    assert first == again and first[0] != first[1]  # seeded; a new order every epoch
    expected = sorted(int(task.model_input(int(i), (64, 64)).astype(np.float32).sum()) for i in indices)
    assert sorted(first[0]) == expected  # every training image once per epoch
