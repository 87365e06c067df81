"""Incremental inference on the mixed bfloat16 twin (cnnviz.incremental on cnnviz.precision.twin):
the boxes are computed in bfloat16 with the twin's layers, and the class scores match the twin's own
full pass (to bfloat16 rounding) and float32's occlusion map; precision="float32" never computes in
16 bits; auto's three-way choice follows real measured timings."""

from __future__ import annotations

import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from cnnviz.explanation import explain
from cnnviz.incremental import _compiled, patched_logits
from cnnviz.models import LoadedModel
from cnnviz.precision import Way, fastest, twin
from tests import known_models

L = keras.layers
SIZE, PATCH, STRIDE = 48, 8, 8
BF16 = "mixed_bfloat16"


def resnet_like() -> keras.Model:
    """Convolutions, batch norms, max pooling and a residual Add (a ResNet block)."""
    keras.utils.set_random_seed(5)
    x = keras.Input((SIZE, SIZE, 3))
    y = L.ReLU()(L.BatchNormalization()(L.Conv2D(8, 3, padding="same")(x)))
    y = L.MaxPooling2D(2)(y)
    branch = L.ReLU()(L.BatchNormalization()(L.Conv2D(8, 3, padding="same")(y)))
    branch = L.BatchNormalization()(L.Conv2D(8, 3, padding="same")(branch))
    y = L.ReLU()(L.Add()([y, branch]))
    y = L.Conv2D(16, 3, strides=2, padding="same", activation="relu")(y)
    model = keras.Model(x, L.Dense(5)(L.GlobalAveragePooling2D()(y)), name="resnet_like")
    known_models.randomise_batch_norms(model, 6)
    return model


def vgg_like() -> keras.Model:
    keras.utils.set_random_seed(7)
    x = keras.Input((SIZE, SIZE, 3))
    y = L.Conv2D(8, 3, padding="same", activation="relu")(x)
    y = L.MaxPooling2D(2)(L.Conv2D(8, 3, padding="same", activation="relu")(y))
    y = L.MaxPooling2D(2)(L.Conv2D(16, 3, padding="same", activation="relu")(y))
    return keras.Model(x, L.Dense(5)(L.Flatten()(y)), name="vgg_like")


def wrap(model: keras.Model) -> LoadedModel:
    return known_models.loaded(model, SIZE, "tf", classes=5)


def occlusion_case() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A smooth image, grey patches on a stride-8 grid (the clean image last) and the occluded images."""
    rows, columns = np.mgrid[0:SIZE, 0:SIZE]
    image = np.stack([128 + 100 * np.sin(rows / 5.0), 128 + 100 * np.cos(columns / 7.0),
                      (rows * columns) % 256], -1).astype(np.uint8)
    starts = np.arange(0, SIZE - PATCH + 1, STRIDE)
    corners = np.array([[r, c] for r in starts for c in starts] + [[SIZE, SIZE]], np.int32)
    patches = np.full((len(corners), PATCH, PATCH, 3), 128, np.uint8)
    occluded = np.repeat(image[None], len(corners), axis=0)
    for picture, (top, left) in zip(occluded[:-1], corners[:-1]):  # independent of the walker
        picture[top:top + PATCH, left:left + PATCH] = 128
    return image, corners, patches, occluded


def drops(logits: np.ndarray, top: int) -> np.ndarray:
    """The occlusion map of logits whose last row is the clean image: how much each patch lowers it."""
    return logits[-1, top] - logits[:-1, top]


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1])


@pytest.mark.parametrize("build", [resnet_like, vgg_like])
def test_bfloat16_boxes_match_the_twins_full_pass_and_float32(build) -> None:
    loaded = wrap(build())
    reduced = twin(loaded, BF16)
    image, corners, patches, occluded = occlusion_case()
    incremental = patched_logits(reduced, image, patches, corners)
    full = reduced.logits(occluded).numpy()
    float32 = loaded.model(loaded.preprocess(occluded.astype(np.float32)), training=False).numpy()

    compiled = _compiled(reduced, (PATCH, PATCH))
    clean = compiled.clean(image)
    conv_names = [layer.name for layer in reduced.model.layers if isinstance(layer, L.Conv2D)]
    assert all(clean[name].dtype == tf.bfloat16 for name in conv_names)  # stored in the compute dtype
    assert incremental.dtype == np.float32
    done, total = compiled.walker.cost
    assert done < 0.8 * total  # the boxes were really recomputed alone, not the whole model

    scale = np.abs(full).max()
    np.testing.assert_allclose(incremental, full, rtol=0, atol=2e-2 * scale)
    assert np.abs(incremental - float32).max() > 1e-4 * scale  # really computed in 16 bits
    top = int(np.argmax(float32[-1]))
    assert np.ptp(drops(float32, top)) > 0.02 * scale  # the patches move the score: a real map
    assert pearson(drops(incremental, top), drops(full, top)) >= 0.999
    assert pearson(drops(incremental, top), drops(float32, top)) >= 0.99


def float32_raw_map(loaded: LoadedModel, image: np.ndarray) -> np.ndarray:
    """Occlusion's raw map (probability drops, mean fill) by plain float32 passes, built here."""
    starts = np.arange(0, SIZE - PATCH + 1, STRIDE)
    fill = np.round(image.reshape(-1, 3).mean(axis=0)).astype(np.uint8)
    occluded = np.repeat(image[None], len(starts) ** 2 + 1, axis=0)
    for picture, (top, left) in zip(occluded[1:], [(r, c) for r in starts for c in starts]):
        picture[top:top + PATCH, left:left + PATCH] = fill
    logits = loaded.model(loaded.preprocess(occluded.astype(np.float32)), training=False)
    probabilities = tf.nn.softmax(logits).numpy()
    top = int(np.argmax(probabilities[0]))
    return (probabilities[0, top] - probabilities[1:, top]).reshape(len(starts), len(starts))


