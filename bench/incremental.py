"""Benchmark of exact incremental inference (cnnviz.incremental; Krypton, Nakandala et al., SIGMOD
2019) against batched full forward passes of the same perturbed images (never part of CI).

    python bench/incremental.py [--models VGG16 ResNet50 MobileNetV2 shapes] [--images 64] [--rounds 2]

occlusion: 16 x 16 patches at stride 8 (27 x 27 = 729 positions at 224); ``--images`` of them, spread
over the grid, are scored in batches of 32 by the occlusion method's own compiled full pass and by
incremental inference, alternately in one process; the best round counts. one-pixel: batches of
the attack's default size (80 at 224) of one changed pixel each, ``LoadedModel.probabilities`` (what
the attack calls) against incremental inference. Zoo models use random weights (seeded): speed
does not depend on the weights. Also prints the share of multiply-adds incremental inference does
(the walker's estimate, which "auto" uses) and the largest logit difference.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from cnnviz.attacks.onepixel import default_batch_size  # noqa: E402
from cnnviz.incremental import _compiled, patched_logits  # noqa: E402
from cnnviz.methods.occlusion import _build_occluded_logits, positions  # noqa: E402
from cnnviz.models import LoadedModel, load_model, preprocessing_function  # noqa: E402

ZOO = {"VGG16": "caffe", "ResNet50": "caffe", "MobileNetV2": "tf"}
PATCH, STRIDE, BATCH, POPSIZE = 16, 8, 32, 400


def build(name: str) -> LoadedModel:
    if name not in ZOO:
        return load_model(name)
    keras.utils.set_random_seed(0)
    model = getattr(keras.applications, name)(weights=None, classifier_activation=None)
    return LoadedModel(name=name, model=model, input_size=(224, 224),
                       class_names=tuple(f"c{i}" for i in range(1000)),
                       preprocess=preprocessing_function(ZOO[name]), preprocessing=ZOO[name], weights=None)


def best_of(rounds: int, run) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def occlusion(loaded: LoadedModel, images: int, rounds: int) -> dict[str, float]:
    height, width = loaded.input_size
    patch = min(PATCH, height // 4)
    tops, lefts = positions(height, patch, STRIDE), positions(width, patch, STRIDE)
    grid = np.stack(np.meshgrid(tops, lefts, indexing="ij"), -1).reshape(-1, 2).astype(np.int32)
    corners = grid[np.linspace(0, len(grid) - 1, images).astype(int)]
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    fill = np.full_like(image, 128)
    patches = np.full((len(corners), patch, patch, 3), 128, np.uint8)
    full_function = _build_occluded_logits(loaded)
    parts = [slice(i, min(i + BATCH, len(corners))) for i in range(0, len(corners), BATCH)]

    def full() -> np.ndarray:
        return np.concatenate([full_function(tf.constant(image), tf.constant(fill), tf.constant(corners[p]),
                                             tf.constant(patch)).numpy() for p in parts])

    def incremental() -> np.ndarray:
        return np.concatenate([patched_logits(loaded, image, patches[p], corners[p]) for p in parts])

    reference = full()  # also warms up both
    difference = np.abs(reference - incremental()).max() / np.abs(reference).max()
    change = np.abs(reference - reference[:1]).max() / np.abs(reference).max()  # the patches matter
    full_s, incremental_s = best_of(rounds, full), best_of(rounds, incremental)
    done, total = _compiled(loaded, (patch, patch)).walker.cost
    return {"full_ms_per_image": 1000 * full_s / images,
            "incremental_ms_per_image": 1000 * incremental_s / images,
            "speedup": full_s / incremental_s, "mac_share": done / total, "relative_difference": difference,
            "relative_change": change, "positions": len(grid)}


def one_pixel(loaded: LoadedModel, rounds: int) -> dict[str, float]:
    height, width = loaded.input_size
    batch = default_batch_size(loaded.input_size, POPSIZE)
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    corners = np.stack([rng.integers(0, height, batch), rng.integers(0, width, batch)], 1).astype(np.int32)
    colours = rng.integers(0, 256, (batch, 1, 1, 3), dtype=np.uint8)
    images = np.repeat(image[None], batch, 0)
    images[np.arange(batch), corners[:, 0], corners[:, 1]] = colours[:, 0, 0]

    def full() -> np.ndarray:
        return loaded.logits(images).numpy()

    def incremental() -> np.ndarray:
        return patched_logits(loaded, image, colours, corners)

    difference = np.abs(full() - incremental()).max() / np.abs(full()).max()
    full_s, incremental_s = best_of(rounds, full), best_of(rounds, incremental)
    done, total = _compiled(loaded, (1, 1)).walker.cost
    return {"full_queries_per_s": batch / full_s, "incremental_queries_per_s": batch / incremental_s,
            "speedup": full_s / incremental_s, "mac_share": done / total, "relative_difference": difference,
            "batch": batch}


def approximate(loaded: LoadedModel, thresholds: list[float], images: int, rounds: int) -> None:
    """Krypton's approximate mode: speed against exact incremental, and the occlusion map's error
    (Pearson r and top-10% overlap of the drops of the clean top class) over ``images`` positions."""
    height, width = loaded.input_size
    patch = min(PATCH, height // 4)
    tops, lefts = positions(height, patch, STRIDE), positions(width, patch, STRIDE)
    grid = np.stack(np.meshgrid(tops, lefts, indexing="ij"), -1).reshape(-1, 2).astype(np.int32)
    corners = grid[np.linspace(0, len(grid) - 1, min(images, len(grid))).astype(int)]
    if loaded.name == "shapes":
        from cnnviz.demo.shapes import TEST_SEED, generate_sample  # noqa: PLC0415
        image = generate_sample(TEST_SEED, height).image
    else:
        image = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    fill = np.round(image.reshape(-1, 3).mean(0)).astype(np.uint8)
    patches = np.broadcast_to(fill, (len(corners), patch, patch, 3)).copy()
    parts = [slice(i, min(i + BATCH, len(corners))) for i in range(0, len(corners), BATCH)]
    top = int(np.argmax(loaded.logits(image[None]).numpy()[0]))

    def drops(threshold: float) -> np.ndarray:
        logits = np.concatenate([patched_logits(loaded, image, patches[p], corners[p], threshold)
                                 for p in parts])
        clean = loaded.probabilities(image[None])[0, top]
        return clean - loaded.probabilities_from_logits(logits)[:, top]

    exact = drops(1.0)
    exact_s = best_of(rounds, lambda: drops(1.0))
    count = max(1, len(exact) // 10)
    for threshold in thresholds:
        approx = drops(threshold)
        seconds = best_of(rounds, lambda: drops(threshold))  # noqa: B023
        overlap = len(set(np.argsort(-exact)[:count]) & set(np.argsort(-approx)[:count])) / count
        print(loaded.name, f"approximate threshold={threshold} speedup_vs_exact={exact_s / seconds:.3g} "
              f"pearson_r={np.corrcoef(exact, approx)[0, 1]:.4f} top10_overlap={overlap:.2f} "
              f"positions={len(corners)}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["VGG16", "ResNet50", "MobileNetV2", "shapes"])
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--thresholds", type=float, nargs="*", default=[0.75, 0.5, 0.4],
                        help="approximate mode (projective-field thresholds); none to skip")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    for name in args.models:
        loaded = build(name)
        for job, result in (("occlusion", occlusion(loaded, args.images, args.rounds)),
                            ("one-pixel", one_pixel(loaded, args.rounds))):
            print(name, job, " ".join(f"{k}={v:.4g}" for k, v in result.items()), flush=True)
        if args.thresholds:
            approximate(loaded, args.thresholds, args.images, args.rounds)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
