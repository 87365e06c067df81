"""Adversarial: change a few pixels (one-pixel attack) or all of them a little (FGSM, PGD) to flip
the model's answer, and see where its attention went."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

import cnnviz.attacks
from cnnviz import render
from cnnviz.render import attack as render_attack
from cnnviz.attacks import AttackResult
from cnnviz.explanation import Heatmap, explain_batch
from cnnviz.attacks.budget import estimate_gradient, estimate_onepixel
from cnnviz.attacks.gradient import DEFAULT_EPSILON, DEFAULT_PGD_STEPS
from cnnviz.attacks.onepixel import PRESETS, default_preset
from cnnviz.models import LoadedModel
from ui import progress, state
from ui.downloads import download_png
from ui.errors import user_errors

METHOD_LABELS = {"onepixel": "One-pixel (Su et al. 2019)", "fgsm": "FGSM (Goodfellow et al. 2015)",
                 "pgd": "PGD (Madry et al. 2018)"}
UNTARGETED = -1
TOP = 5
MAX_ZOOMS = 5
BIG_INPUT = 160  # models with a larger input get the quick one-pixel budget by default
ATTACK_CACHE_ENTRIES = 16
COLOURS = {"before": "#868e96", "after": "#3b5bdb", "original": "#2b8a3e", "new": "#c92a2a"}
HELP = {
    "pixels": "How many pixels the attack may change (the L0 budget). Each one gets any position and "
              "any colour.",
    "budget": "Population x generations of differential evolution: 400 x 100 keeps 400 candidate "
              "pixel changes and breeds 100 new generations from them (the paper's setting), at most "
              "400 x 101 model queries; 'quick' is 100 x 20.",
    "popsize": "Candidates kept in each generation.",
    "maxiter": "Generations bred after the first (0: only the random first population).",
    "onepixel_seed": "Seeds the random first population and the choices of the evolution: the same "
                     "seed gives the same run.",
    "epsilon": "The L-infinity budget: no colour channel of any pixel moves by more than this many "
               "levels out of 255 (8 is 8/255, a common budget).",
    "steps": "PGD steps, each of size 2.5 x epsilon / steps, each followed by a projection back into "
             "the epsilon box.",
    "pgd_seed": "Seeds PGD's random start: a uniformly random point within epsilon of the image, so "
                "two seeds can end in different adversarial images.",
}
NORMS = ("**L0** counts the pixels that changed; **L2** is the length of the whole change (the square "
         "root of the sum of the squared changes, in 0..255 levels); **L-infinity** is the largest "
         "change of any one colour channel. A one-pixel attack has a tiny L0 and a large L-infinity; "
         "FGSM and PGD the reverse.")


@st.cache_data(max_entries=ATTACK_CACHE_ENTRIES, show_spinner=False)
def _attack(model_key: str, image_sha256: str, method: str, params: tuple[tuple[str, object], ...],
            fit: str, _loaded_model: LoadedModel, _image: np.ndarray, _progress=None) -> AttackResult:
    return cnnviz.attacks.attack(_loaded_model, _image, method, fit=fit, progress=_progress,
                                 **dict(params))


@st.cache_data(max_entries=ATTACK_CACHE_ENTRIES, show_spinner=False)
def _gradcam(model_key: str, image_sha256: str, method: str, params: tuple[tuple[str, object], ...],
             fit: str, _loaded_model: LoadedModel, _result: AttackResult) -> list[Heatmap]:
    """Grad-CAM of the image before and after the attack, each for its own top class."""
    return explain_batch(_loaded_model, [_result.original, _result.adversarial], "gradcam")


def _classes_shown(result: AttackResult, probabilities: np.ndarray) -> list[int]:
    """The top 5 of ``probabilities``, plus the original and the new top class if missing."""
    shown = [int(i) for i in np.argsort(probabilities)[::-1][:TOP]]
    for extra in (result.original_class, result.adversarial_class):
        if extra not in shown:
            shown.append(extra)
    return shown


def _bars(result: AttackResult, probabilities: np.ndarray) -> go.Figure:
    classes = _classes_shown(result, probabilities)[::-1]
    colours = [COLOURS["original"] if c == result.original_class else
               COLOURS["new"] if c == result.adversarial_class else COLOURS["before"]
               for c in classes]
    percent = [100 * float(probabilities[c]) for c in classes]
    figure = go.Figure(go.Bar(
        x=percent, y=[result.class_names[c] for c in classes], orientation="h",
        marker_color=colours, text=[f"{p:.1f} %" for p in percent], textposition="auto",
        hovertemplate="%{y}: %{x:.2f} %<extra></extra>"))
    figure.update_layout(xaxis={"title": "probability (%)", "range": [0, 100]},
                         yaxis={"automargin": True}, height=80 + 40 * len(classes),
                         margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return figure


def _live(bar: progress.StreamlitProgress, label: str, targeted: bool):
    """Show the engine's best fitness as the live probability of the class at stake."""

    def report(done: int, total: int, info) -> None:
        fitness = float(info.get("best_fitness", float("nan")))
        confidence = 1 - fitness if targeted else fitness
        bar(done, total, {f"best p({label})": f"{100 * confidence:.1f} %",
                          "queries": info.get("queries", 0)})

    return report


