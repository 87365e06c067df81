"""AppTest of the Heatmaps page on the demo model: overlays, badges, the Run button, typed errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from apptest_helpers import app_on_page, messages, navigation_mode
from streamlit.testing.v1 import AppTest

PAGE = "pages/heatmaps.py"


@pytest.fixture
def page() -> Iterator[AppTest]:
    """The app on the Heatmaps page, with the demo model and a generated star."""
    with navigation_mode():
        yield app_on_page(PAGE)


def _images(at: AppTest) -> list:
    return list(at.main.get("image"))


def test_heatmaps_page_shows_overlays_badges_and_runs_occlusion(page: AppTest) -> None:
    at = page
    assert at.title[0].value == "Heatmaps"
    assert at.multiselect(key="heatmaps.methods").value == ["gradcam", "gradcam++", "occlusion"]
    assert at.selectbox(key="heatmaps.layer").value == "last_conv"
    captions = " ".join(c.value for c in at.caption)
    assert "press Run" in captions  # occlusion waits for its Run button
    images_before = len(_images(at))
    assert images_before >= 3, messages(at)  # the model input, Grad-CAM and Grad-CAM++ overlays
    assert sum("deletion" in m.value and "insertion" in m.value for m in at.markdown) == 2, messages(at)
    run = next(b for b in at.button if b.label.startswith("Run"))
    run.click().run()
    assert not at.exception and not at.error, messages(at)
    assert len(_images(at)) == images_before + 1  # the occlusion overlay
    assert any("peak lies on the star" in c.value for c in at.caption), messages(at)
    labels = [b.label for b in at.get("download_button")]
    assert {"Download all side by side (PNG)", "Download report (HTML)"} <= set(labels), labels


def test_cam_on_another_layer_shows_a_typed_error_and_the_rest(page: AppTest) -> None:
    at = page
    at.multiselect(key="heatmaps.methods").set_value(["cam", "gradcam"]).run()
    at.selectbox(key="heatmaps.layer").set_value("fine_relu").run()
    assert not at.exception, messages(at)
    assert any("Grad-CAM" in e.value for e in at.error), messages(at)
    assert len(_images(at)) >= 2  # the model input and the Grad-CAM overlay still show
