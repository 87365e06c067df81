"""Page settings survive a visit to another page (ui/kept_settings.py): Streamlit drops the values of
widgets a run did not draw, so without it the Train page came back with every setting reset and its
uploaded zip gone."""

from __future__ import annotations

from pathlib import Path

from apptest_helpers import app_test, messages, navigation_mode
from streamlit.testing.v1 import AppTest

from training_helpers import task_zip
from ui.kept_settings import is_kept


def _visit_home_and_return(at: AppTest, page: str) -> None:
    at.switch_page("pages/home.py").run()
    at.switch_page(page).run()
    assert not at.exception and not at.error, messages(at)


def test_train_settings_and_upload_survive_a_visit_to_another_page(tmp_path: Path) -> None:
    with navigation_mode():
        at = app_test()
        at.run()
        at.switch_page("pages/train.py").run()
        at.radio(key="train.source").set_value("zip").run()
        at.file_uploader(key="train.zip").set_value(
            ("task.zip", task_zip(tmp_path, per_class=6), "application/zip")).run()
        at.radio(key="train.strategy").set_value("head").run()
        at.number_input(key="train.epochs.head").set_value(7).run()
        at.select_slider(key="train.batch").set_value(16).run()
        at.selectbox(key="train.aug.flip").set_value("horizontal").run()
        assert not at.exception and not at.error, messages(at)

        _visit_home_and_return(at, "pages/train.py")
        assert at.radio(key="train.source").value == "zip"
        assert at.radio(key="train.strategy").value == "head"
        assert at.number_input(key="train.epochs.head").value == 7
        assert at.select_slider(key="train.batch").value == 16
        assert at.selectbox(key="train.aug.flip").value == "horizontal"
        captions = " ".join(c.value for c in at.caption)
        assert "Using task.zip, uploaded before" in captions and "12 images in 2 classes" in captions, captions


def test_the_labs_zip_and_cue_survive_a_visit_to_another_page(tmp_path: Path) -> None:
    with navigation_mode():
        at = app_test()
        at.run()
        at.switch_page("pages/clever_hans.py").run()
        at.radio(key="clever_hans.kind").set_value("My own (zip of class folders)").run()
        at.file_uploader(key="clever_hans.zip").set_value(
            ("lab.zip", task_zip(tmp_path, per_class=10), "application/zip")).run()
        at.selectbox(key="clever_hans.cue").set_value("border").run()
        assert not at.exception and not at.error, messages(at)

        _visit_home_and_return(at, "pages/clever_hans.py")
        assert at.radio(key="clever_hans.kind").value.startswith("My own")
        assert at.selectbox(key="clever_hans.cue").value == "border"
        assert "Using lab.zip, uploaded before" in " ".join(c.value for c in at.caption), messages(at)


def test_only_value_widgets_are_kept() -> None:
    assert is_kept("train.epochs.head") and is_kept("train.aug.zoom") and is_kept("clever_hans.cue")
    assert not any(is_kept(k) for k in ("train.zip", "train.start", "train.stop.2", "train.aug.download",
                                        "clever_hans.zip", "clever_hans.class", "train.epochs"))
