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
- Model randomisation (Adebayo et al., Sanity Checks for Saliency Maps, NeurIPS 2018): randomise
  the top layers' weights; a faithful map must change (low rank correlation with the original map).
  :func:`cascading_randomisation` re-draws every layer from the output down and gives the curve.
- MuFidelity (Bhatt et al., 2020), average stability / max-sensitivity (Yeh et al., 2019), ROAD with
  noisy linear imputation (Rong et al., 2022), complexity (entropy) and sparseness (Gini index),
  and the random-logit test (Sixt et al., 2020): the families of Xplique and Quantus.
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
from cnnviz.progress import ProgressCallback, report

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
                       deletion_fill: str = "blur", seed: int = 0,
                       insertion_start: str = "blur") -> DeletionInsertion:
    """Deletion and insertion curves (Petsiuk et al., 2018) of a map for an image at the model's input size.

    Pixels are ranked by the map (ties broken at random with ``seed``); step k removes (deletion:
    replaces with a blurred copy, or black) or reveals (insertion: onto a blurred copy) the first
    k/steps of them. ``insertion_start="black"`` inserts onto a black image (Xplique's baseline 0 on
    models that take raw pixels).
    """
    if insertion_start not in DELETION_FILLS:
        raise ParameterError(f"insertion_start must be one of {', '.join(DELETION_FILLS)}, "
                             f"not {insertion_start!r}.")
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
    counts = np.linspace(0, pixels, steps + 1).astype(np.int64)  # truncated, as Xplique counts
    changed = (rank.reshape(heatmap.shape)[None] < counts[:, None, None])[..., None]  # (steps+1, h, w, 1)
    image = image.astype(np.uint8)
    substrate = blurred(image)
    deleted = np.where(changed, substrate[None] if deletion_fill == "blur" else np.uint8(0), image[None])
    inserted = np.where(changed, image[None], substrate[None] if insertion_start == "blur" else np.uint8(0))
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
        _redraw(graph[name].layer, rng)
    return copy


def _redraw(layer: object, rng: np.random.Generator) -> None:
    """Replace a layer's weights by Gaussian noise of their own spread (batch-norm statistics kept)."""
    values = []
    for variable, value in zip(layer.weights, layer.get_weights()):
        if "variance" in variable.path or "moving_mean" in variable.path:
            values.append(value)
            continue
        scale = float(value.std()) or 1.0
        values.append(rng.normal(0.0, scale, value.shape).astype(value.dtype))
    layer.set_weights(values)


# --- metrics of issue 16 (Xplique's and Quantus' families) ----------------------------------------
#: Metrics that change the image score the class probability, or the logit (Xplique uses the model's raw
#: output, the logits on cnnviz's models).
METRIC_SCORES = ("probability", "logit")


def _scores(loaded_model: LoadedModel, images: np.ndarray, class_index: int, batch_size: int,
            score: str) -> np.ndarray:
    if score not in METRIC_SCORES:
        raise ParameterError(f"score must be one of {', '.join(METRIC_SCORES)}, not {score!r}.")
    with loaded_model.lock:
        parts = []
        for part in batches(len(images), batch_size):
            logits = loaded_model.logits(images[part]).numpy()
            values = logits if score == "logit" else loaded_model.probabilities_from_logits(logits)
            parts.append(values[:, class_index])
    return np.concatenate(parts)


def _check_map(image: np.ndarray, attribution: np.ndarray) -> np.ndarray:
    attribution = np.asarray(attribution, np.float64)
    if attribution.shape != image.shape[:2]:
        raise ParameterError(f"The map {attribution.shape} must have the image's size {image.shape[:2]}.")
    return attribution


