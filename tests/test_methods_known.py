"""The issue-16 methods against known answers on hand-built tiny models (as captum's tests do).

Black-box methods on an additive model over grid cells (Sobol indices, Shapley values, LIME
coefficients and occlusion drops are known in closed form); CAM variants against their formulas
computed here with an independent Keras probe; gradient methods on linear and one-ReLU models; LRP
conservation on a bias-free ReLU network with batch norm, Add, pooling and a depthwise convolution.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy.stats import spearmanr

from cnnviz.errors import MethodNotApplicableError, ParameterError
from cnnviz.explanation import explain
from cnnviz.methods.core import low_pass
from cnnviz.methods.lrp import input_relevance
from cnnviz.methods.occlusion import over_patches
from cnnviz.methods.superpixels import segment
from tests.known_models import cell_image, cell_model, loaded

RNG = np.random.default_rng(0)
WEIGHTS = RNG.uniform(-1, 1, (4, 4)).astype(np.float32)
COLOURS = (40 + 12 * RNG.permutation(16)).reshape(4, 4)  # distinct grey levels: SLIC finds the cells


def contributions(size: int) -> np.ndarray:
    """What each cell adds to logit 0 of the cell model on the cell image: w_i * colour_i / 255."""
    return WEIGHTS * COLOURS / 255.0


@pytest.fixture(scope="module")
def additive16():
    return cell_model(WEIGHTS, 16), cell_image(COLOURS, 16)


@pytest.fixture(scope="module")
def additive32():
    return cell_model(WEIGHTS, 32), cell_image(COLOURS, 32)


def per_cell(full: np.ndarray, grid: int = 4) -> np.ndarray:
    cell = full.shape[0] // grid
    return full.reshape(grid, cell, grid, cell).mean(axis=(1, 3))


# --- black box ------------------------------------------------------------------------------------
def test_rise_puts_its_mass_on_the_only_quadrant_the_model_reads(additive16) -> None:
    quadrant = np.zeros((4, 4), np.float32)
    quadrant[:2, :2] = 1.0
    result = explain(cell_model(quadrant, 16), additive16[1], "rise", class_index=0, samples=600, grid_size=4,
                     score="logit", batch_size=200)
    excess = result.raw - result.raw.min()
    assert excess[:8, :8].sum() / excess.sum() > 0.5  # a quarter of the image holds most of the mass
    assert np.unravel_index(result.raw.argmax(), result.raw.shape) < (8, 8)
    assert result.raw[:8, :8].min() > result.raw[8:, 8:].max()


def test_sobol_total_indices_recover_the_additive_weights(additive16) -> None:
    """Additive f = sum c_i M_i with independent uniform masks: ST_i = c_i^2 / sum c^2."""
    model, image = additive16
    result = explain(model, image, "sobol", class_index=0, grid_size=4, designs=128, score="logit",
                     batch_size=512)
    expected = contributions(16) ** 2 / (contributions(16) ** 2).sum()
    np.testing.assert_allclose(result.raw, expected, atol=0.03)
    assert np.corrcoef(result.raw.ravel(), expected.ravel())[0, 1] > 0.98


def test_hsic_ranks_the_cells_by_how_much_the_score_depends_on_them(additive16) -> None:
    model, image = additive16
    result = explain(model, image, "hsic", class_index=0, grid_size=4, designs=1024, score="logit",
                     batch_size=512)
    assert spearmanr(result.raw.ravel(), np.abs(contributions(16)).ravel()).statistic > 0.9
    strongest = np.unravel_index(np.abs(contributions(16)).argmax(), (4, 4))
    assert result.raw[strongest] >= np.sort(result.raw.ravel())[-2]


def segment_values(image: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """What hiding each superpixel (with black) removes from logit 0 of the 32 px cell model, painted
    on it: the model is linear in the pixels, so this is each superpixel's exact Shapley value."""
    pixel = np.repeat(np.repeat(WEIGHTS / 64, 8, 0), 8, 1) * image.mean(-1) / 255.0  # 8 x 8 px cells
    totals = np.bincount(labels.ravel(), pixel.ravel())
    return totals[labels]


