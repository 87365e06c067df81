"""Page settings that survive a visit to another page.

Streamlit deletes a widget's value at the end of a run that did not draw the widget, so leaving the
Train page (or the Clever Hans lab) and coming back reset every setting, the chosen image source
included. :func:`keep_settings`, called by the entry script before each page runs, copies the listed
widgets' values aside while they exist and puts them back when the page draws them again (after
"Working with widgets in multipage apps", docs.streamlit.io). Only value widgets with fixed options
are listed: buttons and uploads refuse values set this way, and a choice among a dataset's classes
may not exist any more; an uploaded zip is kept by :func:`kept_zip_upload` instead.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from cnnviz.training.augmentation import DEFAULT_STRENGTHS

#: Widget keys (exact, or a prefix ending in ".") whose values are kept.
KEPT_WIDGETS = (
    "train.source", "train.generated_n", "train.generated_seed", "train.backbone", "train.weights", "train.cut.",
    "train.strategy", "train.epochs.", "train.batch", "train.lr", "train.patience", "train.ft_epochs",
    "train.ft_layers", "train.ft_factor", "train.aug.flip", *(f"train.aug.{name}" for name in DEFAULT_STRENGTHS),
    "clever_hans.kind", "clever_hans.seed", "clever_hans.size", "clever_hans.per_class", "clever_hans.cue",
    "clever_hans.fraction", "clever_hans.position", "clever_hans.epochs", "clever_hans.method",
)
_STORE = "cnnviz.kept_settings"
_UPLOADS = "cnnviz.kept_uploads"


def is_kept(key: str) -> bool:
    return any(key == kept or (kept.endswith(".") and key.startswith(kept)) for kept in KEPT_WIDGETS)


def keep_settings() -> None:
    """Copy the kept widgets' current values aside; restore those that Streamlit dropped."""
    store: dict[str, Any] = st.session_state.setdefault(_STORE, {})
    for key in [k for k in st.session_state if isinstance(k, str) and is_kept(k)]:
        store[key] = st.session_state[key]
    for key, value in store.items():
        if key not in st.session_state:
            st.session_state[key] = value


def kept_zip_upload(label: str, key: str, missing: str) -> tuple[str, bytes]:
    """A zip uploader (widget ``key``) whose file survives a visit to another page: (name, bytes)
    of its file, or of the last one uploaded there in this session (the uploader comes back empty);
    with neither, the note ``missing`` and the page stops there."""
    upload = st.file_uploader(label, type=["zip"], key=key)
    uploads: dict[str, tuple[str, bytes]] = st.session_state.setdefault(_UPLOADS, {})
    if upload is not None:
        uploads[key] = (upload.name, upload.getvalue())
    if key not in uploads:
        st.info(missing, icon=":material/upload:")
        st.stop()
    if upload is None:
        st.caption(f"Using {uploads[key][0]}, uploaded before; upload another zip to replace it.")
    return uploads[key]
