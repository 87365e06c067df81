"""The Train page's dataset: the Dataset page's (when that page is installed), a generated shapes set,
or an uploaded zip of class folders. Opened datasets stay in this session's state (never shared)."""

from __future__ import annotations

import hashlib
from typing import Any

import streamlit as st

from cnnviz.datasets import Dataset, generated, open_dataset

_MEMO = "cnnviz.train.dataset_memo"  # (origin, Dataset) of the last opened set, reused while unchanged


def dataset_page_dataset() -> Dataset | None:
    """The dataset opened on the Dataset page in this session (None if none, or no such page)."""
    try:
        from ui.dataset_state import current_dataset
    except ImportError:  # the Dataset page is not part of this installation
        return None
    choice = current_dataset()
    return None if choice is None else choice.dataset


def _memo(origin: str, open_: Any) -> Dataset:
    memo = st.session_state.get(_MEMO)
    if memo is not None and memo[0] == origin:
        return memo[1]
    dataset = open_()
    st.session_state[_MEMO] = (origin, dataset)
    return dataset


def generated_dataset(images_per_class: int, seed: int) -> Dataset:
    """A generated shapes set (8 classes), opened once per setting."""
    return _memo(f"generated:{images_per_class}:{seed}",
                 lambda: open_dataset(generated(int(images_per_class), seed=int(seed)), seed=int(seed)))


def zip_dataset(name: str, data: bytes) -> Dataset:
    """An uploaded zip of class folders (typed DatasetError if unusable), opened once per file."""
    return _memo(f"zip:{hashlib.sha256(data).hexdigest()}", lambda: open_dataset(data, name=name))
