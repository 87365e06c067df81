"""The model zoo: one :class:`ModelSpec` per ImageNet classifier in ``keras.applications``.

Each spec ties a constructor to *its own* ``preprocess_input`` and ``decode_predictions`` (looked up
in the same ``keras.applications`` module), so a caller can never pair a model with the wrong
preprocessing: caffe-style (BGR, mean subtraction), tf-style ([-1, 1]), torch-style ([0, 1] then
mean/std) and built-in preprocessing give garbage when mixed up.

Catalog figures (weights size, top-1/top-5 accuracy, parameters, depth, published CPU/GPU latency)
are the published Keras applications table, as quoted in the lectures; ConvNeXt figures come from
the same table on keras.io (Liu et al. 2022; Base, Large and XLarge pretrained on ImageNet-21k) and
MobileNetV3 figures from the table in Keras' MobileNetV3 documentation (Howard et al. 2019).
``cnnviz.inside.catalog.figure_source`` names each model's source. ``None`` marks a figure that was
not published.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cnnviz.errors import UnknownModelError

#: Preprocessing families, named after ``keras.applications.imagenet_utils`` modes.
PREPROCESSING_FAMILIES = ("caffe", "tf", "torch", "builtin")

DEMO_MODEL_NAME = "shapes"
LENET_MODEL_NAME = "lenet5_digits"  # LeNet-5 (LeCun et al. 1998) on generated handwritten digits


@dataclass(frozen=True)
class ModelSpec:
    """What cnnviz knows about one model before loading it."""

    name: str
    module: str | None  # keras.applications submodule holding constructor + preprocessing
    input_size: tuple[int, int]  # (height, width)
    preprocessing: str  # one of PREPROCESSING_FAMILIES
    size_mb: float | None = None
    top1: float | None = None  # published ImageNet top-1 accuracy, percent
    top5: float | None = None
    params_m: float | None = None  # millions of parameters
    depth: int | None = None
    cpu_ms: float | None = None  # published time per inference step (Keras table)
    gpu_ms: float | None = None
    family: str = ""  # architecture family, for grouping in the app

    @property
    def is_demo(self) -> bool:
        return self.module is None

    def _module(self) -> Any:
        if self.module is None:
            raise UnknownModelError(f"{self.name} is not a keras.applications model.")
        return importlib.import_module(f"keras.applications.{self.module}")

    @property
    def constructor(self) -> Callable[..., Any]:
        """The ``keras.applications`` constructor, e.g. ``keras.applications.ResNet50``."""
        self._module()  # a clear error for the demo model
        return getattr(importlib.import_module("keras.applications"), self.name)

    @property
    def preprocess_input(self) -> Callable[..., Any]:
        """This model's own ``preprocess_input`` (works on NumPy arrays, in place, and on tensors)."""
        return getattr(self._module(), "preprocess_input")

    @property
    def decode_predictions(self) -> Callable[..., Any]:
        """This model's own ``decode_predictions``."""
        return getattr(self._module(), "decode_predictions")


def _spec(name: str, module: str, size: int, preprocessing: str, family: str,
          figures: tuple[float | None, ...]) -> ModelSpec:
    size_mb, top1, top5, params_m, depth, cpu_ms, gpu_ms = figures
    return ModelSpec(name=name, module=module, input_size=(size, size), preprocessing=preprocessing,
                     size_mb=size_mb, top1=top1, top5=top5, params_m=params_m,
                     depth=None if depth is None else int(depth), cpu_ms=cpu_ms, gpu_ms=gpu_ms,
                     family=family)


