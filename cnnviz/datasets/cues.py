"""Planting a shortcut ("Clever Hans" cue) in a dataset, and measuring whether a heatmap looks at it.

Lapuschkin et al. (Nature Communications 2019, "Unmasking Clever Hans predictors") found that the
winning PASCAL VOC model called images "horse" because of a copyright tag printed on many horse
photos. :func:`plant_cue` recreates that on any dataset: it marks a fraction of one class's images
with a cue (a semi-transparent white text "tag" in a corner as ImageNet-W does, a coloured "patch",
a colour "tint", a coloured "border") in the train, validation and test splits, and returns the
files that carry it: the ground truth the lab and the audit are checked against.

:func:`cue_test_versions` gives the test split three ways (the Backgrounds Challenge idea): the cue
as in training ("cued"), no cue at all ("clean"), and the cue moved onto the other classes'
images ("moved"). Train and validation images are the same in all three, so one model trained on
the cued dataset is scored on each. :func:`cue_region` is the cue's footprint (its bounding box for
a tag or patch, the frame for a border, the whole image for a tint) and :func:`cue_mass` the share
of a heatmap's mass that lies on it.

Pure NumPy + OpenCV; the transforms run lazily through ``Dataset.with_transform``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import cv2
import numpy as np

from cnnviz.errors import ClassIndexError, ParameterError

CUES: tuple[str, ...] = ("tag", "patch", "tint", "border")
POSITIONS: tuple[str, ...] = ("bottom-right", "bottom-left", "top-right", "top-left")
DEFAULT_CUE = "tag"
DEFAULT_POSITION = "bottom-right"
DEFAULT_FRACTION = 1.0
#: How strongly each cue is blended in (0 = invisible, 1 = opaque). ImageNet-W's watermark text is
#: drawn at opacity 0.5; a patch and a border are opaque; a tint is a 35 % colour cast.
DEFAULT_STRENGTH: dict[str, float] = {"tag": 0.5, "patch": 1.0, "tint": 0.35, "border": 1.0}
#: Colours (RGB): a tag is white as in ImageNet-W; patch, border and tint a saturated magenta that
#: the generated shapes' backgrounds rarely come near.
TAG_COLOUR = (255, 255, 255)
CUE_COLOUR = (255, 0, 200)
TAG_TEXT = "(c) FOTO"
#: The tag's box as a fraction of the image side (width, height), the patch's side, the border's
#: thickness, and the margin between a corner cue and the image edge.
TAG_BOX = (0.5, 0.2)
PATCH_SIDE = 0.16
BORDER_THICKNESS = 0.06
CORNER_MARGIN = 0.08
TEST_VERSIONS: tuple[str, ...] = ("cued", "clean", "moved")
_TAG_RENDER_HEIGHT = 64  # the text is drawn this tall, then shrunk to the box (anti-aliased)


def _corner_box(position: str, height: int, width: int, box_height: int, box_width: int) -> tuple[int, int]:
    """(top, left) of a box of the given size in the corner named by ``position``."""
    margin = max(0, round(CORNER_MARGIN * min(height, width)))
    top = margin if position.startswith("top") else height - margin - box_height
    left = margin if position.endswith("left") else width - margin - box_width
    return max(top, 0), max(left, 0)


@lru_cache(maxsize=32)
def _tag_alpha(box_height: int, box_width: int) -> np.ndarray:
    """The tag text's coverage (box_height, box_width) float32 in [0, 1], drawn large then shrunk."""
    font, thickness = cv2.FONT_HERSHEY_SIMPLEX, 4
    scale = cv2.getFontScaleFromHeight(font, _TAG_RENDER_HEIGHT, thickness)
    (text_width, text_height), baseline = cv2.getTextSize(TAG_TEXT, font, scale, thickness)
    canvas = np.zeros((text_height + baseline + 2 * thickness, text_width + 2 * thickness), np.uint8)
    cv2.putText(canvas, TAG_TEXT, (thickness, text_height + thickness), font, scale, 255, thickness,
                cv2.LINE_AA)
    small = cv2.resize(canvas, (box_width, box_height), interpolation=cv2.INTER_AREA)
    return small.astype(np.float32) / 255.0


