"""How faithful is a heatmap? Pointing game, deletion/insertion, confidence drop, randomisation check.

- Pointing game (Zhang et al., 2016): is the heatmap's maximum on the object (a ground-truth mask)?
- Deletion and insertion (Petsiuk et al., RISE, BMVC 2018): remove (or insert) pixels from the most
  important down and follow the class probability; area under the curve, low is good for deletion,
  high is good for insertion. All steps of one heatmap go through the model as one batch.
  Deleted pixels are replaced by a blurred copy of the image by default (RISE used black for
  deletion): scattered black pixels are a strong signal of their own, and on the demo model removing
  6 % of the pixels at random already drops the class probability from 0.96 to 0.1, so black
  deletion cannot tell a good map from a random one. ``deletion_fill="black"`` gives RISE's.
- Confidence drop / increase (Chattopadhay et al., 2018, Grad-CAM++): the class probability of the
  image multiplied by the map, against the image's own.
- Model randomisation (Adebayo et al., Sanity Checks for Saliency Maps, NeurIPS 2018): randomise the
  top layers' weights; a faithful map must change (low rank correlation with the original map).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import cv2
import numpy as np

from cnnviz.errors import ParameterError
from cnnviz.explanation import Heatmap
from cnnviz.methods.core import DEFAULT_BATCH_SIZE, batches
from cnnviz.models import LoadedModel

#: Steps of the deletion and insertion curves (pixels change in 1/steps fractions).
DEFAULT_STEPS = 32
#: Insertion starts from (and deletion by default fills with) a blurred image, whose class information
#: should be gone: Gaussian sigma as a fraction of the image's shorter side (4 px at 64, 14 px at 224;
#: the fully blurred demo images score chance level, 1/8).
BLUR_FRACTION = 1 / 16
DELETION_FILLS = ("blur", "black")
#: Layers with weights, counted from the output, that :func:`randomized_model` re-draws by default
#: (on the demo model: logits, head_bn, head_conv).
DEFAULT_RANDOMIZED_LAYERS = 3


@dataclass(frozen=True)
class DeletionInsertion:
    """Deletion and insertion curves of one heatmap and their areas (0..1)."""

    fractions: np.ndarray  # (steps + 1,) fraction of pixels removed / inserted
    deletion_curve: np.ndarray  # class probability as pixels are removed, most important first
    insertion_curve: np.ndarray  # class probability as pixels are inserted into a blurred image
    deletion: float  # area under the deletion curve: lower is better
    insertion: float  # area under the insertion curve: higher is better


@dataclass(frozen=True)
class ConfidenceChange:
    """Class probability of the image and of the image multiplied by the map (Chattopadhay et al.)."""

    probability: float
    masked_probability: float
    drop: float  # max(0, p - p_masked) / p: lower is better
    increase: bool  # the masked image is more confident than the image


@dataclass(frozen=True)
class Faithfulness:
    """The figures shown beside a heatmap in the app."""

    deletion: float
    insertion: float
    confidence_drop: float
    confidence_increase: bool


# --- pointing game -------------------------------------------------------------------------------
def pointing_hits(heatmaps: np.ndarray, masks: np.ndarray, tolerance: int = 0) -> np.ndarray:
    """Per image: is the heatmap's maximum on the mask (within ``tolerance`` pixels)? (n,) bool.

    Heatmaps and masks have the same (n, height, width) shape; ties go to the first maximum.
    """
    heatmaps, masks = np.asarray(heatmaps), np.asarray(masks, bool)
    if heatmaps.shape != masks.shape or heatmaps.ndim != 3:
        raise ParameterError(f"Heatmaps {heatmaps.shape} and masks {masks.shape} must both be "
                             "(n, height, width).")
    if tolerance < 0:
        raise ParameterError(f"tolerance must be 0 or more pixels, not {tolerance}.")
    if tolerance:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * tolerance + 1, 2 * tolerance + 1))
        masks = np.stack([cv2.dilate(m.astype(np.uint8), kernel) > 0 for m in masks])
    peaks = np.argmax(heatmaps.reshape(len(heatmaps), -1), axis=1)
    return masks.reshape(len(masks), -1)[np.arange(len(masks)), peaks]


def pointing_rate(heatmaps: np.ndarray, masks: np.ndarray, tolerance: int = 0) -> float:
    """Fraction of images whose heatmap maximum lies on the object."""
    return float(np.mean(pointing_hits(heatmaps, masks, tolerance)))


# --- deletion and insertion --------------------------------------------------------------------------
def _probabilities(loaded_model: LoadedModel, images: np.ndarray, class_index: int,
                   batch_size: int) -> np.ndarray:
    with loaded_model.lock:
        parts = [loaded_model.probabilities(images[part])[:, class_index]
                 for part in batches(len(images), batch_size)]
    return np.concatenate(parts)


def _area(curve: np.ndarray) -> float:
    """Area under a curve sampled at equal steps on [0, 1] (trapezoidal rule)."""
    return float((curve[:-1] + curve[1:]).sum() / (2 * (len(curve) - 1)))


def blurred(image: np.ndarray) -> np.ndarray:
    """The insertion start image: the image under a strong Gaussian blur (RISE)."""
    sigma = max(min(image.shape[:2]) * BLUR_FRACTION, 0.5)
    return cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, sigmaY=sigma)


def deletion_insertion(loaded_model: LoadedModel, image: np.ndarray, heatmap: np.ndarray, class_index: int,
                       steps: int = DEFAULT_STEPS, batch_size: int = DEFAULT_BATCH_SIZE,
                       deletion_fill: str = "blur", seed: int = 0) -> DeletionInsertion:
    """Deletion and insertion curves (Petsiuk et al., 2018) of a map for an image at the model's input size.

    Pixels are ranked by the map (ties broken at random with ``seed``); step k removes (deletion:
    replaces with a blurred copy, or black) or reveals (insertion: onto a blurred copy) the first
    k/steps of them.
    """
    if deletion_fill not in DELETION_FILLS:
        raise ParameterError(f"deletion_fill must be one of {', '.join(DELETION_FILLS)}, "
                             f"not {deletion_fill!r}.")
    if heatmap.shape != image.shape[:2]:
        raise ParameterError(f"The map {heatmap.shape} must have the image's size {image.shape[:2]}.")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ParameterError(f"steps must be a positive whole number, not {steps!r}.")
    pixels = heatmap.size
    tiebreak = np.random.default_rng(seed).random(pixels)
    order = np.lexsort((tiebreak, -heatmap.ravel()))  # most important first
    rank = np.empty(pixels, np.int64)
    rank[order] = np.arange(pixels)
    counts = np.round(np.linspace(0, pixels, steps + 1)).astype(np.int64)
    changed = (rank.reshape(heatmap.shape)[None] < counts[:, None, None])[..., None]  # (steps+1, h, w, 1)
    image = image.astype(np.uint8)
    substrate = blurred(image)
    deleted = np.where(changed, substrate[None] if deletion_fill == "blur" else np.uint8(0), image[None])
    inserted = np.where(changed, image[None], substrate[None])
    curves = _probabilities(loaded_model, np.concatenate([deleted, inserted]), class_index, batch_size)
    deletion, insertion = curves[:steps + 1], curves[steps + 1:]
    return DeletionInsertion(counts / pixels, deletion, insertion, _area(deletion), _area(insertion))


def confidence_change(loaded_model: LoadedModel, image: np.ndarray, heatmap: np.ndarray,
                      class_index: int) -> ConfidenceChange:
    """The class probability of ``image * heatmap`` against the image's (Chattopadhay et al., 2018)."""
    if heatmap.shape != image.shape[:2]:
        raise ParameterError(f"The map {heatmap.shape} must have the image's size {image.shape[:2]}.")
    masked = image.astype(np.float32) * np.clip(heatmap, 0.0, 1.0)[..., None]
    with loaded_model.lock:
        both = np.stack([image.astype(np.float32), masked])
        probabilities = loaded_model.probabilities(both)[:, class_index]
    original, kept = float(probabilities[0]), float(probabilities[1])
    drop = max(0.0, original - kept) / original if original > 0 else 0.0
    return ConfidenceChange(original, kept, drop, kept > original)