def test_kernel_shap_gives_the_exact_shapley_values_of_a_linear_model(additive32) -> None:
    model, image = additive32
    result = explain(model, image, "kernel_shap", class_index=0, segments=16, samples=200, fill="zero",
                     score="logit", batch_size=256)
    labels = segment(image, 16)
    np.testing.assert_allclose(result.raw, segment_values(image, labels), atol=2e-3)
    values = [result.raw[labels == k][0] for k in range(labels.max() + 1)]
    assert sum(values) == pytest.approx(float(model.logits(image[None])[0, 0]), abs=1e-3)  # efficiency


def test_lime_recovers_the_linear_model_up_to_ridge_shrinkage(additive32) -> None:
    model, image = additive32
    result = explain(model, image, "lime", class_index=0, segments=16, samples=300, fill="zero",
                     score="logit", batch_size=300)
    expected = segment_values(image, segment(image, 16))
    assert np.corrcoef(result.raw.ravel(), expected.ravel())[0, 1] > 0.995
    np.testing.assert_allclose(result.raw, expected, atol=0.05 * np.abs(expected).max())


def test_occlusion_logit_drop_of_each_patch_and_the_sum_aggregate(additive16) -> None:
    model, image = additive16
    result = explain(model, image, "occlusion", class_index=0, patch_size=4, stride=4, fill="zero",
                     score="logit", aggregate="sum")
    np.testing.assert_allclose(result.raw, contributions(16), atol=1e-5)
    drops = np.arange(1.0, 10.0).reshape(3, 3)  # patches of 8 px at stride 4 on 16 px
    starts = np.array([0, 4, 8])
    summed = over_patches(drops, starts, starts, 8, (16, 16), "sum")
    averaged = over_patches(drops, starts, starts, 8, (16, 16), "mean")
    assert summed[0, 0] == averaged[0, 0] == 1.0  # one patch covers the corner
    assert summed[5, 5] == drops[:2, :2].sum() and averaged[5, 5] == drops[:2, :2].mean()


# --- CAM variants ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cam_model():
    """conv -> relu ("feat", the target) -> 1x1 conv -> relu -> GAP -> Dense: gradients vary in space."""
    keras.utils.set_random_seed(7)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(6, 3, strides=2, padding="same", name="conv")(inputs)
    features = keras.layers.ReLU(name="feat")(x)
    x = keras.layers.Conv2D(5, 1, activation="relu", name="mix")(features)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3, name="out")(x))
    head = keras.Sequential([model.get_layer("mix"), model.layers[-2], model.get_layer("out")])
    image = np.random.default_rng(1).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    probe = keras.Model(model.inputs, features)
    activations = probe([image[None].astype(np.float32) / 255.0])
    with tf.GradientTape() as tape:
        tape.watch(activations)
        score = head(activations)[0, 1]
    gradients = tape.gradient(score, activations)[0].numpy()
    return (loaded(model, 16, "scale01", classes=3), image, activations[0].numpy(), gradients, head,
            float(score))


@pytest.mark.parametrize(("method", "formula"), [
    ("xgradcam", lambda a, g: np.maximum((a * ((a * g).sum((0, 1)) / (a.sum((0, 1)) + 1e-7))).sum(-1), 0)),
    ("hirescam", lambda a, g: np.maximum((a * g).sum(-1), 0)),
    ("gradcam_elementwise", lambda a, g: np.maximum(a * g, 0).sum(-1)),
    ("fem", lambda a, g: ((a > a.mean((0, 1)) + 2 * a.std((0, 1))) * a.mean((0, 1))).sum(-1)),
])
def test_cam_variants_match_their_formulas(cam_model, method: str, formula) -> None:
    model, image, activations, gradients, _, _ = cam_model
    result = explain(model, image, method, class_index=1, layer="feat")
    assert result.raw.shape == (8, 8) and np.ptp(result.raw) > 0
    np.testing.assert_allclose(result.raw, formula(activations, gradients), rtol=1e-4, atol=1e-6)


def test_eigencam_is_the_first_principal_component(cam_model) -> None:
    model, image, activations, _, _, _ = cam_model
    result = explain(model, image, "eigencam", class_index=1, layer="feat")
    matrix = activations.reshape(-1, activations.shape[-1])
    centred = matrix - matrix.mean(0)
    component = np.linalg.eigh(centred.T @ centred)[1][:, -1]  # largest eigenvector of the scatter
    projection = centred @ component
    projection *= np.sign(np.corrcoef(projection, matrix.sum(1))[0, 1])
    np.testing.assert_allclose(result.raw.ravel(), np.maximum(projection, 0), rtol=1e-3, atol=1e-5)


