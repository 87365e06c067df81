"""The features, filters, maximize and layers subcommands, run in-process on the demo model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnviz.cli import EXIT_BAD_INPUT, main
from cnnviz.demo.shapes import TEST_SEED, generate_sample


@pytest.fixture
def star(tmp_path: Path) -> str:
    path = tmp_path / "star.png"
    Image.fromarray(generate_sample(TEST_SEED, class_index=3).image).save(path)
    return str(path)


def test_layers_table_and_json(capsys) -> None:
    assert main(["layers", "--model", "shapes"]) == 0
    out = capsys.readouterr().out
    assert "last_conv" in out and "27 layers, 225,592 parameters" in out
    assert main(["layers", "--model", "shapes", "--json"]) == 0
    table = json.loads(capsys.readouterr().out)
    last = next(row for row in table["layers"] if row["name"] == "last_conv")
    assert last["receptive_field"] == [70, 70] and last["jump"] == [4, 4]


def test_features_writes_a_grid_and_statistics(star: str, tmp_path: Path, capsys) -> None:
    out = tmp_path / "grid.png"
    assert (
        main(
            [
                "features",
                star,
                "--model",
                "shapes",
                "--layer",
                "fine_relu",
                "--page-size",
                "16",
                "--sort",
                "max",
                "--out",
                str(out),
                "--json",
            ]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert summary["shape"] == [16, 16, 64] and summary["pages"] == 4 and len(summary["channels"]) == 16
    maxima = [row["max"] for row in summary["channels"]]
    assert maxima == sorted(maxima, reverse=True)
    assert np.asarray(Image.open(out)).shape[2] == 3


def test_filters_and_maximize_write_pngs(tmp_path: Path, capsys) -> None:
    assert main(["filters", "--model", "shapes", "--out", str(tmp_path / "f.png")]) == 0
    assert "stem1_conv: convolution, kernel 3x3x3x16" in capsys.readouterr().out
    assert (
        main(
            [
                "maximize",
                "--model",
                "shapes",
                "--class",
                "star",
                "ring",
                "--steps",
                "48",
                "--out",
                str(tmp_path / "m.png"),
                "--json",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert [row["label"] for row in result["targets"]] == ["star", "ring"]
    assert all(row["final"] > row["start"] for row in result["targets"])
    assert (tmp_path / "m.png").stat().st_size > 0


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["maximize", "--model", "shapes", "--channels", "1", "--layer", "last_conv", "--steps", "0"],
            "steps must be",
        ),
        (["maximize", "--model", "shapes", "--channels", "500", "--layer", "last_conv"], "channels 0 to 95"),
        (["maximize", "--model", "shapes", "--class", "circle", "--seed", "-1"], "seed must be a whole number"),
        (["filters", "--model", "shapes", "--layer", "gap"], "no convolution kernel"),
        (["layers", "--model", "nosuchmodel"], "Unknown model"),
    ],
)
def test_bad_requests_exit_2_with_one_line(args: list[str], message: str, tmp_path: Path, capsys) -> None:
    assert (
        main([*args, *(["--out", str(tmp_path / "x.png")] if args[0] != "layers" else [])]) == EXIT_BAD_INPUT
    )
    err = capsys.readouterr().err.strip()
    assert message in err and "Traceback" not in err and len(err.splitlines()) == 1


def test_features_of_a_layer_without_maps(star: str, tmp_path: Path, capsys) -> None:
    assert (
        main(["features", star, "--model", "shapes", "--layer", "gap", "--out", str(tmp_path / "x.png")]) == 2
    )
    assert "not a (height, width, channels) grid" in capsys.readouterr().err