@dataclass(frozen=True)
class Cue:
    """A visual cue: its kind (one of :data:`CUES`), corner and strength (opacity, 0..1)."""

    kind: str = DEFAULT_CUE
    position: str = DEFAULT_POSITION
    strength: float | None = None  # None: DEFAULT_STRENGTH of the kind

    def __post_init__(self) -> None:
        if self.kind not in CUES:
            raise ParameterError(f"Unknown cue {self.kind!r}; choose one of {', '.join(CUES)}.")
        if self.position not in POSITIONS:
            raise ParameterError(f"Unknown cue position {self.position!r}; "
                                 f"choose one of {', '.join(POSITIONS)}.")
        strength = DEFAULT_STRENGTH[self.kind] if self.strength is None else self.strength
        if isinstance(strength, bool) or not isinstance(strength, (int, float, np.number)) or not (
                0.0 < float(strength) <= 1.0):
            raise ParameterError(f"The cue's strength is an opacity: a number above 0 and at most 1, "
                                 f"not {self.strength!r}.")
        object.__setattr__(self, "strength", float(strength))

    @property
    def name(self) -> str:
        """A short description, e.g. "tag bottom-right 0.5" (also part of the dataset's identity)."""
        where = f" {self.position}" if self.kind in ("tag", "patch") else ""
        return f"{self.kind}{where} {self.strength:g}"

    def _box(self, height: int, width: int) -> tuple[int, int, int, int]:
        """(top, left, box height, box width) of a tag or patch."""
        side = min(height, width)
        if self.kind == "tag":
            box_height, box_width = max(3, round(TAG_BOX[1] * side)), max(6, round(TAG_BOX[0] * side))
        else:
            box_height = box_width = max(2, round(PATCH_SIDE * side))
        top, left = _corner_box(self.position, height, width, box_height, box_width)
        return top, left, min(box_height, height), min(box_width, width)

    def alpha(self, height: int, width: int) -> np.ndarray:
        """How much of the cue's colour each pixel gets, float32 (height, width) in [0, strength]."""
        alpha = np.zeros((height, width), np.float32)
        if self.kind == "tint":
            alpha[:] = 1.0
        elif self.kind == "border":
            thick = max(1, round(BORDER_THICKNESS * min(height, width)))
            alpha[:thick], alpha[-thick:], alpha[:, :thick], alpha[:, -thick:] = 1.0, 1.0, 1.0, 1.0
        else:
            top, left, box_height, box_width = self._box(height, width)
            block = _tag_alpha(box_height, box_width) if self.kind == "tag" else 1.0
            alpha[top:top + box_height, left:left + box_width] = block
        return alpha * np.float32(self.strength)

    def region(self, height: int, width: int) -> np.ndarray:
        """The cue's footprint, bool (height, width): the box of a tag or patch (the text's whole
        box, not its strokes: heatmaps are coarser than letters), the frame of a border, every
        pixel for a tint."""
        if self.kind == "tag":
            top, left, box_height, box_width = self._box(height, width)
            region = np.zeros((height, width), bool)
            region[top:top + box_height, left:left + box_width] = True
            return region
        return self.alpha(height, width) > 0

    def apply(self, image: np.ndarray, index: int = 0) -> np.ndarray:
        """A copy of the RGB uint8 ``image`` with the cue blended in (``index`` is unused: the same
        cue on every image, as a copyright tag is)."""
        height, width = image.shape[:2]
        alpha = self.alpha(height, width)[..., None]
        colour = np.array(TAG_COLOUR if self.kind == "tag" else CUE_COLOUR, np.float32)
        blended = image.astype(np.float32) * (1.0 - alpha) + colour * alpha
        return np.clip(np.rint(blended), 0, 255).astype(np.uint8)

    def __call__(self, image: np.ndarray, index: int) -> np.ndarray:
        return self.apply(image, index)