def test_ablationcam_weights_are_the_score_drops(cam_model) -> None:
    model, image, activations, _, head, score = cam_model
    weights = []
    for channel in range(activations.shape[-1]):
        ablated = activations.copy()
        ablated[..., channel] = 0
        weights.append((score - float(head(ablated[None])[0, 1])) / score)
    expected = np.maximum((activations * np.array(weights)).sum(-1), 0)
    calls = []
    result = explain(model, image, "ablationcam", class_index=1, layer="feat", batch_size=4,
                     progress=lambda done, total, info: calls.append((done, total)))
    np.testing.assert_allclose(result.raw, expected, rtol=1e-3, atol=1e-5)
    assert calls[-1] == (6, 6) and len(calls) == 3  # 6 channels in batches of 4, and the start


# --- gradient methods --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def relu_model():
    """logit = v . relu(W x) with x the image in 0..1: DeconvNet, guided and plain gradients differ."""
    keras.utils.set_random_seed(5)
    inputs = keras.Input((8, 8, 3))
    flat = keras.layers.Flatten()(inputs)
    hidden = keras.layers.Dense(6, activation="relu", use_bias=False, name="hidden")(flat)
    model = keras.Model(inputs, keras.layers.Dense(2, use_bias=False, name="out")(hidden))
    w = model.get_layer("hidden").get_weights()[0]
    v = model.get_layer("out").get_weights()[0][:, 0]
    return loaded(model, 8, "scale01"), w, v


def test_gradient_x_input_deconvnet_and_guided_backprop_on_one_relu(relu_model) -> None:
    model, w, v = relu_model
    image = np.random.default_rng(11).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    x = image.reshape(-1) / 255.0
    active = (x @ w) > 0
    assert 0 < active.sum() < 6  # some units on, some off: the three backward rules differ
    gradient = w @ (v * active)  # d logit / dx in the model's input space
    gxi = explain(model, image, "gradient_input", class_index=0)
    np.testing.assert_allclose(gxi.raw, (x * gradient).reshape(8, 8, 3).sum(-1), rtol=1e-4, atol=1e-6)
    assert gxi.raw.sum() == pytest.approx(float(np.maximum(x @ w, 0) @ v), rel=1e-4)  # homogeneous model
    deconv = explain(model, image, "deconvnet", class_index=0)  # ReLU passes relu(upstream), mask ignored
    expected = (w @ np.maximum(v, 0)) / 255.0
    np.testing.assert_allclose(deconv.raw, expected.reshape(8, 8, 3).sum(-1), rtol=1e-4, atol=1e-7)
    guided = explain(model, image, "guided_backprop", class_index=0)
    expected = np.abs((w @ (np.maximum(v, 0) * active)) / 255.0).reshape(8, 8, 3).max(-1)
    np.testing.assert_allclose(guided.raw, expected, rtol=1e-4, atol=1e-7)


def test_vargrad_and_squaregrad_on_a_linear_model(additive16) -> None:
    model, image = additive16
    gradient = np.repeat(np.repeat(WEIGHTS / 3 / 16 / 255, 4, 0), 4, 1)  # per colour, raw pixels
    square = explain(model, image, "squaregrad", class_index=0, samples=4, noise=0.2)
    np.testing.assert_allclose(square.raw, gradient ** 2, rtol=1e-3)
    variance = explain(model, image, "vargrad", class_index=0, samples=4, noise=0.2)
    assert variance.raw.max() < 1e-6 * square.raw.max()  # a linear model's gradient never varies


def test_vargrad_is_positive_where_the_gradient_changes(relu_model) -> None:
    model, _, _ = relu_model
    image = np.random.default_rng(12).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    assert explain(model, image, "vargrad", class_index=0, samples=16, noise=0.5).raw.max() > 0


def test_forgrad_low_pass_removes_high_frequencies_only() -> None:
    rows, columns = np.mgrid[:16, :16]
    smooth = np.cos(2 * np.pi * rows / 16)
    checker = np.where((rows + columns) % 2 == 0, 1.0, -1.0)
    np.testing.assert_allclose(low_pass((smooth + checker)[None], 2)[0], smooth, atol=1e-6)
    np.testing.assert_allclose(low_pass(checker[None], 8)[0], checker, atol=1e-6)


