"""Translation, rotation and scale probe: how the top class probability changes as the image moves.

Convolutions are translation-equivariant and pooling adds a little local invariance, but a whole CNN
is not invariant: shifting an image by a few pixels can change its prediction (Azulay & Weiss 2019,
"Why do deep convolutional networks generalize so poorly to small image transformations?"; Engstrom
et al. 2019 for rotations). The probe transforms the model-input image over a range and classifies
every version in batches.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np

from cnnviz.errors import ParameterError
from cnnviz.models import LoadedModel
from cnnviz.prediction import DEFAULT_BATCH_SIZE, class_probabilities, model_input
from cnnviz.progress import ProgressCallback

#: transform -> (unit shown to users, default values)
TRANSFORMS: dict[str, tuple[str, np.ndarray]] = {
    "shift_x": ("fraction of the width (right is positive)", np.linspace(-0.5, 0.5, 21)),
    "shift_y": ("fraction of the height (down is positive)", np.linspace(-0.5, 0.5, 21)),
    "rotate": ("degrees (anticlockwise)", np.arange(-180, 181, 15, dtype=np.float64)),
    "scale": ("scale factor", np.linspace(0.4, 1.6, 25)),
}
FILLS = ("mean", "reflect", "black")
MAX_VALUES = 361  # one probe per degree of a full turn at most


@dataclass(frozen=True)
class InvarianceProbe:
    """Probabilities of one class (and the top class) for each transformed version of an image."""

    transform: str
    unit: str
    values: np.ndarray  # (n,) transformation amounts
    class_index: int  # the class followed (the top class of the untransformed image by default)
    label: str
    probabilities: np.ndarray  # (n,) probability of class_index
    top_classes: np.ndarray  # (n,) top class of each version
    top_probabilities: np.ndarray  # (n,)
    images: np.ndarray  # (n, h, w, 3) uint8, the transformed model inputs
    fill: str
    seconds: float


def transform_image(image: np.ndarray, transform: str, value: float, fill: str = "mean") -> np.ndarray:
    """The image shifted, rotated or scaled about its centre (same size, uncovered area filled)."""
    height, width = image.shape[:2]
    centre = ((width - 1) / 2, (height - 1) / 2)
    if transform == "shift_x":
        matrix = np.float32([[1, 0, value * width], [0, 1, 0]])
    elif transform == "shift_y":
        matrix = np.float32([[1, 0, 0], [0, 1, value * height]])
    elif transform == "rotate":
        matrix = cv2.getRotationMatrix2D(centre, float(value), 1.0)
    elif transform == "scale":
        matrix = cv2.getRotationMatrix2D(centre, 0.0, float(value))
    else:
        raise ParameterError(f"Unknown transform {transform!r}; choose one of {', '.join(TRANSFORMS)}.")
    if fill == "reflect":
        border, colour = cv2.BORDER_REFLECT_101, (0, 0, 0)
    elif fill in ("mean", "black"):
        border = cv2.BORDER_CONSTANT
        colour = tuple(float(c) for c in image.reshape(-1, 3).mean(axis=0)) if fill == "mean" else (0, 0, 0)
    else:
        raise ParameterError(f"Unknown fill {fill!r}; choose one of {', '.join(FILLS)}.")
    return cv2.warpAffine(
        image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=border, borderValue=colour
    )


def _check_values(transform: str, values: np.ndarray | list[float] | None) -> np.ndarray:
    if transform not in TRANSFORMS:
        raise ParameterError(f"Unknown transform {transform!r}; choose one of {', '.join(TRANSFORMS)}.")
    array = TRANSFORMS[transform][1] if values is None else np.asarray(values, dtype=np.float64).reshape(-1)
    if not 1 <= array.size <= MAX_VALUES or not np.all(np.isfinite(array)):
        raise ParameterError(f"Give between 1 and {MAX_VALUES} finite transformation values.")
    if transform == "scale" and np.any(array <= 0):
        raise ParameterError("Scale factors must be positive (1 keeps the image as it is).")
    return array


def invariance_probe(
    loaded_model: LoadedModel,
    image: np.ndarray,
    transform: str = "shift_x",
    values: np.ndarray | list[float] | None = None,
    class_index: int | str | None = None,
    fill: str = "mean",
    fit: str = "crop",
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: ProgressCallback | None = None,
) -> InvarianceProbe:
    """Classify the image shifted, rotated or scaled over ``values`` and follow one class's probability."""
    started = time.perf_counter()
    amounts = _check_values(transform, values)
    pixels = model_input(loaded_model, image, fit)
    versions = np.stack([transform_image(pixels, transform, float(v), fill) for v in amounts])
    probabilities = class_probabilities(loaded_model, versions, fit, batch_size, progress)
    if class_index is None:
        with loaded_model.lock:
            target = int(np.argmax(loaded_model.probabilities(pixels[None])[0]))
    else:
        target = loaded_model.class_index(class_index)
    return InvarianceProbe(
        transform=transform,
        unit=TRANSFORMS[transform][0],
        values=amounts,
        class_index=target,
        label=loaded_model.class_names[target],
        probabilities=probabilities[:, target],
        top_classes=probabilities.argmax(axis=1),
        top_probabilities=probabilities.max(axis=1),
        images=versions,
        fill=fill,
        seconds=time.perf_counter() - started,
    )
