"""Score-CAM (Wang et al., 2020): channels weighted by the class probability of the image masked by them.

Each activation map is upsampled, scaled to [0, 1] and multiplied with the network's input (the
preprocessed image, as in the authors' code: masked-out pixels become the preprocessing's zero, the
mean colour for mean-centred models, black for models taking 0..255 or 0..1); the masked images go
through the model in batches, and the class probability of each becomes its channel's weight.
``top_k`` keeps only the k channels with the largest spatial standard deviation: "Faster Score-CAM",
an unpublished speed-up from a Keras reimplementation (github.com/tabayashi0117/Score-CAM), which
tf-keras-vis offers as ``max_N``; it is not in the Score-CAM paper nor in SS-CAM.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from cnnviz.methods.core import (
    DEFAULT_BATCH_SIZE,
    EPSILON,
    Maps,
    Method,
    Request,
    batches,
    check_positive_int,
    layer_pass,
    logits_function,
    weighted_maps,
)
from cnnviz.models import LoadedModel
from cnnviz.progress import report

DEFAULTS = {"top_k": None, "batch_size": DEFAULT_BATCH_SIZE}
#: Channels whose map varies less than this (max - min) give an all-zero mask, so they all share one
#: weight: the class probability of the fully masked input, computed once.
FLAT_CHANNEL = 1e-6


def _build_masked_probabilities(loaded_model: LoadedModel) -> Callable[..., Any]:
    height, width = loaded_model.input_size
    logits_of = logits_function(loaded_model)

    @tf.function(input_signature=[tf.TensorSpec([height, width, 3], tf.float32),
                                  tf.TensorSpec([None, None, None], tf.float32),
                                  tf.TensorSpec([], tf.int32)])
    def masked_probabilities(pixels: tf.Tensor, maps: tf.Tensor, class_index: tf.Tensor) -> tf.Tensor:
        upsampled = tf.image.resize(maps[None], (height, width), method="bilinear")[0]  # (H, W, b)
        low = tf.reduce_min(upsampled, axis=(0, 1))
        high = tf.reduce_max(upsampled, axis=(0, 1))
        masks = tf.transpose((upsampled - low) / (high - low + EPSILON), [2, 0, 1])[..., None]
        inputs = loaded_model.preprocess(pixels[None]) * masks  # H o X on the network's input
        logits = logits_of(inputs)
        return loaded_model.probabilities_from_logits(logits)[:, class_index]

    return masked_probabilities


def _channels(activations: np.ndarray, top_k: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(varied, flat) channel indices: the ``top_k`` most varied (by standard deviation) if asked."""
    channels = np.arange(activations.shape[-1])
    if top_k is not None and top_k < len(channels):
        deviation = activations.std(axis=(0, 1))
        channels = np.sort(np.argsort(-deviation, kind="stable")[:top_k])
    spread = activations[..., channels].max(axis=(0, 1)) - activations[..., channels].min(axis=(0, 1))
    return channels[spread > FLAT_CHANNEL], channels[spread <= FLAT_CHANNEL]


def scorecam(request: Request) -> Maps:
    loaded_model, params = request.loaded_model, request.params
    result = layer_pass(request, gradients=False)
    batched = request.batched_model  # masked images only: the activations and the class stay float32
    function = batched.cached(("methods.scorecam",), lambda: _build_masked_probabilities(batched))
    chosen = [_channels(maps, params["top_k"]) for maps in result.activations]
    total, done = sum(len(varied) + bool(len(flat)) for varied, flat in chosen), 0
    weights = np.zeros((len(request.pixels), result.activations.shape[-1]), np.float32)
    report(request.progress, 0, total)
    for index, (pixels, maps, (channels, flat)) in enumerate(zip(request.pixels, result.activations, chosen)):
        image = tf.constant(pixels, tf.float32)
        class_index = tf.constant(result.class_indices[index], tf.int32)
        if len(flat):  # an all-zero mask: the network's input times zero
            with loaded_model.lock:
                weights[index, flat] = function(image, tf.zeros((1, 1, 1)), class_index).numpy()[0]
            done += 1
        for part in batches(len(channels), params["batch_size"]):
            subset = channels[part]
            with loaded_model.lock:
                weights[index, subset] = function(image, tf.constant(maps[..., subset]), class_index).numpy()
            done += len(subset)
            report(request.progress, done, total, image=index + 1)
    return result.maps(weighted_maps(result.activations, weights))


def check(params: dict[str, Any], loaded_model: LoadedModel) -> None:
    check_positive_int(params, "batch_size")
    if params["top_k"] is not None:
        check_positive_int(params, "top_k")


METHOD = Method(
    name="scorecam", title="Score-CAM", compute=scorecam, defaults=DEFAULTS, check=check, progress=True,
    citation="Wang et al., Score-CAM, CVPR Workshops 2020",
    about=("Shows the image to the model through each feature map used as a mask and weights the map "
           "by how confident the model stays. No gradients, so less noisy, but one model run per "
           "channel, and the default layers of the ImageNet models have 512 (VGG) to 4032 "
           "(NASNetLarge) channels, 1280 on MobileNetV2: slow. 'top_k' keeps only the most varied "
           "channels (Faster Score-CAM, a speed-up from a public reimplementation, not from the paper)."),
)