def _check_fraction(fraction: Any) -> float:
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float, np.number)) or not (
            0.0 < float(fraction) <= 1.0):
        raise ParameterError(f"The fraction of the class's images that get the cue must be above 0 and at "
                             f"most 1 (0.3 = 30 %), not {fraction!r}.")
    return float(fraction)


def class_index_of(dataset: Any, class_name: str) -> int:
    """The index of ``class_name`` in the dataset's classes (ClassIndexError naming them otherwise)."""
    names = tuple(dataset.class_names)
    if not names:
        raise ClassIndexError(f"{dataset.name} has no classes (unlabelled images): a cue is planted on "
                              "one class, so give a folder with one subfolder per class.")
    text = str(class_name).strip()
    lowered = [name.lower() for name in names]
    if text.lower() in lowered:
        return lowered.index(text.lower())
    raise ClassIndexError(f"{dataset.name} has no class {class_name!r}; its classes are: {', '.join(names)}.")


@dataclass(frozen=True)
class Shortcut:
    """A cue planted on a fraction of one class: which images get it in each test version.

    The images are drawn per split (train, validation, test), ``round(fraction * n)`` of the class's
    images in each (at least one), with ``seed``: the same seed picks the same images.
    """

    class_name: str
    cue: Cue = field(default_factory=Cue)
    fraction: float = DEFAULT_FRACTION
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "fraction", _check_fraction(self.fraction))
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)):
            raise ParameterError(f"The seed must be a whole number, not {self.seed!r}.")

    def _pick(self, dataset: Any, split: str, own_class: bool) -> np.ndarray:
        """The indices of ``split`` that get the cue: the class's images, or the other classes'."""
        target = class_index_of(dataset, self.class_name)
        indices = np.asarray(dataset.indices(split))
        labels = np.asarray(dataset.labels(indices))
        split_number = ("train", "val", "test").index(split)
        chosen = []
        for label in ([target] if own_class else sorted(set(labels.tolist()) - {target})):
            members = np.sort(indices[labels == label])
            if not len(members):
                continue
            count = max(1, round(self.fraction * len(members)))
            rng = np.random.default_rng([self.seed, split_number, int(label)])
            chosen.append(rng.choice(members, size=count, replace=False))
        return np.sort(np.concatenate(chosen)).astype(np.int64) if chosen else np.zeros(0, np.int64)

    def training_indices(self, dataset: Any) -> np.ndarray:
        """The class's train and validation images that carry the cue (the same in every version)."""
        return np.union1d(self._pick(dataset, "train", True), self._pick(dataset, "val", True))

    def test_indices(self, dataset: Any, version: str) -> np.ndarray:
        """The test images that carry the cue in ``version`` ("cued", "clean" or "moved")."""
        if version not in TEST_VERSIONS:
            raise ParameterError(f"Unknown test version {version!r}; "
                                 f"choose one of {', '.join(TEST_VERSIONS)}.")
        if version == "clean":
            return np.zeros(0, np.int64)
        return self._pick(dataset, "test", own_class=version == "cued")

    def cued_indices(self, dataset: Any, version: str = "cued") -> np.ndarray:
        """Every image that carries the cue in ``version``, sorted."""
        return np.union1d(self.training_indices(dataset), self.test_indices(dataset, version))

    def apply(self, dataset: Any, version: str = "cued") -> Any:
        """The dataset with the cue on :meth:`cued_indices` (read lazily, through with_transform)."""
        indices = self.cued_indices(dataset, version)
        name = f"{self.cue.name} on {self.fraction:g} of {self.class_name} (seed {self.seed}, test {version})"
        return dataset.with_transform(self.cue, indices, name=name)

    def versions(self, dataset: Any) -> dict[str, Any]:
        """The three test versions of :data:`TEST_VERSIONS`: name -> dataset."""
        return {version: self.apply(dataset, version) for version in TEST_VERSIONS}


