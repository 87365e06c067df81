"""Planting cues: placement (region, class, fraction, seed), the three test versions, the heatmap mass
on the cue, and bad input. No TensorFlow: a generated dataset and NumPy only."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz.datasets import generated, open_dataset
from cnnviz.datasets.cues import CUES, Cue, cue_mass, cue_region, cue_test_versions, mean_cue_mass, plant_cue
from cnnviz.errors import ClassIndexError, ParameterError

SIZE = 40
CLASS = "star"


@pytest.fixture(scope="module")
def dataset():
    return open_dataset(generated(20, seed=3, size=SIZE))


def _changed(original, derived, index: int) -> np.ndarray:
    """Which pixels of image ``index`` differ between two datasets, bool (h, w)."""
    return np.any(original.image(index) != derived.image(index), axis=-1)


@pytest.mark.parametrize("cue", CUES)
def test_cue_changes_only_its_region_of_the_chosen_images_of_the_class(dataset, cue):
    cued, files = plant_cue(dataset, CLASS, cue, fraction=0.5, position="top-left", seed=7)
    region = cue_region((SIZE, SIZE), cue, "top-left")
    chosen = {dataset.records.index(next(r for r in dataset.records if r.file == f)) for f in files}
    target = dataset.class_names.index(CLASS)
    for index in range(len(dataset)):
        changed = _changed(dataset, cued, index)
        if index in chosen:
            assert int(dataset.labels([index])[0]) == target
            assert changed.any() and not changed[~region].any(), f"{cue} changed pixels outside its region"
        else:
            assert not changed.any(), f"{cue} changed image {index}, which is not chosen"
    if cue in ("tag", "patch"):  # a corner cue: small, and in the top-left corner
        rows, cols = np.nonzero(region)
        assert region.mean() < 0.15 and rows.max() < SIZE / 2 and cols.max() < SIZE * 0.75


def test_fraction_holds_in_every_split_and_the_seed_decides(dataset):
    _, files = plant_cue(dataset, CLASS, "patch", fraction=0.3, seed=1)
    target = dataset.class_names.index(CLASS)
    for split in ("train", "val", "test"):
        members = [dataset.records[i].file for i in dataset.indices(split)
                   if dataset.labels([i])[0] == target]
        assert sum(f in files for f in members) == max(1, round(0.3 * len(members)))
    assert plant_cue(dataset, CLASS, "patch", fraction=0.3, seed=1)[1] == files
    assert plant_cue(dataset, CLASS, "patch", fraction=0.3, seed=2)[1] != files
    assert len(plant_cue(dataset, CLASS, "patch", fraction=1.0)[1]) == dataset.class_counts()[CLASS]


def test_tag_is_semi_transparent_white_text(dataset):
    cued, files = plant_cue(dataset, CLASS, "tag", fraction=1.0)
    index = next(i for i, r in enumerate(dataset.records) if r.file == files[0])
    before, after = dataset.image(index).astype(int), cued.image(index).astype(int)
    assert (after >= before).all()  # towards white only
    region = cue_region((SIZE, SIZE), "tag")
    room = (255 - before)[region]
    moved = (after - before)[region][room > 20] / room[room > 20]  # share of the way to white
    assert 0.4 <= moved.max() <= 0.55  # at most half way: opacity 0.5
    strokes = np.any(after != before, axis=-1) & region
    assert 0.15 < strokes.sum() / region.sum() < 0.9  # letters, not a filled box


def test_three_test_versions(dataset):
    versions = cue_test_versions(dataset, CLASS, "border", fraction=0.5, seed=4)
    cued, files = plant_cue(dataset, CLASS, "border", fraction=0.5, seed=4)
    assert versions["cued"].sha256() == cued.sha256()
    assert len({v.sha256() for v in versions.values()}) == 3
    target = dataset.class_names.index(CLASS)
    test = dataset.indices("test")
    own = [i for i in test if dataset.labels([i])[0] == target]
    others = [i for i in test if dataset.labels([i])[0] != target]
    changed = {name: {int(i) for i in test if _changed(dataset, v, i).any()} for name, v in versions.items()}
    assert changed["cued"] and changed["cued"] <= set(own)
    assert changed["clean"] == set()
    assert changed["moved"] and changed["moved"] <= set(others)
    for label in set(dataset.labels(others).tolist()):  # the same fraction of each other class
        members = [i for i in others if dataset.labels([i])[0] == label]
        assert len(changed["moved"] & set(members)) == max(1, round(0.5 * len(members)))
    for index in np.concatenate([dataset.indices("train"), dataset.indices("val")]):  # same training data
        images = [v.image(int(index)) for v in versions.values()]
        assert all(np.array_equal(images[0], other) for other in images[1:])


def test_cue_mass_against_a_hand_built_map():
    region = np.zeros((10, 10), bool)
    region[:2, :5] = True  # 10 pixels
    heatmap = np.ones((10, 10))
    heatmap[region] = 3.0
    assert cue_mass(heatmap, region) == pytest.approx(30 / (30 + 90))
    heatmap[5, 5] = -50.0  # negative evidence is not attention
    assert cue_mass(heatmap, region) == pytest.approx(30 / (30 + 89))
    assert np.isnan(cue_mass(np.zeros((10, 10)), region))
    only_cue = np.where(region, 1.0, 0.0)
    maps = [only_cue, np.ones((10, 10)), np.zeros((10, 10))]
    assert mean_cue_mass(maps, [region] * 3) == pytest.approx(0.55)
    with pytest.raises(ParameterError, match="on_original"):
        cue_mass(np.ones((5, 5)), region)


def test_bad_input_is_typed_and_says_what_to_do(dataset):
    with pytest.raises(ClassIndexError, match="circle"):  # lists the classes
        plant_cue(dataset, "horse", "tag")
    for fraction in (-0.1, 0.0, 1.5, "half"):
        with pytest.raises(ParameterError, match="fraction"):
            plant_cue(dataset, CLASS, "tag", fraction=fraction)
    with pytest.raises(ParameterError, match="tag, patch, tint, border"):
        plant_cue(dataset, CLASS, "sticker")
    with pytest.raises(ParameterError, match="bottom-right"):
        plant_cue(dataset, CLASS, "tag", position="middle")
    with pytest.raises(ParameterError, match="strength"):
        Cue("tag", strength=1.5)


def test_the_cue_region_as_the_model_saw_it_follows_the_crop():
    from cnnviz.audit.lab import seen_region

    cue = Cue("patch", "bottom-right")
    # a 60 x 40 (height x width) image centre-cropped to 40 x 40: rows 10..49 are seen
    seen = seen_region(cue, (60, 40), (40, 40), (40, 40))
    assert np.array_equal(seen, cue.region(60, 40)[10:50])
    halved = seen_region(cue, (60, 40), (40, 40), (20, 20))  # at the size of a downsized heatmap
    assert halved.shape == (20, 20) and abs(int(halved.sum()) - int(seen.sum()) // 4) <= 4
