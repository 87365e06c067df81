"""Heatmaps: which parts of the image the model's decision rests on, by several methods side by side."""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from cnnviz import render
from cnnviz.render import sanity
from cnnviz.errors import CnnvizError
from cnnviz.explanation import METHODS, Heatmap
from cnnviz.faithfulness import DeepChecks, Faithfulness
from cnnviz.graph import default_target_layer, spatial_layer_names
from cnnviz.methods import integrated_gradients, occlusion, smoothgrad
from cnnviz.models import LoadedModel
from cnnviz.precision import METHOD_KINDS, PRECISIONS, check_precision
from cnnviz.report import ReportSection, report_html
from ui import dataset_state, engine, progress, state
from ui.downloads import download_png
from ui.errors import show_error, user_errors

TOP = 5
COLUMNS = 3
OTHER_CLASS = -1
DEFAULT_METHODS = ["gradcam", "gradcam++", "occlusion"]
CLASS_HELP = ("The class whose evidence the maps show: one of the model's top 5, or any class. A map "
              "of a class the model did not choose shows what in the image speaks for that class.")
LAYER_HELP = ("The layer whose feature maps the CAM methods weight (CAM, Grad-CAM, Grad-CAM++, "
              "Score-CAM, Layer-CAM, Guided Grad-CAM); the pixel methods ignore it. Later layers see "
              "more of the image on a coarser grid (7 x 7 on most ImageNet models), earlier ones a "
              "finer grid of simpler features. Default: the last layer with a spatial grid before "
              "global pooling.")
FILL_HELP = ("What a hidden patch shows instead of the image. mean: the image's mean colour (closest "
             "to 'no information'); grey: mid grey (128); blur: a blurred copy of the image, which "
             "removes detail but keeps colour; zero: black. A grey or black square can look like an "
             "object of its own, so compare two fills before trusting a map.")
BASELINE_HELP = ("Where the path starts: an image meant to carry no evidence. black (0), grey (128) or "
                 "white (255) everywhere; blur: a blurred copy (keeps colours, removes edges); noise: "
                 "random pixels. A pixel equal to the baseline gets no credit (a black object with the "
                 "black baseline), so try two baselines.")
STEPS_HELP = ("Points on the path from the baseline to the image. The attributions add up to the change "
              "of the class logit only as the steps grow: the figure under the map shows how close "
              "this run came.")

#: Parameters that change how a map is computed, not what it shows: not offered as settings.
NOT_SETTINGS = ("batch_size", "incremental")
#: Parameters whose default None means "off" / "all": a 0 in the widget stands for None.
NONE_AS_ZERO = {"forgrad": "FORGrad bandwidth (0 = off)", "top_k": "Top-k channels (0 = all)"}


def _tunable(name: str) -> bool:
    return any(param not in NOT_SETTINGS for param in METHODS[name].defaults)


def _generic_params(name: str, skip: set[str]) -> dict[str, Any]:
    """Widgets for a method's parameters from its defaults and choices (all methods but the four above)."""
    method = METHODS[name]
    wanted = [(p, d) for p, d in method.defaults.items() if p not in NOT_SETTINGS and p not in skip]
    values: dict[str, Any] = {}
    columns = st.columns(3)
    for position, (param, default) in enumerate(wanted):
        column, key = columns[position % 3], f"heatmaps.{name}.{param}"
        label = param.replace("_", " ").capitalize()
        if param in method.choices:
            options = list(method.choices[param])
            values[param] = column.selectbox(label, options, index=options.index(default), key=key)
        elif param in NONE_AS_ZERO:
            chosen = int(column.number_input(NONE_AS_ZERO[param], 0, 4096, 0, key=key))
            values[param] = chosen or None
        elif isinstance(default, bool):
            values[param] = column.toggle(label, default, key=key)
        elif isinstance(default, int):
            values[param] = int(column.number_input(label, 0, 100_000, default, key=key))
        elif isinstance(default, float):
            values[param] = float(column.number_input(label, value=default, format="%g", key=key))
    return values


