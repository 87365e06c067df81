"""Exact incremental inference for patch perturbations (Krypton: Nakandala, Kumar and
Papakonstantinou, "Incremental and Approximate Inference for Faster Occlusion-based Deep CNN
Explanations", SIGMOD 2019).

An occluded patch or a changed pixel changes each layer only inside its receptive-field box, so a
batch of perturbed images is scored by recomputing, layer by layer, only those boxes on top of the
clean image's cached activations; the class scores equal full re-inference (to float rounding).
``patched_logits`` is the entry point; ``worth_it`` says whether it beats full re-inference for a
model and patch size (estimated from the multiply-adds it saves; decided once per model and size).
Preprocessing must act pixel by pixel (true for every preprocessing cnnviz knows). On a
mixed-precision twin (cnnviz.precision.twin) the boxes are computed in the layers' compute dtype
(bfloat16) and the clean activations are kept in it; the logits come back as float32.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from cnnviz.errors import ParameterError
from cnnviz.incremental.walker import Walker, clean_pass
from cnnviz.models import LoadedModel

#: "auto" uses incremental inference when it needs at most this share of the full model's
#: multiply-adds. Measured (bench/incremental.py, docs/benchmarks.md): shares of 0.11-0.72 ran
#: 1.2x-7x faster (small boxes stay in cache; the full batch does not); LeNet-5 occlusion at 0.76
#: ran 0.97x, so the bar sits between.
MAX_COST_SHARE = 0.75
MODES = ("auto", "on", "off")
LOGITS = "logits"


class _Compiled:
    """The compiled clean pass and patched pass of one model for one patch size."""

    def __init__(self, loaded_model: LoadedModel, patch_size: tuple[int, int], threshold: float) -> None:
        model, preprocess = loaded_model.model, loaded_model.preprocess
        height, width = loaded_model.input_size
        self.walker = Walker(model, patch_size, threshold)
        self._image: np.ndarray | None = None
        self._clean: dict[str, tf.Tensor] = {}

        @tf.function(input_signature=[tf.TensorSpec([height, width, 3], tf.uint8)], autograph=False)
        def clean(image: tf.Tensor) -> dict[str, tf.Tensor]:
            inputs = preprocess(tf.cast(image, tf.float32))[None]
            captured = clean_pass(model, inputs)
            captured[LOGITS] = model(inputs, training=False)
            return captured

        self.clean_function = clean
        patch_spec = tf.TensorSpec([None, *patch_size, 3], tf.uint8)
        index_spec = tf.TensorSpec([None], tf.int32)
        self.patched_function: Callable[..., tf.Tensor] | None = None
        self._specs = (patch_spec, index_spec)
        self.untraceable = False  # set when tracing failed (walkable)
        self._preprocess = preprocess

    def clean(self, image: np.ndarray) -> dict[str, tf.Tensor]:
        """Clean activations of ``image``, kept for the last image seen."""
        if self._image is None or not np.array_equal(self._image, image):
            self._clean = self.clean_function(tf.constant(image, tf.uint8))
            self._image = image.copy()
        return self._clean

    def patched(self, clean: dict[str, tf.Tensor]) -> Callable[..., tf.Tensor]:
        if self.patched_function is None:
            clean_spec = {k: tf.TensorSpec(v.shape, v.dtype) for k, v in clean.items() if k != LOGITS}
            patch_spec, index_spec = self._specs

            @tf.function(input_signature=[clean_spec, patch_spec, index_spec, index_spec], autograph=False)
            def patched(clean: dict[str, tf.Tensor], pixels: tf.Tensor, rows: tf.Tensor,
                        columns: tf.Tensor) -> tf.Tensor:
                return self.walker(clean, self._preprocess(tf.cast(pixels, tf.float32)), rows, columns)

            patched.get_concrete_function()  # traces: fills in walker.cost
            self.patched_function = patched
        return self.patched_function

    def cost_share(self, clean: dict[str, tf.Tensor]) -> float:
        self.patched(clean)
        done, full = self.walker.cost
        return done / full if full else 1.0


def _compiled(loaded_model: LoadedModel, patch_size: tuple[int, int], threshold: float = 1.0) -> _Compiled:
    key = ("incremental", tuple(patch_size), threshold)
    return loaded_model.cached(key, lambda: _Compiled(loaded_model, patch_size, threshold))


def patched_logits(loaded_model: LoadedModel, image: np.ndarray, patches: np.ndarray,
                   corners: np.ndarray, threshold: float = 1.0) -> np.ndarray:
    """Logits (N, classes) of ``image`` (H, W, 3 uint8) with ``patches[i]`` (N, h, w, 3 uint8) pasted
    with its top-left corner at ``corners[i]`` (row, column), by incremental inference. A corner at
    or beyond the image's far edge means no patch: that row gets the clean image's logits.
    ``threshold`` < 1 is Krypton's approximate mode: no box grows past that share of its map's side
    (faster; changes beyond it are dropped, so the scores are approximate)."""
    height, width = loaded_model.input_size
    compiled = _compiled(loaded_model, patches.shape[1:3], threshold)
    clean = compiled.clean(np.asarray(image, np.uint8))
    corners = np.asarray(corners, np.int32)
    inside = (corners[:, 0] <= height - patches.shape[1]) & (corners[:, 1] <= width - patches.shape[2])
    logits = np.empty((len(corners), int(clean[LOGITS].shape[-1])), np.float32)
    logits[~inside] = clean[LOGITS].numpy()[0]
    if inside.any():
        inputs = {k: v for k, v in clean.items() if k != LOGITS}
        logits[inside] = compiled.patched(clean)(
            inputs, tf.constant(patches[inside], tf.uint8), tf.constant(corners[inside, 0]),
            tf.constant(corners[inside, 1])).numpy()
    return logits


def walkable(loaded_model: LoadedModel, image: np.ndarray, patch_size: tuple[int, int]) -> bool:
    """Whether the walker can trace ``loaded_model`` for patches of ``patch_size`` (a graph it was
    not written for cannot); remembered per model and size."""
    compiled = _compiled(loaded_model, patch_size)
    if not compiled.untraceable:
        try:
            compiled.patched(compiled.clean(np.asarray(image, np.uint8)))
        except Exception:  # noqa: BLE001  (an optimisation must never break the method it speeds up)
            compiled.untraceable = True
    return not compiled.untraceable


def worth_it(loaded_model: LoadedModel, image: np.ndarray, patch_size: tuple[int, int]) -> bool:
    """Whether incremental inference needs at most MAX_COST_SHARE of the full multiply-adds.

    A model the walker cannot trace is not worth it: "auto" then keeps the ordinary computation,
    which is what incremental inference only speeds up."""
    if not walkable(loaded_model, image, patch_size):
        return False
    compiled = _compiled(loaded_model, patch_size)
    return compiled.cost_share(compiled.clean(np.asarray(image, np.uint8))) <= MAX_COST_SHARE


def check_mode(mode: str) -> None:
    """ParameterError unless ``mode`` is one of MODES."""
    if mode not in MODES:
        raise ParameterError(f"incremental must be one of {', '.join(MODES)}, not {mode!r}.")


def occlusion_logits(loaded_model: LoadedModel, full: Callable[..., tf.Tensor], image: tf.Tensor,
                     fill: tf.Tensor, corners: np.ndarray, patch: int, mode: str = "auto") -> np.ndarray:
    """Logits of ``image`` with each ``corners`` patch (side ``patch``) showing ``fill``: by
    incremental inference when ``mode`` is "on", or "auto" and it pays; else by ``full``
    (the occlusion method's compiled full pass, same arguments)."""
    check_mode(mode)
    pixels = image.numpy()
    if mode == "on" or (mode == "auto" and worth_it(loaded_model, pixels, (patch, patch))):
        fill_pixels = fill.numpy()
        height, width = pixels.shape[:2]
        tops = np.minimum(corners[:, 0], height - patch)
        lefts = np.minimum(corners[:, 1], width - patch)
        offsets = np.arange(patch)
        patches = fill_pixels[(tops[:, None] + offsets)[:, :, None], (lefts[:, None] + offsets)[:, None, :]]
        return patched_logits(loaded_model, pixels, patches, corners)
    return full(image, fill, tf.constant(corners), tf.constant(patch)).numpy()


def pixel_probabilities(loaded_model: LoadedModel, image: np.ndarray, batch: np.ndarray,
                        rows: np.ndarray, columns: np.ndarray, colours: np.ndarray,
                        mode: str = "auto") -> np.ndarray:
    """Probabilities of ``batch`` (``image`` with one changed pixel per row: ``rows``, ``columns``,
    ``colours`` of shapes (N, 1), (N, 1), (N, 1, 3)), incrementally where that pays; several
    changed pixels per image go through the full model."""
    single = rows.shape[1] == 1
    if single and (mode == "on" or (mode == "auto" and worth_it(loaded_model, image, (1, 1)))):
        corners = np.stack([rows[:, 0], columns[:, 0]], axis=1)
        logits = patched_logits(loaded_model, image, colours[:, :, None, :], corners)
        return loaded_model.probabilities_from_logits(logits)
    return loaded_model.probabilities(batch)


__all__ = ["patched_logits", "worth_it", "walkable", "occlusion_logits", "pixel_probabilities", "check_mode", "MODES"]
