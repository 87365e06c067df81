"""Typed cnnviz errors shown as readable messages on the page, never as a traceback.

``with user_errors(): ...`` around engine calls in a page: a ``CnnvizError`` becomes ``st.error`` with
its message (which already says what to do) and the page stops there; a cancelled computation
becomes an info note. A failed ImageNet download also offers buttons to switch to the offline demo
model or to the same architecture with random weights.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from cnnviz.errors import CancelledError, CnnvizError, WeightsDownloadError
from cnnviz.zoo import DEMO_MODEL_NAME
from ui import state


def _use_model(name: str, weights: str, forget: str | None) -> None:
    """Button callback: change the sidebar's model choice (runs before the sidebar is drawn)."""
    st.session_state[state.OWN_MODEL_KEY] = False
    st.session_state[state.MODEL_NAME_KEY] = name
    st.session_state[state.WEIGHTS_KEY] = weights
    if forget is not None:
        state.forget_failed_load(forget)


def _offer_alternatives() -> None:
    """After a failed weights download: switch to the demo model, random weights, or retry."""
    name = st.session_state[state.MODEL_NAME_KEY]
    columns = st.columns(3)
    columns[0].button("Use the offline demo model", key="cnnviz.errors.use_demo", type="primary",
                      icon=":material/category:", on_click=_use_model,
                      args=(DEMO_MODEL_NAME, "imagenet", None))
    columns[1].button(f"Use {name} with random weights", key="cnnviz.errors.use_random",
                      icon=":material/shuffle:", on_click=_use_model, args=(name, "random", None))
    columns[2].button("Retry the download", key="cnnviz.errors.retry", icon=":material/refresh:",
                      on_click=_use_model,
                      args=(name, "imagenet", state.zoo_model_key(name, "imagenet")))


def show_error(error: CnnvizError, subject: str | None = None) -> None:
    """Show a cnnviz error as a message a user can act on (with next steps where there are any).

    ``subject`` (a file name, a layer...) is put in front of the message when given.
    """
    message = str(error) if subject is None else f"`{subject}`: {error}"
    if isinstance(error, CancelledError):
        st.info(message, icon=":material/stop_circle:")
        return
    st.error(message, icon=":material/error:")
    if (isinstance(error, WeightsDownloadError) and not st.session_state.get(state.OWN_MODEL_KEY)
            and st.session_state.get(state.MODEL_NAME_KEY) != DEMO_MODEL_NAME):
        _offer_alternatives()


@contextmanager
def user_errors(stop: bool = True) -> Iterator[None]:
    """Turn a CnnvizError raised inside the block into a message; then stop the page (by default).

    With ``stop=False`` the page goes on after the block; variables assigned inside it may then
    be unset, so only use it around code whose result the rest of the page does not need.
    """
    try:
        yield
    except CnnvizError as error:
        show_error(error)
        if stop:
            st.stop()
