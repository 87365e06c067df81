"""Incremental inference (Krypton, Nakandala et al., SIGMOD 2019) gives the class scores of full
re-inference, on zoo architectures (random weights), the demo model and hand-built models using
every covered layer type, with patches at the corners, borders and inside; unknown layers fall back."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from cnnviz.attacks.onepixel import one_pixel_attack

from cnnviz.incremental import _compiled, occlusion_logits, patched_logits, worth_it
from cnnviz.methods.occlusion import _build_occluded_logits, fill_image
from cnnviz.models import LoadedModel, load_model

L = keras.layers
RELATIVE = 1e-4


def wrap(model: keras.Model, preprocess=lambda p: p / 127.5 - 1.0) -> LoadedModel:
    height, width = model.inputs[0].shape[1:3]
    classes = tuple(f"c{i}" for i in range(model.outputs[0].shape[-1]))
    return LoadedModel(name=model.name, model=model, input_size=(height, width), class_names=classes,
                       preprocess=preprocess, preprocessing="tf", weights=None)


def corners_for(size: tuple[int, int], patch: int) -> np.ndarray:
    """Every corner and border, the middle, odd offsets, and one 'no patch' corner."""
    h, w = size[0] - patch, size[1] - patch
    return np.array([[0, 0], [0, w], [h, 0], [h, w], [0, w // 2], [h // 2, 0], [h, w // 3],
                     [h // 3, w], [h // 2, w // 2], [1, 3], [h - 1, 5], [size[0], size[1]]], np.int32)


def full_logits(loaded: LoadedModel, image: np.ndarray, patches: np.ndarray,
                corners: np.ndarray) -> np.ndarray:
    images = np.repeat(image[None], len(corners), axis=0)
    for index, ((top, left), patch) in enumerate(zip(corners, patches)):
        if top >= image.shape[0]:
            continue  # no patch: the clean image
        images[index, top:top + patch.shape[0], left:left + patch.shape[1]] = patch
    return loaded.model(loaded.preprocess(images.astype(np.float32)), training=False).numpy()  # eager


def check_exact(loaded: LoadedModel, patch: int, seed: int = 0) -> float:
    """Assert incremental == full within RELATIVE of the logits' scale; return the cost share."""
    rng = np.random.default_rng(seed)
    height, width = loaded.input_size
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    corners = corners_for((height, width), patch)
    patches = rng.integers(0, 256, (len(corners), patch, patch, 3), dtype=np.uint8)
    expected = full_logits(loaded, image, patches, corners)
    got = patched_logits(loaded, image, patches, corners)
    changed = np.abs(expected[:-1] - expected[-1]).max()
    assert changed > 10 * RELATIVE * np.abs(expected).max(), "the patches must change the scores"
    np.testing.assert_allclose(got, expected, rtol=0, atol=RELATIVE * np.abs(expected).max())
    done, total = _compiled(loaded, (patch, patch)).walker.cost
    return done / total


def every_layer_model() -> keras.Model:
    """Stride 2, dilation, 'valid' and 'same' padding, every covered layer type, a residual add,
    a multiply gate and a concatenation."""
    keras.utils.set_random_seed(1)
    x = keras.Input((45, 45, 3))
    y = L.ZeroPadding2D(((1, 2), (0, 1)))(x)
    y = L.Conv2D(8, 3, strides=2, padding="valid", activation="relu")(y)
    y = L.BatchNormalization(beta_initializer="random_normal", moving_mean_initializer="random_normal")(y)
    a = L.Conv2D(8, 3, padding="same", dilation_rate=2)(y)
    a = L.LeakyReLU(0.1)(a)
    b = L.DepthwiseConv2D(5, padding="same", depth_multiplier=1)(y)
    b = L.ReLU(6.0)(b)
    y = L.Add()([a, b, y])
    g = L.Conv2D(8, 1, activation="sigmoid")(y)
    y = L.Multiply()([y, g])
    c = L.SeparableConv2D(6, 3, padding="same", strides=2)(y)
    d = L.MaxPooling2D(3, strides=2, padding="same")(y)
    y = L.Concatenate()([c, d])
    y = L.Activation("swish")(y)
    y = L.DepthwiseConv2D(3, strides=2, padding="valid")(y)
    y = L.AveragePooling2D(2, padding="valid")(y)
    y = L.Conv2D(12, 2, padding="valid", dilation_rate=1)(y)
    y = L.Flatten()(y)
    return keras.Model(x, L.Dense(4)(y), name="every_layer")


@pytest.mark.parametrize("patch", [1, 4, 7])
def test_every_covered_layer_type_matches_full_inference(patch: int) -> None:
    share = check_exact(wrap(every_layer_model()), patch)
    assert share < 0.8  # boxes were really used, not the fallback everywhere


def test_unknown_layer_falls_back_with_the_same_scores() -> None:
    keras.utils.set_random_seed(2)
    x = keras.Input((32, 32, 3))
    y = L.Conv2D(6, 3, padding="same", activation="relu")(x)
    y = L.AveragePooling2D(3, strides=1, padding="same")(y)  # not a plain window: falls back
    y = L.Conv2D(6, 3, strides=2, padding="same")(y)
    y = L.UpSampling2D(2)(y)  # unknown
    y = L.GlobalAveragePooling2D()(y)
    loaded = wrap(keras.Model(x, L.Dense(3)(y), name="fallback"))
    check_exact(loaded, 5)


