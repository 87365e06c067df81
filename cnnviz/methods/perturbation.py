"""The shared core of the black-box methods (RISE, Sobol, HSIC, LIME, KernelSHAP): the class score of
many masked copies of one image, in batches, with progress.

Two ways to hide what a mask removes: ``space="input"`` multiplies the model's (preprocessed) input
by the mask, as RISE's and Xplique's code do ("inpainting": the removed part becomes the
preprocessing's zero); ``space="pixels"`` blends the raw pixels with a fill image (LIME, KernelSHAP).
Masks may be coarser than the image: they are resized inside the compiled call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from cnnviz.methods.core import batches, check_choice, check_positive_int, logits_function
from cnnviz.models import LoadedModel
from cnnviz.progress import ProgressCallback, report

#: The score a masked copy gets: the class probability or the class logit.
SCORES = ("probability", "logit")
SPACES = ("input", "pixels")


def _build_masked_scores(loaded_model: LoadedModel, space: str, resize: str) -> Callable[..., Any]:
    height, width = loaded_model.input_size
    logits_of = logits_function(loaded_model)
    image_spec = tf.TensorSpec([height, width, 3], tf.float32)

    @tf.function(input_signature=[image_spec, image_spec, tf.TensorSpec([None, None, None], tf.float32),
                                  tf.TensorSpec([], tf.int32)])
    def masked_scores(pixels: tf.Tensor, fill: tf.Tensor, masks: tf.Tensor,
                      class_index: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        masks = tf.image.resize(masks[..., None], (height, width), method=resize)
        if space == "input":
            inputs = loaded_model.preprocess(pixels[None]) * masks
        else:
            inputs = loaded_model.preprocess(fill[None] + masks * (pixels - fill)[None])
        logits = logits_of(inputs)
        return loaded_model.probabilities_from_logits(logits)[:, class_index], logits[:, class_index]

    return masked_scores


def masked_scores(loaded_model: LoadedModel, pixels: np.ndarray, masks: np.ndarray | Callable[[slice], np.ndarray],
                  count: int, class_index: int, params: dict[str, Any], *, space: str = "input",
                  fill: np.ndarray | None = None, resize: str = "nearest",
                  progress: ProgressCallback | None = None, done: int = 0, total: int | None = None,
                  image: int = 1) -> np.ndarray:
    """The class score (params["score"]) of ``count`` masked copies of ``pixels`` (uint8, input size).

    ``masks`` is an array (count, h, w) of values in [0, 1] (1 keeps the pixel), or a function
    giving the masks of a slice (so that large sets never sit in memory at once); batches of
    ``params["batch_size"]``. Progress counts from ``done`` to ``total``.
    """
    function = loaded_model.cached(("methods.masked_scores", space, resize),
                                   lambda: _build_masked_scores(loaded_model, space, resize))
    image_tensor = tf.constant(pixels, tf.float32)
    fill_tensor = tf.constant(pixels if fill is None else fill, tf.float32)
    which = 0 if params["score"] == "probability" else 1
    scores = np.empty(count, np.float32)
    total = count if total is None else total
    for part in batches(count, params["batch_size"]):
        chunk = masks(part) if callable(masks) else masks[part]
        with loaded_model.lock:
            result = function(image_tensor, fill_tensor, tf.constant(chunk, tf.float32),
                              tf.constant(class_index, tf.int32))
        scores[part] = result[which].numpy()
        report(progress, done + part.stop, total, image=image)
    return scores


def check_sampling(params: dict[str, Any], maximum_samples: int, samples: str = "samples") -> None:
    """The parameters every black-box method shares: samples, batch_size, seed, score."""
    check_positive_int(params, samples, maximum=maximum_samples)
    check_positive_int(params, "batch_size")
    check_positive_int(params, "seed", minimum=0)
    check_choice(params, "score", SCORES)
