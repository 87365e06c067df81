"""``python -m cnnviz train`` as a user runs it: files written, JSON keys, progress lines, exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from cnnviz.models import load_model_file
from training_helpers import TASK_CLASSES, write_task_folder

REPO = Path(__file__).resolve().parents[1]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cnnviz", "train", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=300)


def test_train_writes_the_model_and_labels_and_reports_json(tmp_path: Path) -> None:
    folder = write_task_folder(tmp_path / "images", per_class=30)
    out = tmp_path / "model.keras"
    result = run_cli("--folder", str(folder), "--backbone", "shapes", "--strategy", "features",
                     "--epochs", "12", "--batch-size", "16", "--learning-rate", "0.01", "--out", str(out),
                     "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["strategy"] == "features" and report["classes"] == list(TASK_CLASSES)
    assert report["model"] == str(out) and report["labels"] == str(tmp_path / "model.labels.txt")
    assert [set(row) for row in report["history"]] == [{"epoch", "loss", "accuracy", "val_loss",
                                                         "val_accuracy"}] * len(report["history"])
    assert report["test_accuracy"] >= 0.8
    assert "features epoch 1:" in result.stderr and "val_loss" in result.stderr  # a line per epoch
    loaded = load_model_file(out, labels=tmp_path / "model.labels.txt")
    assert loaded.class_names == TASK_CLASSES and loaded.input_size == (64, 64)


def test_bad_input_exits_2_with_one_line(tmp_path: Path) -> None:
    one = tmp_path / "one" / "cat"
    one.mkdir(parents=True)
    for i in range(6):
        Image.fromarray(np.full((40, 40, 3), 20 * i, np.uint8)).save(one / f"{i}.png")
    result = run_cli("--folder", str(one.parent), "--backbone", "shapes", "--strategy", "head",
                     "--out", str(tmp_path / "m.keras"))
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "one class" in result.stderr and not (tmp_path / "m.keras").exists()