def _method_params(name: str, loaded: LoadedModel) -> dict[str, Any]:
    """The widgets of one method's own parameters (defaults from the method)."""
    specific = _specific_params(name, loaded)
    return {**specific, **_generic_params(name, set(specific))}


def _specific_params(name: str, loaded: LoadedModel) -> dict[str, Any]:
    """Hand-made widgets of the first four tunable methods (their keys are kept for sessions and tests)."""
    side = min(loaded.input_size)
    columns = st.columns(3)
    if name == "occlusion":
        patch, stride = occlusion.patch_geometry(dict(occlusion.DEFAULTS), loaded.input_size)
        return {"patch_size": int(columns[0].number_input("Patch size (px)", 1, side, patch,
                                                          key="heatmaps.patch")),
                "stride": int(columns[1].number_input("Stride (px)", 1, side, stride, key="heatmaps.stride")),
                "fill": columns[2].selectbox("Fill", occlusion.FILLS, key="heatmaps.fill",
                                             index=occlusion.FILLS.index(occlusion.DEFAULTS["fill"]),
                                             help=FILL_HELP)}
    if name == "scorecam":
        top_k = int(columns[0].number_input(
            "Top-k channels (0 = all)", 0, 4096, 0, key="heatmaps.top_k",
            help="Faster Score-CAM: only the channels with the most varied maps (faster, close to all)."))
        return {"top_k": top_k or None}
    if name == "smoothgrad":
        return {"samples": int(columns[0].number_input("Noisy copies", 1, smoothgrad.MAX_SAMPLES,
                                                       smoothgrad.DEFAULT_SAMPLES, key="heatmaps.samples")),
                "noise": float(columns[1].slider("Noise (share of the pixel range)", 0.0, 0.5,
                                                 smoothgrad.DEFAULT_NOISE, key="heatmaps.noise"))}
    if name == "integrated_gradients":
        return {"steps": int(columns[0].number_input("Steps", 1, integrated_gradients.MAX_STEPS,
                                                     integrated_gradients.DEFAULT_STEPS,
                                                     key="heatmaps.steps", help=STEPS_HELP)),
                "baseline": columns[1].selectbox("Baseline", integrated_gradients.BASELINES,
                                                 key="heatmaps.baseline", help=BASELINE_HELP)}
    if name in ("vargrad", "squaregrad"):
        return {"samples": int(columns[0].number_input("Noisy copies", 1, smoothgrad.MAX_SAMPLES,
                                                       smoothgrad.DEFAULT_SAMPLES, key=f"heatmaps.{name}.samples")),
                "noise": float(columns[1].slider("Noise (share of the pixel range)", 0.0, 0.5,
                                                 smoothgrad.DEFAULT_NOISE, key=f"heatmaps.{name}.noise"))}
    return {}


def _badge(scores: Faithfulness) -> str:
    return f"deletion (blurred) {scores.deletion:.2f} · insertion {scores.insertion:.2f}"


def _completeness(result: Heatmap) -> None:
    """Integrated Gradients' completeness: its attributions' sum against the change of the logit."""
    check = integrated_gradients.completeness(loaded, result)
    off = f"{100 * check.relative_gap:.0f} % off"
    st.caption(f"Completeness: attributions add up to {check.attribution_sum:.3g}; the class logit "
               f"changes by {check.logit_difference:.3g} from the baseline to the image ({off}).")
    if not check.enough_steps:
        st.caption(f":orange[More than {100 * integrated_gradients.COMPLETENESS_TOLERANCE:.0f} % off: "
                   f"try more steps than {check.steps} (Sundararajan et al. needed 20 to 300).]")


st.title("Heatmaps")
st.caption("Which parts of the image the model's decision rests on, by several methods side by side.")

model = state.require_model()
image = state.require_image()
fit = state.fit()
loaded = model.loaded
with user_errors():
    prediction = engine.predict(model, image, top=TOP, fit=fit)
    predictions = prediction.predictions
    layers = spatial_layer_names(loaded)
    default_layer = default_target_layer(loaded)

