"""The model zoo: every keras.applications ImageNet classifier, each with its own preprocessing."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cnnviz.errors import UnknownModelError
from cnnviz.zoo import DEMO_MODEL_NAME, available_models, get_spec, imagenet_models

# Written out independently of cnnviz/zoo.py: the keras.applications module that owns each model.
EXPECTED_MODULE = {
    "Xception": "xception", "VGG16": "vgg16", "VGG19": "vgg19",
    "ResNet50": "resnet", "ResNet101": "resnet", "ResNet152": "resnet",
    "ResNet50V2": "resnet_v2", "ResNet101V2": "resnet_v2", "ResNet152V2": "resnet_v2",
    "InceptionV3": "inception_v3", "InceptionResNetV2": "inception_resnet_v2",
    "MobileNet": "mobilenet", "MobileNetV2": "mobilenet_v2",
    "MobileNetV3Small": "mobilenet_v3", "MobileNetV3Large": "mobilenet_v3",
    "DenseNet121": "densenet", "DenseNet169": "densenet", "DenseNet201": "densenet",
    "NASNetMobile": "nasnet", "NASNetLarge": "nasnet",
    **{f"EfficientNetB{i}": "efficientnet" for i in range(8)},
    **{f"EfficientNetV2{v}": "efficientnet_v2" for v in ("B0", "B1", "B2", "B3", "S", "M", "L")},
    **{f"ConvNeXt{v}": "convnext" for v in ("Tiny", "Small", "Base", "Large", "XLarge")},
}
PIXEL = np.array([[[[10.0, 100.0, 200.0]]]], dtype=np.float32)  # R, G, B
EXPECTED_PIXEL = {
    # caffe: RGB -> BGR, minus the ImageNet BGR means, no scaling
    "caffe": np.array([200 - 103.939, 100 - 116.779, 10 - 123.68]),
    # tf: scaled to [-1, 1]
    "tf": np.array([10, 100, 200]) / 127.5 - 1,
    # torch: [0, 1], then ImageNet mean / std per channel
    "torch": (np.array([10, 100, 200]) / 255 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225],
    # built into the model: raw pixels pass through unchanged
    "builtin": np.array([10.0, 100.0, 200.0]),
}


def test_every_keras_imagenet_classifier_is_registered() -> None:
    names = {spec.name for spec in imagenet_models()}
    assert names == set(EXPECTED_MODULE)
    assert available_models()[0] == DEMO_MODEL_NAME


@pytest.mark.parametrize("name", sorted(EXPECTED_MODULE))
def test_each_model_is_paired_with_its_own_preprocessing_and_decoder(name: str) -> None:
    spec = get_spec(name)
    module = getattr(keras.applications, EXPECTED_MODULE[name])
    assert spec.constructor is getattr(keras.applications, name)
    assert spec.preprocess_input is module.preprocess_input
    assert spec.decode_predictions is module.decode_predictions
    out = spec.preprocess_input(PIXEL.copy())[0, 0, 0]
    np.testing.assert_allclose(out, EXPECTED_PIXEL[spec.preprocessing], rtol=1e-4, atol=1e-3)


def test_catalog_figures_are_plausible() -> None:
    for spec in imagenet_models():
        assert 60 < spec.top1 < 90, spec.name
        assert spec.top5 is None or spec.top1 < spec.top5 < 100, spec.name
        assert spec.params_m is not None and 2 < spec.params_m < 400, spec.name
        assert spec.input_size[0] == spec.input_size[1] >= 224
    assert get_spec("VGG16").size_mb == 528 and get_spec("MobileNetV2").params_m == 3.5


@pytest.mark.parametrize("name", ["MobileNetV2", "MobileNetV3Small", "EfficientNetB1", "NASNetMobile"])
def test_architectures_build_with_the_registered_input_size_and_logits(name: str) -> None:
    from cnnviz.models import load_model

    loaded = load_model(name, weights=None)
    assert tuple(loaded.model.inputs[0].shape[1:3]) == loaded.input_size == get_spec(name).input_size
    logits = loaded.logits(np.zeros((1, *loaded.input_size, 3), np.uint8)).numpy()
    assert logits.shape == (1, 1000)
    # the model outputs logits, not probabilities: they need not sum to one
    assert not np.isclose(logits.sum(), 1.0, atol=1e-3)
    probabilities = loaded.probabilities(np.zeros((1, *loaded.input_size, 3), np.uint8))
    assert np.isclose(probabilities.sum(), 1.0, atol=1e-4)


def test_lookup_ignores_case_and_unknown_names_list_the_choices() -> None:
    assert get_spec("mobilenetv2").name == "MobileNetV2"
    with pytest.raises(UnknownModelError, match="Choose one of: shapes, lenet5_digits, Xception"):
        get_spec("AlexNet")
