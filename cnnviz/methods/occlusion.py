"""Occlusion sensitivity (Zeiler and Fergus, 2014): how much the class probability drops when a
patch of the image is hidden.

Every patch position is one occluded image; they go through the model in batches (the occluded
images are built inside the compiled call). The raw map holds the drop per patch position; the full
map puts each drop at its patch's centre and interpolates bilinearly in between (as Zeiler and
Fergus plot it), so a single decisive patch keeps its peak instead of being averaged away.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import tensorflow as tf

from cnnviz.errors import ParameterError
from cnnviz.incremental import MODES, occlusion_logits, walkable, worth_it
from cnnviz.methods.core import (
    DEFAULT_BATCH_SIZE,
    Maps,
    Method,
    Request,
    batches,
    check_choice,
    check_positive_int,
    logits_function,
    top_classes,
)
from cnnviz.models import LoadedModel
from cnnviz.precision import CALIBRATION_PATCHES, PrecisionChoice, Way, agreement, fastest
from cnnviz.progress import report

#: "model_zero": the pixels the model's preprocessing maps to 0 (Xplique's occlusion_value=0 and
#: ref_value=0), rounded to whole pixel values.
FILLS = ("grey", "mean", "blur", "zero", "model_zero")
#: Patch side as a fraction of the image's shorter side when patch_size is None (28 px at 224).
DEFAULT_PATCH_FRACTION = 1 / 8
#: Stride as a fraction of the patch when stride is None (patches overlap by half).
DEFAULT_STRIDE_FRACTION = 1 / 2
GREY = 128.0
#: Gaussian blur sigma of the "blur" fill, as a fraction of the patch side.
BLUR_SIGMA_FRACTION = 0.5
#: "mean" (the image's mean colour) is the fill closest to "no information" (it is what a zero baseline
#: means after mean-centring); a grey or black square can look like an object itself.
#: What drops when a patch is hidden: the class probability (default) or the class logit (Xplique).
SCORES = ("probability", "logit")
#: How the full map is made from the patches' drops: each drop at its patch's centre, interpolated
#: (default); or each pixel the mean, or the sum (Xplique), of the drops of the patches covering it.
AGGREGATES = ("centres", "mean", "sum")
#: Incremental inference (cnnviz.incremental): "auto" (where it pays), "on", or "off" (full passes);
#: the same map either way, so the app does not offer it as a setting.
DEFAULTS = {"patch_size": None, "stride": None, "fill": "mean", "batch_size": DEFAULT_BATCH_SIZE,
            "score": "probability", "aggregate": "centres", "incremental": "auto"}


def patch_geometry(params: dict[str, Any], size: tuple[int, int]) -> tuple[int, int]:
    """(patch side, stride) in pixels, defaults filled in."""
    patch = params["patch_size"] or max(1, round(min(size) * DEFAULT_PATCH_FRACTION))
    stride = params["stride"] or max(1, round(patch * DEFAULT_STRIDE_FRACTION))
    return int(patch), int(stride)


def positions(length: int, patch: int, stride: int) -> np.ndarray:
    """Start offsets of the patches along one axis; the last patch always touches the far edge."""
    starts = list(range(0, length - patch + 1, stride))
    if starts[-1] != length - patch:
        starts.append(length - patch)
    return np.array(starts, np.int32)


def fill_image(pixels: np.ndarray, fill: str, patch: int, loaded_model: LoadedModel | None = None) -> np.ndarray:
    """What an occluded patch shows instead of the image (uint8, the image's shape)."""
    if fill == "model_zero":
        from cnnviz.methods.integrated_gradients import model_zero_image

        return np.clip(np.round(model_zero_image(loaded_model)), 0, 255).astype(np.uint8)
    if fill == "grey":
        return np.full(pixels.shape, GREY, np.uint8)
    if fill == "zero":
        return np.zeros(pixels.shape, np.uint8)
    if fill == "mean":
        mean = np.round(pixels.reshape(-1, 3).mean(axis=0))
        return np.broadcast_to(mean, pixels.shape).astype(np.uint8)
    sigma = max(patch * BLUR_SIGMA_FRACTION, 0.5)
    return cv2.GaussianBlur(pixels, (0, 0), sigmaX=sigma, sigmaY=sigma)


def _build_occluded_logits(loaded_model: LoadedModel) -> Callable[..., Any]:
    height, width = loaded_model.input_size
    logits_of = logits_function(loaded_model)
    image_spec = tf.TensorSpec([height, width, 3], tf.uint8)

    @tf.function(input_signature=[image_spec, image_spec, tf.TensorSpec([None, 2], tf.int32),
                                  tf.TensorSpec([], tf.int32)])
    def occluded_logits(pixels: tf.Tensor, fill: tf.Tensor, corners: tf.Tensor,
                        patch: tf.Tensor) -> tf.Tensor:
        rows = tf.range(height)[None, :, None]
        columns = tf.range(width)[None, None, :]
        top, left = corners[:, 0, None, None], corners[:, 1, None, None]
        inside = (rows >= top) & (rows < top + patch) & (columns >= left) & (columns < left + patch)
        images = tf.where(inside[..., None], fill[None], pixels[None])  # uint8, as cheap as it gets
        return logits_of(loaded_model.preprocess(tf.cast(images, tf.float32)))

    return occluded_logits


def occlusion(request: Request) -> Maps:
    loaded_model, params = request.loaded_model, request.params
    height, width = loaded_model.input_size
    patch, stride = patch_geometry(dict(params), (height, width))
    tops, lefts = positions(height, patch, stride), positions(width, patch, stride)
    grid = np.stack(np.meshgrid(tops, lefts, indexing="ij"), axis=-1).reshape(-1, 2)
    # The first "patch" lies outside the image: the unchanged image rides along in the first batch.
    corners = np.concatenate([np.array([[height, width]], np.int32), grid]).astype(np.int32)
    total = len(request.pixels) * len(corners)
    raw, full, clean, classes = [], [], [], []
    choice = None
    report(request.progress, 0, total)
    for index, pixels in enumerate(request.pixels):
        image = tf.constant(pixels, tf.uint8)
        fill = tf.constant(fill_image(pixels, params["fill"], patch, loaded_model))
        # the drops compare occluded and clean scores of this one model and pass
        batched, mode, choice = _route(request, image, fill, corners, patch)
        function = _full_pass(batched)
        logits = np.empty((len(corners), loaded_model.num_classes), np.float32)
        for part in batches(len(corners), params["batch_size"]):
            with loaded_model.lock:
                logits[part] = occlusion_logits(batched, function, image, fill, corners[part], patch, mode)
            report(request.progress, index * len(corners) + part.stop, total, image=index + 1)
        if batched is not loaded_model:  # the class and its reported score come from float32
            with loaded_model.lock:
                clean.append(loaded_model.logits(pixels[None]).numpy()[0])
        else:
            clean.append(logits[0])
        class_index = int(top_classes(clean[-1][None], request.class_indices[index:index + 1])[0])
        scores = (loaded_model.probabilities_from_logits(logits) if params["score"] == "probability"
                  else logits)[:, class_index]
        drops = (scores[0] - scores[1:]).reshape(len(tops), len(lefts))
        raw.append(drops)
        full.append(at_patch_centres(drops, tops, lefts, patch, (height, width))
                    if params["aggregate"] == "centres"
                    else over_patches(drops, tops, lefts, patch, (height, width), params["aggregate"]))
        classes.append(class_index)
    return Maps(np.stack(raw), np.array(classes, np.int32), np.stack(clean), np.stack(full), choice)


def _full_pass(loaded_model: LoadedModel) -> Callable[..., Any]:
    return loaded_model.cached(("methods.occlusion",), lambda: _build_occluded_logits(loaded_model))


def _route(request: Request, image: tf.Tensor, fill: tf.Tensor, corners: np.ndarray,
           patch: int) -> tuple[LoadedModel, str, PrecisionChoice | None]:
    """(model, incremental mode, precision choice if it differs from the request's) of one image.

    Incremental inference runs on the float32 model or on the reduced twin (the walker computes
    each box in the layer's compute dtype). Without a twin (precision "float32", or "auto" that
    kept float32) it is float32 incremental inference, as ever. With a twin asked for ("bfloat16")
    it runs on the twin. With one chosen by "auto", where incremental inference pays, one measured
    sample decides among float32 incremental, 16-bit incremental and the 16-bit full pass, once per
    model and patch size, a 16-bit way only if its score drops on the sample agree with float32's
    (r >= 0.99: smaller patches make smaller drops, which 16 bits blur first; docs/benchmarks.md)."""
    loaded_model, reduced, mode = request.loaded_model, request.batched_model, request.params.get("incremental", "auto")
    pixels, size = image.numpy(), (patch, patch)
    if reduced is loaded_model or mode == "off":
        return reduced, mode, None
    if request.precision.asked == "bfloat16":
        if worth_it(reduced, pixels, size) or (mode == "on" and walkable(reduced, pixels, size)):
            return reduced, "on", dataclasses.replace(request.precision, reason="asked; incremental inference")
        return reduced, "off", None
    if not (mode == "on" or worth_it(loaded_model, pixels, size)):
        return reduced, "off", None
    walks = walkable(reduced, pixels, size)
    # the clean image (its corner lies outside) and patches spread over the image (seeded)
    spread = np.random.default_rng(0).permutation(len(corners) - 1)[:CALIBRATION_PATCHES] + 1
    sample = corners[np.concatenate([[0], np.sort(spread)])]
    policy = request.precision.policy
    routes = [(loaded_model, "on", "incremental inference in float32")]
    if walks:
        routes.append((reduced, "on", f"incremental inference in {policy}"))
    if mode == "auto":
        routes.append((reduced, "off", f"the full pass in {policy}"))
    ways = [Way(label, "float32" if model is loaded_model else policy,
                functools.partial(occlusion_logits, model, _full_pass(model), image, fill, sample, patch, how))
            for model, how, label in routes]
    best, choice = fastest(loaded_model, ("occlusion", patch, mode), ways,
                           functools.partial(agreement, loaded_model, "forward"))
    return routes[best][0], routes[best][1], choice


def at_patch_centres(grid: np.ndarray, tops: np.ndarray, lefts: np.ndarray, patch: int,
                     size: tuple[int, int]) -> np.ndarray:
    """The grid of drops as a full-size map: each value at its patch's centre, bilinear in between
    (constant beyond the outermost centres), so one decisive patch keeps its full value."""
    centre = (patch - 1) / 2
    rows, columns = np.arange(size[0]), np.arange(size[1])
    along_rows = np.stack([np.interp(rows, tops + centre, grid[:, j]) for j in range(grid.shape[1])], axis=1)
    return np.stack([np.interp(columns, lefts + centre, row) for row in along_rows]).astype(np.float32)


def over_patches(grid: np.ndarray, tops: np.ndarray, lefts: np.ndarray, patch: int,
                 size: tuple[int, int], aggregate: str) -> np.ndarray:
    """Each pixel: the sum (or mean) of the drops of every patch that covers it."""
    total, count = np.zeros(size, np.float64), np.zeros(size, np.float64)
    for i, top in enumerate(tops):
        for j, left in enumerate(lefts):
            total[top:top + patch, left:left + patch] += grid[i, j]
            count[top:top + patch, left:left + patch] += 1
    return (total if aggregate == "sum" else total / np.maximum(count, 1)).astype(np.float32)


def check(params: dict[str, Any], loaded_model: LoadedModel) -> None:
    height, width = loaded_model.input_size
    check_choice(params, "fill", FILLS)
    check_choice(params, "score", SCORES)
    check_choice(params, "incremental", MODES)
    check_choice(params, "aggregate", AGGREGATES)
    check_positive_int(params, "batch_size")
    for name in ("patch_size", "stride"):
        if params[name] is not None:
            check_positive_int(params, name)
    patch, stride = patch_geometry(params, (height, width))
    if patch > min(height, width):
        raise ParameterError(
            f"patch_size {patch} is larger than the image the model sees ({height} x {width}); "
            f"use at most {min(height, width)}."
        )
    if stride > patch:
        raise ParameterError(f"stride {stride} is larger than patch_size {patch}: some pixels would "
                             "never be covered; use a stride of at most the patch size.")


METHOD = Method(
    name="occlusion", title="Occlusion", compute=occlusion, defaults=DEFAULTS, check=check, uses_layer=False,
    progress=True, choices={"fill": FILLS, "score": SCORES, "aggregate": AGGREGATES, "incremental": MODES},
    citation="Zeiler and Fergus, Visualizing and Understanding Convolutional Networks, ECCV 2014",
    about=("Hides one patch of the image at a time and measures how much the class probability drops: "
           "bright where hiding the image hurts the model most. Model-agnostic and easy to interpret, "
           "but the answer depends on the fill and the patch size, it misses evidence that appears "
           "twice (hiding one copy leaves the other), and it is blocky (patch size) and slow (one model "
           "run per patch position)."),
)
