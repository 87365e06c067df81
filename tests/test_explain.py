"""cnnviz.explain: every method, on the demo model and on a wrapped transfer-learning model."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from cnnviz.errors import (
    CancelledError,
    ClassIndexError,
    LayerNotSpatialError,
    MethodNotApplicableError,
    ParameterError,
    UnknownLayerError,
)
from cnnviz.explanation import METHODS, explain, explain_batch
from cnnviz.methods.core import upsample
from cnnviz.models import LoadedModel, load_model, preprocessing_function
from cnnviz.demo.shapes import SHAPE_CLASSES, TEST_SEED, generate_dataset

FAST = {"scorecam": {"top_k": 8}, "smoothgrad": {"samples": 4}, "integrated_gradients": {"steps": 4},
        "occlusion": {"patch_size": 32, "stride": 32}, "vargrad": {"samples": 2}, "squaregrad": {"samples": 2},
        "ablationcam": {"top_k": 4}, "rise": {"samples": 8, "grid_size": 4},
        "sobol": {"designs": 2, "grid_size": 2}, "hsic": {"designs": 8, "grid_size": 2},
        "lime": {"samples": 8, "segments": 8}, "kernel_shap": {"samples": 8, "segments": 8}}


@pytest.fixture(scope="module")
def shapes() -> LoadedModel:
    return load_model("shapes")


@pytest.fixture(scope="module")
def samples() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return generate_dataset(8, TEST_SEED)


@pytest.fixture(scope="module")
def transfer() -> LoadedModel:
    """Input -> Rescaling -> MobileNetV2 base (its name has dots) -> GAP -> Dropout -> Dense(3)."""
    base = keras.applications.MobileNetV2(weights=None, include_top=False, input_shape=(96, 96, 3),
                                          alpha=0.35)
    inputs = keras.Input((96, 96, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    x = base(x, training=False)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(0.2)(x)
    model = keras.Model(inputs, keras.layers.Dense(3)(x))
    return LoadedModel(name="transfer", model=model, input_size=(96, 96), class_names=("cat", "dog", "fox"),
                       preprocess=preprocessing_function("none"), preprocessing="none", weights=None)


@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_explains_a_wrapped_transfer_model(method: str, transfer: LoadedModel) -> None:
    image = np.random.default_rng(1).integers(0, 256, (120, 150, 3), dtype=np.uint8)
    result = explain(transfer, image, method=method, class_index="dog", **FAST.get(method, {}))
    assert result.heatmap.shape == (96, 96) and result.heatmap.dtype == np.float32
    assert 0.0 <= result.heatmap.min() and result.heatmap.max() <= 1.0
    assert result.class_index == 1 and result.label == "dog" and 0 < result.probability < 1
    expected_layer = "mobilenetv2_0.35_96/out_relu" if METHODS[method].uses_layer else None
    assert result.layer == expected_layer
    assert result.on_original().shape == (120, 150) and result.seconds > 0
    if METHODS[method].uses_layer and method != "guided_gradcam":
        assert result.raw.shape == (3, 3)


def _reference_gradcam(model: keras.Model, image: np.ndarray, class_index: int) -> np.ndarray:
    probe = keras.Model(model.inputs, [model.get_layer("last_conv").output, model.outputs[0]])
    with tf.GradientTape() as tape:
        activations, logits = probe([image[None].astype(np.float32)])
        score = logits[0, class_index]
    grads = tape.gradient(score, activations)[0].numpy()
    return np.maximum((activations[0].numpy() * grads.mean(axis=(0, 1))).sum(-1), 0)


def test_gradcam_and_cam_match_independent_references(shapes: LoadedModel, samples: tuple) -> None:
    images, labels, masks = samples
    result = explain(shapes, images[0])
    assert result.layer == "last_conv" and result.class_index == labels[0]
    np.testing.assert_allclose(result.raw, _reference_gradcam(shapes.model, images[0], int(labels[0])),
                               rtol=1e-3, atol=1e-4)
    cam = explain(shapes, images[0], method="cam")
    probe = keras.Model(shapes.model.inputs, shapes.model.get_layer("last_conv").output)
    kernel = shapes.model.get_layer("logits").get_weights()[0][:, labels[0]]
    reference = np.maximum(probe([images[:1].astype(np.float32)])[0].numpy() @ kernel, 0)
    np.testing.assert_allclose(cam.raw, reference, rtol=1e-3, atol=1e-4)


def test_heatmap_peaks_on_the_shape_for_each_cam_method(shapes: LoadedModel, samples: tuple) -> None:
    images, labels, masks = samples
    for method in ("gradcam", "gradcam++", "layercam", "cam"):
        maps = np.stack([h.heatmap for h in explain_batch(shapes, list(images), method)])
        peaks = maps.reshape(len(maps), -1).argmax(1)
        assert masks.reshape(len(masks), -1)[np.arange(len(masks)), peaks].mean() >= 0.75, method


def test_class_by_label_and_by_index(shapes: LoadedModel, samples: tuple) -> None:
    image = samples[0][0]
    by_label = explain(shapes, image, class_index="Star")
    assert by_label.class_index == SHAPE_CLASSES.index("star") and by_label.label == "star"
    other = explain(shapes, image, class_index=SHAPE_CLASSES.index("star"))
    np.testing.assert_allclose(by_label.heatmap, other.heatmap)


def test_gradient_function_is_built_once_and_never_retraces(shapes: LoadedModel, samples: tuple) -> None:
    for class_index in range(4):
        explain(shapes, samples[0][class_index], class_index=class_index)
    function = shapes.cached(("methods.layer_pass", "last_conv", True, True), lambda: None)  # one image
    assert function.experimental_get_tracing_count() == 1


def test_integrated_gradients_are_complete(shapes: LoadedModel, samples: tuple) -> None:
    """Sundararajan et al.'s completeness: attributions add up to logit(image) - logit(baseline)."""
    image = samples[0][1]
    result = explain(shapes, image, method="integrated_gradients", steps=64, batch_size=16)
    logits = shapes.logits(np.stack([image, np.zeros_like(image)])).numpy()[:, result.class_index]
    assert result.raw.sum() == pytest.approx(logits[0] - logits[1], rel=0.05)


