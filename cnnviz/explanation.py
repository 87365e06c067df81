"""Heatmaps that explain a prediction: ``cnnviz.explain(loaded_model, image, method="gradcam")``.

The entry point and the registry of methods. The common work happens here (resolve the class and the
layer, resize the image, upsample and normalise the map, time it); each method in
:mod:`cnnviz.methods` only computes its raw map over the shared core.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cnnviz.errors import ParameterError
from cnnviz.graph import default_target_layer, resolve_layer
from cnnviz.images import crop_box
from cnnviz.methods import (
    ablationcam,
    cam,
    deconvnet,
    eigencam,
    fem,
    gradcam,
    gradcam_elementwise,
    gradcam_plus_plus,
    gradient_input,
    guided_backprop,
    guided_gradcam,
    hirescam,
    hsic,
    integrated_gradients,
    kernel_shap,
    layercam,
    lime,
    lrp,
    occlusion,
    rise,
    saliency,
    scorecam,
    smoothgrad,
    sobol,
    squaregrad,
    vargrad,
    xgradcam,
)
from cnnviz.methods.core import (
    DEFAULT_BATCH_SIZE,
    FORGRAD,
    TOP_CLASS,
    Maps,
    Method,
    Request,
    batches,
    check_forgrad,
    low_pass,
    upsample,
)
from cnnviz.models import LoadedModel
from cnnviz.precision import METHOD_KINDS, batched_model, check_precision
from cnnviz.prediction import model_input
from cnnviz.progress import ProgressCallback

#: name -> method, in the order the app lists them.
METHODS: dict[str, Method] = {m.name: m for m in (
    gradcam.METHOD, gradcam_plus_plus.METHOD, cam.METHOD, scorecam.METHOD, layercam.METHOD,
    occlusion.METHOD, saliency.METHOD, smoothgrad.METHOD, integrated_gradients.METHOD,
    guided_gradcam.METHOD,
    # CAM family
    xgradcam.METHOD, hirescam.METHOD, gradcam_elementwise.METHOD, eigencam.METHOD, ablationcam.METHOD,
    fem.METHOD,
    # gradients
    gradient_input.METHOD, vargrad.METHOD, squaregrad.METHOD, guided_backprop.METHOD, deconvnet.METHOD,
    # black box
    rise.METHOD, sobol.METHOD, hsic.METHOD, lime.METHOD, kernel_shap.METHOD,
    # relevance propagation
    lrp.METHOD,
)}
DEFAULT_METHOD = "gradcam"


@dataclass(frozen=True)
class Heatmap:
    """A heatmap explaining one class for one image.

    ``heatmap`` is at the model's input resolution, aligned with ``image`` (the resized image the
    model saw); :meth:`on_original` gives it at the original image's resolution.
    """

    heatmap: np.ndarray  # float32 (height, width) in [0, 1]; 1 = strongest evidence for the class
    raw: np.ndarray  # the method's own map before upsampling and normalising (e.g. 7 x 7 for Grad-CAM)
    image: np.ndarray  # uint8 (height, width, 3): the model input
    method: str
    class_index: int
    label: str
    probability: float  # the class's probability for the image
    layer: str | None  # None for methods working on the pixels (occlusion, saliency...)
    params: Mapping[str, Any]
    seconds: float
    original_shape: tuple[int, int]  # (height, width) of the image given to explain
    box: tuple[int, int, int, int]  # (top, left, height, width) of the original that ``image`` shows
    #: How the batched model calls ran (cnnviz.precision.PrecisionChoice.to_json()); None for
    #: methods without batched calls.
    precision: Mapping[str, Any] | None = None

    @property
    def title(self) -> str:
        return METHODS[self.method].title if self.method in METHODS else self.method

    def on_original(self) -> np.ndarray:
        """The heatmap at the original image's resolution (0 outside the region the model saw)."""
        import cv2

        top, left, height, width = self.box
        result = np.zeros(self.original_shape, np.float32)
        result[top:top + height, left:left + width] = cv2.resize(
            self.heatmap, (width, height), interpolation=cv2.INTER_LINEAR)
        return np.clip(result, 0.0, 1.0)


