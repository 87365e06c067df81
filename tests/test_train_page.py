"""AppTest of the Train page: a generated set trains in the background worker, results and the
comparison table appear, Stop stops a run, "Explain this model" makes it the model of every page."""

from __future__ import annotations

import time
from pathlib import Path

from apptest_helpers import app_test, messages, navigation_mode
from streamlit.testing.v1 import AppTest

from training_helpers import task_zip
from ui import state

WAIT_S = 120


def _until(at: AppTest, done, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not done(at):
        assert time.monotonic() < deadline, f"timed out waiting for {what}: {messages(at)}"
        time.sleep(0.5)
        at.run()
        assert not at.exception, messages(at)


def _subheaders(at: AppTest) -> list[str]:
    return [s.value for s in at.subheader]


def test_train_page_trains_stops_and_explains_the_trained_model(tmp_path: Path) -> None:
    with navigation_mode():
        at = app_test()
        at.run()
        at.switch_page("pages/train.py").run()
        assert not at.exception, messages(at)
        at.radio(key="train.source").set_value("zip").run()
        at.file_uploader(key="train.zip").set_value(("shapes.zip", task_zip(tmp_path, per_class=12), "application/zip")).run()
        assert not at.exception and not at.error, messages(at)
        assert "24 images in 2 classes" in " ".join(c.value for c in at.caption), messages(at)
        assert "Suggested for this dataset: **features**" in " ".join(c.value for c in at.caption)
        at.radio(key="train.strategy").set_value("features").run()
        at.number_input(key="train.epochs.features").set_value(20).run()
        at.button(key="train.start").click().run()
        _until(at, lambda a: any(s.startswith("Results of run 1") for s in _subheaders(a)), "run 1's results")
        accuracy = next(m for m in at.metric if m.label == "Test accuracy").value
        assert accuracy.endswith("%") and float(accuracy.rstrip(" %")) >= 75, accuracy  # 4 test images
        assert len(at.dataframe[0].value) == 1

        # a long "head" run with augmentation (live preview), stopped from the page
        at.radio(key="train.strategy").set_value("head").run()
        at.selectbox(key="train.aug.flip").set_value("horizontal").run()
        assert any("augmented versions" in str(image.proto) for image in at.main.get("image"))  # live preview
        at.number_input(key="train.epochs.head").set_value(200).run()
        at.button(key="train.start").click().run()
        _until(at, lambda a: any("head epoch" in bar.text for bar in a.get("progress")), "run 2 to run")
        at.switch_page("pages/home.py").run()  # leaving the page does not stop the worker
        at.switch_page("pages/train.py").run()
        assert at.session_state["cnnviz.train.runs"][1].status == "running"
        at.button(key="train.stop.2").click().run()
        _until(at, lambda a: any(s.startswith("Results of run 2") for s in _subheaders(a)), "run 2 to stop")
        assert any("Stopped by the user" in w.value for w in at.warning), messages(at)
        rows = at.dataframe[0].value
        assert list(rows["status"]) == ["done", "stopped"]

        at.button(key="train.explain.2").click().run()
        choice = at.session_state[state.TRAINED_MODEL_KEY]
        assert choice.label.startswith("run 2") and "trained here" in choice.label
        assert any("trained on the Train page" in s.value for s in at.sidebar.success)
        at.switch_page("pages/heatmaps.py").run()  # the trained model explains its own predictions
        assert not at.exception and not at.error, messages(at)
        assert at.session_state["cnnviz.state.model"].key == choice.key
        captions = [str(image.proto) for image in at.main.get("image")]
        assert any("Grad-CAM" in caption for caption in captions), captions  # an overlay, not just the input
