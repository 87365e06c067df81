"""``python -m cnnviz attack``: writes a PNG that fools the model, prints JSON, refuses bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cnnviz.cli import main
from cnnviz.images import encode_png, load_image
from cnnviz.models import load_model
from cnnviz.prediction import predict
from cnnviz.demo.shapes import TEST_SEED, generate_sample

# The image and seed pinned in test_attacks_onepixel.py (a 1-pixel attack fools the demo model).
VULNERABLE_SAMPLE = TEST_SEED + 4
ATTACK_SEED = 0


@pytest.fixture(scope="module")
def image_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("attack") / "shape.png"
    path.write_bytes(encode_png(generate_sample(VULNERABLE_SAMPLE).image))
    return path


def test_onepixel_attack_writes_a_png_that_fools_the_model(image_file, tmp_path, capsys):
    out = tmp_path / "adv.png"
    code = main(["attack", str(image_file), "--model", "shapes", "--method", "onepixel",
                 "--pixels", "1", "--popsize", "100", "--maxiter", "10",
                 "--seed", str(ATTACK_SEED), "--out", str(out), "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["success"] is True and report["l0_pixels"] == 1
    assert report["changed_pixels"][0].keys() == {"row", "column", "old", "new"}
    adversarial = load_image(out)
    top = predict(load_model("shapes"), adversarial, top=1)[0]
    assert top.class_index == report["adversarial_class"] != report["original_class"]


def test_pgd_attack_prints_a_summary(image_file, tmp_path, capsys):
    out = tmp_path / "adv.png"
    code = main(["attack", str(image_file), "--method", "pgd", "--epsilon", "4", "--seed", "0",
                 "--out", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert "queries" in text and "Linf 4" in text and str(out) in text
    original = load_image(image_file).astype(int)
    assert np.abs(load_image(out).astype(int) - original).max() <= 4


@pytest.mark.parametrize("extra, words", [
    (["--pixels", "0"], "pixels"),
    (["--popsize", "0"], "population"),
    (["--target", "99"], "out of range"),
    (["--method", "fgsm", "--epsilon", "-1"], "epsilon"),
    (["--method", "pgd", "--pixels", "2"], "no setting 'pixels'"),
])
def test_bad_input_is_one_line_and_exit_2(image_file, tmp_path, capsys, extra, words):
    code = main(["attack", str(image_file), "--out", str(tmp_path / "adv.png"), *extra])
    error = capsys.readouterr().err
    assert code == 2 and words in error and "Traceback" not in error


def test_jpeg_output_is_refused(image_file, tmp_path, capsys):
    assert main(["attack", str(image_file), "--out", str(tmp_path / "adv.jpg")]) == 2
    assert ".png" in capsys.readouterr().err
