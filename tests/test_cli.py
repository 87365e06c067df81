"""The command line as a user runs it: a real subprocess, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from PIL import Image

from cnnviz.demo.shapes import SHAPE_CLASSES, TEST_SEED, generate_sample
from cnnviz.zoo import available_models

REPO = Path(__file__).resolve().parents[1]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cnnviz", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=180)


def test_predict_names_the_shape_of_generated_images(tmp_path: Path) -> None:
    paths, classes = [], [1, 4]
    for class_index in classes:
        path = tmp_path / f"{SHAPE_CLASSES[class_index]}.png"
        Image.fromarray(generate_sample(TEST_SEED + 7, class_index=class_index).image).save(path)
        paths.append(str(path))
    result = run_cli("predict", *paths, "--model", "shapes", "--top", "2", "--json")
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout)
    assert [a["predictions"][0]["label"] for a in answers] == [SHAPE_CLASSES[i] for i in classes]
    text = run_cli("predict", paths[0], "--model", "shapes")
    assert text.returncode == 0 and f"1. {SHAPE_CLASSES[classes[0]]}" in text.stdout


def test_bad_input_exits_2_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    not_an_image = tmp_path / "notes.txt"
    not_an_image.write_text("hello")
    for args in (("predict", str(not_an_image)),
                 ("predict", str(tmp_path / "missing.png")),
                 ("predict", str(not_an_image), "--model", "AlexNet")):
        result = run_cli(*args)
        assert result.returncode == 2, args
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
        assert "Traceback" not in result.stderr


def test_models_lists_the_zoo_with_cache_state() -> None:
    result = run_cli("models", "--json")
    assert result.returncode == 0
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert list(rows) == list(available_models())
    assert rows["shapes"]["cached"] is True and rows["MobileNetV2"]["input_size"] == [224, 224]


def test_building_the_parser_loads_no_tensorflow() -> None:
    """Every command builds the whole parser: a subcommand importing the engine there would slow down
    every start and let TensorFlow's start-up log reach stderr before a one-line error."""
    code = "import sys; from cnnviz.cli import build_parser; build_parser(); print('tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "False", result.stderr
