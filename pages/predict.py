"""Predict: the model's five most likely classes for the image, and how long it took."""

from __future__ import annotations

import streamlit as st
from matplotlib.figure import Figure

from cnnviz.prediction import Prediction
from ui import engine, state
from ui.downloads import download_png, png_bytes
from ui.errors import user_errors

TOP = 5
BAR_COLOUR = "#3b5bdb"


def bar_chart_png(predictions: tuple[Prediction, ...], title: str | None = None) -> Figure:
    """Horizontal bars, most likely class on top, probability in percent written on each bar.

    Drawn on the server with matplotlib and shown as a PNG: it appears with the page (a Plotly chart
    first waited about 2 s for Plotly's JavaScript in a new browser tab), and the download is the
    very picture on screen.
    """
    figure = Figure(figsize=(6.4, 0.6 + 0.5 * len(predictions)))
    axes = figure.add_subplot()
    labels = [p.label for p in predictions][::-1]
    percent = [100 * p.probability for p in predictions][::-1]
    bars = axes.barh(labels, percent, color=BAR_COLOUR)
    axes.bar_label(bars, labels=[f"{value:.1f} %" for value in percent], padding=3)
    axes.set_xlim(0, 110)
    axes.set_xlabel("probability (%)")
    if title:
        axes.set_title(title, fontsize=10)
    axes.spines[["top", "right"]].set_visible(False)
    return figure


@st.cache_data(max_entries=64, show_spinner=False)
def _chart(model_key: str, image_sha256: str, fit: str, _predictions: tuple[Prediction, ...]) -> bytes:
    return png_bytes(bar_chart_png(_predictions))


st.title("Predict")
st.caption("The five classes the model finds most likely for your image.")

model = state.require_model()
image = state.require_image()
fit = state.fit()

with user_errors():
    result = engine.predict(model, image, top=TOP, fit=fit)

best = result.predictions[0]
left, right = st.columns([2, 3], gap="large")
with left:
    height, width = image.image.shape[:2]
    st.image(image.preview, caption=f"Your image: {image.name} ({width}x{height})",
             width="stretch" if image.source == "upload" else 256)
    input_height, input_width = model.loaded.input_size
    if (height, width) == model.loaded.input_size:
        st.caption(f"The model sees this image as it is ({input_width}x{input_height} is its input).")
    else:
        st.image(state.preview_of(result.model_input), width=256,
                 caption=f"What the model sees: {input_width}x{input_height} "
                         f"({'centre crop' if fit == 'crop' else 'stretched'})")
with right:
    st.markdown(f"**{model.label}** says: **{best.label}** ({100 * best.probability:.1f} %)")
    if model.loaded.multilabel:
        st.info("Multi-label model (one sigmoid unit per class): each probability is independent, "
                "so several classes can be likely at once and they need not add up to 100 %.",
                icon=":material/checklist:")
    elif model.loaded.head == "binary":
        st.caption(f"Binary model (one sigmoid unit p): {model.loaded.class_names[1]} is p, "
                   f"{model.loaded.class_names[0]} is 1 - p.")
    if image.class_name is not None and image.class_name in model.loaded.class_names:
        correct = best.label == image.class_name
        st.markdown(f"Ground truth of this generated sample: **{image.class_name}** "
                    f"{':green[(correct)]' if correct else ':red[(wrong)]'}")
    st.image(_chart(model.key, image.sha256, fit, result.predictions), width="stretch",
             caption=f"Top {TOP} of {model.loaded.num_classes} classes")
    st.caption(f"Prediction took {1000 * result.seconds:.0f} ms (resize and forward pass on this "
               "server; computed once per model, image and fit, then reused).")
    download_png("Download the chart (PNG)",
                 lambda: bar_chart_png(result.predictions, f"{model.label}: {image.name}"),
                 file_name=f"predictions-{model.loaded.name}-{image.sha256[:8]}.png",
                 key="predict.download")
    if model.random_weights:
        st.warning("This model has random weights: its predictions are meaningless. Choose "
                   "ImageNet weights or the demo model for real predictions.", icon=":material/shuffle:")
    elif model.loaded.spec is not None and model.loaded.spec.is_demo and image.source == "upload":
        kinds = "digits" if model.loaded.channels == 1 else "shapes"
        st.info(f"The demo model knows only {model.loaded.num_classes} {kinds} "
                f"({', '.join(model.loaded.class_names)}): whatever an image shows, its answer is "
                "one of them. Choose an ImageNet model for photos.", icon=":material/category:")
    elif not model.loaded.labels_known:
        st.info("Class names could not be downloaded, so classes are shown by number.",
                icon=":material/label_off:")

with st.expander("How to read this", expanded=False):
    st.markdown(
        "**What is shown.** The network ends in one score (a *logit*) per class it knows; the "
        "softmax function turns the scores into probabilities that add up to 100 % over all "
        f"classes ({model.loaded.num_classes} here). The bars are the {TOP} largest.\n\n"
        "**How to read it.** A tall first bar means the model is confident, not that it is "
        "right: modern networks are often over-confident (Guo et al., 2017). Close runners-up "
        "often share features with the winner (two dog breeds, a circle and a ring). The model "
        "can only answer with classes it was trained on: a photo of something else still gets "
        "100 % spread over them.\n\n"
        "**Limits.** The model sees only the resized input on the left: details smaller than a "
        "few pixels at that size are gone, and a centre crop hides the edges of a wide image. A "
        "high probability on an image unlike the training data is a known weakness of softmax "
        "scores (Hendrycks & Gimpel, 2017).\n\n"
        "**References.** C. Guo, G. Pleiss, Y. Sun, K. Q. Weinberger, *On Calibration of Modern "
        "Neural Networks*, ICML 2017. D. Hendrycks, K. Gimpel, *A Baseline for Detecting "
        "Misclassified and Out-of-Distribution Examples in Neural Networks*, ICLR 2017."
    )
