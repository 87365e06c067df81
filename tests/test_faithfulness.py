"""Faithfulness on the demo model, against the generator's ground-truth masks.

Pointing game on 200 unseen images (TEST_SEED) for CAM, Grad-CAM, Score-CAM and occlusion; deletion
and insertion against a random map; the model-randomisation sanity check of Adebayo et al. (2018).
"""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz.explanation import explain_batch
from cnnviz.faithfulness import (
    confidence_change,
    deletion_insertion,
    faithfulness,
    pointing_hits,
    pointing_rate,
    randomized_model,
    rank_correlation,
)
from cnnviz.models import LoadedModel, load_model
from cnnviz.demo.shapes import TEST_SEED, generate_dataset

POINTING_IMAGES = 200
POINTING_FLOOR = 0.90
# Score-CAM on the 12 most varied of the demo model's 96 channels (Faster Score-CAM) keeps the test
# fast; bench/heatmaps.py measures full Score-CAM too.
POINTING_PARAMS = {"cam": {}, "gradcam": {}, "scorecam": {"top_k": 12, "batch_size": 12},
                   "occlusion": {"batch_size": 128}}


@pytest.fixture(scope="module")
def shapes() -> LoadedModel:
    return load_model("shapes")


@pytest.fixture(scope="module")
def dataset() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return generate_dataset(POINTING_IMAGES, TEST_SEED)


@pytest.mark.parametrize("method", list(POINTING_PARAMS))
def test_pointing_game_on_200_unseen_images(method: str, shapes: LoadedModel, dataset: tuple) -> None:
    images, labels, masks = dataset
    heatmaps = explain_batch(shapes, list(images), method, class_index=list(labels),
                             **POINTING_PARAMS[method])
    rate = pointing_rate(np.stack([h.heatmap for h in heatmaps]), masks)
    print(f"pointing game {method}: {rate:.3f}")
    assert rate >= POINTING_FLOOR


def test_pointing_hits_with_tolerance() -> None:
    maps = np.zeros((2, 10, 10), np.float32)
    maps[0, 2, 2] = maps[1, 7, 4] = 1.0  # on the mask; 3 pixels below it
    masks = np.zeros((2, 10, 10), bool)
    masks[:, 2:5, 2:5] = True
    assert pointing_hits(maps, masks).tolist() == [True, False]
    assert pointing_hits(maps, masks, tolerance=3).tolist() == [True, True]


def test_gradcam_beats_a_random_map_on_deletion_and_insertion(shapes: LoadedModel, dataset: tuple) -> None:
    images = dataset[0][:24]
    rng = np.random.default_rng(0)
    scores = {"gradcam": [], "random": []}
    for heatmap in explain_batch(shapes, list(images), "gradcam"):
        for name, values in (("gradcam", heatmap.heatmap), ("random", rng.random((64, 64), np.float32))):
            curves = deletion_insertion(shapes, heatmap.image, values, heatmap.class_index, steps=16)
            change = confidence_change(shapes, heatmap.image, values, heatmap.class_index)
            scores[name].append((curves.deletion, curves.insertion, change.drop))
    gradcam, random = np.mean(scores["gradcam"], axis=0), np.mean(scores["random"], axis=0)
    print(f"deletion/insertion/drop: gradcam {gradcam.round(3)}, random {random.round(3)}")
    assert gradcam[0] < random[0]  # deletion: lower is better
    assert gradcam[1] > random[1]  # insertion: higher is better
    assert gradcam[2] < random[2]  # confidence drop: lower is better


def test_deletion_and_insertion_curves_start_and_end_where_they_should(shapes: LoadedModel,
                                                                      dataset: tuple) -> None:
    image = dataset[0][0]
    heatmap = explain_batch(shapes, [image], "gradcam")[0]
    curves = deletion_insertion(shapes, image, heatmap.heatmap, heatmap.class_index, steps=8,
                                deletion_fill="black")
    original = shapes.probabilities(image[None])[0, heatmap.class_index]
    black = shapes.probabilities(np.zeros_like(image)[None])[0, heatmap.class_index]
    assert curves.fractions.tolist() == pytest.approx(np.linspace(0, 1, 9).tolist())
    assert curves.deletion_curve[0] == pytest.approx(original, abs=1e-5)
    assert curves.deletion_curve[-1] == pytest.approx(black, abs=1e-5)
    assert curves.insertion_curve[-1] == pytest.approx(original, abs=1e-5)
    scores = faithfulness(shapes, heatmap)
    assert 0 <= scores.deletion <= 1 and 0 <= scores.insertion <= 1 and 0 <= scores.confidence_drop <= 1


def test_gradcam_changes_when_the_top_layers_are_randomised(shapes: LoadedModel, dataset: tuple) -> None:
    """Adebayo et al. (2018): a map that survives model randomisation does not explain the model."""
    images = list(dataset[0][:20])
    before = shapes.probabilities(np.stack(images))
    original = explain_batch(shapes, images, "gradcam")
    randomised = randomized_model(shapes, ["logits", "head_bn", "head_conv"], seed=0)
    changed = explain_batch(randomised, images, "gradcam", class_index=[h.class_index for h in original])
    correlation = np.mean([rank_correlation(a.heatmap, b.heatmap) for a, b in zip(original, changed)])
    print(f"rank correlation after randomising the top layers: {correlation:.3f}")
    assert correlation < 0.5
    assert rank_correlation(original[0].heatmap, original[0].heatmap) == pytest.approx(1.0)
    np.testing.assert_allclose(shapes.probabilities(np.stack(images)), before)  # the original is untouched
