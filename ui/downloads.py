"""PNG downloads of what a page shows: an RGB array or a matplotlib figure.

Plotly figures cannot be exported here (that needs kaleido, which is not installed): draw the
downloadable version with matplotlib (``matplotlib.figure.Figure``, not pyplot: the PNG is rendered
on Streamlit's download thread, and pyplot's global state is not thread-safe) or from an array.
Rendering is deferred until the button is clicked, so a page pays nothing for a download nobody uses.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import streamlit as st
from matplotlib.figure import Figure

from cnnviz.errors import ParameterError
from cnnviz.images import encode_png

PNG_DPI = 150
Downloadable = np.ndarray | Figure


def png_bytes(source: Downloadable | Callable[[], Downloadable]) -> bytes:
    """PNG bytes of a uint8 image array (H, W[, 3|4]) or a matplotlib figure (or a callable giving one)."""
    if callable(source) and not isinstance(source, Figure):
        source = source()
    if isinstance(source, Figure):
        buffer = io.BytesIO()
        source.savefig(buffer, format="png", dpi=PNG_DPI, bbox_inches="tight")
        return buffer.getvalue()
    if isinstance(source, np.ndarray):
        return encode_png(source)
    raise ParameterError(
        f"Cannot export a {type(source).__module__}.{type(source).__name__} as PNG: give a uint8 "
        "image array or a matplotlib figure (Plotly export needs kaleido, which is not installed)."
    )


def download_png(label: str, source: Downloadable | Callable[[], Downloadable], file_name: str, *,
                 key: str | None = None, help: str | None = None) -> None:
    """A download button for ``source`` as a PNG file; a callable is rendered only when clicked.

    Clicking does not rerun the page (``on_click="ignore"``).
    """
    if not file_name.lower().endswith(".png"):
        file_name += ".png"
    st.download_button(label, data=lambda: png_bytes(source), file_name=file_name,
                       mime="image/png", key=key, help=help, on_click="ignore",
                       icon=":material/download:")
