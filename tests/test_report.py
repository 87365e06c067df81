"""cnnviz.report: a self-contained HTML report with the predictions and the maps, text escaped."""

from __future__ import annotations

import base64
import io
from html.parser import HTMLParser

import numpy as np
import pytest
from PIL import Image

from cnnviz import __version__
from cnnviz.errors import ParameterError
from cnnviz.images import image_sha256
from cnnviz.models import LoadedModel, load_model
from cnnviz.report import ReportSection, build_report, build_section, report_html
from cnnviz.demo.shapes import SHAPE_CLASSES, TEST_SEED, generate_sample


class _Collector(HTMLParser):
    """Every <img> source and every text node of a page; fails on nothing, so we check the result."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.texts: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "img":
            self.images.append(dict(attrs)["src"] or "")

    def handle_data(self, data: str) -> None:
        self.texts.append(data)


def _parse(text: str) -> _Collector:
    collector = _Collector()
    collector.feed(text)
    collector.close()
    return collector


def _decode(source: str) -> np.ndarray:
    prefix = "data:image/png;base64,"
    assert source.startswith(prefix)
    return np.array(Image.open(io.BytesIO(base64.b64decode(source[len(prefix):]))))


@pytest.fixture(scope="module")
def shapes() -> LoadedModel:
    return load_model("shapes")


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A generated star placed in a wider picture (96 x 64): the model sees its centre crop."""
    sample = generate_sample(TEST_SEED + 3, class_index=SHAPE_CLASSES.index("star"))
    return np.concatenate([sample.image[:, :16], sample.image, sample.image[:, -16:]], axis=1)


def test_report_holds_the_image_the_top_classes_and_one_picture_per_map(
        shapes: LoadedModel, photo: np.ndarray) -> None:
    text = build_report([shapes], photo, "star.png", ["gradcam", "occlusion"])
    page = _parse(text)
    assert page.tags[0] == "html" and "script" not in page.tags and "link" not in page.tags
    pictures = [_decode(source) for source in page.images]
    assert [p.shape for p in pictures] == [(64, 96, 3), (64, 64, 3), (64, 64, 3), (64, 64, 3)]
    assert np.array_equal(pictures[0], photo)  # lossless: the user's own image
    words = " ".join(page.texts)
    assert "cnnviz report: star.png" in words and "96x64 pixels" in words
    assert f"sha256 of the pixels {image_sha256(photo)}" in words and f"cnnviz {__version__}" in words
    rows = [t for t in page.texts if t in SHAPE_CLASSES]
    assert rows[0] == "star" and len(rows) == 5  # the top 5, the star first
    assert "Grad-CAM: star" in words and "Occlusion: star" in words and "layer last_conv" in words
    assert "patch_size=default, stride=default, fill=mean" in words and "batch_size" not in words
    assert "deletion" in words and "Selvaraju" in words and "Zeiler" in words


def test_overlays_differ_by_method_and_follow_the_colour_map(shapes: LoadedModel, photo: np.ndarray) -> None:
    section = build_section(shapes, photo, ["gradcam", "saliency"], scores=False)
    viridis = _parse(report_html(photo, "a.png", [section]))
    jet = _parse(report_html(photo, "a.png", [section], colormap="jet", opacity=1.0))
    gradcam, saliency = (_decode(s) for s in viridis.images[2:])
    assert np.abs(gradcam.astype(int) - saliency).mean() > 5
    assert np.abs(_decode(jet.images[2]).astype(int) - gradcam).mean() > 20


def test_every_text_is_escaped(shapes: LoadedModel, photo: np.ndarray) -> None:
    section = build_section(shapes, photo, ["cam"], scores=False)
    hostile = ReportSection("<script>alert(1)</script>", section.predictions, section.heatmaps)
    text = report_html(photo, '"><img src=x onerror=alert(2)>.png', [hostile])
    page = _parse(text)
    assert "script" not in page.tags and len(page.images) == 3
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "onerror=alert(2)>" not in text


def test_impossible_reports_are_typed_errors(shapes: LoadedModel, photo: np.ndarray) -> None:
    with pytest.raises(ParameterError, match="at least one model"):
        report_html(photo, "a.png", [])
    with pytest.raises(ParameterError, match="at least one model"):
        build_report([], photo, "a.png", ["gradcam"])
    with pytest.raises(ParameterError, match="at least one heatmap method"):
        build_section(shapes, photo, [])
    with pytest.raises(ParameterError, match="no-such-method|Unknown"):
        build_section(shapes, photo, ["no-such-method"])
    section = build_section(shapes, photo, ["cam"], scores=False)
    with pytest.raises(ParameterError, match="no heatmap"):
        ReportSection("shapes", section.predictions, [])
    with pytest.raises(ParameterError, match="1 heatmaps but 2 faithfulness"):
        ReportSection("shapes", section.predictions, section.heatmaps, [None, None])
    with pytest.raises(ParameterError, match="colour map"):
        report_html(photo, "a.png", [section], colormap="rainbow")
    with pytest.raises(ParameterError, match="opacity"):
        report_html(photo, "a.png", [section], opacity=1.5)
