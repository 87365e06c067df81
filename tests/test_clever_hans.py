"""The Clever Hans story end to end at test size: a tag planted on a class of generated shapes, a small
CNN trained from scratch on it learns the tag (accuracy without it drops, the tag moved onto other
classes makes them the tagged class, the heatmaps sit on the tag), and the SpRAy audit of the class,
on a version where 30 % of its images carry the tag, isolates exactly those images."""

from __future__ import annotations

import numpy as np
import pytest

from cleverhans_helpers import CLASS, tagged_story
from cnnviz.audit import audit, member_images, purity_and_recall
from cnnviz.audit.lab import LAB_METHOD, compare, heatmap_cue_mass, small_cnn
from cnnviz.errors import ParameterError
from cnnviz.explanation import METHODS
from cnnviz.audit.report import audit_report_html
from cnnviz.datasets.cues import TEST_VERSIONS, Shortcut
from cnnviz.render.audit import audit_scatter, cluster_gallery

AUDIT_FRACTION = 0.3


@pytest.fixture(scope="module")
def story():
    return tagged_story(1.0)


@pytest.fixture(scope="module")
def audited(story):
    """The audit of CLASS where the tag is on 30 % of its images (other images: the seed picks them)."""
    part = Shortcut(CLASS, story.shortcut.cue, AUDIT_FRACTION, seed=1)
    data = part.apply(story.dataset, "cued")
    return audit(story.model, data, CLASS), data, part.cued_indices(story.dataset)


def test_the_model_learns_the_tag(story):
    report = compare({"tagged": story.model}, story.dataset, story.shortcut)[0]
    cued, clean, moved = (report.scores[version] for version in TEST_VERSIONS)
    assert cued.class_accuracy - clean.class_accuracy >= 0.25, report.to_json()
    assert moved.predicted_as_class >= 0.5, report.to_json()  # the moved tag makes others "circle"
    assert report.method == LAB_METHOD == "integrated_gradients"
    # most of the evidence for the class on the tag's box (10 % of the image): measured 0.66 (the positive
    # part of the signed attributions; 0.57 when their magnitude was counted), bench/cleverhans.py circle tag seed 0
    assert report.cue_mass >= 0.5, report.to_json()
    area = story.shortcut.cue.region(40, 40).mean()
    gradcam = heatmap_cue_mass(story.model, story.dataset, story.shortcut, "gradcam")
    assert 2.5 * area <= gradcam < report.cue_mass  # Grad-CAM's 5 x 5 grid: near the tag, but coarse (0.30)


def test_the_audit_isolates_the_tagged_images(audited):
    result, _, tagged = audited
    purity, recall, cluster = purity_and_recall(result, tagged)
    sizes = [(c.size, c.outlier_score) for c in result.clusters]
    assert purity >= 0.9 and recall >= 0.9, (purity, recall, sizes)
    assert cluster.id == 0  # ranked most suspicious
    scores = [c.outlier_score for c in result.clusters]
    assert scores == sorted(scores, reverse=True)
    assert result.to_json()["clusters"][0]["members"] == list(cluster.files)


#: Methods whose maps isolate the tagged 30 % of this story (purity and recall >= 0.9; measured
#: 0.91-1.00 for every CAM variant, LRP, Integrated Gradients, the guided and DeconvNet maps, and with
#: their defaults also occlusion, LIME and SmoothGrad). The others run too, with few samples here;
#: their noisier maps split the class less cleanly (RISE's 7 x 7 masks on 40 px: purity 0.61).
ISOLATING_METHODS = ("gradcam++", "cam", "layercam", "xgradcam", "hirescam", "gradcam_elementwise", "eigencam",
                     "fem", "integrated_gradients", "guided_gradcam", "guided_backprop", "deconvnet", "lrp")
#: Settings that keep the sampling methods to a few seconds here (the audit passes them through).
FEW_SAMPLES = {"rise": {"samples": 100}, "sobol": {"designs": 4, "grid_size": 4}, "hsic": {"designs": 50},
               "lime": {"samples": 60}, "kernel_shap": {"samples": 60}, "smoothgrad": {"samples": 4},
               "vargrad": {"samples": 4}, "squaregrad": {"samples": 4}, "integrated_gradients": {"steps": 16},
               "occlusion": {"patch_size": 10, "stride": 10}, "scorecam": {"top_k": 8}, "ablationcam": {"top_k": 8}}


