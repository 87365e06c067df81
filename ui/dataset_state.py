"""The session's dataset, and the dataset image opened on the other pages.

The Dataset page opens a dataset (an uploaded zip or a generated set) and keeps it here, in
``st.session_state`` under a key no widget owns: it stays chosen on every page and after the
uploader is gone, and a session only ever sees the datasets it opened itself. Results computed on
it (evaluation, embedding) are cached in ``ui.dataset_engine`` keyed on ``Dataset.sha256()``, so a
session can only reach a cached result by having the same images.

An image picked from the dataset (a point of the embedding map, a button under an image) becomes
the sidebar's image source "From the dataset": :func:`pick_image` runs as a widget callback,
before the sidebar draws its widgets, and asks the page to switch to the Heatmaps page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import streamlit as st

from cnnviz.images import image_sha256
from ui import state

if TYPE_CHECKING:  # the sidebar imports this module on every page: keep it light
    from cnnviz.datasets import Dataset

DATASET_SOURCE = "dataset"  # the sidebar's image source for a picked dataset image
HEATMAPS_PAGE = "pages/heatmaps.py"
HEATMAPS_METHODS_KEY = "heatmaps.methods"  # the Heatmaps page's method picker

_DATASET = "cnnviz.dataset.current"
_PICKED = "cnnviz.dataset.picked_image"
_SWITCH = "cnnviz.dataset.switch_page"
_EXPLAIN_CLASS = "cnnviz.dataset.explain_class"


@dataclass(frozen=True, eq=False)
class DatasetChoice:
    """The session's dataset and where it came from (``origin`` identifies the upload or settings)."""

    dataset: Dataset
    sha256: str  # Dataset.sha256(): the cache key of everything computed on it
    origin: str  # "zip:<sha256 of the bytes>" or "generated:<n>:<seed>": not reopened while unchanged


def current_dataset() -> DatasetChoice | None:
    return st.session_state.get(_DATASET)


def set_dataset(choice: DatasetChoice | None) -> None:
    st.session_state[_DATASET] = choice


def picked_image() -> state.ImageChoice | None:
    """The dataset image last opened on the Heatmaps page (None if none was picked)."""
    return st.session_state.get(_PICKED)


def image_choice(dataset: Dataset, index: int) -> state.ImageChoice:
    """One dataset image as the app's current-image object (its true class and mask, if known)."""
    image = dataset.image(index)
    record = dataset.records[index]
    class_name = dataset.class_names[record.label] if record.label is not None else None
    return state.ImageChoice(image=image, sha256=image_sha256(image), name=record.file, source=DATASET_SOURCE,
                             preview=state.preview_of(image), class_name=class_name, mask=dataset.mask(index))


def pick_image(index: int, dataset: Dataset | None = None, method: str | None = None,
               class_name: str | None = None) -> None:
    """Widget callback: make image ``index`` of ``dataset`` (default: the session's dataset) the
    current image and open the Heatmaps page (the page calls :func:`switch_if_picked`). ``method``
    and ``class_name``: what an audit explained the image with, which the Heatmaps page then shows
    instead of its default methods and the top class, so the user sees the map that was clustered."""
    if dataset is None:
        choice = current_dataset()
        if choice is None:
            return
        dataset = choice.dataset
    st.session_state[_PICKED] = image_choice(dataset, int(index))
    if method is not None:
        st.session_state[HEATMAPS_METHODS_KEY] = [method]
    if class_name is not None:
        st.session_state[_EXPLAIN_CLASS] = class_name
    st.session_state[state.IMAGE_SOURCE_KEY] = DATASET_SOURCE
    st.session_state[_SWITCH] = True


def pop_class_to_explain() -> str | None:
    """The class an audit explained the picked image as (once: the Heatmaps page takes it)."""
    return st.session_state.pop(_EXPLAIN_CLASS, None)


def switch_if_picked() -> None:
    """Called by the pages that pick images (Dataset, Clever Hans lab): go to the Heatmaps page after
    :func:`pick_image`."""
    if st.session_state.pop(_SWITCH, False):
        st.switch_page(HEATMAPS_PAGE)
