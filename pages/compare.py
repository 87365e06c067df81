"""Compare: several heatmap methods and several models on the same image, in one grid, and a report."""

from __future__ import annotations

import numpy as np
import streamlit as st

from cnnviz import render
from cnnviz.errors import CnnvizError
from cnnviz.explanation import METHODS, Heatmap
from cnnviz.faithfulness import Faithfulness
from cnnviz.report import ReportSection, report_html
from cnnviz.zoo import available_models
from ui import engine, progress, state
from ui.downloads import download_png
from ui.errors import show_error, user_errors

TOP = 5
DEFAULT_METHODS = ["gradcam", "gradcam++", "saliency"]
MAX_EXTRA_MODELS = 3


def _grid(sections: list[ReportSection], colormap: str) -> np.ndarray:
    """The grid as one picture, one row per model (drawn only when its download is clicked)."""
    return render.stack_rows([
        render.side_by_side(section.heatmaps, None, colormap, notes=[section.model_label] * len(section.heatmaps))
        for section in sections])


st.title("Compare methods and models")
st.caption("The same image through several explanation methods and several models, in one grid.")

model = state.require_model()
image = state.require_image()
fit = state.fit()

columns = st.columns([3, 3, 2])
methods = columns[0].multiselect("Methods", list(METHODS), default=DEFAULT_METHODS, key="compare.methods",
                                 format_func=lambda name: METHODS[name].title)
weights = columns[2].radio("Their weights", state.WEIGHT_CHOICES, key="compare.weights",
                           format_func=state.WEIGHT_LABELS.__getitem__,
                           help="Random weights need no download; their maps explain nothing learned. "
                                "The sidebar's model with the other weights can be a row too.")
others = [name for name in available_models() if state.zoo_model_key(name, weights) != model.key]
if "compare.models" in st.session_state:  # after a change of weights, drop what is no longer offered
    st.session_state["compare.models"] = [n for n in st.session_state["compare.models"] if n in others]
extra_names = columns[1].multiselect(
    "More models (rows)", others, key="compare.models", max_selections=MAX_EXTRA_MODELS,
    help="The sidebar's model is the first row. Each model explains its own top class.")
colormap = st.columns([1, 3])[0].selectbox("Colour map", list(render.COLORMAPS), key="compare.colormap")

if not methods:
    st.info("Choose at least one method.", icon=":material/info:")
    st.stop()

rows: list[state.ModelChoice] = [model]
for name in extra_names:
    loaded_or_error = engine.zoo_choice(name, weights)
    if isinstance(loaded_or_error, CnnvizError):
        show_error(loaded_or_error, name)
        st.caption(f"Row {name} left out: choose random weights above, or the demo model 'shapes'.")
    else:
        rows.append(loaded_or_error)

slow = [name for name in methods if METHODS[name].progress]
run_slow = bool(slow) and progress.requested(
    "compare", (tuple(row.key for row in rows), image.sha256, fit, tuple(slow)),
    label=f"Run {', '.join(METHODS[name].title for name in slow)}")
if slow and not run_slow:
    st.caption(f"{', '.join(METHODS[n].title for n in slow)} run the model many times: press Run to add "
               "them to the grid.")

sections: list[ReportSection] = []
header = st.columns(1 + len(methods))
header[0].markdown("**image**")
for column, name in zip(header[1:], methods):
    column.markdown(f"**{METHODS[name].title}**")
for row in rows:
    with user_errors(stop=False):
        top = engine.predict(row, image, top=TOP, fit=fit)
        cells = st.columns(1 + len(methods))
        best = top.predictions[0]
        cells[0].image(top.model_input, width="stretch",
                       caption=f"{row.label}: {best.label} ({100 * best.probability:.1f} %)")
        heatmaps: list[Heatmap] = []
        scores: list[Faithfulness] = []
        for cell, name in zip(cells[1:], methods):
            if name in slow and not run_slow:
                cell.caption("press Run")
                continue
            try:
                if name in slow:
                    with cell, progress.progress_bar(f"{row.label}: {METHODS[name].title}",
                                                     key=f"compare.{row.key}.{name}") as bar:
                        result = engine.explain(row, image, name, best.class_index, fit=fit, progress=bar)
                else:
                    result = engine.explain(row, image, name, best.class_index, fit=fit)
            except CnnvizError as error:
                with cell:
                    show_error(error, METHODS[name].title)
                continue
            heatmaps.append(result)
            scores.append(engine.faithfulness_of(row, image, result))
            figures = engine.map_metrics_of(row, image, result)
            cell.image(render.heatmap_overlay(result, None, colormap), width="stretch",
                       caption=f"{result.seconds:.2f} s · deletion (blurred) {scores[-1].deletion:.2f} · "
                               f"insertion {scores[-1].insertion:.2f} · µ-fidelity {figures.mu_fidelity:.2f}"
                               f" · Gini {figures.sparseness:.2f}")
        if heatmaps:
            sections.append(ReportSection(row.label, top.predictions, heatmaps, scores))
        if row.random_weights:
            st.caption(f":orange[{row.label} has random weights: its maps explain nothing learned.]")

if sections:
    buttons = st.columns(2)
    with buttons[0]:
        download_png("Download the grid (PNG)", lambda: _grid(sections, colormap),
                     file_name=f"compare-{image.sha256[:8]}.png", key="compare.download.grid")
    buttons[1].download_button(
        "Download report (HTML)", icon=":material/description:", on_click="ignore", mime="text/html",
        data=lambda: report_html(image.image, image.name, sections, colormap).encode("utf-8"),
        file_name=f"cnnviz-report-{image.sha256[:8]}.html", key="compare.download.report",
        help="One HTML file with the image, each model's top 5 and every map above; print it to PDF "
             "from the browser.")

with st.expander("How to read this"):
    st.markdown(
        "**Methods.** Agreement between methods is not proof that a map is faithful to the model: "
        "methods can agree because they share a bias (guided backpropagation and an edge detector draw "
        "much the same picture whatever the model learned; Adebayo et al., NeurIPS 2018). Where they "
        "disagree, look at why: gradients are noisy, CAM maps are as coarse as the layer's grid, "
        "occlusion depends on the patch size and fill.\n\n"
        "**The scores.** Under each map: deletion (Petsiuk et al., BMVC 2018), with blurred pixels: how "
        "fast the class probability falls as the most highlighted pixels are blurred away (lower is "
        "better); insertion: how fast it rises as they are revealed on a blurred image (higher is "
        "better). They show how well a map ranks pixels for this model under this kind of removal. They "
        "do not show that the model uses those pixels the same way on natural images: the partly "
        "blurred images are unlike anything it was trained on, and such tests favour some methods over "
        "others (Hooker et al., NeurIPS 2019, ROAR). Compare scores within one image and one model.\n\n"
        "**µ-fidelity and Gini.** µ-fidelity says how well the map's values predict the score drop "
        "when random groups of cells are blanked (correlation, higher is better; Bhatt et al., IJCAI "
        "2020); Gini says how concentrated the map is. Like deletion, they perturb the image and show "
        "agreement with this model's scores, not that the map explains the model. The Heatmaps page "
        "has more checks (ROAD, stability, random logit, model randomisation).\n\n"
        "**Models.** Each row explains that model's own top class: two models can be right for "
        "different reasons, or both wrong in the same place. Models with random weights show the "
        "architecture's bias only (Adebayo et al., Sanity Checks for Saliency Maps, NeurIPS 2018).\n\n"
        "**Scale.** Every map is scaled to its own maximum: compare where the bright areas are, not "
        "how bright they are.")