def test_forgrad_on_a_gradient_method(relu_model) -> None:
    model, _, _ = relu_model
    image = np.random.default_rng(13).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    plain = explain(model, image, "saliency", class_index=0)
    filtered = explain(model, image, "saliency", class_index=0, forgrad=2)
    np.testing.assert_allclose(filtered.raw, low_pass(plain.raw[None], 2)[0], rtol=1e-4, atol=1e-7)
    with pytest.raises(ParameterError, match="forgrad"):
        explain(model, image, "gradient_input", forgrad=0)


# --- LRP ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bias_free_net():
    """A bias-free ReLU CNN with batch norm (no shift), Add, max pooling, depthwise conv, upsampling."""
    keras.utils.set_random_seed(1)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", use_bias=False)(inputs)
    norm = keras.layers.BatchNormalization(center=False)
    x = keras.layers.ReLU()(norm(x))
    y = keras.layers.Conv2D(8, 3, padding="same", use_bias=False, activation="relu")(x)
    x = keras.layers.MaxPooling2D(2)(keras.layers.Add()([x, y]))
    x = keras.layers.ReLU()(keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False)(x))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.UpSampling2D(2, interpolation="bilinear")(x))
    model = keras.Model(inputs, keras.layers.Dense(3, use_bias=False)(x))
    norm.set_weights([np.random.default_rng(14).uniform(0.5, 2, 8).astype("f"), np.zeros(8, "f"), np.random.default_rng(15).uniform(0.5, 2, 8).astype("f")])
    return loaded(model, 16, "scale01", classes=3)


@pytest.mark.parametrize("rule", ["epsilon", "zplus", "gamma", "epsilon_plus", "epsilon_plus_flat"])
def test_lrp_conserves_relevance_on_a_bias_free_relu_net(bias_free_net, rule: str) -> None:
    image = np.random.default_rng(16).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    result = explain(bias_free_net, image, "lrp", rule=rule, epsilon=1e-9)
    logit = float(bias_free_net.logits(image[None]).numpy()[0, result.class_index])
    assert result.raw.sum() == pytest.approx(logit, rel=0.01)
    assert result.raw.shape == (16, 16) and np.ptp(result.raw) > 0


def test_lrp_rules_match_a_hand_computed_dense_net(relu_model) -> None:
    """z-plus and epsilon on v . relu(W x), written out in NumPy."""
    model, w, v = relu_model
    image = np.random.default_rng(17).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    x = image.reshape(-1) / 255.0
    hidden = np.maximum(x @ w, 0)
    top = np.zeros(2)
    top[0] = hidden @ v
    params = {"rule": "zplus", "epsilon": 1e-9, "alpha": 2.0, "beta": 1.0, "gamma": 0.25}
    relevance_hidden = hidden * np.maximum(v, 0) * top[0] / (hidden @ np.maximum(v, 0))
    wp = np.maximum(w, 0)
    expected = x * (wp @ (relevance_hidden / (x @ wp)))
    relevance, _, _ = input_relevance(model, image[None], np.array([0], np.int32), params)
    np.testing.assert_allclose(relevance[0].ravel(), expected, rtol=1e-4, atol=1e-8)
    relevance_hidden = hidden * v * top[0] / (hidden @ v)
    expected = x * (w @ (relevance_hidden / (x @ w + 1e-12)))
    relevance, _, _ = input_relevance(model, image[None], np.array([0], np.int32), {**params, "rule": "epsilon"})
    np.testing.assert_allclose(relevance[0].ravel(), expected, rtol=1e-3, atol=1e-7)