columns = st.columns([3, 2, 2])
chosen = columns[0].multiselect("Methods", list(METHODS), default=DEFAULT_METHODS,
                                key=dataset_state.HEATMAPS_METHODS_KEY,
                                format_func=lambda name: METHODS[name].title)
options = [p.class_index for p in predictions] + [OTHER_CLASS]
probability = {p.class_index: p.probability for p in predictions}
audited_class = dataset_state.pop_class_to_explain()  # opened from an audit: explain what it explained
if audited_class in loaded.class_names:
    audited_index = loaded.class_names.index(audited_class)
    if audited_index in options:
        st.session_state["heatmaps.class"] = audited_index
    else:  # not among the top predictions: through "another class..."
        st.session_state["heatmaps.class"] = OTHER_CLASS
        st.session_state["heatmaps.any_class"] = audited_index
choice = columns[1].selectbox("Class to explain", options, key="heatmaps.class", help=CLASS_HELP,
                              format_func=lambda c: (
    "another class..." if c == OTHER_CLASS else f"{loaded.class_names[c]} ({100 * probability[c]:.1f} %)"))
if choice == OTHER_CLASS:
    choice = columns[1].selectbox("Search a class", range(loaded.num_classes), key="heatmaps.any_class",
                                  format_func=lambda c: f"{c}: {loaded.class_names[c]}")
class_index = int(choice)
layer = columns[2].selectbox("Layer (CAM methods)", layers, index=layers.index(default_layer),
                             key="heatmaps.layer", help=LAYER_HELP)
columns = st.columns([2, 2, 3])
colormap = columns[0].selectbox("Colour map", list(render.COLORMAPS), key="heatmaps.colormap")
opacity = columns[1].slider("Opacity", 0.0, 1.0, render.DEFAULT_OPACITY, step=0.05, key="heatmaps.opacity")
on_photo = columns[2].toggle("Draw on the full image", key="heatmaps.on_photo",
                             help="Off: the overlay covers what the model sees (the resized, cropped input).")

params: dict[str, dict[str, Any]] = {}
tuned = [name for name in chosen if _tunable(name)]
if tuned:
    with st.expander("Method settings"):
        for name in tuned:
            st.markdown(f"**{METHODS[name].title}**")
            params[name] = _method_params(name, loaded)

precision = None
if any(name in METHOD_KINDS for name in chosen):
    precision = st.selectbox(
        "Precision of the batched model calls", PRECISIONS, index=PRECISIONS.index(check_precision(None)),
        key="heatmaps.precision",
        help="Occlusion, Score-CAM, SmoothGrad, VarGrad, SquareGrad and Integrated Gradients push many "
             "images through the model. 'auto' times a batch in float32 and in mixed bfloat16 (16-bit "
             "arithmetic) once per model and keeps bfloat16 only where it is faster here and its answers "
             "agree with float32's; the class and its score always come from float32.")

if not chosen:
    st.info("Choose at least one method.", icon=":material/info:")
    st.stop()

fast = [name for name in chosen if not METHODS[name].progress]
slow = [name for name in chosen if METHODS[name].progress]
results: dict[str, Heatmap] = {}


def _inputs(name: str) -> dict[str, Any]:
    """What a heatmap of this page depends on, besides the model and the image (the cache key)."""
    return {"method": name, "class_index": class_index, "layer": layer if METHODS[name].uses_layer else "",
            "fit": fit, "params": tuple(sorted(params.get(name, {}).items())),
            "precision": precision if name in METHOD_KINDS else None}


for name in fast:
    with user_errors(stop=False):
        results[name] = engine.explain(model, image, **_inputs(name))
