"""Cached calls into ``cnnviz.datasets`` for the Dataset page.

The pattern of ``ui.engine``: results are ``st.cache_data`` keyed on the model's key, the dataset's
sha256 (``Dataset.sha256()``: its images and transforms) and the parameters; the model, the dataset
and the progress bar are unhashed ``_``-arguments. A cache hit needs the same images, so sessions
never reach each other's results by accident. Opening a dataset is not cached across sessions:
each session keeps its own ``Dataset`` (``ui.dataset_state``).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import numpy as np
import streamlit as st

import cnnviz.datasets
from cnnviz.datasets import Dataset, generated, open_dataset
from cnnviz.render import inside as render_inside
from ui import engine
from ui.dataset_state import DatasetChoice, image_choice
from ui.state import ImageChoice, ModelChoice

if TYPE_CHECKING:
    from cnnviz.datasets import Embedding, Evaluation

EVALUATION_CACHE_ENTRIES = 8
EMBEDDING_CACHE_ENTRIES = 8
THUMBNAIL_CACHE_ENTRIES = 16
IMAGE_CACHE_ENTRIES = 128
AUDIT_CACHE_ENTRIES = 4
THUMBNAIL_SIDE = 48  # pixels: the embedding map's thumbnails and the sample grid's tiles are made from these
HEATMAP_METHOD = "gradcam"
HEATMAP_FIT = "crop"  # what cnnviz.datasets uses to fit images to the model (Dataset.batches' default)


def open_zip(name: str, data: bytes, progress: Any = None) -> DatasetChoice:
    """An uploaded zip of class folders as this session's dataset (typed DatasetError if unusable)."""
    dataset = open_dataset(data, name=name, progress=progress)
    return DatasetChoice(dataset, dataset.sha256(), zip_origin(data))


def zip_origin(data: bytes) -> str:
    return f"zip:{hashlib.sha256(data).hexdigest()}"


def open_generated(images_per_class: int, seed: int) -> DatasetChoice:
    """A generated shapes set (N per class, seeded, with masks) as this session's dataset."""
    dataset = open_dataset(generated(int(images_per_class), seed=int(seed)), seed=int(seed))
    return DatasetChoice(dataset, dataset.sha256(), generated_origin(images_per_class, seed))


def generated_origin(images_per_class: int, seed: int) -> str:
    return f"generated:{int(images_per_class)}:{int(seed)}"


@st.cache_data(max_entries=EVALUATION_CACHE_ENTRIES, show_spinner=False)
def _evaluate(model_key: str, dataset_sha256: str, split: str, _loaded: Any, _dataset: Dataset,
              _progress: Any = None) -> Evaluation:
    return cnnviz.datasets.evaluate(_loaded, _dataset, split=split, progress=_progress)


def evaluation(model: ModelChoice, choice: DatasetChoice, split: str, progress: Any = None) -> Evaluation:
    """The model evaluated on the dataset's ``split`` ("test" or "all"), computed once per input."""
    return _evaluate(model.key, choice.sha256, split, model.loaded, choice.dataset, _progress=progress)


@st.cache_data(max_entries=EMBEDDING_CACHE_ENTRIES, show_spinner=False)
def _embed(model_key: str, dataset_sha256: str, layer: str, projection: str, split: str, seed: int,
           _loaded: Any, _dataset: Dataset, _progress: Any = None) -> Embedding:
    return cnnviz.datasets.embed(_loaded, _dataset, layer=layer or None, projection=projection, split=split,
                                 seed=seed, progress=_progress)


def embedding(model: ModelChoice, choice: DatasetChoice, layer: str, projection: str, split: str,
              seed: int = 0, progress: Any = None) -> Embedding:
    """Features of every image of ``split`` at ``layer`` ("" = the layer before the classifier), their
    2-D projection and the kNN accuracy, computed once per input."""
    return _embed(model.key, choice.sha256, layer, projection, split, seed, model.loaded, choice.dataset,
                  _progress=progress)


@st.cache_data(max_entries=THUMBNAIL_CACHE_ENTRIES, show_spinner=False)
def _thumbnails(dataset_sha256: str, indices: tuple[int, ...], side: int, _dataset: Dataset) -> np.ndarray:
    tiles = [render_inside.fit_square(_dataset.image(i), side) for i in indices]
    return np.stack(tiles) if tiles else np.zeros((0, side, side, 3), np.uint8)


def thumbnails(choice: DatasetChoice, indices: Any, side: int = THUMBNAIL_SIDE) -> np.ndarray:
    """(n, side, side, 3) uint8 squares of the images at ``indices`` (aspect kept), decoded once."""
    return _thumbnails(choice.sha256, tuple(int(i) for i in indices), side, choice.dataset)


@st.cache_data(max_entries=IMAGE_CACHE_ENTRIES, show_spinner=False)
def _image(dataset_sha256: str, index: int, _dataset: Dataset) -> ImageChoice:
    return image_choice(_dataset, index)


def dataset_image(choice: DatasetChoice, index: int) -> ImageChoice:
    """Dataset image ``index`` decoded once, as an ImageChoice (the key ``ui.engine`` caches on)."""
    return _image(choice.sha256, int(index), choice.dataset)


def heatmap(model: ModelChoice, choice: DatasetChoice, index: int, class_index: int):
    """Grad-CAM of dataset image ``index`` for ``class_index``, cached by ``ui.engine``."""
    return engine.explain(model, dataset_image(choice, index), HEATMAP_METHOD, int(class_index),
                          fit=HEATMAP_FIT)


@st.cache_data(max_entries=AUDIT_CACHE_ENTRIES, show_spinner=False)
def _audit(model_key: str, dataset_sha256: str, split: str, class_name: str, method: str, _loaded: Any,
           _dataset: Dataset, _progress: Any = None) -> tuple[Any, dict[int, np.ndarray]]:
    from cnnviz.audit import audit, member_images

    result = audit(_loaded, _dataset, class_name, method, split=split, progress=_progress)
    return result, member_images(result, _dataset, _loaded.input_size)


def class_audit(model: ModelChoice, choice: DatasetChoice, split: str, class_name: str, method: str,
                progress: Any = None) -> tuple[Any, dict[int, np.ndarray]]:
    """The SpRAy audit of one class of the dataset (``cnnviz.audit.audit``) and the images of its
    clusters' typical members, computed once per input."""
    return _audit(model.key, choice.sha256, split, class_name, method, model.loaded, choice.dataset,
                  _progress=progress)