def faithfulness(loaded_model: LoadedModel, heatmap: Heatmap, steps: int = DEFAULT_STEPS) -> Faithfulness:
    """Deletion, insertion and confidence drop of a heatmap from :func:`cnnviz.explain`."""
    curves = deletion_insertion(loaded_model, heatmap.image, heatmap.heatmap, heatmap.class_index, steps)
    change = confidence_change(loaded_model, heatmap.image, heatmap.heatmap, heatmap.class_index)
    return Faithfulness(curves.deletion, curves.insertion, change.drop, change.increase)


# --- sanity check --------------------------------------------------------------------------------
def rank_correlation(first: np.ndarray, second: np.ndarray) -> float:
    """Spearman rank correlation of two maps of the same shape."""
    from scipy.stats import spearmanr

    first, second = np.ravel(first), np.ravel(second)
    if np.ptp(first) == 0 or np.ptp(second) == 0:
        return 0.0  # a constant map carries no ranking
    return float(spearmanr(first, second).statistic)


def randomized_model(loaded_model: LoadedModel, layers: Sequence[str] | int = DEFAULT_RANDOMIZED_LAYERS,
                     seed: int = 0) -> LoadedModel:
    """A copy of the model whose given layers (or last ``layers`` layers with weights) are re-drawn at random.

    Cascading model randomisation (Adebayo et al., 2018): each weight tensor is replaced by Gaussian
    noise of its own standard deviation (positive scales such as batch-norm variances keep their
    values), so the network's function changes while activations keep a sensible scale. The
    original model is not touched.
    """
    import keras

    from cnnviz.graph import flat_graph, resolve_layer

    clone = keras.models.clone_model(loaded_model.model)
    clone.set_weights(loaded_model.model.get_weights())
    copy = replace(loaded_model, model=clone, name=f"{loaded_model.name} (randomised)", _functions={})
    object.__setattr__(copy, "lock", type(loaded_model.lock)())
    weighted = [entry.name for entry in flat_graph(copy).layers if entry.layer.weights]
    names = weighted[-layers:] if isinstance(layers, int) else [resolve_layer(copy, n) for n in layers]
    rng = np.random.default_rng(seed)
    graph = flat_graph(copy)
    for name in names:
        layer = graph[name].layer
        values = []
        for variable, value in zip(layer.weights, layer.get_weights()):
            if "variance" in variable.path or "moving_mean" in variable.path:
                values.append(value)
                continue
            scale = float(value.std()) or 1.0
            values.append(rng.normal(0.0, scale, value.shape).astype(value.dtype))
        layer.set_weights(values)
    return copy


__all__ = ["pointing_hits", "pointing_rate", "deletion_insertion", "DeletionInsertion", "confidence_change",
           "ConfidenceChange", "faithfulness", "Faithfulness", "rank_correlation", "randomized_model",
           "blurred"]
