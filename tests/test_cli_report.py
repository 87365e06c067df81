"""``python -m cnnviz report``: an HTML file for several models and methods; exit code 2 on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from cnnviz.cli import main
from cnnviz.demo.shapes import SHAPE_CLASSES, TEST_SEED, generate_sample


@pytest.fixture(scope="module")
def star_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sample = generate_sample(TEST_SEED + 3, class_index=SHAPE_CLASSES.index("star"))
    path = tmp_path_factory.mktemp("cli") / "star.png"
    Image.fromarray(sample.image).save(path)
    return path


def test_report_for_two_models_and_two_methods(star_path: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.html"
    code = main(["report", str(star_path), "--model", "shapes", "--model", "MobileNetV3Small",
                 "--weights", "none", "--method", "gradcam", "--method", "saliency", "--out", str(out), "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert [m["model"] for m in summary["models"]] == ["shapes", "MobileNetV3Small"]
    assert summary["models"][0]["top"] == "star"
    assert [h["method"] for h in summary["models"][1]["heatmaps"]] == ["gradcam", "saliency"]
    text = out.read_text(encoding="utf-8")
    assert text.count("data:image/png;base64,") == 1 + 2 * 3  # the image, then per model input + 2 maps
    assert "<h2>MobileNetV3Small</h2>" in text


@pytest.mark.parametrize("extra, words", [
    (["--method", "nope"], "nope"),
    (["--opacity", "2"], "opacity"),
    (["--colormap", "rainbow"], "colour map"),
    (["--out", "no-such-folder/r.html"], "does not exist"),
])
def test_bad_options_exit_2_with_one_line(star_path: Path, tmp_path: Path, extra: list[str], words: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["report", str(star_path), "--out", str(tmp_path / "r.html"), *extra])
    error = capsys.readouterr().err.strip()
    assert code == 2 and words in error and len(error.splitlines()) == 1
    assert not (tmp_path / "r.html").exists()