if slow:
    titles = ", ".join(METHODS[name].title for name in slow)
    verb = "runs" if len(slow) == 1 else "run"
    st.caption(f"{titles} {verb} the model many times (once per patch, channel or sample): press Run.")
    run_key = (model.key, image.sha256, tuple(tuple(_inputs(name).values()) for name in slow))
    if progress.requested("heatmaps", run_key, label=f"Run {titles}"):
        for name in slow:
            try:
                with progress.progress_bar(f"Computing {METHODS[name].title}", key=f"heatmaps.{name}") as bar:
                    results[name] = engine.explain(model, image, **_inputs(name), progress=bar)
            except CnnvizError as error:
                show_error(error, METHODS[name].title)

shown = [name for name in chosen if name in results]
original = image.image if on_photo else None
grid = st.columns(COLUMNS)
with grid[0]:
    st.image(image.image if on_photo else prediction.model_input, width="stretch",
             caption="your image" if on_photo else "what the model sees")
scores: dict[str, Faithfulness] = {}
for position, name in enumerate(shown, start=1):
    result = results[name]
    with grid[position % COLUMNS]:
        st.image(render.heatmap_overlay(result, original, colormap, opacity), width="stretch",
                 caption=f"{result.title}: {result.label} ({100 * result.probability:.1f} %)"
                         + (f", layer {result.layer}" if result.layer else "") + f", {result.seconds:.2f} s")
        if result.precision:
            st.caption(f"Batched calls ran in {result.precision['policy']}"
                       + (f" ({result.precision['reason']})" if result.precision["reason"] != "asked" else ""))
        with user_errors(stop=False):
            scores[name] = engine.faithfulness_of(model, image, result)
            st.badge(_badge(scores[name]), color="blue", icon=":material/fact_check:")
            st.badge(f"confidence drop {100 * scores[name].confidence_drop:.0f} %", color="gray")
            if name == "integrated_gradients":
                _completeness(result)
            figures = engine.map_metrics_of(model, image, result)
            st.badge(f"µ-fidelity {figures.mu_fidelity:.2f} · complexity {figures.complexity:.2f} · "
                     f"Gini {figures.sparseness:.2f}", color="gray", icon=":material/functions:")
        download_png("Download (PNG)",
                     lambda r=result: render.heatmap_overlay(r, original, colormap, opacity),
                     file_name=f"{name}-{loaded.name}-{class_index}-{image.sha256[:8]}.png",
                     key=f"heatmaps.download.{name}")
    if position % COLUMNS == COLUMNS - 1:
        grid = st.columns(COLUMNS)

if shown:
    notes = [_badge(scores[name]).replace("·", "/") if name in scores else "" for name in shown]
    download_png("Download all side by side (PNG)",
                 lambda: render.side_by_side([results[n] for n in shown], original, colormap, opacity,
                                             notes=notes),
                 file_name=f"heatmaps-{loaded.name}-{class_index}-{image.sha256[:8]}.png",
                 key="heatmaps.download.all")
    section = ReportSection(model.label, predictions, [results[n] for n in shown],
                            [scores.get(n) for n in shown])
    st.download_button("Download report (HTML)", icon=":material/description:", on_click="ignore",
                       data=lambda: report_html(image.image, image.name, [section], colormap,
                                                opacity).encode("utf-8"),
                       file_name=f"cnnviz-report-{loaded.name}-{image.sha256[:8]}.html", mime="text/html",
                       key="heatmaps.download.report",
                       help="One HTML file with the image, the top 5 and these maps; print it to PDF "
                            "from the browser.")
    if image.mask is not None and not on_photo and image.mask.shape == loaded.input_size:
        hits = [METHODS[n].title for n in shown if image.mask.flat[int(np.argmax(results[n].heatmap))]]
        st.caption(f"Ground truth: the peak lies on the {image.class_name} for {len(hits)} of {len(shown)} "
                   f"methods{': ' + ', '.join(hits) if hits else ''}.")
