"""The issue-16 faithfulness metrics against known answers (hand-built models and maps)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cnnviz.errors import ParameterError
from cnnviz.explanation import explain
from cnnviz.faithfulness import (
    cascading_randomisation,
    complexity,
    deletion_insertion,
    mu_fidelity,
    noisy_linear_imputation,
    random_logit,
    road,
    sparseness,
    stability,
)
from cnnviz.models import load_model
from tests.known_models import cell_image, cell_model, loaded

WEIGHTS = np.random.default_rng(0).uniform(-1, 1, (4, 4)).astype(np.float32)
COLOURS = np.random.default_rng(1).integers(40, 250, (4, 4))


def pixel_contributions(image: np.ndarray) -> np.ndarray:
    """What each pixel adds to logit 0 of the 16 px cell model: the exact attribution of a linear model."""
    return np.repeat(np.repeat(WEIGHTS / 16, 4, 0), 4, 1) * image.mean(-1) / 255.0


def test_complexity_and_sparseness_of_known_maps() -> None:
    uniform, single, pair = np.ones((8, 8)), np.zeros((8, 8)), np.zeros((8, 8))
    single[3, 4] = 5.0
    pair[0, 0] = pair[7, 7] = -1.0  # signs do not matter: both work on |attribution|
    assert complexity(uniform) == pytest.approx(1.0) and complexity(single) == pytest.approx(0.0)
    assert complexity(pair) == pytest.approx(np.log(2) / np.log(64))
    assert sparseness(uniform) == pytest.approx(0.0) and sparseness(single) == pytest.approx(63 / 64)
    assert sparseness(pair) == pytest.approx(62 / 64)


def test_mu_fidelity_is_one_for_the_exact_attribution_of_a_linear_model() -> None:
    model, image = cell_model(WEIGHTS, 16), cell_image(COLOURS, 16)
    exact = mu_fidelity(model, image, pixel_contributions(image), 0, grid_size=9, samples=64, score="logit")
    assert exact == pytest.approx(1.0, abs=1e-5)
    xplique_protocol = mu_fidelity(model, image, pixel_contributions(image), 0, samples=64, score="logit",
                                   subsets="bernoulli", correlation="spearman")
    assert xplique_protocol == pytest.approx(1.0, abs=1e-5)
    noise = np.random.default_rng(2).normal(size=(16, 16))
    assert mu_fidelity(model, image, noise, 0, samples=64, score="logit") < 0.6
    with pytest.raises(ParameterError, match="subset_percent"):
        mu_fidelity(model, image, noise, 0, subset_percent=1.5)


def test_insertion_can_start_from_black_as_xplique() -> None:
    model, image = cell_model(WEIGHTS, 16), cell_image(COLOURS, 16)
    curves = deletion_insertion(model, image, pixel_contributions(image), 0, steps=4, deletion_fill="black",
                                insertion_start="black")
    black = model.probabilities(np.zeros((1, 16, 16, 3), np.uint8))[0, 0]
    assert curves.insertion_curve[0] == pytest.approx(black) == curves.deletion_curve[-1]
    assert curves.insertion_curve[-1] == pytest.approx(model.probabilities(image[None])[0, 0])


def test_noisy_linear_imputation_fills_a_ramp_exactly() -> None:
    ramp = np.add.outer(np.arange(16) * 10, np.arange(16) * 5)[..., None].repeat(3, 2).astype(np.uint8)
    removed = np.zeros((16, 16), bool)
    removed[4:12, 3:9] = True
    filled = noisy_linear_imputation(ramp, removed, noise=0.0)
    np.testing.assert_allclose(filled.astype(float), ramp.astype(float), atol=1.0)
    noisy = noisy_linear_imputation(ramp, removed, seed=1)
    assert (noisy[~removed] == ramp[~removed]).all() and (noisy[removed] != filled[removed]).any()


def test_road_lerf_keeps_the_score_while_only_ignored_pixels_go() -> None:
    quadrant = np.zeros((4, 4), np.float32)
    quadrant[:2, :2] = 1.0
    model, image = cell_model(quadrant, 16), cell_image(COLOURS, 16)
    relevance = np.zeros((16, 16))
    relevance[:8, :8] = 1.0 + np.random.default_rng(3).random((8, 8))
    curves = road(model, image, relevance, 0, score="logit")
    original = float(model.logits(image[None])[0, 0])
    np.testing.assert_allclose(curves.lerf[:7], original, rtol=1e-5)  # up to 70 % removed: all ignored pixels
    assert abs(curves.morf[2] - original) > 0.05  # 30 % removed from the quadrant: the score moved
    assert curves.fractions.tolist() == pytest.approx([0.1 * k for k in range(1, 10)])


def test_stability_of_a_constant_gradient_and_of_gradient_x_input() -> None:
    model, image = cell_model(WEIGHTS, 16), cell_image(COLOURS, 16)
    saliency = explain(model, image, "saliency", class_index=0)
    assert stability(model, saliency, radius=0.1, samples=4).maximum == pytest.approx(0.0, abs=1e-6)
    product = explain(model, image, "gradient_input", class_index=0)
    moved = stability(model, product, radius=0.1, samples=4)
    assert 0 < moved.average <= moved.maximum
    with pytest.raises(ParameterError, match="radius"):
        stability(model, product, radius=0.0)


def _two_quadrant_model(same: bool):
    """Two classes: class 0 reads the top-left quadrant, class 1 the same one (same) or the bottom-right."""
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Flatten()(keras.layers.AveragePooling2D(8)(keras.layers.Rescaling(1 / 255)(inputs)))
    dense = keras.layers.Dense(2, use_bias=False)
    model = keras.Model(inputs, dense(x))
    kernel = np.zeros((12, 2), np.float32)
    kernel[0:3, 0] = 1.0
    kernel[(0 if same else 9):(3 if same else 12), 1] = 1.0
    dense.set_weights([kernel])
    return loaded(model, 16)


def test_random_logit_tells_class_specific_maps_from_class_blind_ones() -> None:
    image = cell_image(COLOURS, 16)
    for same, expected in ((True, 1.0), (False, None)):
        model = _two_quadrant_model(same)
        result = random_logit(model, explain(model, image, "gradient_input", class_index=0))
        assert result.other_class == 1
        if expected is None:
            assert result.similarity < 0.3
        else:
            assert result.similarity == pytest.approx(expected, abs=1e-6)


def test_cascading_randomisation_curve_on_the_demo_model() -> None:
    shapes = load_model("shapes")
    from cnnviz.demo.shapes import TEST_SEED, generate_dataset

    image = generate_dataset(1, TEST_SEED)[0][0]
    before = shapes.probabilities(image[None])
    heatmap = explain(shapes, image, "gradcam")
    steps: list[int] = []
    curve = cascading_randomisation(shapes, heatmap, progress=lambda done, total, info: steps.append(done))
    weighted = [layer for layer in shapes.model.layers if layer.weights]
    assert len(curve.layers) == len(weighted) and curve.layers[0] == "logits"
    assert curve.rank_correlations[0] == 1.0 and len(curve.rank_correlations) == len(weighted) + 1
    assert curve.rank_correlations[-1] < 0.5 and curve.ssims[-1] < curve.ssims[0]
    assert steps == list(range(len(weighted) + 1))
    np.testing.assert_allclose(shapes.probabilities(image[None]), before)  # the model itself is untouched
