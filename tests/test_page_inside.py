"""AppTest of the inside-the-network pages on the demo model: each page runs and shows its parts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from apptest_helpers import app_on_page, messages, navigation_mode
from streamlit.testing.v1 import AppTest


@pytest.fixture
def open_page() -> Iterator:
    """open_page(path) -> the app on that page with the demo model and a generated star."""
    with navigation_mode():
        yield app_on_page


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def test_feature_maps_page(open_page) -> None:
    at = open_page("pages/feature_maps.py")
    assert at.title[0].value == "Feature maps and filters"
    assert at.selectbox(key="features.layer").value == "last_conv"
    assert any("96 channels of 16x16" in c.value for c in at.caption), messages(at)
    assert {m.label for m in at.metric} >= {"Mean", "Max", "Active positions"}
    at.selectbox(key="features.layer").set_value("stem1_relu").run()
    at.selectbox(key="features.sort").set_value("max").run()
    assert not at.exception and not at.error, messages(at)
    assert any("stem1_relu: 16 channels of 64x64" in c.value for c in at.caption)
    assert any("kernel 3x3x3x16" in c.value for c in at.caption)  # the filters tab, first conv
    at.selectbox(key="filters.layer").set_value("fine_conv").run()
    assert not at.exception and not at.error, messages(at)
    assert at.number_input(key="filters.output").value == 0
    assert len(at.get("download_button")) >= 3


def test_maximize_page_optimises_classes_and_finds_top_examples(open_page) -> None:
    at = open_page("pages/maximize.py")
    assert at.title[0].value == "Activation maximization"
    at.multiselect(key="maximize.classes").set_value([3]).run()
    at.slider(key="maximize.steps").set_value(32).run()
    _button(at, "Optimise").click().run()
    assert not at.exception and not at.error, messages(at)
    assert any("Classified as the class asked for with p >= 0.9: 1 of 1" in c.value for c in at.caption), (
        messages(at)
    )
    assert at.get("plotly_chart")
    labels = [b.label for b in at.get("download_button")]
    assert "Download the images (PNG)" in labels and "Download the chart (PNG)" in labels
    at.selectbox(key="examples.size").set_value(32).run()
    _button(at, "Find").click().run()
    assert not at.exception and not at.error, messages(at)
    assert any("32 images scored" in c.value for c in at.caption), messages(at)


def test_architecture_page(open_page) -> None:
    at = open_page("pages/architecture.py")
    assert at.title[0].value == "Architecture"
    assert {m.label for m in at.metric} >= {"Layers", "Parameters", "Multiply-adds per image"}
    assert next(m for m in at.metric if m.label == "Layers").value == "27"
    assert at.get("arrow_data_frame") or at.dataframe
    assert any("batch normalisation (stem1_bn)" in m.value for m in at.markdown), messages(at)
    assert any("max pooling (stem1_pool)" in m.value for m in at.markdown), messages(at)
    at.slider(key="convolution.row").set_value(0).run()
    assert not at.exception and not at.error, messages(at)
    at.number_input(key="invariance.points").set_value(5).run()
    _button(at, "Probe").click().run()
    assert not at.exception and not at.error, messages(at)
    assert any("Following **star**" in c.value for c in at.caption), messages(at)
