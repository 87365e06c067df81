"""First call: the warm-up traces what a page's first click needs (cnnviz.warmup), the batched
compiled passes never retrace on a new batch size, and random-weight zoo models need no network."""

from __future__ import annotations

import socket

import keras
import numpy as np
import pytest

import cnnviz.warmup
from cnnviz.attacks.budget import estimate_onepixel
from cnnviz.attacks.onepixel import PRESETS, default_preset, one_pixel_attack
from cnnviz.explanation import explain
from cnnviz.methods.perturbation import masked_scores
from cnnviz.models import LoadedModel, imagenet_class_names, preprocessing_function
from cnnviz.zoo import get_spec

SIZE = 32


def tiny(seed: int = 0) -> LoadedModel:
    """A small CNN (a convolution, global pooling, a dense head) with random weights, 32 x 32 RGB in."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3)(x))
    return LoadedModel(name="tiny", model=model, input_size=(SIZE, SIZE), class_names=("a", "b", "c"),
                       preprocess=preprocessing_function("scale01"), preprocessing="scale01", weights=None)


def tracing_counts(loaded: LoadedModel) -> dict[object, int]:
    """How often each compiled function in the model's cache (or inside a cached object) was traced."""
    counts = {}
    for key, value in loaded._functions.items():
        parts = [value, *vars(value).values()] if hasattr(value, "__dict__") else [value]
        counts[key] = sum(int(part.experimental_get_tracing_count()) for part in parts
                          if hasattr(part, "experimental_get_tracing_count"))
    return counts


def image(seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def warmed() -> tuple[LoadedModel, dict[str, float]]:
    """The tiny model after every warm-up step, and the seconds of each."""
    loaded = tiny()
    return loaded, cnnviz.warmup.warm_up(loaded, cnnviz.warmup.FOREGROUND + cnnviz.warmup.BACKGROUND)


def test_after_the_warm_up_the_first_clicks_build_and_trace_nothing(warmed) -> None:
    loaded, seconds = warmed
    assert set(seconds) == {"logits", "gradcam", "occlusion", "attack"}
    before = tracing_counts(loaded)
    assert sum(before.values()) >= 4  # forward pass, Grad-CAM, occlusion, attack: all traced already
    popsize, maxiter = PRESETS[default_preset(loaded.input_size)]
    picture = image()
    explain(loaded, picture, method="gradcam")
    explain(loaded, picture, method="occlusion")  # the default settings: four times the positions
    estimate_onepixel(loaded, popsize, maxiter)
    one_pixel_attack(loaded, picture, popsize=popsize, maxiter=0, stop_early=False, seed=0)
    assert tracing_counts(loaded) == before  # same cached functions, not one more trace


def test_a_model_without_a_spatial_layer_skips_grad_cam_in_the_warm_up() -> None:
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(inputs)))
    loaded = LoadedModel(name="flat", model=model, input_size=(8, 8), class_names=("a", "b"),
                         preprocess=preprocessing_function("scale01"), preprocessing="scale01", weights=None)
    assert set(cnnviz.warmup.warm_up(loaded)) == {"logits"}


def test_the_background_warm_up_runs_once_per_model_and_can_be_switched_off(monkeypatch) -> None:
    loaded = tiny()
    monkeypatch.setenv(cnnviz.warmup.ENVIRONMENT_SWITCH, "1")
    background = cnnviz.warmup.warm_up_in_background(loaded, ("logits",))
    assert background.thread is not None and background.thread.daemon
    assert background.wait(timeout=60)
    assert set(background.seconds) == {"logits"} and ("logits", "uint8") in loaded._functions
    assert cnnviz.warmup.warm_up_in_background(loaded, ("logits",)) is background  # not started twice
    monkeypatch.setenv(cnnviz.warmup.ENVIRONMENT_SWITCH, "0")
    other = tiny(seed=1)
    off = cnnviz.warmup.warm_up_in_background(other, ("logits",))
    assert off.thread is None and off.wait() and not off.seconds
    assert ("logits", "uint8") not in other._functions


def test_batched_passes_take_a_short_last_batch_without_retracing_and_with_the_same_values(warmed) -> None:
    loaded, _ = warmed
    picture = image()
    # 17 occluded images (4 x 4 positions and the clean one) in batches of 5: the last one holds 2
    whole = explain(loaded, picture, method="occlusion", patch_size=8, stride=8, batch_size=32)
    before = tracing_counts(loaded)
    short = explain(loaded, picture, method="occlusion", patch_size=8, stride=8, batch_size=5)
    np.testing.assert_allclose(short.raw, whole.raw, rtol=1e-4, atol=1e-6)
    assert np.abs(whole.raw).max() > 1e-4  # a real map, not all zeros
    masks = (np.random.default_rng(0).random((20, 4, 4)) > 0.5).astype(np.float32)
    scores = [masked_scores(loaded, picture, masks, 20, 0, {"batch_size": size, "score": "logit"})
              for size in (20, 6)]  # 20, then 6, 6, 6 and 2
    np.testing.assert_allclose(scores[1], scores[0], rtol=1e-4, atol=1e-6)
    assert np.ptp(scores[0]) > 1e-4
    one_pixel_attack(loaded, picture, popsize=10, maxiter=2, batch_size=4, incremental="off", seed=0)
    after = tracing_counts(loaded)
    assert after[("methods.masked_scores", "input", "nearest")] == 1 and after[("logits", "uint8")] == 1
    assert {key: after[key] for key in before} == before  # no retrace for the batches of 5, 6, 4, 2


def test_class_names_of_random_weights_try_no_download(monkeypatch) -> None:
    lookups: list[object] = []

    def offline(*args: object, **kwargs: object) -> None:
        lookups.append(args[0])
        raise OSError("offline")

    monkeypatch.setattr(socket, "getaddrinfo", offline)
    spec = get_spec("MobileNetV2")
    names, known = imagenet_class_names.__wrapped__(spec, download=False)
    assert lookups == [] and not known and names[:2] == ("class 0", "class 1") and len(names) == 1000
    names, known = imagenet_class_names.__wrapped__(spec)  # ImageNet weights: it does try the network
    assert lookups and not known and len(names) == 1000