@pytest.mark.parametrize("name, size", [("VGG16", 64), ("ResNet50", 64), ("MobileNetV2", 96)])
def test_zoo_architectures_match_full_inference(name: str, size: int) -> None:
    keras.utils.set_random_seed(0)
    model = getattr(keras.applications, name)(weights=None, input_shape=(size, size, 3), classes=10,
                                              classifier_activation=None)
    loaded = wrap(model, preprocess=lambda p: (p - 120.0) / 64.0)
    assert check_exact(loaded, 8) < 1.0  # some layers recomputed only their boxes


def test_demo_model_matches_and_occlusion_uses_it() -> None:
    loaded = load_model("shapes")
    check_exact(loaded, 6)
    image = np.random.default_rng(3).integers(0, 256, (*loaded.input_size, 3), dtype=np.uint8)
    assert worth_it(loaded, image, (1, 1))


def test_occlusion_and_one_pixel_give_the_same_results_either_way() -> None:
    loaded = load_model("shapes")
    rng = np.random.default_rng(4)
    image = rng.integers(0, 256, (*loaded.input_size, 3), dtype=np.uint8)
    patch = 9
    fill = fill_image(image, "blur", patch)  # differs everywhere: the patch must be cut at its corner
    corners = np.array([[64, 64], [0, 0], [55, 55], [3, 50], [30, 17]], np.int32)
    function = _build_occluded_logits(loaded)
    scores = [occlusion_logits(loaded, function, tf.constant(image), tf.constant(fill), corners, patch, mode)
              for mode in ("on", "off")]
    np.testing.assert_allclose(scores[0], scores[1], rtol=0, atol=RELATIVE * np.abs(scores[1]).max())
    assert np.abs(scores[1][1:] - scores[1][0]).max() > 0.01
    runs = [one_pixel_attack(loaded, image, popsize=20, maxiter=3, seed=5, stop_early=False,
                             incremental=mode) for mode in ("on", "off")]
    assert runs[0].queries == runs[1].queries
    np.testing.assert_array_equal(runs[0].adversarial, runs[1].adversarial)


def test_approximate_mode_is_cheaper_and_keeps_the_occlusion_map() -> None:
    """Krypton's projective-field threshold: fewer multiply-adds, a map close to the exact one."""
    from cnnviz.demo.shapes import TEST_SEED, generate_sample  # noqa: PLC0415
    loaded = load_model("shapes")
    image = generate_sample(TEST_SEED, loaded.input_size[0]).image
    grid = np.stack(np.meshgrid(np.arange(0, 49, 8), np.arange(0, 49, 8), indexing="ij"), -1).reshape(-1, 2)
    patches = np.full((len(grid), 16, 16, 3), 128, np.uint8)
    top = int(np.argmax(loaded.logits(image[None]).numpy()[0]))
    maps, shares = [], []
    for threshold in (1.0, 0.5):
        logits = patched_logits(loaded, image, patches, grid.astype(np.int32), threshold)
        maps.append(loaded.probabilities_from_logits(logits)[:, top])
        done, total = _compiled(loaded, (16, 16), threshold).walker.cost
        shares.append(done / total)
    assert shares[1] < 0.9 * shares[0]
    assert np.corrcoef(maps[0], maps[1])[0, 1] > 0.8
    assert np.abs(maps[0] - maps[1]).max() > 1e-4  # approximate: not the exact scores


def test_an_unknown_mode_is_a_clear_error() -> None:
    from cnnviz.errors import ParameterError  # noqa: PLC0415
    loaded = load_model("shapes")
    image = np.zeros((*loaded.input_size, 3), np.uint8)
    with pytest.raises(ParameterError, match="incremental must be one of auto, on, off"):
        one_pixel_attack(loaded, image, popsize=4, maxiter=1, incremental="fast")


def test_explain_takes_the_incremental_option_and_gives_the_same_map() -> None:
    from cnnviz.errors import ParameterError  # noqa: PLC0415
    from cnnviz.explanation import explain  # noqa: PLC0415
    loaded = load_model("shapes")
    image = np.random.default_rng(6).integers(0, 256, (*loaded.input_size, 3), dtype=np.uint8)
    maps = {mode: explain(loaded, image, "occlusion", patch_size=16, stride=16, incremental=mode)
            for mode in ("on", "off")}
    assert maps["on"].params["incremental"] == "on" and maps["off"].params["incremental"] == "off"
    np.testing.assert_allclose(maps["on"].raw, maps["off"].raw, rtol=0, atol=1e-4 * np.abs(maps["off"].raw).max())
    assert np.abs(maps["off"].raw).max() > 1e-3  # the patches change the score: the comparison means something
    with pytest.raises(ParameterError, match="incremental"):
        explain(loaded, image, "occlusion", incremental="fast")


def test_auto_keeps_the_full_pass_for_a_graph_the_walker_cannot_take() -> None:
    """Two image inputs: the walker cannot trace it, so "auto" must not break the method."""
    keras.utils.set_random_seed(3)
    first, second = keras.Input((16, 16, 3)), keras.Input((16, 16, 3))
    merged = L.Add()([L.Conv2D(2, 3)(first), L.Conv2D(2, 3)(second)])
    model = keras.Model([first, second], L.Dense(2)(L.Flatten()(merged)))
    loaded = LoadedModel(name="two", model=model, input_size=(16, 16), class_names=("a", "b"),
                         preprocess=lambda p: p, preprocessing="x", weights=None)
    assert not worth_it(loaded, np.zeros((16, 16, 3), np.uint8), (2, 2))