def test_smoothgrad_batches_do_not_change_the_answer(shapes: LoadedModel, samples: tuple) -> None:
    image = samples[0][2]
    one_batch = explain(shapes, image, method="smoothgrad", samples=6, batch_size=6, seed=3)
    small_batches = explain(shapes, image, method="smoothgrad", samples=6, batch_size=4, seed=3)
    np.testing.assert_allclose(one_batch.raw, small_batches.raw, rtol=1e-4, atol=1e-6)
    without_noise = explain(shapes, image, method="smoothgrad", samples=1, noise=0.0)
    np.testing.assert_allclose(without_noise.raw, explain(shapes, image, method="saliency").raw, rtol=1e-5)


def test_guided_gradcam_uses_guided_gradients(shapes: LoadedModel, samples: tuple) -> None:
    image = samples[0][3]
    guided = explain(shapes, image, method="guided_gradcam")
    gradcam = explain(shapes, image)
    cam = upsample(gradcam.raw[None] / gradcam.raw.max(), (64, 64))[0]
    plain = explain(shapes, image, method="saliency").raw * cam
    assert guided.raw.shape == (64, 64)
    assert np.corrcoef(guided.raw.ravel(), plain.ravel())[0, 1] < 0.99  # the backward ReLU rule changed


def test_occlusion_and_scorecam_report_progress_and_cancel(shapes: LoadedModel, samples: tuple) -> None:
    calls: list[tuple[int, int]] = []
    result = explain(shapes, samples[0][4], method="occlusion", patch_size=16, stride=16,
                     progress=lambda done, total, info: calls.append((done, total)))
    assert result.raw.shape == (4, 4) and calls[-1] == (17, 17)  # 16 patches and the image itself
    calls.clear()
    explain(shapes, samples[0][4], method="scorecam", top_k=10, batch_size=4,
            progress=lambda done, total, info: calls.append((done, total)))
    assert calls[-1] == (10, 10) and len(calls) == 4
    with pytest.raises(CancelledError):
        explain(shapes, samples[0][4], method="occlusion", progress=lambda done, total, info: done < 64)