def _figure(result: AttackResult, heatmaps: list[Heatmap], before_p: float) -> np.ndarray:
    """Before, after and the perturbation; then Grad-CAM before and after: one picture to download."""
    before, after = render_attack.before_after(result)
    rows = [render.captioned_row(
        [before, after, render_attack.amplified_perturbation(result)],
        [["before", f"{result.original_label} {before_p:.1f}%"],
         ["after", f"{result.adversarial_label} {100 * result.confidence:.1f}%"],
         ["perturbation, amplified", f"L0 {result.l0}, Linf {result.linf:.0f}/255"]])]
    if heatmaps:
        rows.append(render.captioned_row(
            [render.heatmap_overlay(h) for h in heatmaps],
            [[f"Grad-CAM {when}", f"{h.label} {100 * h.probability:.1f}%"]
             for h, when in zip(heatmaps, ("before", "after"))]))
    return render.stack_rows(rows)


st.title("Adversarial examples")
st.caption("How little has to change in an image to change the model's answer?")

model = state.require_model()
image = state.require_image()
fit = state.fit()
loaded = model.loaded
height, width = loaded.input_size

method = st.segmented_control("Attack", list(METHOD_LABELS), format_func=METHOD_LABELS.get,
                              default="onepixel", key="adversarial.method") or "onepixel"
targets = [UNTARGETED, *range(loaded.num_classes)]
target = st.selectbox("Goal", targets, key="adversarial.target",
                      format_func=lambda c: "Untargeted: any other class" if c == UNTARGETED
                      else f"Targeted: make it say {loaded.class_names[c]!r} (class {c})")
params: dict[str, object] = {} if target == UNTARGETED else {"target": int(target)}

left, middle, right = st.columns(3)
if method == "onepixel":
    params["pixels"] = left.number_input("Pixels to change", 1, 100, 1, key="adversarial.pixels",
                                         help=HELP["pixels"])
    first_preset = default_preset((height, width))
    preset = middle.selectbox("Budget (population x generations)", [*PRESETS, "custom"],
                              key="adversarial.preset", help=HELP["budget"],
                              index=list(PRESETS).index(first_preset),
                              format_func=lambda p: f"{p} ({PRESETS[p][0]} x {PRESETS[p][1]})"
                              if p in PRESETS else "custom")
    popsize, maxiter = PRESETS.get(preset, PRESETS[first_preset])
    if preset == "custom":
        popsize = middle.number_input("Population", 4, 2000, popsize, key="adversarial.popsize",
                                      help=HELP["popsize"])
        maxiter = middle.number_input("Generations", 0, 1000, maxiter, key="adversarial.maxiter",
                                      help=HELP["maxiter"])
    params.update(popsize=int(popsize), maxiter=int(maxiter))
    params["seed"] = right.number_input("Seed", 0, 2**31 - 1, 0, key="adversarial.seed",
                                        help=HELP["onepixel_seed"])
    with st.spinner("Measuring the model's speed..."), user_errors():
        budget = estimate_onepixel(loaded, int(popsize), int(maxiter))
    st.caption(f"At most {budget.max_queries:,} model queries: about {budget.seconds:.0f} s on this "
               f"server ({budget.queries_per_second:.0f} images/s); cnnviz stops as soon as the top "
               "class changes (or becomes the target), earlier than the paper's rule (true class below "
               "5 %, or target above 50 %).")
    if max(height, width) >= BIG_INPUT:
        st.info(f"One pixel rarely flips a {height}x{width} ImageNet model: Su et al. fooled "
                "AlexNet on only about 16 % of ImageNet images with one pixel (and about 68 % of "
                "the 32x32 CIFAR-10 images on AllConv, NiN and VGG16). Try 5 to 50 pixels, or a "
                "gradient attack (FGSM, PGD), which changes every pixel a little.",
                icon=":material/info:")