def test_lrp_folds_batch_norm_with_a_shift_into_the_conv() -> None:
    """With batch norm folded, a conv + BN + Dense net gives the relevance of the equivalent conv net."""
    keras.utils.set_random_seed(2)
    inputs = keras.Input((8, 8, 3))
    conv = keras.layers.Conv2D(4, 3, use_bias=True)
    norm = keras.layers.BatchNormalization()
    x = keras.layers.ReLU()(norm(conv(inputs)))
    dense = keras.layers.Dense(2)
    model = keras.Model(inputs, dense(keras.layers.Flatten()(x)))
    norm.set_weights([np.random.default_rng(18).uniform(0.5, 2, 4), np.random.default_rng(19).normal(0, 0.3, 4), np.random.default_rng(20).normal(0, 0.3, 4),
                      np.random.default_rng(21).uniform(0.5, 2, 4)])
    kernel, bias = conv.get_weights()
    gamma, beta, mean, variance = norm.get_weights()
    scale = gamma / np.sqrt(variance + norm.epsilon)
    inputs2 = keras.Input((8, 8, 3))
    conv2 = keras.layers.Conv2D(4, 3, activation="relu")
    dense2 = keras.layers.Dense(2)
    plain = keras.Model(inputs2, dense2(keras.layers.Flatten()(conv2(inputs2))))
    conv2.set_weights([kernel * scale, (bias - mean) * scale + beta])
    dense2.set_weights(dense.get_weights())
    image = np.random.default_rng(22).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    with_bn = explain(loaded(model, 8, "scale01"), image, "lrp", class_index=0, rule="epsilon")
    folded = explain(loaded(plain, 8, "scale01"), image, "lrp", class_index=0, rule="epsilon")
    np.testing.assert_allclose(with_bn.raw, folded.raw, rtol=1e-4, atol=1e-5 * np.abs(folded.raw).max())


def test_lrp_refuses_layers_it_has_no_rule_for() -> None:
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.SeparableConv2D(4, 3)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(x)))
    with pytest.raises(MethodNotApplicableError, match="SeparableConv2D"):
        explain(loaded(model, 8), np.zeros((8, 8, 3), np.uint8), "lrp")


@pytest.mark.parametrize(("method", "params", "words"), [
    ("rise", {"grid_size": 1}, "grid_size"),
    ("rise", {"keep": 1.5}, "keep"),
    ("sobol", {"designs": 0}, "designs"),
    ("hsic", {"score": "odds"}, "score"),
    ("lime", {"segments": 1}, "segments"),
    ("kernel_shap", {"fill": "pink"}, "fill"),
    ("lrp", {"rule": "magic"}, "rule"),
    ("lrp", {"alpha": 3.0, "beta": 1.0}, "alpha - beta"),
    ("fem", {"k": -1}, "k"),
    ("ablationcam", {"top_k": 0}, "top_k"),
    ("occlusion", {"aggregate": "max"}, "aggregate"),
    ("vargrad", {"samples": 0}, "samples"),
])
def test_new_methods_check_their_parameters(additive16, method: str, params: dict, words: str) -> None:
    model, image = additive16
    with pytest.raises(ParameterError, match=words):
        explain(model, image, method, **params)


def test_new_methods_on_a_users_model_file(tmp_path) -> None:
    """A saved .keras classifier ending in softmax (cnnviz explains its logits): LRP conserves the logit."""
    from cnnviz.models import load_model_file

    keras.utils.set_random_seed(4)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(6, 3, padding="same", use_bias=False, activation="relu")(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(6, 3, padding="same", use_bias=False, activation="relu", name="top")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax", use_bias=False)(x))
    path = tmp_path / "user.keras"
    model.save(path)
    user = load_model_file(path, labels=["a", "b", "c"])
    image = np.random.default_rng(40).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    logits = user.logits(image[None]).numpy()[0]
    relevance = explain(user, image, "lrp", rule="epsilon", epsilon=1e-9)
    assert relevance.raw.sum() == pytest.approx(float(logits.max()), rel=0.01)
    for method, params in (("xgradcam", {}), ("eigencam", {}), ("rise", {"samples": 16}),
                           ("lime", {"samples": 16, "segments": 8}), ("gradient_input", {"forgrad": 4})):
        result = explain(user, image, method, **params)
        assert result.class_index == int(np.argmax(logits)) and result.heatmap.max() == pytest.approx(1.0)


@pytest.mark.parametrize("family", ["tf", "caffe", "torch", "scale01"])
def test_model_zero_is_what_the_preprocessing_maps_to_zero(family: str) -> None:
    """Xplique's baseline 0 in the model's input space, also through caffe's RGB -> BGR flip."""
    from cnnviz.methods.integrated_gradients import model_zero_image
    from cnnviz.models import preprocessing_function

    model = loaded(keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Flatten(), keras.layers.Dense(2)]), 4,
                   family)
    assert model.preprocessing == family and preprocessing_function(family) is not None
    zero = model_zero_image(model)
    np.testing.assert_allclose(np.asarray(model.preprocess(zero[None])), 0.0, atol=1e-4)
