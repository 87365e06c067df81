"""AppTest of the Compare page: methods x models in one grid, a failed row, the report download."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from apptest_helpers import app_on_page, messages, navigation_mode
from streamlit.testing.v1 import AppTest

PAGE = "pages/compare.py"


@pytest.fixture
def page() -> Iterator[AppTest]:
    """The app on the Compare page, with the demo model and a generated star."""
    with navigation_mode():
        yield app_on_page(PAGE)



def test_grid_of_methods_for_the_demo_model_and_a_second_model(page: AppTest) -> None:
    at = page
    assert at.title[0].value == "Compare methods and models"
    assert at.multiselect(key="compare.methods").value == ["gradcam", "gradcam++", "saliency"]
    at.multiselect(key="compare.models").set_value(["MobileNetV3Small"])
    at.radio(key="compare.weights").set_value("random")
    at.run()
    assert not at.exception and not at.error, messages(at)
    images = at.main.get("image")
    assert len(images) == 2 * (1 + 3), messages(at)  # per row: the model input and three overlays
    text = " ".join(str(image.proto) for image in images)
    assert "shapes (demo): star" in text and "MobileNetV3Small (random weights)" in text
    assert text.count("deletion") == 6
    assert any("random weights" in c.value for c in at.caption)
    labels = [b.label for b in at.get("download_button")]
    assert "Download the grid (PNG)" in labels and "Download report (HTML)" in labels


def test_a_model_that_cannot_download_is_one_readable_error_and_the_rest_stays(page: AppTest) -> None:
    at = page
    at.multiselect(key="compare.models").set_value(["MobileNetV3Small"]).run()  # ImageNet weights: offline
    assert not at.exception, messages(at)
    assert any("MobileNetV3Small" in e.value for e in at.error), messages(at)
    assert any("choose random weights" in c.value for c in at.caption)
    assert len(at.main.get("image")) == 1 + 3  # the demo model's row still shows


def test_slow_methods_wait_for_run(page: AppTest) -> None:
    at = page
    at.multiselect(key="compare.methods").set_value(["gradcam", "occlusion"]).run()
    assert len(at.main.get("image")) == 2
    next(b for b in at.button if b.label.startswith("Run")).click().run()
    assert not at.exception and not at.error, messages(at)
    assert len(at.main.get("image")) == 3