_N = None
# name, module, input side, preprocessing, family,
# (size MB, top-1 %, top-5 %, params M, depth, CPU ms, GPU ms)
_IMAGENET_SPECS: tuple[ModelSpec, ...] = (
    _spec("Xception", "xception", 299, "tf", "Xception", (88, 79.0, 94.5, 22.9, 81, 109.4, 8.1)),
    _spec("VGG16", "vgg16", 224, "caffe", "VGG", (528, 71.3, 90.1, 138.4, 16, 69.5, 4.2)),
    _spec("VGG19", "vgg19", 224, "caffe", "VGG", (549, 71.3, 90.0, 143.7, 19, 84.8, 4.4)),
    _spec("ResNet50", "resnet", 224, "caffe", "ResNet", (98, 74.9, 92.1, 25.6, 107, 58.2, 4.6)),
    _spec("ResNet101", "resnet", 224, "caffe", "ResNet", (171, 76.4, 92.8, 44.7, 209, 89.6, 5.2)),
    _spec("ResNet152", "resnet", 224, "caffe", "ResNet", (232, 76.6, 93.1, 60.4, 311, 127.4, 6.5)),
    _spec("ResNet50V2", "resnet_v2", 224, "tf", "ResNet", (98, 76.0, 93.0, 25.6, 103, 45.6, 4.4)),
    _spec("ResNet101V2", "resnet_v2", 224, "tf", "ResNet", (171, 77.2, 93.8, 44.7, 205, 72.7, 5.4)),
    _spec("ResNet152V2", "resnet_v2", 224, "tf", "ResNet", (232, 78.0, 94.2, 60.4, 307, 107.5, 6.6)),
    _spec("InceptionV3", "inception_v3", 299, "tf", "Inception",
          (92, 77.9, 93.7, 23.9, 189, 42.2, 6.9)),
    _spec("InceptionResNetV2", "inception_resnet_v2", 299, "tf", "Inception",
          (215, 80.3, 95.3, 55.9, 449, 130.2, 10.0)),
    _spec("MobileNet", "mobilenet", 224, "tf", "MobileNet", (16, 70.4, 89.5, 4.3, 55, 22.6, 3.4)),
    _spec("MobileNetV2", "mobilenet_v2", 224, "tf", "MobileNet",
          (14, 71.3, 90.1, 3.5, 105, 25.9, 3.8)),
    _spec("MobileNetV3Small", "mobilenet_v3", 224, "builtin", "MobileNet",
          (_N, 68.1, _N, 2.9, _N, _N, _N)),
    _spec("MobileNetV3Large", "mobilenet_v3", 224, "builtin", "MobileNet",
          (_N, 75.6, _N, 5.4, _N, _N, _N)),
    _spec("DenseNet121", "densenet", 224, "torch", "DenseNet", (33, 75.0, 92.3, 8.1, 242, 77.1, 5.4)),
    _spec("DenseNet169", "densenet", 224, "torch", "DenseNet",
          (57, 76.2, 93.2, 14.3, 338, 96.4, 6.3)),
    _spec("DenseNet201", "densenet", 224, "torch", "DenseNet",
          (80, 77.3, 93.6, 20.2, 402, 127.2, 6.7)),
    _spec("NASNetMobile", "nasnet", 224, "tf", "NASNet", (23, 74.4, 91.9, 5.3, 389, 27.0, 6.7)),
    _spec("NASNetLarge", "nasnet", 331, "tf", "NASNet", (343, 82.5, 96.0, 88.9, 533, 344.5, 20.0)),
    _spec("EfficientNetB0", "efficientnet", 224, "builtin", "EfficientNet",
          (29, 77.1, 93.3, 5.3, 132, 46.0, 4.9)),
    _spec("EfficientNetB1", "efficientnet", 240, "builtin", "EfficientNet",
          (31, 79.1, 94.4, 7.9, 186, 60.2, 5.6)),
    _spec("EfficientNetB2", "efficientnet", 260, "builtin", "EfficientNet",
          (36, 80.1, 94.9, 9.2, 186, 80.8, 6.5)),
    _spec("EfficientNetB3", "efficientnet", 300, "builtin", "EfficientNet",
          (48, 81.6, 95.7, 12.3, 210, 140.0, 8.8)),
    _spec("EfficientNetB4", "efficientnet", 380, "builtin", "EfficientNet",
          (75, 82.9, 96.4, 19.5, 258, 308.3, 15.1)),
    _spec("EfficientNetB5", "efficientnet", 456, "builtin", "EfficientNet",
          (118, 83.6, 96.7, 30.6, 312, 579.2, 25.3)),
    _spec("EfficientNetB6", "efficientnet", 528, "builtin", "EfficientNet",
          (166, 84.0, 96.8, 43.3, 360, 958.1, 40.4)),
    _spec("EfficientNetB7", "efficientnet", 600, "builtin", "EfficientNet",
          (256, 84.3, 97.0, 66.7, 438, 1578.9, 61.6)),
    _spec("EfficientNetV2B0", "efficientnet_v2", 224, "builtin", "EfficientNetV2",
          (29, 78.7, 94.3, 7.2, _N, _N, _N)),
    _spec("EfficientNetV2B1", "efficientnet_v2", 240, "builtin", "EfficientNetV2",
          (34, 79.8, 95.0, 8.2, _N, _N, _N)),
    _spec("EfficientNetV2B2", "efficientnet_v2", 260, "builtin", "EfficientNetV2",
          (42, 80.5, 95.1, 10.2, _N, _N, _N)),
    _spec("EfficientNetV2B3", "efficientnet_v2", 300, "builtin", "EfficientNetV2",
          (59, 82.0, 95.8, 14.5, _N, _N, _N)),
    _spec("EfficientNetV2S", "efficientnet_v2", 384, "builtin", "EfficientNetV2",
          (88, 83.9, 96.7, 21.6, _N, _N, _N)),
    _spec("EfficientNetV2M", "efficientnet_v2", 480, "builtin", "EfficientNetV2",
          (220, 85.3, 97.4, 54.4, _N, _N, _N)),
    _spec("EfficientNetV2L", "efficientnet_v2", 480, "builtin", "EfficientNetV2",
          (479, 85.7, 97.5, 119.0, _N, _N, _N)),
    _spec("ConvNeXtTiny", "convnext", 224, "builtin", "ConvNeXt",
          (109.42, 81.3, _N, 28.6, _N, _N, _N)),
    _spec("ConvNeXtSmall", "convnext", 224, "builtin", "ConvNeXt",
          (192.29, 82.3, _N, 50.2, _N, _N, _N)),
    _spec("ConvNeXtBase", "convnext", 224, "builtin", "ConvNeXt",
          (338.58, 85.3, _N, 88.5, _N, _N, _N)),
    _spec("ConvNeXtLarge", "convnext", 224, "builtin", "ConvNeXt",
          (755.07, 86.3, _N, 197.7, _N, _N, _N)),
    _spec("ConvNeXtXLarge", "convnext", 224, "builtin", "ConvNeXt",
          (1310.0, 86.7, _N, 350.1, _N, _N, _N)),
)