def files_of(dataset: Any, indices: Sequence[int] | np.ndarray) -> list[str]:
    """The record files of ``indices`` (as the user knows them)."""
    return [dataset.records[int(i)].file for i in indices]


def plant_cue(dataset: Any, class_name: str, cue: str = DEFAULT_CUE, fraction: float = DEFAULT_FRACTION,
              position: str = DEFAULT_POSITION, strength: float | None = None,
              seed: int = 0) -> tuple[Any, list[str]]:
    """``dataset`` with ``cue`` on ``fraction`` of ``class_name``'s images, and the files that carry it.

    The cue is on the class's images in every split (train, validation and test: the test split as
    in training, the "cued" version of :func:`cue_test_versions`); images of other classes are
    untouched. ``cue``: one of :data:`CUES`; ``position``: a corner (:data:`POSITIONS`, for the tag
    and the patch); ``strength``: the opacity (default :data:`DEFAULT_STRENGTH`); ``seed`` picks
    the images.
    """
    shortcut = Shortcut(class_name, Cue(cue, position, strength), fraction, seed)
    return shortcut.apply(dataset, "cued"), files_of(dataset, shortcut.cued_indices(dataset, "cued"))


def cue_test_versions(dataset: Any, class_name: str, cue: str = DEFAULT_CUE,
                      fraction: float = DEFAULT_FRACTION, position: str = DEFAULT_POSITION,
                      strength: float | None = None, seed: int = 0) -> dict[str, Any]:
    """Three datasets with the same cued train and validation images as :func:`plant_cue` (same
    arguments) and their test split as in training ("cued"), without any cue ("clean"), or with
    the cue on ``fraction`` of each *other* class's test images instead ("moved")."""
    return Shortcut(class_name, Cue(cue, position, strength), fraction, seed).versions(dataset)


def cue_region(shape: Sequence[int], cue: str = DEFAULT_CUE, position: str = DEFAULT_POSITION) -> np.ndarray:
    """The ground-truth region of a cue on an image of ``shape`` (height, width, ...): bool mask."""
    return Cue(cue, position).region(int(shape[0]), int(shape[1]))


def cue_mass(heatmap: np.ndarray, region: np.ndarray) -> float:
    """The share of the heatmap's (non-negative) mass that lies on ``region``: 0..1.

    Negative values are clipped to 0 (evidence against the class is not attention). A map with no
    mass gives NaN (it points nowhere). ``heatmap`` and ``region`` have the same (height, width):
    use ``Heatmap.on_original()`` for an image that was resized for the model.
    """
    values = np.maximum(np.asarray(heatmap, np.float64), 0.0)
    region = np.asarray(region, bool)
    if values.shape != region.shape:
        raise ParameterError(f"The heatmap is {values.shape} but the cue region is {region.shape}; "
                             "bring the heatmap to the image's size first (Heatmap.on_original()).")
    total = values.sum()
    return float(values[region].sum() / total) if total > 0 else float("nan")


def mean_cue_mass(heatmaps: Sequence[np.ndarray], regions: Sequence[np.ndarray]) -> float:
    """The mean of :func:`cue_mass` over several maps (maps without mass left out; NaN if none)."""
    masses = [cue_mass(h, r) for h, r in zip(heatmaps, regions, strict=True)]
    masses = [m for m in masses if not np.isnan(m)]
    return float(np.mean(masses)) if masses else float("nan")


__all__ = ["CUES", "POSITIONS", "TEST_VERSIONS", "DEFAULT_STRENGTH", "Cue", "Shortcut", "plant_cue",
           "cue_test_versions", "cue_region", "cue_mass", "mean_cue_mass", "class_index_of", "files_of"]
