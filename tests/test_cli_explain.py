"""``python -m cnnviz explain``: overlay PNG, .npy map, JSON summary, exit code 2 on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnviz.cli import main
from cnnviz.cli.cmd_explain import COLORMAP_NAMES, METHOD_NAMES
from cnnviz.explanation import METHODS
from cnnviz.demo.shapes import SHAPE_CLASSES, TEST_SEED, generate_sample


@pytest.fixture(scope="module")
def sample_path(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    sample = generate_sample(TEST_SEED + 3, class_index=SHAPE_CLASSES.index("star"))
    path = tmp_path_factory.mktemp("cli") / "star.png"
    Image.fromarray(sample.image).save(path)
    return path, sample.mask


def test_explain_writes_overlay_npy_and_json(sample_path: tuple, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path, mask = sample_path
    out, npy = tmp_path / "overlay.png", tmp_path / "map.npy"
    code = main(["explain", str(path), "--model", "shapes", "--method", "gradcam", "--out", str(out),
                 "--npy", str(npy), "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["label"] == "star" and summary["layer"] == "last_conv" and summary["raw_shape"] == [16, 16]
    heatmap = np.load(npy)
    assert heatmap.shape == (64, 64) and heatmap.max() == pytest.approx(1.0)
    assert mask[tuple(summary["peak"])]  # the peak is on the star
    assert np.array(Image.open(out)).shape == (64, 64, 3)


def test_explain_with_class_label_and_method_parameters(sample_path: tuple, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = sample_path
    code = main(["explain", str(path), "--model", "shapes", "--method", "occlusion", "--class", "circle",
                 "--param", "patch_size=16", "--param", "stride=16", "--param", "fill=blur",
                 "--out", str(tmp_path / "o.png"), "--original"])
    assert code == 0
    text = capsys.readouterr().out
    assert "Occlusion" in text and "'circle'" in text


@pytest.mark.parametrize(("args", "words"), [
    (["--method", "occlusion", "--param", "patch_size=100"], "larger than the image"),
    (["--method", "occlusion", "--param", "stride=0"], "stride"),
    (["--class", "99"], "out of range"),
    (["--layer", "logits"], "not a (height, width, channels) grid"),
    (["--layer", "nope"], "Valid layers"),
    (["--method", "wizardry"], "gradcam"),
    (["--param", "oops"], "NAME=VALUE"),
])
def test_bad_input_exits_2_with_one_line(sample_path: tuple, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str], args: list[str],
                                         words: str) -> None:
    path, _ = sample_path
    code = main(["explain", str(path), "--model", "shapes", "--out", str(tmp_path / "x.png"), *args])
    error = capsys.readouterr().err
    assert code == 2 and error.startswith("error: ") and words in error and error.count("\n") == 1


def test_cam_on_a_model_without_gap_head_exits_2(sample_path: tuple, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import keras

    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu")(keras.layers.Rescaling(1 / 255)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(x)))
    model_path = tmp_path / "flat.keras"
    model.save(model_path)
    code = main(["explain", str(sample_path[0]), "--model", str(model_path), "--method", "cam",
                 "--out", str(tmp_path / "x.png")])
    error = capsys.readouterr().err
    assert code == 2 and "Grad-CAM" in error


def test_cli_lists_every_registered_method_and_colour_map() -> None:
    from cnnviz.render import COLORMAPS, DEFAULT_COLORMAP

    assert list(METHOD_NAMES) == list(METHODS)
    assert list(COLORMAP_NAMES) == list(COLORMAPS) and COLORMAP_NAMES[0] == DEFAULT_COLORMAP
