"""Data augmentation: random flips, rotations, zooms, shifts, contrast and brightness changes.

Each transformation has a strength (Keras' "factor": a fraction of a full turn for rotation, of the
image side for zoom and translation, of the value range for contrast and brightness). The layers run
in the tf.data pipeline (``dataset.map``: asynchronous on CPU, and the exported model carries none
of them), on raw 0..255 pixels. Augmentation is the classic remedy against overfitting small
datasets (Krizhevsky et al. 2012; Simard et al. 2003) that the lectures use when fine-tuning.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from cnnviz.errors import ParameterError

FLIP_MODES = ("horizontal", "vertical", "horizontal_and_vertical")
#: The strength each transformation gets when it is named without one (CLI --augment flip,zoom).
DEFAULT_STRENGTHS: dict[str, float] = {"rotation": 0.05, "zoom": 0.1, "translation": 0.1,
                                       "contrast": 0.2, "brightness": 0.2}
NAMES = ("flip", *DEFAULT_STRENGTHS)
MAX_STRENGTH = 1.0
PREVIEW_VERSIONS = 6


@dataclass(frozen=True)
class Augmentation:
    """Which random transformations to apply, and how strongly (0 = off)."""

    flip: str | None = None  # one of FLIP_MODES
    rotation: float = 0.0
    zoom: float = 0.0
    translation: float = 0.0
    contrast: float = 0.0
    brightness: float = 0.0

    def __post_init__(self) -> None:
        if self.flip is not None and self.flip not in FLIP_MODES:
            raise ParameterError(f"flip must be one of {', '.join(FLIP_MODES)} or None, not {self.flip!r}.")
        for name in DEFAULT_STRENGTHS:
            value = getattr(self, name)
            if not 0.0 <= float(value) <= MAX_STRENGTH:
                raise ParameterError(f"The {name} strength must be between 0 and {MAX_STRENGTH}, not {value}.")

    @property
    def enabled(self) -> bool:
        return self.flip is not None or any(getattr(self, name) > 0 for name in DEFAULT_STRENGTHS)

    def describe(self) -> str:
        """e.g. "flip horizontal, rotation 0.05, zoom 0.1" (or "none")."""
        parts = [f"flip {self.flip}"] if self.flip else []
        parts += [f"{name} {getattr(self, name):g}" for name in DEFAULT_STRENGTHS if getattr(self, name) > 0]
        return ", ".join(parts) or "none"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_names(cls, names: str | list[str] | tuple[str, ...]) -> Augmentation:
        """"flip,rotation,zoom" (the CLI's --augment): each named transformation at its default strength."""
        items = [n.strip().lower() for n in (names.split(",") if isinstance(names, str) else names)]
        unknown = [n for n in items if n and n not in NAMES]
        if unknown:
            raise ParameterError(f"Unknown augmentation {', '.join(unknown)}; choose from {', '.join(NAMES)}.")
        chosen: dict[str, Any] = {n: DEFAULT_STRENGTHS[n] for n in items if n in DEFAULT_STRENGTHS}
        if "flip" in items:
            chosen["flip"] = "horizontal"
        return replace(cls(), **chosen)


NO_AUGMENTATION = Augmentation()


def augmentation_layers(augmentation: Augmentation, seed: int) -> list[Any]:
    """The Keras preprocessing layers of ``augmentation``, each seeded (seed, seed + 1, ...)."""
    import keras

    layers: list[Any] = []
    if augmentation.flip:
        layers.append(keras.layers.RandomFlip(augmentation.flip, seed=seed))
    if augmentation.rotation:
        layers.append(keras.layers.RandomRotation(augmentation.rotation, fill_mode="reflect", seed=seed + 1))
    if augmentation.zoom:
        layers.append(keras.layers.RandomZoom(augmentation.zoom, fill_mode="reflect", seed=seed + 2))
    if augmentation.translation:
        layers.append(keras.layers.RandomTranslation(augmentation.translation, augmentation.translation,
                                                     fill_mode="reflect", seed=seed + 3))
    if augmentation.contrast:
        layers.append(keras.layers.RandomContrast(augmentation.contrast, value_range=(0, 255), seed=seed + 4))
    if augmentation.brightness:
        layers.append(keras.layers.RandomBrightness(augmentation.brightness, value_range=(0, 255),
                                                    seed=seed + 5))
    return layers


def augmenter(augmentation: Augmentation, seed: int) -> Any:
    """A function of a float32 batch (n, h, w, 3), 0..255 -> an augmented batch, clipped to 0..255."""
    import tensorflow as tf

    layers = augmentation_layers(augmentation, seed)

    def augment(images: Any) -> Any:
        for layer in layers:
            images = layer(images, training=True)
        return tf.clip_by_value(images, 0.0, 255.0)

    return augment


def preview(images: np.ndarray | list[np.ndarray], augmentation: Augmentation, *,
            versions: int = PREVIEW_VERSIONS, seed: int = 0) -> np.ndarray:
    """A grid of augmented versions: row i holds image i as given, then ``versions`` random versions.

    ``images``: RGB uint8 of one size (n, h, w, 3). Returns uint8 (n * h, (versions + 1) * w, 3).
    The same seed gives the same grid.
    """
    import tensorflow as tf

    batch = np.asarray(images)
    if batch.ndim != 4 or batch.shape[-1] != 3 or batch.dtype != np.uint8:
        raise ParameterError("preview takes RGB uint8 images of one size, as an (n, h, w, 3) array.")
    if not 1 <= versions <= 32:
        raise ParameterError(f"versions must be 1 to 32, not {versions}.")
    augment = augmenter(augmentation, seed)
    pixels = tf.convert_to_tensor(batch, tf.float32)
    columns = [batch] + [np.rint(augment(pixels).numpy()).astype(np.uint8) for _ in range(versions)]
    n, h, w, _ = batch.shape
    grid = np.stack(columns, axis=1)  # (n, versions + 1, h, w, 3)
    return grid.transpose(0, 2, 1, 3, 4).reshape(n * h, (versions + 1) * w, 3)