checkable = [name for name in shown if not METHODS[name].progress]
if checkable:
    with st.expander("More checks: ROAD, stability, random logit, model randomisation"):
        st.caption("Each check explains the image again (noisy copies, another class, a model randomised "
                   "layer by layer from the output down), so it takes a while; methods that run the model "
                   "many times are left out.")
        checks_key = (model.key, image.sha256, tuple(tuple(_inputs(name).values()) for name in checkable))
        if progress.requested("heatmaps.checks", checks_key, label="Run the checks"):
            checks: dict[str, DeepChecks] = {}
            for name in checkable:
                try:
                    with progress.progress_bar(f"Checking {METHODS[name].title}",
                                               key=f"heatmaps.checks.{name}") as bar:
                        checks[name] = engine.deep_checks_of(model, image, results[name], progress=bar)
                except CnnvizError as error:
                    show_error(error, METHODS[name].title)
            if checks:
                st.table({
                    "method": [METHODS[n].title for n in checks],
                    "ROAD MoRF (lower better)": [f"{c.road.morf_mean:.2f}" for c in checks.values()],
                    "ROAD LeRF (higher better)": [f"{c.road.lerf_mean:.2f}" for c in checks.values()],
                    "stability (lower better)": [f"{c.stability.average:.2f}" for c in checks.values()],
                    "max-sensitivity": [f"{c.stability.maximum:.2f}" for c in checks.values()],
                    "random-logit SSIM (lower better)": [f"{c.random_logit.similarity:.2f}"
                                                         for c in checks.values()],
                    "rank corr. all layers random": [f"{c.randomisation.rank_correlations[-1]:.2f}"
                                                     for c in checks.values()],
                })
                curves = [(METHODS[n].title, c.randomisation) for n, c in checks.items()]
                st.image(sanity.randomisation_curve(curves), width="stretch",
                         caption="Cascading model randomisation (Adebayo et al., 2018): a map that "
                                 "explains the model must drift away as its layers are re-drawn.")
                download_png("Download the randomisation curve (PNG)",
                             lambda: sanity.randomisation_curve(curves),
                             file_name=f"randomisation-{loaded.name}-{image.sha256[:8]}.png",
                             key="heatmaps.download.randomisation")

if model.random_weights:
    st.warning("This model has random weights: its heatmaps explain nothing learned.",
               icon=":material/shuffle:")

with st.expander("How to read this", expanded=False):
    for name in chosen:
        method = METHODS[name]
        st.markdown(f"**{method.title}.** {method.about} *({method.citation})*")
    st.markdown(
        "**The badge.** Deletion (Petsiuk et al., BMVC 2018), with blurred pixels: the class "
        "probability as the most highlighted pixels are replaced by a blurred copy, most important "
        "first, area under the curve (lower is better). The paper deletes to black; cnnviz blurs, because "
        "scattered black pixels are a strong signal of their own. Insertion: the same while the pixels "
        "are revealed on a blurred image (higher is better). Confidence drop: how much less sure the "
        "model is of the image multiplied by the map (lower is better; Chattopadhay et al., WACV 2018). "
        "These scores feed the model images unlike any it was trained on, which favours some methods "
        "(Hooker et al., NeurIPS 2019): read them as a hint, not a verdict.\n\n"
        "**The grey badge.** µ-fidelity: how well the map's values predict the score drop when random "
        "groups of cells are blanked (correlation, higher is better; Bhatt et al., IJCAI 2020). Complexity: "
        "the entropy of the map (0 = one spot, 1 = spread everywhere). Gini: its sparseness (higher = "
        "more concentrated). **More checks.** ROAD removes pixels by filling them from their "
        "neighbours, most (MoRF) or least (LeRF) relevant first (Rong et al., ICML 2022); stability is how "
        "much the map moves under faint noise; the random-logit test compares with the map of another "
        "class (Sixt et al., 2020).\n\n"
        "**In general.** A heatmap shows where the evidence is, not what it is or why. Bright areas are "
        "relative to the rest of this map only: every map is scaled to its own maximum. Gradient saliency, "
        "SmoothGrad and Integrated Gradients draw magnitudes: their bright pixels include evidence "
        "against the class as well as for it. Maps of different classes can look alike when the model "
        "looks at the same object for both."
    )
