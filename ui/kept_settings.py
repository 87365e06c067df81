"""An uploaded zip that survives a visit to another page.

Streamlit deletes a widget's value at the end of a run that did not draw the widget, so leaving the
Train page (or the Clever Hans lab) and coming back emptied its zip uploader. :func:`kept_zip_upload`
remembers the last file uploaded there in the session and offers it again.

The other settings of those pages are not kept. Re-saving their values through Session State
(docs.streamlit.io, "Working with widgets in multipage apps", option 3) passed Streamlit's AppTest,
but in a real browser the restored radio buttons showed their defaults while the page ran with the
restored values, which is worse than a reset.
"""

from __future__ import annotations

import streamlit as st

_UPLOADS = "cnnviz.kept_uploads"


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
