"""AppTest: the issue-16 methods and metrics on the Heatmaps and Compare pages (demo model)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from apptest_helpers import app_on_page, messages, navigation_mode
from streamlit.testing.v1 import AppTest


@pytest.fixture
def heatmaps() -> Iterator[AppTest]:
    with navigation_mode():
        yield app_on_page("pages/heatmaps.py")


def test_new_methods_with_their_settings_and_the_metric_badges(heatmaps: AppTest) -> None:
    at = heatmaps
    options = at.multiselect(key="heatmaps.methods").options
    for name in ("LRP", "RISE", "Sobol attribution", "KernelSHAP", "FEM", "Eigen-CAM"):
        assert name in options, options
    at.multiselect(key="heatmaps.methods").set_value(["lrp", "fem"]).run()
    assert at.selectbox(key="heatmaps.lrp.rule").value == "epsilon_plus_flat"
    at.selectbox(key="heatmaps.lrp.rule").set_value("epsilon").run()
    at.number_input(key="heatmaps.fem.k").set_value(1.0).run()
    assert not at.exception and not at.error, messages(at)
    assert len(list(at.main.get("image"))) == 3, messages(at)  # the input, LRP and FEM
    badges = " ".join(m.value for m in at.markdown)
    assert badges.count("badge[:material/functions: µ-fidelity") == 2, badges


def test_more_checks_draw_the_randomisation_curve(heatmaps: AppTest) -> None:
    at = heatmaps
    at.multiselect(key="heatmaps.methods").set_value(["gradcam"]).run()
    run = next(b for b in at.button if b.label == "Run the checks")
    run.click().run(timeout=120)
    assert not at.exception and not at.error, messages(at)
    tables = [list(t.value.columns) for t in at.table]
    assert any("ROAD MoRF (lower better)" in columns for columns in tables), tables
    assert len(list(at.main.get("image"))) == 3  # the input, Grad-CAM and the curve
