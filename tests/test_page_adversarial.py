"""AppTest of the Adversarial page: a quick one-pixel attack and a PGD attack on the demo model."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from apptest_helpers import app_test, messages, navigation_mode
from streamlit.testing.v1 import AppTest

import ui.navigation
from cnnviz.demo.shapes import SHAPE_CLASSES, TEST_SEED

PAGE = "pages/adversarial.py"
# The sidebar's generated triangle of this seed: a 1-pixel attack (seed 0, 100 x 10) fools the demo
# model (the first such seed from TEST_SEED on: re-pin if the demo model is retrained).
SAMPLE_CLASS, SAMPLE_SEED = "triangle", TEST_SEED + 8


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> Iterator[AppTest]:
    """The app on the Adversarial page with a generated demo sample chosen in the sidebar."""
    if not any(entry.path == PAGE for entry in ui.navigation.PAGES):  # until the page is listed
        entry = ui.navigation.PageEntry(PAGE, "Fooling the model", "Adversarial",
                                        ":material/bug_report:", "Adversarial examples.")
        monkeypatch.setattr(ui.navigation, "PAGES", (*ui.navigation.PAGES, entry))
    with navigation_mode():
        at = app_test()
        at.run()
        at.switch_page(PAGE).run()
        at.selectbox(key="cnnviz.sample_class").set_value(SAMPLE_CLASS)
        at.number_input(key="cnnviz.sample_seed").set_value(SAMPLE_SEED)
        at.run()
        assert not at.exception, messages(at)
        yield at


def _attack_button(at: AppTest):
    return next(b for b in at.button if b.label == "Attack")


def test_one_pixel_attack_shows_before_and_after(app: AppTest) -> None:
    assert app.title[0].value == "Adversarial examples"
    assert any("model queries" in c.value for c in app.caption), messages(app)  # the time estimate
    app.selectbox(key="adversarial.preset").set_value("custom").run()
    app.number_input(key="adversarial.popsize").set_value(100)
    app.number_input(key="adversarial.maxiter").set_value(10)
    app.run()
    _attack_button(app).click().run()
    assert not app.exception and not app.error, messages(app)
    assert app.success and "Fooled" in app.success[0].value, messages(app)
    assert "**triangle**" in app.success[0].value
    assert {m.label for m in app.metric} >= {"Model queries", "Pixels changed (L0)"}
    assert next(m for m in app.metric if m.label == "Pixels changed (L0)").value == "1"
    assert any("The changed pixels, zoomed" in s.value for s in app.subheader)
    assert any("(row " in m.value for m in app.markdown)
    assert len(app.get("plotly_chart")) == 2
    assert any("Grad-CAM before and after" in s.value for s in app.subheader)
    assert not any("Grad-CAM" in e.value for e in app.error), messages(app)
    # before/after, the zoomed pixel before/after, Grad-CAM before/after
    assert len(app.main.get("image")) >= 6
    labels = [b.label for b in app.get("download_button")]
    assert "Download the adversarial image (PNG)" in labels and "Download the whole figure (PNG)" in labels


def test_pgd_shows_the_amplified_perturbation(app: AppTest) -> None:
    app.segmented_control(key="adversarial.method").set_value("pgd").run()
    app.slider(key="adversarial.epsilon").set_value(8).run()
    _attack_button(app).click().run()
    assert not app.exception and not app.error, messages(app)
    assert app.success or app.warning, messages(app)
    assert any("amplified" in s.value for s in app.subheader)
    assert next(m for m in app.metric if m.label == "L-infinity").value == "8 / 255"


def test_target_equal_to_the_prediction_is_a_readable_error(app: AppTest) -> None:
    app.selectbox(key="adversarial.target").set_value(SHAPE_CLASSES.index(SAMPLE_CLASS)).run()
    _attack_button(app).click().run()
    assert not app.exception, messages(app)
    assert any("already predicts the target" in e.value for e in app.error), messages(app)