def method_names() -> list[str]:
    """The registered method names, in display order."""
    return list(METHODS)


def get_method(name: str) -> Method:
    """The method registered under ``name`` (ParameterError listing the names otherwise)."""
    key = str(name).strip().lower().replace("-", "_")
    aliases = {"grad_cam": "gradcam", "gradcampp": "gradcam++", "grad_cam++": "gradcam++",
               "score_cam": "scorecam", "layer_cam": "layercam", "ig": "integrated_gradients",
               "vanilla": "saliency", "gradients": "saliency", "gradientinput": "gradient_input",
               "gradient_x_input": "gradient_input", "kernelshap": "kernel_shap", "shap": "kernel_shap",
               "guidedbackprop": "guided_backprop", "x_grad_cam": "xgradcam", "hires_cam": "hirescam",
               "eigen_cam": "eigencam", "ablation_cam": "ablationcam"}
    key = aliases.get(key, key)
    if key not in METHODS:
        raise ParameterError(f"Unknown method {name!r}; choose one of {', '.join(METHODS)}.")
    return METHODS[key]


def normalise(maps: np.ndarray) -> np.ndarray:
    """Positive part of each map scaled to [0, 1] by its maximum (all zero if nothing is positive)."""
    positive = np.maximum(maps.astype(np.float32), 0.0)
    peaks = positive.reshape(len(positive), -1).max(axis=1)[:, None, None]
    return np.where(peaks > 0, positive / np.where(peaks > 0, peaks, 1.0), 0.0).astype(np.float32)


def _params(method: Method, given: Mapping[str, Any], loaded_model: LoadedModel) -> dict[str, Any]:
    unknown = sorted(set(given) - set(method.defaults))
    if unknown:
        valid = ", ".join(method.defaults) or "none"
        raise ParameterError(f"{method.title} has no parameter {', '.join(map(repr, unknown))}; "
                             f"its parameters are: {valid}.")
    params = {**method.defaults, **given}
    if FORGRAD in method.defaults:
        check_forgrad(params)
    if method.check is not None:
        method.check(params, loaded_model)
    return params


def _low_passed(maps: Maps, bandwidth: int) -> Maps:
    """FORGrad on a gradient method's maps (the raw map and, if any, the drawn one)."""
    full = None if maps.full is None else low_pass(maps.full, bandwidth)
    return Maps(low_pass(maps.raw, bandwidth), maps.class_indices, maps.logits, full, maps.precision)


def _class_indices(loaded_model: LoadedModel, class_index: Any, count: int) -> np.ndarray:
    if class_index is None:
        return np.full(count, TOP_CLASS, np.int32)
    if isinstance(class_index, (str, int, np.integer)):
        return np.full(count, loaded_model.class_index(class_index), np.int32)
    targets = list(class_index)
    if len(targets) != count:
        raise ParameterError(f"Give one class per image: {len(targets)} classes for {count} images.")
    return np.array([TOP_CLASS if t is None else loaded_model.class_index(t) for t in targets], np.int32)


def _check_image(image: Any) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        kind = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ParameterError(f"Expected an RGB uint8 image (height, width, 3) from load_image, got {kind}.")
    return image


