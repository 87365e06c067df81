"""The cue and audit subcommands, run in-process: the written class folders and manifest, the audit's
JSON and report, and bad input (exit 2, one line)."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

from cnnviz.cli import EXIT_BAD_INPUT, main
from cnnviz.datasets import generated, open_dataset
from cnnviz.datasets.cues import cue_region
from cnnviz.images import load_image

PER_CLASS = 10
CLASS = "star"


def _json(capsys, *args: str) -> dict:
    assert main([*args, "--json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def cued_folder(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("cued") / "data"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["cue", "--generated", str(PER_CLASS), "--class", CLASS, "--cue", "patch", "--fraction",
                     "0.5", "--position", "top-left", "--seed", "3", "--out", str(out), "--json"])
    assert code == 0
    return out, json.loads(printed.getvalue())


def test_cue_writes_class_folders_and_a_manifest_of_the_cued_files(cued_folder):
    out, printed = cued_folder
    manifest = json.loads((out / "manifest.json").read_text())
    assert printed["cued"] == manifest["cued"] and manifest["class"] == CLASS and manifest["cue"] == "patch"
    assert manifest["images"] == 8 * PER_CLASS == sum(len(v) for v in manifest["splits"].values())
    original = open_dataset(generated(PER_CLASS, seed=3))
    by_file = {record.file: index for index, record in enumerate(original.records)}
    region = cue_region((64, 64), "patch", "top-left")
    cued = set(manifest["cued"])
    assert cued and all(name.startswith(f"{CLASS}/") for name in cued)
    for written, source in manifest["sources"].items():
        image, before = load_image(out / written), original.image(by_file[source])
        changed = np.any(image != before, axis=-1)
        if written in cued:
            assert changed.any() and not changed[~region].any()
        else:
            assert not changed.any(), written
    reopened = open_dataset(out)  # the folders read back as a dataset of the same classes
    assert reopened.class_counts() == original.class_counts()


def test_audit_json_lists_clusters_by_outlier_score_and_writes_the_report(cued_folder, tmp_path, capsys):
    out, manifest = cued_folder
    report = tmp_path / "audit.html"
    result = _json(capsys, "audit", "--folder", str(out), "--model", "shapes", "--class", CLASS,
                   "--clusters", "3", "--out", str(report))
    assert result["class"] == CLASS and result["method"] == "gradcam" and len(result["clusters"]) == 3
    scores = [c["outlier_score"] for c in result["clusters"]]
    assert scores == sorted(scores, reverse=True)
    members = [m for c in result["clusters"] for m in c["members"]]
    assert sorted(members) == sorted(f for f in manifest_files(out) if f.startswith(f"{CLASS}/"))
    assert [c["size"] for c in result["clusters"]] == [len(c["members"]) for c in result["clusters"]]
    page = report.read_text()
    assert page.count("<h2>Cluster ") == 3 and "data:image/png;base64," in page


def manifest_files(out: Path) -> list[str]:
    return list(json.loads((out / "manifest.json").read_text())["sources"])


@pytest.mark.parametrize("args, message", [
    (["cue", "--generated", "5", "--class", "horse", "--cue", "tag"], "no class 'horse'"),
    (["cue", "--generated", "5", "--class", "star", "--cue", "tag", "--fraction", "1.5"], "fraction"),
    (["audit", "--generated", "3", "--class", "star"], "at least 8"),
    (["audit", "--generated", "10", "--class", "star", "--clusters", "many"], "auto"),
])
def test_bad_input_exits_2_with_one_line(args, message, tmp_path, capsys):
    assert main([*args, "--out", str(tmp_path / "out")]) == EXIT_BAD_INPUT
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and message in error[0], error
