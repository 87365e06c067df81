"""``python -m cnnviz explain --method NAME --param ...`` for the issue-16 methods (in process)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnviz.cli import main
from cnnviz.demo.shapes import SHAPE_CLASSES, TEST_SEED, generate_sample


@pytest.mark.parametrize(("method", "params"), [
    ("lrp", ["rule=epsilon"]),
    ("rise", ["samples=64", "grid_size=4", "normalise=masks"]),
    ("fem", ["k=1.5"]),
])
def test_explain_takes_the_new_methods_and_their_settings(method: str, params: list[str], tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    sample = generate_sample(TEST_SEED + 5, class_index=SHAPE_CLASSES.index("circle"))
    path = tmp_path / "circle.png"
    Image.fromarray(sample.image).save(path)
    arguments = ["explain", str(path), "--model", "shapes", "--method", method, "--out", str(tmp_path / "o.png"),
                 "--json"]
    for item in params:
        arguments += ["--param", item]
    assert main(arguments) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["method"] == method and summary["label"] == "circle"
    for item in params:
        name, value = item.split("=")
        assert str(summary["params"][name]) == value
    assert np.array(Image.open(tmp_path / "o.png")).shape == (64, 64, 3)


def test_a_bad_setting_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "x.png"
    Image.fromarray(generate_sample(TEST_SEED).image).save(path)
    assert main(["explain", str(path), "--model", "shapes", "--method", "lrp", "--param", "rule=magic"]) == 2
    assert "rule must be one of" in capsys.readouterr().err