else:
    params["epsilon"] = left.slider("Epsilon (pixel levels out of 255)", 1, 32,
                                    int(DEFAULT_EPSILON), key="adversarial.epsilon", help=HELP["epsilon"])
    if method == "pgd":
        params["steps"] = middle.number_input("Steps", 1, 200, DEFAULT_PGD_STEPS,
                                              key="adversarial.steps", help=HELP["steps"])
        params["seed"] = right.number_input("Seed (random start)", 0, 2**31 - 1, 0, key="adversarial.seed",
                                            help=HELP["pgd_seed"])
    with st.spinner("Measuring the model's speed..."), user_errors():
        budget = estimate_gradient(loaded, int(params.get("steps", 1)), method)
    st.caption(f"{budget.max_queries} gradient steps and checks: about {budget.seconds:.1f} s.")

key = tuple(sorted((name, int(value)) for name, value in params.items()))
if not progress.requested("adversarial", (model.key, image.sha256, method, key, fit),
                          label="Attack"):
    st.stop()

at_stake = loaded.class_names[int(target)] if target != UNTARGETED else "original class"
with user_errors(), progress.progress_bar("Attacking", key="adversarial") as bar:
    result = _attack(model.key, image.sha256, method, key, fit, loaded, image.image,
                     _progress=_live(bar, at_stake, target != UNTARGETED))

before_p = 100 * float(result.probabilities_before[result.original_class])
if result.success:
    st.success(f"Fooled: **{result.original_label}** ({before_p:.1f} %) became "
               f"**{result.adversarial_label}** ({100 * result.confidence:.1f} %).",
               icon=":material/check_circle:")
else:
    st.warning(f"Not fooled: the model still says **{result.adversarial_label}** "
               f"({100 * result.confidence:.1f} %). Try more pixels, a bigger budget or epsilon, "
               "or another seed.", icon=":material/shield:")
figures = st.columns(5)
figures[0].metric("Model queries", f"{result.queries:,}")
figures[1].metric("Time", f"{result.seconds:.1f} s")
figures[2].metric("Pixels changed (L0)", f"{result.l0:,}", help=NORMS)
figures[3].metric("L2 (pixel units)", f"{result.l2:.1f}", help=NORMS)
figures[4].metric("L-infinity", f"{result.linf:.0f} / 255", help=NORMS)

scale = render_attack.display_scale(result.original.shape)
marked_before, marked_after = render_attack.before_after(result, scale)
columns = st.columns(2)
columns[0].image(marked_before, caption=f"Before: {result.original_label} ({before_p:.1f} %)")
columns[1].image(marked_after, caption=f"After: {result.adversarial_label} "
                                        f"({100 * result.confidence:.1f} %)")
st.caption(f"Both at the model's input size, {width}x{height}, enlarged {scale}x"
           + ("; changed pixels circled." if result.l0 <= render_attack.MAX_CIRCLED else "."))

if result.method == "onepixel" and result.l0:
    st.subheader("The changed pixels, zoomed")
    for pixel, (zoom_before, zoom_after) in list(zip(result.changed_pixels,
                                                     render_attack.zoomed_pixels(result)))[:MAX_ZOOMS]:
        columns = st.columns([1, 1, 2])
        columns[0].image(zoom_before, caption="before")
        columns[1].image(zoom_after, caption="after")
        columns[2].markdown(f"(row {pixel.row}, column {pixel.column}): RGB {pixel.old} -> "
                            f"**{pixel.new}**")
else:
    st.subheader("The perturbation, amplified")
    st.image(render_attack.amplified_perturbation(result), width=320,
             caption=f"Grey = unchanged; colours show the change, scaled so the largest "
                     f"({result.linf:.0f} levels) spans the full range.")

st.subheader("Probabilities before and after")
columns = st.columns(2)
columns[0].plotly_chart(_bars(result, result.probabilities_before), key="adversarial.before",
                        config={"displayModeBar": False})
