"""The image classifiers people bring, each shape of model through the whole engine.

The models are wired by hand, so their right answers are known without training: a 3x3 "detect"
convolution whose channel 0 fires on bright pixels (channel 1 on dark ones; for the multi-label
model, on red and on blue pixels), then a head (global average pooling or Flatten, then Dense)
whose logits say how much of the image is bright. A bright square on a dark background is therefore
class "spot", and every heatmap of "spot" must point at the square. Each model is saved to a file
and read back with load_model_file, as a user's would be.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from cnnviz.attacks import attack
from cnnviz.errors import MethodNotApplicableError, NotAnImageModelError, ParameterError
from cnnviz.explanation import explain
from cnnviz.inside.features import feature_maps
from cnnviz.inside.kernels import filters
from cnnviz.inside.maximize import maximize
from cnnviz.methods.core import input_gradients
from cnnviz.models import LUMA_WEIGHTS, load_model_file
from cnnviz.prediction import predict

SPOT_GAIN = 300.0  # logit per unit of mean "bright" activation
SPOT_BIAS = -2.0


def _detector(channels: int, colours: bool) -> tuple[np.ndarray, np.ndarray]:
    """3x3 kernels looking at the centre pixel only: bright/dark, or red/blue for ``colours``."""
    kernel = np.zeros((3, 3, channels, 2), np.float32)
    if colours:
        kernel[1, 1, :, 0] = (1, -1, -1)  # red
        kernel[1, 1, :, 1] = (-1, -1, 1)  # blue
        return kernel, np.zeros(2, np.float32)
    kernel[1, 1, :, 0] = 1 / channels
    kernel[1, 1, :, 1] = -1 / channels
    return kernel, np.array([-0.5, 0.5], np.float32)


def spot_model(shape: tuple[int, int, int], head: str = "softmax", rescale: bool = True,
               flatten: bool = False, sequential: bool = False) -> keras.Model:
    """A hand-wired classifier of ``shape`` input; see the module docstring."""
    height, width, channels = shape
    multilabel = head == "multilabel"
    units = {"softmax": 2, "binary": 1, "multilabel": 2}[head]
    activation = "softmax" if head == "softmax" else "sigmoid"
    layers: list[keras.layers.Layer] = [keras.Input(shape)]
    if rescale:
        layers.append(keras.layers.Rescaling(1 / 255, name="rescale"))
    layers.append(keras.layers.Conv2D(2, 3, padding="same", activation="relu", name="detect"))
    if flatten:
        layers += [keras.layers.MaxPooling2D(2, name="pool"), keras.layers.Flatten(name="flatten")]
    else:
        layers.append(keras.layers.GlobalAveragePooling2D(name="gap"))
    layers.append(keras.layers.Dense(units, activation=activation, name="out"))
    if sequential:
        model = keras.Sequential(layers)
    else:
        x = layers[0]
        for layer in layers[1:]:
            x = layer(x)
        model = keras.Model(layers[0], x)
    model.get_layer("detect").set_weights(list(_detector(channels, multilabel)))
    features = 2 * ((height // 2) * (width // 2) if flatten else 1)
    kernel = np.zeros((features, units), np.float32)
    per_unit = SPOT_GAIN / (features // 2)
    if multilabel:
        kernel[0::2, 0] = kernel[1::2, 1] = per_unit
        bias = np.full(units, SPOT_BIAS, np.float32)
    elif head == "binary":
        kernel[0::2, 0] = per_unit
        bias = np.array([SPOT_BIAS], np.float32)
    else:  # class 0 "spot", class 1 "plain" (logit 0)
        kernel[0::2, 0] = per_unit
        bias = np.array([SPOT_BIAS, 0.0], np.float32)
    model.get_layer("out").set_weights([kernel, bias])
    return model


def square_image(shape: tuple[int, int], top: int, left: int, side: int,
                 colour: tuple[int, int, int] = (255, 255, 255),
                 image: np.ndarray | None = None) -> np.ndarray:
    """A dark image (value 20) with a ``colour`` square (or the square drawn on ``image``)."""
    image = np.full((*shape, 3), 20, np.uint8) if image is None else image.copy()
    image[top:top + side, left:left + side] = colour
    return image


def square_mask(shape: tuple[int, int], top: int, left: int, side: int, margin: int = 1) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[max(0, top - margin):top + side + margin, max(0, left - margin):left + side + margin] = True
    return mask


def peak_on(heatmap: np.ndarray, mask: np.ndarray) -> bool:
    return bool(mask.flat[int(np.argmax(heatmap))])


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("model_shapes")
    models = {
        "gray28": spot_model((28, 28, 1)),
        "binary": spot_model((32, 32, 3), head="binary"),
        "multilabel": spot_model((32, 32, 3), head="multilabel"),
        "flatten": spot_model((16, 16, 1), flatten=True, sequential=True),
        "wide": spot_model((24, 40, 3)),
        "unit8": spot_model((8, 8, 1), rescale=False),
    }
    paths = {}
    for name, model in models.items():
        paths[name] = folder / f"{name}.keras"
        model.save(paths[name])
    return paths


def test_a_28x28_grayscale_model_goes_through_every_tool(files: dict[str, Path]) -> None:
    loaded = load_model_file(files["gray28"], labels=["spot", "plain"])
    assert (loaded.channels, loaded.input_size, loaded.preprocessing) == (1, (28, 28), "none")
    image = square_image((28, 28), 4, 17, 8, colour=(255, 200, 60))  # yellow: luma is what counts
    luma = float(np.dot((255, 200, 60), LUMA_WEIGHTS))
    expected = np.asarray(keras.models.load_model(files["gray28"])(
        np.where(image[..., :1] > 100, luma, 20.0)[None].astype(np.float32)))[0]
    top = predict(loaded, image, top=2)
    assert top[0].label == "spot" and abs(top[0].probability - expected[0]) < 1e-4
    assert predict(loaded, np.full((28, 28, 3), 20, np.uint8))[0].label == "plain"
    mask = square_mask((28, 28), 4, 17, 8)
    for method in ("gradcam", "cam", "occlusion", "integrated_gradients"):
        heatmap = explain(loaded, image, method, class_index="spot")
        assert heatmap.heatmap.shape == (28, 28) and peak_on(heatmap.heatmap, mask), method
    # gradients reach the RGB pixels with the luma weights (the conversion is inside the tape)
    grads, _ = input_gradients(loaded, image[None].astype(np.float32), np.array([0]))
    inside = grads[0, 6, 19]
    assert np.allclose(inside / inside[1], np.array(LUMA_WEIGHTS) / LUMA_WEIGHTS[1], rtol=1e-3)
    maps = feature_maps(loaded, image, "detect").layers[0].maps
    assert peak_on(maps[..., 0], mask) and maps[..., 0][~mask].max() == 0
    kernels = filters(loaded)
    assert kernels.kernel.shape == (3, 3, 1, 2) and not kernels.rgb and kernels.kernel[1, 1, 0, 0] == 1
    dream = maximize(loaded, class_index="spot", steps=12, method="pixel")
    assert dream.final_objective[0] > dream.start_objective[0]
    result = attack(loaded, image, "pgd", epsilon=60, steps=10)
    assert result.success and result.adversarial_label == "plain"
    assert result.adversarial.shape == (28, 28, 3)


def test_one_sigmoid_unit_is_two_classes_with_signed_logits(files: dict[str, Path]) -> None:
    loaded = load_model_file(files["binary"])
    assert loaded.head == "binary" and loaded.class_names == ("negative", "positive")
    assert not loaded.labels_known
    image = square_image((32, 32), 20, 3, 7)
    p = float(np.asarray(keras.models.load_model(files["binary"])(image[None] / 1.0))[0, 0])
    top = predict(loaded, image, top=2)
    assert top[0].label == "positive" and abs(top[0].probability - p) < 1e-5
    assert abs(top[1].probability - (1 - p)) < 1e-5
    plain = predict(loaded, np.full((32, 32, 3), 20, np.uint8))[0]
    assert plain.label == "negative" and plain.probability > 0.8
    grads, logits = input_gradients(loaded, np.stack([image, image]).astype(np.float32), np.array([0, 1]))
    assert np.allclose(logits[0], [-logits[0, 1], logits[0, 1]])
    assert np.allclose(2 * logits[0, 1], np.log(p / (1 - p)), atol=1e-3)
    assert np.allclose(grads[0], -grads[1]) and np.abs(grads[1]).max() > 0
    mask = square_mask((32, 32), 20, 3, 7)
    for method in ("gradcam", "cam", "scorecam"):
        assert peak_on(explain(loaded, image, method, class_index="positive").heatmap, mask), method
    named = load_model_file(files["binary"], labels=["dog"])
    assert named.class_names == ("not dog", "dog") and named.labels_known


def test_several_sigmoid_units_are_independent_labels(files: dict[str, Path]) -> None:
    loaded = load_model_file(files["multilabel"], labels=["red", "blue"])
    assert loaded.multilabel
    both = square_image((32, 32), 2, 2, 8, (255, 0, 0))
    both = square_image((32, 32), 20, 22, 8, (0, 0, 255), image=both)
    probabilities = {p.label: p.probability for p in predict(loaded, both)}
    assert min(probabilities.values()) > 0.8  # both present: the sum is far above 1
    red_only = {p.label: p.probability for p in predict(loaded, square_image((32, 32), 2, 2, 8, (255, 0, 0)))}
    assert red_only["red"] > 0.8 and red_only["blue"] < 0.2
    for label, (top, left) in (("red", (2, 2)), ("blue", (20, 22))):
        heatmap = explain(loaded, both, "gradcam", class_index=label)
        assert peak_on(heatmap.heatmap, square_mask((32, 32), top, left, 8)), label
        assert abs(heatmap.probability - probabilities[label]) < 1e-4
    pushed = attack(loaded, square_image((32, 32), 2, 2, 8, (255, 0, 0)), "pgd", epsilon=80, steps=10)
    assert pushed.probabilities_after[0] < pushed.probabilities_before[0]


def test_a_flatten_head_works_except_cam_which_says_why(files: dict[str, Path]) -> None:
    loaded = load_model_file(files["flatten"], labels=["spot", "plain"])
    image = square_image((16, 16), 9, 2, 4)
    assert predict(loaded, image)[0].label == "spot"
    mask = square_mask((16, 16), 9, 2, 4)
    for method in ("gradcam", "saliency", "occlusion"):
        assert peak_on(explain(loaded, image, method, class_index="spot").heatmap, mask), method
    with pytest.raises(MethodNotApplicableError, match="global average pooling"):
        explain(loaded, image, "cam", layer="detect")


def test_a_non_square_input_keeps_its_shape(files: dict[str, Path]) -> None:
    loaded = load_model_file(files["wide"], labels=["spot", "plain"])
    assert loaded.input_size == (24, 40)
    image = square_image((24, 40), 5, 30, 6)
    heatmap = explain(loaded, image, "gradcam", class_index="spot")
    assert heatmap.heatmap.shape == (24, 40) and peak_on(heatmap.heatmap, square_mask((24, 40), 5, 30, 6))
    big = np.kron(image, np.ones((5, 5, 1), np.uint8))  # 120 x 200: resized to 24 x 40 by the engine
    assert predict(loaded, big)[0].label == "spot"


def test_an_8x8_model_expecting_0_to_1_pixels(files: dict[str, Path], tmp_path: Path) -> None:
    loaded = load_model_file(files["unit8"], labels=["spot", "plain"])
    assert loaded.preprocessing == "scale01" and loaded.input_size == (8, 8)
    image = square_image((8, 8), 1, 1, 2)
    assert predict(loaded, image)[0].label == "spot"
    heatmap = explain(loaded, image, "gradcam", class_index="spot").heatmap
    assert peak_on(heatmap, square_mask((8, 8), 1, 1, 2))
    # standardised pixels from a JSON labels file: (x / 255 - mean) / std
    options = tmp_path / "labels.json"
    options.write_text(json.dumps({"labels": ["spot", "plain"], "preprocessing": "standardize",
                                   "mean": [0.5], "std": [0.25]}))
    standard = load_model_file(files["unit8"], labels=options)
    assert standard.preprocessing == "standardize"
    assert np.allclose(standard.preprocess(np.full((1, 1, 1, 3), 255.0)), 2.0)
    with pytest.raises(ParameterError, match="mean and std"):
        load_model_file(files["unit8"], preprocessing="standardize")
    with pytest.raises(ParameterError, match="grayscale"):
        load_model_file(files["unit8"], preprocessing="caffe")


def test_inputs_cnnviz_cannot_read_are_refused_clearly(tmp_path: Path) -> None:
    tiny = tmp_path / "tiny.keras"
    spot_model((6, 6, 1)).save(tiny)
    with pytest.raises(NotAnImageModelError, match="at least 8x8"):
        load_model_file(tiny)
    inputs = keras.Input((16, 16, 2))
    two = tmp_path / "two.keras"
    keras.Model(inputs, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(inputs))).save(two)
    with pytest.raises(NotAnImageModelError, match="grayscale or RGB"):
        load_model_file(two)


def test_cli_predicts_and_explains_with_model_files(files: dict[str, Path], tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from cnnviz.cli import main

    picture = tmp_path / "spot.png"
    Image.fromarray(square_image((32, 32), 20, 3, 7)).save(picture)
    assert main(["predict", str(picture), "--model", str(files["binary"]), "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)[0]
    assert answer["predictions"][0]["label"] == "positive" and not answer["multilabel"]
    labels = tmp_path / "labels.txt"
    labels.write_text("red\nblue\n")
    assert main(["predict", str(picture), "--model", str(files["multilabel"]), "--labels", str(labels)]) == 0
    assert "multi-label" in capsys.readouterr().out
    out = tmp_path / "overlay.png"
    assert main(["explain", str(picture), "--model", str(files["gray28"]), "--method", "gradcam",
                 "--out", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) and Image.open(out).size[0] >= 28
    assert main(["predict", str(picture), "--model", str(files["gray28"]), "--preprocessing", "torch"]) == 2
    assert "grayscale" in capsys.readouterr().err


def test_predict_page_says_a_model_is_multi_label_or_binary(files: dict[str, Path]) -> None:
    from apptest_helpers import app_test, messages, navigation_mode

    with navigation_mode():
        at = app_test()
        at.run()
        at.switch_page("pages/predict.py").run()
        at.checkbox(key="cnnviz.own_model").check().run()
        at.file_uploader(key="cnnviz.own_labels_file").set_value(("labels.txt", b"red\nblue\n", "text/plain"))
        at.file_uploader(key="cnnviz.own_model_file").set_value(
            ("multilabel.keras", files["multilabel"].read_bytes(), "application/octet-stream")).run()
        assert not at.exception and not at.error, messages(at)
        assert any("Multi-label model" in info.value for info in at.info), messages(at)
        at.file_uploader(key="cnnviz.own_labels_file").set_value(None)
        at.file_uploader(key="cnnviz.own_model_file").set_value(
            ("binary.keras", files["binary"].read_bytes(), "application/octet-stream")).run()
        assert not at.exception and not at.error, messages(at)
        assert any("positive is p, negative is 1 - p" in c.value for c in at.caption), messages(at)