DEMO_SPEC = ModelSpec(name=DEMO_MODEL_NAME, module=None, input_size=(64, 64),
                      preprocessing="builtin", family="Demo (bundled, offline)")

LENET_SPEC = ModelSpec(name=LENET_MODEL_NAME, module=None, input_size=(28, 28), preprocessing="builtin",
                       params_m=0.061706, depth=7, family="Demo (bundled, offline)")

_REGISTRY: dict[str, ModelSpec] = {s.name: s for s in (DEMO_SPEC, LENET_SPEC, *_IMAGENET_SPECS)}


def available_models() -> tuple[str, ...]:
    """Names of every registered model: the bundled demo models first, then ImageNet models."""
    return tuple(_REGISTRY)


def imagenet_models() -> tuple[ModelSpec, ...]:
    """Specs of the keras.applications ImageNet classifiers."""
    return _IMAGENET_SPECS


def get_spec(name: str) -> ModelSpec:
    """The spec of a registered model; the lookup ignores case ("mobilenetv2" works)."""
    if name in _REGISTRY:
        return _REGISTRY[name]
    by_lower = {key.lower(): spec for key, spec in _REGISTRY.items()}
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    raise UnknownModelError(
        f"Unknown model {name!r}. Choose one of: {', '.join(_REGISTRY)} "
        "(or load your own .keras/.h5 file)."
    )
