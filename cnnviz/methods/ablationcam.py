"""Ablation-CAM (Desai and Ramaswamy, 2020): each channel of the chosen layer is weighted by how much
the class logit falls when that channel is set to zero: w_k = (y - y_k) / y.

The ablated copies run in batches of ``batch_size``: one compiled call replays the model on copies
of the image with a different channel zeroed in each (the replay's output hook does the zeroing).
``top_k`` ablates only the k channels with the largest mean activation (the others weigh 0).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from cnnviz.graph import flat_graph, replay_function
from cnnviz.methods.core import (
    DEFAULT_BATCH_SIZE,
    EPSILON,
    Maps,
    Method,
    Request,
    batches,
    check_positive_int,
    layer_pass,
    weighted_maps,
)
from cnnviz.models import LoadedModel
from cnnviz.progress import report

DEFAULTS = {"top_k": None, "batch_size": DEFAULT_BATCH_SIZE}


def _build_ablated_scores(loaded_model: LoadedModel, layer: str) -> Callable[..., Any]:
    height, width = loaded_model.input_size
    depth = int(flat_graph(loaded_model)[layer].output_shape[-1])

    @tf.function(input_signature=[tf.TensorSpec([height, width, 3], tf.float32),
                                  tf.TensorSpec([None], tf.int32), tf.TensorSpec([], tf.int32)])
    def ablated_scores(pixels: tf.Tensor, channels: tf.Tensor, class_index: tf.Tensor) -> tf.Tensor:
        keep = 1.0 - tf.one_hot(channels, depth)[:, None, None, :]

        def zero_channel(name: str, operation: Any, outputs: list[Any]) -> list[Any]:
            return [outputs[0] * keep, *outputs[1:]] if name == layer else outputs

        forward = replay_function(loaded_model, [], output_hook=zero_channel)
        copies = tf.repeat(pixels[None], tf.shape(channels)[0], axis=0)
        return forward(loaded_model.preprocess(copies))[1][:, class_index]

    return ablated_scores


def ablationcam(request: Request) -> Maps:
    loaded_model, params, layer = request.loaded_model, request.params, str(request.layer)
    result = layer_pass(request, gradients=False)
    function = loaded_model.cached(("methods.ablationcam", layer),
                                   lambda: _build_ablated_scores(loaded_model, layer))
    depth = result.activations.shape[-1]
    top_k = params["top_k"] or depth
    chosen = [np.sort(np.argsort(-a.mean(axis=(0, 1)), kind="stable")[:top_k]).astype(np.int32)
              for a in result.activations]
    total = sum(len(c) for c in chosen)
    weights = np.zeros((len(request.pixels), depth), np.float32)
    report(request.progress, 0, total)
    done = 0
    for index, (pixels, channels) in enumerate(zip(request.pixels, chosen)):
        score = float(result.logits[index, result.class_indices[index]])
        image = tf.constant(pixels, tf.float32)
        class_index = tf.constant(result.class_indices[index], tf.int32)
        for part in batches(len(channels), params["batch_size"]):
            with loaded_model.lock:
                ablated = function(image, tf.constant(channels[part]), class_index).numpy()
            weights[index, channels[part]] = (score - ablated) / (score if abs(score) > EPSILON else EPSILON)
            done += len(channels[part])
            report(request.progress, done, total, image=index + 1)
    return result.maps(weighted_maps(result.activations, weights))


def check(params: dict[str, Any], loaded_model: LoadedModel) -> None:
    check_positive_int(params, "batch_size")
    if params["top_k"] is not None:
        check_positive_int(params, "top_k")


METHOD = Method(
    name="ablationcam", title="Ablation-CAM", compute=ablationcam, defaults=DEFAULTS, check=check,
    progress=True,
    citation="Desai and Ramaswamy, Ablation-CAM, WACV 2020",
    about=("Switches off one feature map of the layer at a time and weights it by how much the class "
           "score falls: no gradients, so no saturation. One model run per channel (hundreds), in "
           "batches: slow; 'top_k' only switches off the most active channels."),
)
