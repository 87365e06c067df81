"""cnnviz progress callbacks drawn as ``st.progress`` with a Stop button.

How stopping works in Streamlit: pressing Stop while the page script runs asks the server for a
rerun; Streamlit interrupts the running script at its next Streamlit call, which is the progress
bar update made by the callback (at most ``UPDATE_INTERVAL_S`` apart). The interrupt is a
``BaseException``, so it passes through the engine (which only catches ``Exception``), through
``st.cache_data`` (nothing half-done is cached) and through model locks (released). In the rerun
the Stop button's callback has recorded the stop: :func:`requested` forgets the run request, and
:func:`progress_bar` raises ``CancelledError`` instead of starting the same computation again.

The callback may run inside an ``st.cache_data`` function: its bar updates are kept out of the
cache's replay record (a cache hit must not redraw a bar that no longer exists).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import streamlit as st

from cnnviz.errors import CancelledError

UPDATE_INTERVAL_S = 0.15  # seconds between bar updates, so also the longest wait for Stop to act

_STOPPED = "cnnviz.progress.stopped.{}"
_REQUEST = "cnnviz.progress.request.{}"


def _not_replayed() -> AbstractContextManager[None]:
    """Draw outside st.cache_data's replay record (Streamlit 1.67 internals; pinned version)."""
    from streamlit.runtime.scriptrunner_utils.script_run_context import in_cached_function

    @contextmanager
    def outside() -> Iterator[None]:
        token = in_cached_function.set(False)
        try:
            yield
        finally:
            in_cached_function.reset(token)

    return outside()


def _mark_stopped(key: str) -> None:
    st.session_state[_STOPPED.format(key)] = True


def was_stopped(key: str) -> bool:
    """True once, in the run right after the user pressed this computation's Stop button."""
    return bool(st.session_state.pop(_STOPPED.format(key), False))


class StreamlitProgress:
    """A cnnviz progress callback ``progress(done, total, info)`` that moves an ``st.progress`` bar.

    Shows ``label``, the fraction done and the ``info`` figures the engine reports. Never returns
    False: stopping happens through the Stop button's rerun (see the module docstring).
    """

    def __init__(self, label: str, key: str, stop_button: bool = True) -> None:
        self.label = label
        self.key = key
        self._holder = st.empty()
        with self._holder.container():
            self._bar = st.progress(0.0, text=f"{label}...")
            if stop_button:
                st.button("Stop", key=f"cnnviz.progress.stop.{key}", icon=":material/stop:",
                          on_click=_mark_stopped, args=(key,))
        self._last = 0.0
        self.started = time.perf_counter()

    def __call__(self, done: int, total: int, info: Mapping[str, Any] | None = None) -> bool | None:
        now = time.perf_counter()
        if now - self._last < UPDATE_INTERVAL_S and done < total:
            return None
        self._last = now
        fraction = min(max(done / total, 0.0), 1.0) if total else 0.0
        figures = ", ".join(f"{name.replace('_', ' ')} {_format(value)}"
                            for name, value in (info or {}).items())
        text = f"{self.label}: {done} of {total}" + (f" ({figures})" if figures else "")
        with _not_replayed():
            self._bar.progress(fraction, text=text)
        return None

    def close(self) -> None:
        """Remove the bar and the Stop button."""
        with _not_replayed():
            self._holder.empty()


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


@contextmanager
def progress_bar(label: str, key: str, stop_button: bool = True) -> Iterator[StreamlitProgress]:
    """A progress callback drawn as a bar with a Stop button; removed when the block ends.

    If the user pressed this ``key``'s Stop button in the run before, raises ``CancelledError``
    (shown as a note by ``ui.errors.user_errors``) instead of starting again.
    """
    if was_stopped(key):
        raise CancelledError(f"{label}: stopped. Change a setting or press Run to start again.")
    progress = StreamlitProgress(label, key, stop_button=stop_button)
    try:
        yield progress
    finally:
        progress.close()


def requested(key: str, params: Any, label: str = "Run") -> bool:
    """A Run button for a long computation: True while the parameters equal the last run's.

    Draws the button. After Run, stays True on later reruns (for example when another widget
    changes) as long as ``params`` (simple values compared with ==: a tuple or a dict) is
    unchanged; cached results then come back at once. After Stop, False until Run is pressed again.
    """
    request_key = _REQUEST.format(key)
    if was_stopped(key):
        st.session_state.pop(request_key, None)
        st.info(f"Stopped: nothing was kept. Press {label} to start again.", icon=":material/stop_circle:")
    if st.button(label, key=f"cnnviz.progress.run.{key}", type="primary",
                 icon=":material/play_arrow:"):
        st.session_state[request_key] = params
    return request_key in st.session_state and st.session_state[request_key] == params