def test_occluding_the_shape_drops_the_probability(shapes: LoadedModel, samples: tuple) -> None:
    images, labels, masks = samples
    result = explain(shapes, images[5], method="occlusion", patch_size=16, stride=8)
    rows, columns = np.nonzero(masks[5])
    centre = (int(rows.mean()) // 8 - 1, int(columns.mean()) // 8 - 1)  # the patch around the centre
    assert result.raw.max() > 0.5 and result.raw[centre] > np.median(result.raw)


def test_heatmap_on_the_original_image(shapes: LoadedModel, samples: tuple) -> None:
    wide = np.concatenate([samples[0][0], samples[0][0]], axis=1)  # 64 x 128: the crop keeps the middle
    result = explain(shapes, wide)
    assert result.box == (0, 32, 64, 64)
    on_original = result.on_original()
    assert on_original.shape == (64, 128)
    assert on_original[:, :32].max() == 0 and on_original[:, 96:].max() == 0
    np.testing.assert_allclose(on_original[:, 32:96], result.heatmap, atol=1e-6)


def test_cam_refuses_a_model_without_gap_head() -> None:
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2, name="out")(keras.layers.Flatten()(x)))
    loaded = LoadedModel(name="flat", model=model, input_size=(32, 32), class_names=("a", "b"),
                         preprocess=preprocessing_function("scale01"), preprocessing="scale01", weights=None)
    image = np.zeros((32, 32, 3), np.uint8)
    with pytest.raises(MethodNotApplicableError, match="Grad-CAM"):
        explain(loaded, image, method="cam")
    assert explain(loaded, image, method="gradcam").layer == "conv"


@pytest.mark.parametrize(("kwargs", "error", "words"), [
    ({"method": "occlusion", "patch_size": 65}, ParameterError, "larger than the image"),
    ({"method": "occlusion", "stride": 0}, ParameterError, "stride"),
    ({"method": "occlusion", "fill": "pink"}, ParameterError, "fill"),
    ({"class_index": 8}, ClassIndexError, "out of range"),
    ({"class_index": "hexagon"}, ClassIndexError, "no class"),
    ({"layer": "logits"}, LayerNotSpatialError, "not a (height, width, channels) grid"),
    ({"layer": "last_convv"}, UnknownLayerError, "last_conv"),
    ({"method": "gradcam", "patch_size": 3}, ParameterError, "no parameter"),
    ({"method": "lime_rise"}, ParameterError, "gradcam"),
    ({"method": "smoothgrad", "samples": 0}, ParameterError, "samples"),
    ({"method": "integrated_gradients", "baseline": "purple"}, ParameterError, "baseline"),
    ({"method": "cam", "layer": "fine_relu"}, MethodNotApplicableError, "Grad-CAM"),
])
def test_impossible_parameters_raise_typed_errors(shapes: LoadedModel, samples: tuple, kwargs: dict,
                                                  error: type, words: str) -> None:
    with pytest.raises(error) as raised:
        explain(shapes, samples[0][0], **kwargs)
    assert words in str(raised.value)


def test_package_entry_points_stay_functions_after_importing_every_submodule(
        shapes: LoadedModel, samples: tuple) -> None:
    """No submodule shares a name with a public function, so importing it cannot shadow the API."""
    import importlib
    import pkgutil

    import cnnviz

    for module in pkgutil.walk_packages(cnnviz.__path__, "cnnviz."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    for name in ("predict", "explain", "attack", "feature_maps", "filters", "maximize", "layers"):
        assert callable(getattr(cnnviz, name)) and not isinstance(getattr(cnnviz, name), type(cnnviz)), name
    result = cnnviz.explain(shapes, samples[0][0], method="cam")
    assert result.method == "cam" and result.layer == "last_conv"