def test_float32_never_takes_the_16_bit_path() -> None:
    loaded = wrap(vgg_like())
    image = occlusion_case()[0]
    exact = explain(loaded, image, "occlusion", precision="float32", patch_size=PATCH, stride=STRIDE)
    assert exact.precision["policy"] == "float32"
    assert not [key for key in loaded._functions if "precision" in str(key)]  # no twin, no calibration
    expected = float32_raw_map(loaded, image)
    np.testing.assert_allclose(exact.raw, expected, rtol=0, atol=1e-5)
    reduced = explain(loaded, image, "occlusion", precision="bfloat16", patch_size=PATCH, stride=STRIDE)
    assert reduced.precision["policy"] == BF16 and "incremental" in reduced.precision["reason"]
    assert np.abs(reduced.raw - expected).max() > 1e-5  # the check above tells the precisions apart
    assert pearson(reduced.raw.ravel(), expected.ravel()) >= 0.99


def test_auto_takes_the_fastest_of_three_measured_ways() -> None:
    """Real timings of controlled work; the decision is cached per model and key and says why."""
    loaded = wrap(vgg_like())
    calls: list[str] = []

    def sleeper(name: str, seconds: float):
        return lambda: (calls.append(name), time.sleep(seconds))

    ways = [Way("incremental inference in float32", "float32", sleeper("32", 0.06)),
            Way("incremental inference in mixed_bfloat16", BF16, sleeper("16", 0.015)),
            Way("the full pass in mixed_bfloat16", BF16, sleeper("full", 0.04))]
    best, choice = fastest(loaded, ("test", 1), ways)
    assert best == 1 and choice.policy == BF16 and choice.asked == "auto"
    assert choice.speedup > 1.5  # over the runner-up (the full pass, 2.7x slower)
    assert choice.reason.startswith("incremental inference in mixed_bfloat16 measured")
    assert "faster than incremental inference in float32" in choice.reason
    assert calls[:3] == ["32", "16", "full"] and calls[3:6] == ["32", "16", "full"]  # warm-up, alternating
    count = len(calls)
    assert fastest(loaded, ("test", 1), ways) == (best, choice) and len(calls) == count  # cached


def test_a_fast_16_bit_way_that_disagrees_is_refused() -> None:
    """The agreement guard of the three-way choice: speed alone does not pick a 16-bit way."""
    loaded = wrap(vgg_like())
    reference = np.linspace(0.0, 1.0, 16)
    close = reference + np.random.default_rng(1).normal(0, 1e-3, 16)
    blurred = np.random.default_rng(2).normal(0, 1, 16)

    def answering(answer: np.ndarray, seconds: float):
        return lambda: (time.sleep(seconds), answer)[1]

    ways = [Way("incremental inference in float32", "float32", answering(reference, 0.04)),
            Way("incremental inference in mixed_bfloat16", BF16, answering(blurred, 0.005)),
            Way("the full pass in mixed_bfloat16", BF16, answering(close, 0.02))]
    best, choice = fastest(loaded, ("test", 2), ways, pearson)
    assert best == 2 and choice.policy == BF16  # the fastest one disagreed
    assert "incremental inference in mixed_bfloat16 (" in choice.reason and "only to r = " in choice.reason
    ways[2] = Way("the full pass in mixed_bfloat16", BF16, answering(blurred, 0.005))
    best, choice = fastest(loaded, ("test", 3), ways, pearson)
    assert best == 0 and choice.policy == "float32" and choice.speedup == 1.0
