"""Home: what cnnviz shows and how to use it."""

from __future__ import annotations

import streamlit as st

from ui import state
from ui.errors import show_error
from ui.navigation import PAGES

st.title("cnnviz: see what a CNN sees")
st.markdown(
    "A convolutional neural network (CNN) turns an image into class scores through dozens of "
    "layers of filters. cnnviz lets you look inside: what the network predicts, **which pixels "
    "its decision rests on**, what its layers respond to, and how easily a tiny change to the "
    "image fools it."
)

st.subheader("How to use it")
st.markdown(
    "1. **Choose a model** in the sidebar. The *shapes* demo model works offline and knows what "
    "is in each generated image, so you can check an explanation against the truth. ImageNet "
    "models (MobileNetV2, ResNet50, ...) download their weights once; with *random weights* you "
    "can study an architecture without downloading anything.\n"
    "2. **Choose an image**: generate a demo sample (pick a shape and a seed) or upload a photo.\n"
    "3. **Open a page** below or in the sidebar. Your model and image stay selected on every page; "
    "change them in the sidebar and every page follows."
)

st.subheader("Pages")
for entry in PAGES:
    if entry.default:
        continue
    st.page_link(entry.path, label=f"**{entry.title}**: {entry.summary}", icon=entry.icon)

model, image = state.current_model(), state.current_image()
status = [f"Model: **{model.label}**" if model else "Model: *none loaded*",
          f"Image: **{image.name}**" if image else "Image: *none chosen yet*"]
st.caption(" | ".join(status))
if model is None and state.model_error() is not None:
    show_error(state.model_error())

with st.expander("Good to know"):
    st.markdown(
        "- Every image is resized to the model's fixed input (for example 224x224); the sidebar "
        "says whether the centre is cropped or the whole image squeezed. The pages show what the "
        "model actually saw.\n"
        "- Explanations are approximations with known failure modes; each page says how to read "
        "its pictures and what they cannot tell you, with references.\n"
        "- Results are computed once per model, image and setting, then reused.\n"
        "- Every figure can be downloaded as a PNG."
    )
