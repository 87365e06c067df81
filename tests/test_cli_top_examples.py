"""The top-examples subcommand, run in-process on the demo model over a folder of generated shapes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnviz.cli import EXIT_BAD_INPUT, main
from cnnviz.images import load_image
from cnnviz.inside import top_activating
from cnnviz.models import load_model
from cnnviz.demo.shapes import SHAPE_CLASSES, TEST_SEED, generate_dataset

BOX_COLOUR = (255, 64, 0)  # render_inside.draw_box's default


@pytest.fixture(scope="module")
def demo():
    return load_model("shapes")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """64 held-out shapes images named ``NN_class.png``, a damaged PNG and a text file."""
    path = tmp_path_factory.mktemp("shapes")
    images, labels, _ = generate_dataset(64, TEST_SEED)
    for index, (image, label) in enumerate(zip(images, labels)):
        Image.fromarray(image).save(path / f"{index:02d}_{SHAPE_CLASSES[label]}.png")
    (path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    (path / "notes.txt").write_text("not an image")
    return path


def _top_examples(capsys, *args: str) -> tuple[dict, str]:
    assert main(["top-examples", *args, "--json"]) == 0
    captured = capsys.readouterr()
    return json.loads(captured.out), captured.err


def test_a_class_channel_finds_images_of_that_class_in_a_folder(demo, folder, tmp_path, capsys) -> None:
    kernel = demo.model.get_layer("logits").get_weights()[0]  # (channels, classes)
    hits = 0
    for class_index, name in enumerate(SHAPE_CLASSES):
        channel = int(np.argmax(kernel[:, class_index]))  # the channel voting most for this class
        summary, err = _top_examples(
            capsys, "--folder", str(folder), "--model", "shapes", "--layer", "last_conv",
            "--channel", str(channel), "--top", "5", "--out", str(tmp_path / f"{name}.png"),
        )
        assert summary["images"] == 64 and summary["skipped"] == ["broken.png"]
        assert err.count("\n") == 1 and "broken.png" in err  # one warning line for the damaged file
        hits += sum(row["file"].endswith(f"_{name}.png") for row in summary["examples"])
    assert hits >= 0.6 * 5 * len(SHAPE_CLASSES)  # chance would be 1/8


def test_each_row_names_the_file_it_scored_and_the_png_marks_the_boxes(
    demo, folder, tmp_path, capsys
) -> None:
    out = tmp_path / "grid.png"
    summary, _ = _top_examples(
        capsys, "--folder", str(folder), "--layer", "fine_relu", "--channel", "7", "--top", "4",
        "--out", str(out),
    )
    rows = summary["examples"]
    assert [row["rank"] for row in rows] == [1, 2, 3, 4]
    assert [row["activation"] for row in rows] == sorted((row["activation"] for row in rows), reverse=True)
    for row in rows:  # the file named on the row, scored on its own, gives the activation and box shown
        alone = top_activating(demo, [load_image(folder / row["file"])], "fine_relu", 7, top=1).examples[0]
        assert alone.score == pytest.approx(row["activation"], rel=1e-4)
        assert list(alone.box) == row["box"]
        top, left, bottom, right = row["box"]
        assert 0 <= top <= bottom < 64 and 0 <= left <= right < 64
    grid = np.asarray(Image.open(out).convert("RGB"))
    assert grid.shape == (160 + 15, 4 * 162 - 2, 3)  # four 160-px cells with captions, in one row
    assert np.all(grid == BOX_COLOUR, axis=-1).sum() > 4 * 100  # each image carries its box outline

    assert main(["top-examples", "--folder", str(folder), "--layer", "fine_relu", "--channel", "7",
                 "--top", "4", "--out", str(out)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert "fine_relu channel 7: top 4 of 64 images" in table[0] and "box" in table[1]
    assert [line.split()[1] for line in table[2:]] == [row["file"] for row in rows]


def test_image_files_and_generated_sets_are_image_sets_too(folder, tmp_path, capsys) -> None:
    files = sorted(str(p) for p in folder.glob("0[0-2]_*.png"))
    summary, _ = _top_examples(
        capsys, *files, "--channel", "0", "--top", "2", "--out", str(tmp_path / "f.png")
    )
    assert summary["layer"] == "last_conv" and summary["images"] == 3
    assert {row["file"] for row in summary["examples"]} <= set(files) and len(summary["examples"]) == 2
    first, _ = _top_examples(capsys, "--generated", "12", "--seed", "3", "--channel", "0", "--out",
                             str(tmp_path / "g.png"))
    again, _ = _top_examples(capsys, "--generated", "12", "--seed", "3", "--channel", "0", "--out",
                             str(tmp_path / "g.png"))
    assert first["images"] == 12 and first["examples"][0]["file"].startswith("generated #")
    assert first["examples"] == again["examples"]  # same seed, same set, same answer


@pytest.mark.parametrize(
    "args, message",
    [
        (["--folder", "{tmp}/missing"], "not a folder"),
        (["--folder", "{tmp}/empty"], "No readable image"),
        (["--folder", "{tmp}/damaged"], "No readable image"),
        (["--folder", "{folder}", "--layer", "last_conv", "--channel", "96"], "channels 0 to 95"),
        (["--folder", "{folder}", "--layer", "conv42"], "no layer called 'conv42'"),
        (["--folder", "{folder}", "--layer", "logits"], "no spatial output"),
        (["--folder", "{folder}", "--generated", "4"], "one image set"),
        (["--generated", "0"], "1 to 2000"),
        (["{tmp}/damaged/a.png"], "a.png"),
    ],
)
def test_bad_input_exits_2_with_one_line(args, message, folder, tmp_path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "damaged").mkdir()
    (tmp_path / "damaged" / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    args = [a.format(tmp=tmp_path, folder=folder) for a in args]
    if "--channel" not in args:
        args += ["--channel", "0"]
    out = tmp_path / "grid.png"
    assert main(["top-examples", *args, "--out", str(out)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err, err
    assert not out.exists()