def _check_count(value: object, name: str, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ParameterError(f"{name} must be a whole number of at least {minimum}, not {value!r}.")


def mu_fidelity(loaded_model: LoadedModel, image: np.ndarray, attribution: np.ndarray, class_index: int,
                grid_size: int = 9, subset_percent: float = 0.2, samples: int = 128, baseline: float = 0.0,
                batch_size: int = DEFAULT_BATCH_SIZE, score: str = "probability", seed: int = 0,
                subsets: str = "exact", correlation: str = "pearson") -> float:
    """MuFidelity (Bhatt et al., Evaluating and Aggregating Feature-based Model Explanations, IJCAI 2020).

    ``samples`` random subsets of ``subset_percent`` of the cells of a ``grid_size`` grid are set to
    ``baseline`` (raw pixel value); the metric is the Pearson correlation, over the subsets, between
    the attribution inside the subset and the score drop it causes. Higher is better (1: the map
    predicts exactly what removing pixels does). The paper's subsets of exactly that many cells and
    Pearson correlation by default; Xplique removes each cell with probability ``subset_percent``
    (``subsets="bernoulli"``) and takes Spearman's correlation (``correlation="spearman"``); its
    baseline is 0 in the model's input space (equal on models taking raw pixels).
    """
    if subsets not in ("exact", "bernoulli") or correlation not in ("pearson", "spearman"):
        raise ParameterError('subsets must be "exact" or "bernoulli" and correlation "pearson" or "spearman".')
    attribution = _check_map(image, attribution)
    _check_count(grid_size, "grid_size", 2)
    _check_count(samples, "samples", 2)
    if not 0.0 < subset_percent < 1.0:
        raise ParameterError(f"subset_percent must be between 0 and 1, not {subset_percent!r}.")
    rng = np.random.default_rng(seed)
    cells = grid_size * grid_size
    chosen = max(1, int(round(cells * subset_percent)))
    if subsets == "bernoulli":
        removed_cells = rng.random((samples, cells)) < subset_percent
    else:
        removed_cells = np.zeros((samples, cells), bool)
        for row in removed_cells:
            row[rng.choice(cells, chosen, replace=False)] = True
    height, width = image.shape[:2]
    rows = ((np.arange(height) + 0.5) * grid_size / height).astype(np.int64)  # nearest, pixel centres
    columns = ((np.arange(width) + 0.5) * grid_size / width).astype(np.int64)
    cell_of = rows[:, None] * grid_size + columns[None, :]
    masks = removed_cells[:, cell_of]  # (samples, height, width)
    removed = np.where(masks[..., None], np.float32(baseline), image.astype(np.float32)[None])
    scores = _scores(loaded_model, np.concatenate([image[None].astype(np.float32), removed]), class_index,
                     batch_size, score)
    drops = scores[0] - scores[1:]
    inside = (masks * attribution[None]).sum(axis=(1, 2))
    if np.ptp(drops) == 0 or np.ptp(inside) == 0:
        return 0.0
    if correlation == "spearman":
        from scipy.stats import spearmanr

        return float(spearmanr(inside, drops).statistic)
    return float(np.corrcoef(inside, drops)[0, 1])


@dataclass(frozen=True)
class Stability:
    """How much a map changes under small input noise (lower is better)."""

    average: float  # average stability: mean relative L2 change of the map (Xplique, Bhatt et al.)
    maximum: float  # max-sensitivity: the largest one (Yeh et al., 2019)


def stability(loaded_model: LoadedModel, heatmap: Heatmap, radius: float = 0.05, samples: int = 8,
              seed: int = 0) -> Stability:
    """Average stability and max-sensitivity (Yeh et al., On the (In)fidelity and Sensitivity of
    Explanations, NeurIPS 2019; Bhatt et al., 2020) of a heatmap from :func:`cnnviz.explain`.

    The image is re-explained (same method, class and parameters) with ``samples`` copies under
    uniform noise of +-``radius`` of the pixel range; each change is ||h' - h|| / ||h|| on the
    drawn maps (0..1), so the figures compare across methods.
    """
    from cnnviz.explanation import explain_batch

    _check_count(samples, "samples")
    if not 0.0 < radius <= 1.0:
        raise ParameterError(f"radius must be in (0, 1] (share of the pixel range), not {radius!r}.")
    rng = np.random.default_rng(seed)
    noise = rng.uniform(-radius * 255, radius * 255, (samples, *heatmap.image.shape))
    noisy = np.clip(heatmap.image[None].astype(np.float32) + noise, 0, 255).astype(np.uint8)
    again = explain_batch(loaded_model, list(noisy), heatmap.method, class_index=heatmap.class_index,
                          layer=heatmap.layer, fit="stretch", **dict(heatmap.params))
    norm = float(np.linalg.norm(heatmap.heatmap)) or 1.0
    changes = [float(np.linalg.norm(h.heatmap - heatmap.heatmap)) / norm for h in again]
    return Stability(float(np.mean(changes)), float(np.max(changes)))


# --- ROAD ----------------------------------------------------------------------------------------
#: Neighbour weights of the noisy linear imputation (Rong et al., 2022): 1/6 for the 4 direct
#: neighbours, 1/12 for the 4 diagonal ones.
_NEIGHBOURS = ((-1, 0, 1 / 6), (1, 0, 1 / 6), (0, -1, 1 / 6), (0, 1, 1 / 6),
               (-1, -1, 1 / 12), (-1, 1, 1 / 12), (1, -1, 1 / 12), (1, 1, 1 / 12))
ROAD_NOISE = 0.01  # standard deviation of the imputation noise, share of the pixel range
DEFAULT_ROAD_FRACTIONS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def noisy_linear_imputation(image: np.ndarray, removed: np.ndarray, noise: float = ROAD_NOISE,
                            seed: int = 0) -> np.ndarray:
    """The image with the ``removed`` pixels (bool (h, w)) replaced by the weighted mean of their
    neighbours (a sparse linear system over all removed pixels at once), plus a little Gaussian noise."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.linalg import spsolve

    height, width = removed.shape
    result = image.astype(np.float64).copy()
    unknown = np.flatnonzero(removed)
    if not len(unknown):
        return image.copy()
    index = -np.ones(height * width, np.int64)
    index[unknown] = np.arange(len(unknown))
    rows, columns = np.divmod(unknown, width)
    entries_r, entries_c, values = [], [], []
    rhs = np.zeros((len(unknown), image.shape[2]))
    total = np.zeros(len(unknown))
    flat = image.reshape(-1, image.shape[2]).astype(np.float64)
    for dy, dx, weight in _NEIGHBOURS:
        r, c = rows + dy, columns + dx
        inside = (r >= 0) & (r < height) & (c >= 0) & (c < width)
        neighbour = r[inside] * width + c[inside]
        own = np.flatnonzero(inside)
        total[own] += weight
        known = index[neighbour] < 0
        rhs[own[known]] += weight * flat[neighbour[known]]
        entries_r.append(own[~known])
        entries_c.append(index[neighbour[~known]])
        values.append(np.full((~known).sum(), -weight))
    entries_r.append(np.arange(len(unknown)))
    entries_c.append(np.arange(len(unknown)))
    values.append(total)
    matrix = coo_matrix((np.concatenate(values), (np.concatenate(entries_r), np.concatenate(entries_c))),
                        shape=(len(unknown), len(unknown))).tocsc()
    solved = spsolve(matrix, rhs).reshape(len(unknown), -1)
    solved += np.random.default_rng(seed).normal(0.0, noise * 255, solved.shape)
    result.reshape(-1, image.shape[2])[unknown] = solved
    return np.clip(np.round(result), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class RoadCurves:
    """ROAD: the class score as the most (MoRF) or least (LeRF) relevant pixels are imputed."""

    fractions: np.ndarray
    morf: np.ndarray  # most relevant first: lower is better
    lerf: np.ndarray  # least relevant first: higher is better
    morf_mean: float
    lerf_mean: float


def road(loaded_model: LoadedModel, image: np.ndarray, attribution: np.ndarray, class_index: int,
         fractions: Sequence[float] = DEFAULT_ROAD_FRACTIONS, batch_size: int = DEFAULT_BATCH_SIZE,
         score: str = "probability", seed: int = 0) -> RoadCurves:
    """ROAD (Rong et al., A Consistent and Efficient Evaluation Strategy for Attribution Methods, ICML
    2022): remove the given fractions of pixels, most or least relevant first, by noisy linear
    imputation (no tell-tale black pixels for the model to pick up), and follow the class score."""
    attribution = _check_map(image, attribution)
    fractions = np.asarray(fractions, np.float64)
    if fractions.ndim != 1 or not len(fractions) or fractions.min() < 0 or fractions.max() > 1:
        raise ParameterError("fractions must be a list of numbers from 0 to 1.")
    tiebreak = np.random.default_rng(seed).random(attribution.size)
    order = np.lexsort((tiebreak, -attribution.ravel()))  # most relevant first
    rank = np.empty(attribution.size, np.int64)
    rank[order] = np.arange(attribution.size)
    rank = rank.reshape(attribution.shape)
    images = []
    for most_first in (True, False):
        for fraction in fractions:
            count = int(round(fraction * attribution.size))
            removed = rank < count if most_first else rank >= attribution.size - count
            images.append(noisy_linear_imputation(image, removed, seed=seed))
    scores = _scores(loaded_model, np.stack(images), class_index, batch_size, score)
    morf, lerf = scores[:len(fractions)], scores[len(fractions):]
    return RoadCurves(fractions, morf, lerf, float(morf.mean()), float(lerf.mean()))


# --- properties of the map alone ----------------------------------------------------------------------
def complexity(attribution: np.ndarray) -> float:
    """Complexity (Bhatt et al., 2020): the entropy of |attribution| as a distribution over pixels,
    divided by its maximum log(pixels): 0 = all on one pixel, 1 = spread evenly. Lower is simpler."""
    values = np.abs(np.asarray(attribution, np.float64)).ravel()
    if values.sum() == 0 or values.size < 2:
        return 0.0
    shares = values / values.sum()
    shares = shares[shares > 0]
    return float(-(shares * np.log(shares)).sum() / np.log(values.size))


def sparseness(attribution: np.ndarray) -> float:
    """Sparseness (Chalasani et al., 2020): the Gini index of |attribution|: 0 = uniform, (n-1)/n = one
    pixel. Higher is sparser (more concentrated)."""
    values = np.sort(np.abs(np.asarray(attribution, np.float64)).ravel())
    if values.sum() == 0:
        return 0.0
    count = values.size
    ranks = np.arange(1, count + 1)
    return float(((2 * ranks - count - 1) * values).sum() / (count * values.sum()))


# --- class and model sensitivity ------------------------------------------------------------------
@dataclass(frozen=True)
class RandomLogit:
    """Random-logit test: the map of another class against the map of the class (lower is better)."""

    other_class: int
    similarity: float  # structural similarity (SSIM) of the two drawn maps


def random_logit(loaded_model: LoadedModel, heatmap: Heatmap, seed: int = 0) -> RandomLogit:
    """Random-logit test (Sixt et al., When Explanations Lie, ICML 2020): explain a random other class
    with the same method; a map that explains the decision must change (low SSIM)."""
    from skimage.metrics import structural_similarity

    from cnnviz.explanation import explain_batch

    others = [c for c in range(loaded_model.num_classes) if c != heatmap.class_index]
    if not others:
        raise ParameterError("The random-logit test needs a model with at least two classes.")
    other = int(np.random.default_rng(seed).choice(others))
    changed = explain_batch(loaded_model, [heatmap.image], heatmap.method, class_index=other,
                            layer=heatmap.layer, fit="stretch", **dict(heatmap.params))[0]
    similarity = structural_similarity(heatmap.heatmap, changed.heatmap, data_range=1.0)
    return RandomLogit(other, float(similarity))


@dataclass(frozen=True)
class RandomisationCurve:
    """Cascading model randomisation: the map's similarity to the original as layers are re-drawn."""

    layers: tuple[str, ...]  # randomised cumulatively, from the output down
    rank_correlations: np.ndarray  # (layers + 1,): first value 1 (nothing randomised)
    ssims: np.ndarray


def cascading_randomisation(loaded_model: LoadedModel, heatmap: Heatmap, layers: int | None = None,
                            seed: int = 0, progress: ProgressCallback | None = None) -> RandomisationCurve:
    """Cascading model randomisation (Adebayo et al., Sanity Checks for Saliency Maps, NeurIPS 2018).

    The layers with weights are re-drawn one after the other from the output down (all of them, or
    the last ``layers``), cumulatively, on one copy of the model (:func:`randomized_model`'s
    re-drawing); after each step the image is explained again. A map that explains the model falls
    towards 0 rank correlation quickly; one that stays high shows the image, not the model.
    """
    from skimage.metrics import structural_similarity

    from cnnviz.explanation import explain_batch
    from cnnviz.graph import flat_graph

    copy = randomized_model(loaded_model, [], seed=seed)
    weighted = [entry.name for entry in flat_graph(copy).layers if entry.layer.weights]
    order = weighted[::-1][:layers] if layers is not None else weighted[::-1]
    rng = np.random.default_rng(seed)
    graph = flat_graph(copy)
    correlations, ssims = [1.0], [1.0]
    report(progress, 0, len(order))
    for step, name in enumerate(order, start=1):
        _redraw(graph[name].layer, rng)
        changed = explain_batch(copy, [heatmap.image], heatmap.method, class_index=heatmap.class_index,
                                layer=heatmap.layer, fit="stretch", **dict(heatmap.params))[0]
        correlations.append(rank_correlation(heatmap.heatmap, changed.heatmap))
        ssims.append(float(structural_similarity(heatmap.heatmap, changed.heatmap, data_range=1.0)))
        report(progress, step, len(order), layer=name)
    return RandomisationCurve(tuple(order), np.array(correlations), np.array(ssims))


# --- what the app shows ------------------------------------------------------------------------------
#: Subsets MuFidelity draws for a badge (one model run each).
BADGE_MU_SAMPLES = 64


@dataclass(frozen=True)
class MapMetrics:
    """The cheap figures shown beside each map: MuFidelity, complexity and sparseness."""

    mu_fidelity: float
    complexity: float
    sparseness: float


def map_metrics(loaded_model: LoadedModel, heatmap: Heatmap, samples: int = BADGE_MU_SAMPLES) -> MapMetrics:
    """MuFidelity (``samples`` subsets), complexity and sparseness of a heatmap's drawn map."""
    fidelity = mu_fidelity(loaded_model, heatmap.image, heatmap.heatmap, heatmap.class_index, samples=samples)
    return MapMetrics(fidelity, complexity(heatmap.heatmap), sparseness(heatmap.heatmap))


@dataclass(frozen=True)
class DeepChecks:
    """The checks that explain the image again (stability, random logit, randomisation) and ROAD."""

    road: RoadCurves
    stability: Stability
    random_logit: RandomLogit
    randomisation: RandomisationCurve


def deep_checks(loaded_model: LoadedModel, heatmap: Heatmap, stability_samples: int = 4,
                progress: ProgressCallback | None = None) -> DeepChecks:
    """ROAD, stability, the random-logit test and cascading randomisation of one heatmap."""
    curves = road(loaded_model, heatmap.image, heatmap.heatmap, heatmap.class_index)
    steady = stability(loaded_model, heatmap, samples=stability_samples)
    logit = random_logit(loaded_model, heatmap)
    curve = cascading_randomisation(loaded_model, heatmap, progress=progress)
    return DeepChecks(curves, steady, logit, curve)


__all__ = ["pointing_hits", "pointing_rate", "deletion_insertion", "DeletionInsertion", "confidence_change",
           "ConfidenceChange", "faithfulness", "Faithfulness", "rank_correlation", "randomized_model",
           "blurred", "mu_fidelity", "stability", "Stability", "road", "RoadCurves", "noisy_linear_imputation",
           "complexity", "sparseness", "random_logit", "RandomLogit", "cascading_randomisation",
           "RandomisationCurve", "map_metrics", "MapMetrics", "deep_checks", "DeepChecks"]
