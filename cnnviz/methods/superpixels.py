"""What LIME and KernelSHAP share: superpixels (scikit-image SLIC), the class score of images with some
superpixels replaced by a fill, and a weighted least-squares fit of those scores.

A coalition z (samples, segments) of 0/1 says which superpixels are shown; hidden ones show the fill
image (occlusion's fills: the image's mean colour by default; "zero" is black pixels).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnviz.methods.core import check_choice, check_positive_int
from cnnviz.methods.occlusion import FILLS, fill_image
from cnnviz.methods.perturbation import check_sampling, masked_scores
from cnnviz.models import LoadedModel
from cnnviz.progress import ProgressCallback

DEFAULT_SEGMENTS = 50
MAX_SEGMENTS = 500
MAX_SAMPLES = 20000
#: SLIC's balance between colour and space (scikit-image's default for RGB images).
COMPACTNESS = 10.0


def segment(pixels: np.ndarray, segments: int) -> np.ndarray:
    """SLIC superpixels (Achanta et al., 2012) of an image: labels 0..k-1 (height, width)."""
    from skimage.segmentation import slic

    labels = slic(pixels, n_segments=segments, compactness=COMPACTNESS, start_label=0)
    _, dense = np.unique(labels, return_inverse=True)  # labels without gaps
    return dense.reshape(labels.shape).astype(np.int32)


def coalition_scores(loaded_model: LoadedModel, pixels: np.ndarray, labels: np.ndarray,
                     coalitions: np.ndarray, class_index: int, params: dict[str, Any],
                     progress: ProgressCallback | None, done: int, total: int, image: int) -> np.ndarray:
    """The class score of each coalition (hidden superpixels show the fill), batched."""
    patch = max(1, int(np.sqrt(labels.size / max(1, labels.max() + 1))))
    fill = fill_image(pixels, params["fill"], patch, loaded_model)

    def masks(part: slice) -> np.ndarray:
        return coalitions[part][:, labels].astype(np.float32)  # (batch, height, width)

    return masked_scores(loaded_model, pixels, masks, len(coalitions), class_index, params, space="pixels",
                         fill=fill, progress=progress, done=done, total=total, image=image)


def weighted_least_squares(features: np.ndarray, targets: np.ndarray, weights: np.ndarray,
                           ridge: float = 0.0) -> tuple[np.ndarray, float]:
    """Coefficients and intercept minimising sum w (y - b - x.beta)^2 + ridge |beta|^2 (the intercept
    is not penalised, as scikit-learn's Ridge with sample weights, which LIME uses)."""
    shares = weights / weights.sum()
    mean_x = shares @ features
    mean_y = float(shares @ targets)
    centred = features - mean_x
    gram = centred.T @ (centred * weights[:, None]) + ridge * np.eye(features.shape[1])
    coefficients = np.linalg.lstsq(gram, centred.T @ (weights * (targets - mean_y)), rcond=None)[0]
    return coefficients, mean_y - float(mean_x @ coefficients)


def paint(labels: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Each superpixel filled with its value (height, width)."""
    return values[labels].astype(np.float32)


def check(params: dict[str, Any], loaded_model: LoadedModel) -> None:
    check_sampling(params, MAX_SAMPLES)
    check_positive_int(params, "segments", minimum=2, maximum=MAX_SEGMENTS)
    check_choice(params, "fill", FILLS)