@pytest.mark.parametrize("method", sorted(METHODS))
def test_the_audit_works_with_every_method_of_the_registry(story, audited, method):
    _, data, tagged = audited
    result = audit(story.model, data, CLASS, method=method, embedding=False, **FEW_SAMPLES.get(method, {}))
    members = np.sort(np.concatenate([c.members for c in result.clusters]))
    assert np.array_equal(members, np.sort(result.indices))  # a partition of the class's images
    assert result.method == method and all(np.isfinite(c.outlier_score) for c in result.clusters)
    if method in ISOLATING_METHODS:
        purity, recall, cluster = purity_and_recall(result, tagged)
        assert purity >= 0.9 and recall >= 0.9, (method, purity, recall, [c.size for c in result.clusters])


def test_the_audit_drawings_and_report(audited):
    result, data, tagged = audited
    images = member_images(result, data, (40, 40), per_cluster=3)
    assert all(i in images for c in result.clusters for i in result.typical_members(c, 3))
    gallery = cluster_gallery(result, images, examples=3)
    assert gallery.shape[0] >= len(result.clusters) * 112 and gallery.dtype == np.uint8
    scatter = audit_scatter(result, tagged)
    assert scatter.shape[1] == 420
    page = audit_report_html(result, images, dataset_name="generated <test>", model_name="small",
                             marked=tagged)
    assert page.count("<h2>Cluster ") == len(result.clusters)
    assert "generated &lt;test&gt;" in page and "<script" not in page


def test_the_lab_trains_with_the_training_package(story):
    training = story.training  # cnnviz.training.train, strategy "scratch", on the lab's small CNN
    assert training.strategy == "scratch" and training.backbone == "small_cnn" and not training.warnings
    assert len(training.history) == training.settings.epochs  # no early stop: every epoch ran
    assert training.history[-1]["loss"] < training.history[0]["loss"] - 0.3
    with pytest.raises(ParameterError, match="16 to 128"):
        small_cnn(8, ("a", "b"))


def test_the_mass_on_the_cue_is_evidence_for_the_class_not_against_it():
    """A linear model whose weights for CLASS are strongly negative on the tag's box and weakly
    positive elsewhere: Integrated Gradients (exact on a linear model: weight x pixel) puts only
    evidence AGAINST the class on the tag, so no mass may lie there; the drawn map (the magnitude)
    puts most of it there."""
    import keras

    from cnnviz.audit.lab import seen_region
    from cnnviz.audit.spray import class_heatmaps
    from cnnviz.datasets import generated, open_dataset
    from cnnviz.datasets.cues import Cue, class_index_of, mean_cue_mass
    from cnnviz.models import LoadedModel, preprocessing_function

    size = 40
    dataset = open_dataset(generated(8, seed=5, size=size))
    shortcut = Shortcut(CLASS, Cue("tag", strength=0.5), 1.0, seed=0)
    region = shortcut.cue.region(size, size)
    weights = np.zeros((size, size, 3, len(dataset.class_names)), np.float32)
    weights[..., class_index_of(dataset, CLASS)] = np.where(region, -1.0, 0.1)[..., None] / 255
    inputs = keras.Input((size, size, 3))
    dense = keras.layers.Dense(len(dataset.class_names), use_bias=False)
    model = keras.Model(inputs, dense(keras.layers.Flatten()(inputs)))
    dense.set_weights([weights.reshape(-1, len(dataset.class_names))])
    linear = LoadedModel(name="linear", model=model, input_size=(size, size), class_names=tuple(dataset.class_names),
                         preprocess=preprocessing_function("none"), preprocessing="builtin", weights=None)
    mass = heatmap_cue_mass(linear, dataset, shortcut, "integrated_gradients")
    assert mass < 0.02, mass
    drawn, _, _, _ = class_heatmaps(linear, shortcut.apply(dataset, "cued"), shortcut.test_indices(dataset, "cued"),
                                    CLASS, "integrated_gradients")
    seen = seen_region(shortcut.cue, (size, size), (size, size), drawn.shape[1:])
    assert mean_cue_mass(list(drawn), [seen] * len(drawn)) > 0.5  # what the magnitude would have counted
