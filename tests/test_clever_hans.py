"""The Clever Hans story end to end at test size: a tag planted on a class of generated shapes, a small
CNN trained from scratch on it learns the tag (accuracy without it drops, the tag moved onto other
classes makes them the tagged class, the heatmaps sit on the tag), and the SpRAy audit of the class,
on a version where 30 % of its images carry the tag, isolates exactly those images."""

from __future__ import annotations

import numpy as np
import pytest

from cleverhans_helpers import CLASS, tagged_story
from cnnviz.audit import audit, member_images, purity_and_recall
from cnnviz.audit.lab import compare, small_cnn
from cnnviz.errors import ParameterError
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
    area = story.shortcut.cue.region(40, 40).mean()  # the tag's box covers 10 % of the image
    assert report.cue_mass >= 2.5 * area, report.to_json()  # measured 0.30 (Grad-CAM on a 5 x 5 grid)


def test_the_audit_isolates_the_tagged_images(audited):
    result, _, tagged = audited
    purity, recall, cluster = purity_and_recall(result, tagged)
    sizes = [(c.size, c.outlier_score) for c in result.clusters]
    assert purity >= 0.9 and recall >= 0.9, (purity, recall, sizes)
    assert cluster.id == 0  # ranked most suspicious
    scores = [c.outlier_score for c in result.clusters]
    assert scores == sorted(scores, reverse=True)
    assert result.to_json()["clusters"][0]["members"] == list(cluster.files)


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