columns[1].plotly_chart(_bars(result, result.probabilities_after), key="adversarial.after",
                        config={"displayModeBar": False})
st.caption("Top 5 of each, plus the original class (green) and the new top class (red).")

st.subheader("Where the model looks: Grad-CAM before and after")
heatmaps: list = []
with user_errors(stop=False), st.spinner("Computing Grad-CAM..."):
    heatmaps = _gradcam(model.key, image.sha256, method, key, fit, loaded, result)
    columns = st.columns(2)
    for column, heatmap, when in zip(columns, heatmaps, ("Before", "After")):
        column.image(render_attack.enlarge(render.heatmap_overlay(heatmap), scale),
                     caption=f"{when}: evidence for {heatmap.label} ({100 * heatmap.probability:.1f} %)")
    st.caption("Grad-CAM (Selvaraju et al., 2017) of each image's top class, on the layer "
               f"{heatmaps[0].layer}, coloured with {render.DEFAULT_COLORMAP}: the brightest (yellow) areas "
               "are where the evidence for that class lies. A shift shows "
               "where the attack moved the model's attention.")

download_png("Download the adversarial image (PNG)", result.adversarial,
             file_name=f"adversarial-{loaded.name}-{image.sha256[:8]}-{result.method}.png",
             key="adversarial.download",
             help="Lossless PNG at the model's input size. JPEG would change the pixels and undo "
                  "the attack.")
download_png("Download the whole figure (PNG)", lambda: _figure(result, heatmaps, before_p),
             file_name=f"adversarial-{loaded.name}-{image.sha256[:8]}-{result.method}-figure.png",
             key="adversarial.download.figure",
             help="Before and after with the changed pixels circled, the perturbation, and Grad-CAM.")

with st.expander("How to read this", expanded=False):
    st.markdown(
        "**What is shown.** An *adversarial example* is an image changed so little that a person "
        "sees the same thing, yet the model answers differently. The **one-pixel attack** "
        "searches for a few pixels and colours that lower the probability of the original class "
        "(or raise a chosen target); it only needs the model's probabilities, not its gradients. "
        "It searches by *differential evolution*: keep a population of candidate changes, breed "
        "each new candidate by adding half the difference of two others to a third, and keep it if "
        "it fools the model more than its parent. The budget reads population x generations (the "
        "paper's 400 x 100). **FGSM** moves every pixel by epsilon in the direction that increases "
        "the model's loss; **PGD** starts from a random point within epsilon (the seed chooses it), "
        "repeats smaller such steps and stays within epsilon of the original. Epsilon is in pixel "
        "levels (8 means 8/255).\n\n"
        f"**How to read it.** {NORMS} The images are what the model sees, at its input size. "
        "Everything is checked again on the final 8-bit image, exactly as the downloaded PNG.\n\n"
        "**The paper and the lecture.** The lecture quotes an early preprint (arXiv v4, February "
        "2018): more than 40 % of ImageNet images fooled with one pixel, on AllConv, NiN and VGG. "
        "The published paper (Su et al., IEEE TEVC 2019) reports about 68 % of the Kaggle CIFAR-10 test "
        "images (32x32 pixels) on those three networks (AllConv, NiN and VGG16), and about 16 % of "
        "ImageNet images on AlexNet (227x227). Its search stops early once the target class is above "
        "50 % (targeted) or the true class below 5 % (non-targeted); cnnviz stops at the first "
        "candidate that changes the top class (or makes the target the top class), so its results can "
        "be less confident than the paper's. Population, generations and mutation follow the paper.\n\n"
        "**Limits.** The attack is made for this model; it may or may not transfer to others. "
        "Saving as JPEG, resizing or cropping the image changes its pixels and usually undoes it.\n\n"
        "**References.** J. Su, D. V. Vargas, K. Sakurai, *One Pixel Attack for Fooling Deep "
        "Neural Networks*, IEEE TEVC 2019 (arXiv:1710.08864). I. Goodfellow, J. Shlens, "
        "C. Szegedy, *Explaining and Harnessing Adversarial Examples*, ICLR 2015. A. Madry et al., "
        "*Towards Deep Learning Models Resistant to Adversarial Attacks*, ICLR 2018. PGD's step size "
        "2.5 x epsilon / steps is the rule of thumb of the MadryLab *robustness* library (L. Engstrom "
        "et al., 2019), not a setting of Madry et al."
    )
