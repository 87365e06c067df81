"""cnnviz app: ``streamlit run app.py``.

The entry script draws what every page shares (page config, navigation, the model and image
pickers in the sidebar), then runs the chosen page. Pages are listed in ``ui/navigation.py``.
"""

from __future__ import annotations

import streamlit as st

from ui.navigation import PAGES
from ui.sidebar import draw_sidebar

st.set_page_config(page_title="cnnviz: what a CNN sees", page_icon=":material/visibility:",
                   layout="wide")

sections: dict[str, list[st.Page]] = {}
for entry in PAGES:
    sections.setdefault(entry.section, []).append(
        st.Page(entry.path, title=entry.title, icon=entry.icon, default=entry.default))
page = st.navigation(sections)

draw_sidebar()
page.run()