def explain_batch(loaded_model: LoadedModel, images: Sequence[np.ndarray], method: str = DEFAULT_METHOD,
                  class_index: Any = None, layer: str | None = None, *, fit: str = "crop",
                  progress: ProgressCallback | None = None, precision: str | None = None,
                  **method_params: Any) -> list[Heatmap]:
    """Heatmaps of several images with one method; gradient methods run whole batches at once.

    ``class_index`` is None (each image's top-1 class), one class (index or label) for all, or one
    per image. Other arguments as in :func:`explain`.
    """
    started = time.perf_counter()
    chosen = get_method(method)
    params = _params(chosen, method_params, loaded_model)
    precision = check_precision(precision)
    reduced_model, choice = None, None
    if chosen.uses_layer:
        layer = resolve_layer(loaded_model, layer or default_target_layer(loaded_model), spatial=True)
    else:
        layer = None
    originals = [_check_image(image) for image in images]
    if not originals:
        return []
    classes = _class_indices(loaded_model, class_index, len(originals))
    pixels = np.stack([model_input(loaded_model, image, fit) for image in originals])
    if chosen.name in METHOD_KINDS:
        reduced_model, choice = batched_model(loaded_model, precision, METHOD_KINDS[chosen.name], pixels[0])
    chunk = len(pixels) if chosen.progress else params.get("batch_size", DEFAULT_BATCH_SIZE)
    raws, fulls, resolved, logits = [], [], [], []
    for part in batches(len(pixels), chunk):
        request = Request(loaded_model, pixels[part], classes[part], layer, params, progress, reduced_model,
                          choice)
        maps = chosen.compute(request)
        if params.get(FORGRAD):
            maps = _low_passed(maps, params[FORGRAD])
        raws.extend(maps.raw)
        fulls.append(maps.full if maps.full is not None else upsample(maps.raw, loaded_model.input_size))
        resolved.append(maps.class_indices)
        logits.append(maps.logits)
        choice = maps.precision or choice
    heatmaps = normalise(np.concatenate(fulls))
    resolved_classes = np.concatenate(resolved)
    probabilities = loaded_model.probabilities_from_logits(np.concatenate(logits))[np.arange(len(pixels)),
                                                                                   resolved_classes]
    seconds = (time.perf_counter() - started) / len(pixels)
    return [Heatmap(
        heatmap=heatmaps[i], raw=np.asarray(raws[i], np.float32), image=pixels[i], method=chosen.name,
        class_index=int(resolved_classes[i]), label=loaded_model.class_names[resolved_classes[i]],
        probability=float(probabilities[i]), layer=layer, params=dict(params), seconds=seconds,
        original_shape=(int(originals[i].shape[0]), int(originals[i].shape[1])),
        box=crop_box(originals[i].shape, loaded_model.input_size, fit),
        precision=None if choice is None else choice.to_json(),
    ) for i in range(len(pixels))]


def explain(loaded_model: LoadedModel, image: np.ndarray, method: str = DEFAULT_METHOD,
            class_index: int | str | None = None, layer: str | None = None, *, fit: str = "crop",
            progress: ProgressCallback | None = None, precision: str | None = None,
            **method_params: Any) -> Heatmap:
    """A heatmap of what in ``image`` made ``loaded_model`` predict ``class_index``.

    ``method``: one of :data:`METHODS` ("gradcam", "gradcam++", "cam", "scorecam", "layercam",
    "occlusion", "saliency", "smoothgrad", "integrated_gradients", "guided_gradcam", "xgradcam",
    "hirescam", "gradcam_elementwise", "eigencam", "ablationcam", "fem", "gradient_input", "vargrad",
    "squaregrad", "guided_backprop", "deconvnet", "rise", "sobol", "hsic", "lime", "kernel_shap", "lrp").
    Gradient methods take ``forgrad=BANDWIDTH`` (FORGrad low-pass filtering, Muzellec et al. 2023).
    ``class_index``: None for the top-1 class, an index, or a label. ``layer``: the target layer of
    CAM-family methods (default: :func:`cnnviz.graph.default_target_layer`). ``fit``: how the image
    is resized to the model input ("crop" or "stretch"). ``progress``: a callback for the long
    methods (occlusion, Score-CAM, SmoothGrad, Integrated Gradients). ``method_params``: the
    method's own parameters (``METHODS[name].defaults`` lists them), e.g. ``patch_size=32``.
    ``precision``: "auto" (default), "float32" or "bfloat16": the precision of the batched model
    calls of occlusion, Score-CAM, SmoothGrad, VarGrad, SquareGrad and Integrated Gradients
    (:mod:`cnnviz.precision`; "auto" measures once per model and keeps 16 bits only where faster);
    the heatmap's ``precision`` says what ran and the measured speed-up.
    """
    return explain_batch(loaded_model, [image], method, None if class_index is None else [class_index],
                         layer, fit=fit, progress=progress, precision=precision, **method_params)[0]


__all__ = ["explain", "explain_batch", "Heatmap", "METHODS", "DEFAULT_METHOD", "method_names",
           "get_method", "normalise"]
