"""An uploaded zip survives a visit to another page (ui/kept_settings.py): Streamlit drops the values
of widgets a run did not draw, so the Train page and the Clever Hans lab came back with their zip
uploader empty and the user had to upload the same file again."""

from __future__ import annotations

from pathlib import Path

from apptest_helpers import app_test, messages, navigation_mode
from streamlit.testing.v1 import AppTest

from training_helpers import task_zip


def _upload_leave_and_come_back(at: AppTest, page: str, source: tuple[str, str], uploader: str,
                                archive: bytes) -> str:
    """Upload ``archive`` on ``page``, visit Home, come back, pick the zip source again: the captions."""
    key, value = source
    at.switch_page(page).run()
    at.radio(key=key).set_value(value).run()
    at.file_uploader(key=uploader).set_value(("task.zip", archive, "application/zip")).run()
    assert not at.exception and not at.error, messages(at)
    at.switch_page("pages/home.py").run()
    at.switch_page(page).run()
    at.radio(key=key).set_value(value).run()  # Streamlit reset the source: the user picks it again
    assert not at.exception and not at.error, messages(at)
    return " ".join(c.value for c in at.caption)


def test_the_train_pages_zip_survives_a_visit_to_another_page(tmp_path: Path) -> None:
    with navigation_mode():
        at = app_test()
        at.run()
        captions = _upload_leave_and_come_back(at, "pages/train.py", ("train.source", "zip"), "train.zip",
                                               task_zip(tmp_path, per_class=6))
        assert "Using task.zip, uploaded before" in captions and "12 images in 2 classes" in captions, captions


def test_the_labs_zip_survives_a_visit_to_another_page(tmp_path: Path) -> None:
    with navigation_mode():
        at = app_test()
        at.run()
        captions = _upload_leave_and_come_back(
            at, "pages/clever_hans.py", ("clever_hans.kind", "My own (zip of class folders)"), "clever_hans.zip",
            task_zip(tmp_path, per_class=10))
        assert "Using task.zip, uploaded before" in captions, captions
