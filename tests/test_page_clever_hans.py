"""AppTest of the Clever Hans lab on a generated set at the smallest size: plant a tag, train both models
(1 epoch), compare, and count the winning channels of the class. Checks the page runs through without an
error and shows each step's results. The zip path, the audit and opening a member on the Heatmaps page
run in a real browser (tests/test_browser_pages.py); learning the cue is tests/test_clever_hans.py's."""

from __future__ import annotations

from apptest_helpers import app_test, messages, navigation_mode

PAGE = "pages/clever_hans.py"


def _button(at, label: str):
    return next(b for b in at.button if b.label == label)


def test_the_lab_walks_from_planting_to_the_filter_statistics():
    with navigation_mode():
        at = app_test(timeout=300)
        at.run()
        at.switch_page(PAGE).run()
        at.number_input(key="clever_hans.per_class").set_value(20)
        at.selectbox(key="clever_hans.size").set_value(40)
        at.number_input(key="clever_hans.epochs").set_value(1)
        at.run()
        assert not at.exception and not at.error, messages(at)
        assert any("carry the cue" in str(image.proto) for image in at.main.get("image")), "no preview"
        _button(at, "Train both models").click().run()
        assert not at.exception and not at.error, messages(at)
        table = at.dataframe[0].value
        assert list(table.index) == ["clean model", "cued model"]
        wanted = {"cued: accuracy", "clean: accuracy", "moved: accuracy", "heatmap mass on the cue"}
        assert wanted <= set(table.columns)
        _button(at, "Count the winning channels").click().run()
        assert not at.exception and not at.error, messages(at)
        assert any("Most often the most active channel" in str(image.proto) for image in at.main.get("image"))
