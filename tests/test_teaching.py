"""The app's teaching claims, checked against their sources: the catalog against the lecture table,
keras.io and Keras' own documentation; completeness, CAM's head, depth, multiply-adds, where the maps
shrink and the channel counts quoted in the notes, against the models themselves; the method notes
and the pages against the corrections of issue 17."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import keras
import numpy as np
import pytest

from cnnviz.demo.shapes import TEST_SEED, generate_dataset
from cnnviz.errors import MethodNotApplicableError
from cnnviz.explanation import METHODS, explain
from cnnviz.graph import default_target_layer
from cnnviz.inside import catalog, first_convolution, layers, shrinking_after
from cnnviz.inside.catalog import (
    IMAGENET_21K,
    KERAS_IO_TABLE,
    LECTURE_TABLE,
    MOBILENET_V3_DOCS,
    PRETRAINED_ON_21K,
)
from cnnviz.methods import integrated_gradients
from cnnviz.models import LoadedModel, load_model

REPO = Path(__file__).resolve().parents[1]
SOURCES = REPO / "tests" / "data" / "catalog_sources.tsv"
#: The lecture decks live beside the checkout here (../shared, or ../../shared from a worktree), not in
#: the repository; CNNVIZ_LECTURES overrides.
LECTURES = Path(os.environ.get("CNNVIZ_LECTURES") or next(
    (folder / "shared" / "lectures" for folder in (REPO.parent, REPO.parent.parent)
     if (folder / "shared" / "lectures").is_dir()), REPO.parent / "shared" / "lectures"))
LECTURE_TABLE_FILE = "01-visualization-tools-and-keras-applications.txt"
SOURCE_NAMES = {"lecture": LECTURE_TABLE, "keras.io": KERAS_IO_TABLE, "keras-mobilenet-v3": MOBILENET_V3_DOCS}
PAGES = ("adversarial", "architecture", "compare", "feature_maps", "heatmaps", "maximize", "predict")


def _rows() -> list[dict[str, str]]:
    lines = [line for line in SOURCES.read_text().splitlines() if not line.startswith("#")]
    return list(csv.DictReader(lines, delimiter="\t"))


def _number(text: str) -> float | None:
    text = text.strip().rstrip("%M")
    return None if text in ("-", "") else float(text)


# --- the catalog and its sources -------------------------------------------------------------------
def test_every_catalog_figure_equals_its_stated_source() -> None:
    rows = {row["Model"]: row for row in _rows()}
    entries = catalog()
    assert {e.name for e in entries} == set(rows)  # every model has a source row, and no more
    for entry in entries:
        row = rows[entry.name]
        assert entry.source == SOURCE_NAMES[row["source"]], entry.name
        published = (entry.size_mb, entry.top1, entry.top5, entry.params_m, entry.depth,
                     entry.published_cpu_ms, entry.published_gpu_ms)
        columns = ("Size (MB)", "Top-1 Accuracy", "Top-5 Accuracy", "Parameters", "Depth", "CPU ms",
                   "GPU ms")
        assert published == tuple(_number(row[c]) for c in columns), entry.name
    assert rows["ConvNeXtXLarge"]["Size (MB)"] == "1310"  # keras.io lists 1310 MB (checked, January 2026)
    assert sum(row["source"] == "lecture" for row in rows.values()) == 33


@pytest.mark.skipif(not (LECTURES / LECTURE_TABLE_FILE).is_file(),
                    reason="the lecture decks are not beside this checkout (set CNNVIZ_LECTURES)")
def test_the_source_rows_are_the_lecture_table_verbatim() -> None:
    lecture = set((LECTURES / LECTURE_TABLE_FILE).read_text().splitlines())
    lecture_rows = ["\t".join(list(row.values())[1:]) for row in _rows() if row["source"] == "lecture"]
    assert lecture_rows and all(line in lecture for line in lecture_rows)


def test_mobilenet_v3_figures_are_those_of_keras_own_documentation() -> None:
    table = [line.split("|") for line in (keras.applications.MobileNetV3Small.__doc__ or "").splitlines()]
    documented = {cells[1].strip(): cells for cells in table if len(cells) > 5}
    by_name = {e.name: e for e in catalog()}
    for name, checkpoint in (("MobileNetV3Small", "mobilenet_v3_small_1.0_224"),
                             ("MobileNetV3Large", "mobilenet_v3_large_1.0_224")):
        cells = documented[checkpoint]
        assert (by_name[name].params_m, by_name[name].top1) == (float(cells[3]), float(cells[4]))


def test_convnext_base_large_xlarge_are_marked_as_keras_documents_their_pretraining() -> None:
    doc = " ".join((keras.applications.ConvNeXtBase.__doc__ or "").split())
    assert "`base`, `large`, and `xlarge` models were first pre-trained on the ImageNet-21k" in doc
    marked = {e.name for e in catalog() if e.pretraining == IMAGENET_21K}
    assert marked == set(PRETRAINED_ON_21K) == {"ConvNeXtBase", "ConvNeXtLarge", "ConvNeXtXLarge"}


@pytest.fixture(scope="module")
def vgg16() -> LoadedModel:
    return load_model("VGG16", weights=None)


def test_keras_depth_counts_layers_with_weights_and_the_lecture_counts_multiply_adds(vgg16) -> None:
    resnet50 = load_model("ResNet50", weights=None)
    for loaded in (vgg16, resnet50):
        with_weights = sum(1 for layer in loaded.model.layers if layer.weights)
        assert with_weights == next(e.depth for e in catalog() if e.name == loaded.name)  # 16, 107
    table = layers(vgg16)
    # lecture 5: "VGG-16 ... 15.3 billion FLOPs" (He et al.'s count): multiply-adds, half the FLOPs here
    assert table.total_macs / 1e9 == pytest.approx(15.3, rel=0.02)
    assert table.total_flops / table.total_macs == pytest.approx(2.0, rel=0.01)


def test_vgg16_first_convolution_is_followed_by_a_convolution_then_pooling(vgg16) -> None:
    first = first_convolution(vgg16)
    shrinking = shrinking_after(layers(vgg16), first)
    assert (first, shrinking.itself) == ("block1_conv1", False)
    assert shrinking.next_layer.name == "block1_conv2" and shrinking.shrinks_at.name == "block1_pool"
    mobilenet = load_model("MobileNetV2", weights=None)
    strided = shrinking_after(layers(mobilenet), first_convolution(mobilenet))
    assert strided.itself and strided.shrinks_at.geometry.jump == (2.0, 2.0)


def test_channel_counts_and_kernel_sizes_quoted_in_the_notes(vgg16) -> None:
    mobilenet = load_model("MobileNetV2", weights=None)
    table = layers(mobilenet)
    assert table.row(default_target_layer(mobilenet)).channels == 1280  # Score-CAM note
    assert layers(vgg16).row(default_target_layer(vgg16)).channels == 512
    assert layers(vgg16).row(first_convolution(vgg16)).geometry.size == (3.0, 3.0)  # feature maps note
    resnet50 = load_model("ResNet50", weights=None)
    assert layers(resnet50).row(first_convolution(resnet50)).geometry.size == (7.0, 7.0)


def test_cam_needs_gap_and_dense_which_keras_mobilenet_v1_lacks() -> None:
    from cnnviz.methods.cam import cam_head

    mobilenet = load_model("MobileNet", weights=None)
    with pytest.raises(MethodNotApplicableError, match="global average pooling and then one Dense"):
        cam_head(mobilenet, default_target_layer(mobilenet))
    mobilenet_v2 = load_model("MobileNetV2", weights=None)
    assert isinstance(cam_head(mobilenet_v2, default_target_layer(mobilenet_v2)), keras.layers.Dense)


# --- Integrated Gradients' completeness ----------------------------------------------------------
def test_completeness_gap_shrinks_with_steps_and_uses_the_real_logits() -> None:
    shapes = load_model("shapes")
    image = generate_dataset(8, TEST_SEED)[0][3]
    few = explain(shapes, image, method="integrated_gradients", steps=1, baseline="grey")
    many = explain(shapes, image, method="integrated_gradients", steps=96, baseline="grey", batch_size=32)
    coarse, fine = (integrated_gradients.completeness(shapes, h) for h in (few, many))
    grey = np.full_like(image, 128)
    logits = shapes.model(shapes.preprocess(np.stack([image, grey]).astype(np.float32))).numpy()
    expected = logits[0, many.class_index] - logits[1, many.class_index]  # independent of cnnviz's path
    assert fine.logit_difference == pytest.approx(expected, rel=1e-4)
    assert fine.enough_steps and fine.relative_gap < coarse.relative_gap
    assert not coarse.enough_steps and coarse.steps == 1


# --- the text ----------------------------------------------------------------------------------
def test_method_notes_say_what_the_issue_found_missing() -> None:
    notes = {name: method.about for name, method in METHODS.items()}
    assert "blur" not in notes["layercam"] and "badly localised" in notes["layercam"]
    assert "1280 on MobileNetV2" in notes["scorecam"] and "hundreds" not in notes["scorecam"]
    assert "easy to interpret" in notes["occlusion"] and "twice" in notes["occlusion"]
    for name in ("saliency", "smoothgrad", "integrated_gradients"):
        assert "against the class" in notes[name], name
    assert "approximately" in notes["integrated_gradients"]
    assert "ICML Workshop" in METHODS["smoothgrad"].citation
    assert "NeurIPS 2018" in notes["guided_gradcam"]


def test_every_page_names_its_explanation_how_to_read_this() -> None:
    for page in PAGES:
        source = (REPO / "pages" / f"{page}.py").read_text()
        assert 'st.expander("How to read this"' in source, page
    stale = ("What each method shows", "What comparing shows", "easy to trust", "strided convolutions instead",
             "RISE, 2018", "IEEE VIS 2020", "grows with every convolution and pooling")
    text = " ".join((REPO / "pages" / f"{page}.py").read_text() for page in PAGES)
    assert not [phrase for phrase in stale if phrase in text]


# --- the help texts, as the app shows them ---------------------------------------------------------
def test_the_pages_show_help_for_every_control_the_issue_lists() -> None:
    from apptest_helpers import app_on_page, messages, navigation_mode

    with navigation_mode():
        at = app_on_page("pages/heatmaps.py")
        at.multiselect(key="heatmaps.methods").set_value(["occlusion", "integrated_gradients"]).run()
        at.number_input(key="heatmaps.steps").set_value(8).run()
        assert "coarser grid" in at.selectbox(key="heatmaps.layer").help
        assert "did not choose" in at.selectbox(key="heatmaps.class").help
        assert "mean colour" in at.selectbox(key="heatmaps.fill").help
        assert "no evidence" in at.selectbox(key="heatmaps.baseline").help
        next(b for b in at.button if b.label.startswith("Run")).click().run()
        assert not at.exception and not at.error, messages(at)
        completeness = [c.value for c in at.caption if c.value.startswith("Completeness")]
        assert len(completeness) == 1 and "class logit changes by" in completeness[0], messages(at)
        assert [e.label for e in at.expander] == ["Method settings", "How to read this"]

        at.switch_page("pages/adversarial.py").run()
        assert "population x generations" in at.selectbox(key="adversarial.preset").label.lower()
        assert "400 candidate" in at.selectbox(key="adversarial.preset").help
        at.segmented_control(key="adversarial.method").set_value("pgd").run()
        assert "random start" in at.number_input(key="adversarial.seed").help
        assert "L-infinity" in at.slider(key="adversarial.epsilon").help

        at.switch_page("pages/maximize.py").run()
        helps = {key: at.number_input(key=f"maximize.{key}").help
                 for key in ("diversity", "tv", "blur", "l1", "l2", "rate")}
        assert "Gram" in helps["diversity"] and "grey" in helps["l1"] and "Adam" in helps["rate"], helps

        at.switch_page("pages/feature_maps.py").run()
        assert "own minimum" in at.radio(key="features.scale").help
        assert "above zero" in next(m for m in at.metric if m.label == "Active positions").help
        assert not at.exception, messages(at)
