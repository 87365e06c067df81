"""Activation maximization and top activating examples: what a channel or a class responds to, asked
two ways: the image the network would draw for it, and the real images that excite it most."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from matplotlib.figure import Figure

from cnnviz.render import inside as render_inside
from cnnviz.errors import CnnvizError
from cnnviz.graph import default_target_layer
from cnnviz.images import image_sha256, load_image
from cnnviz.inside import Maximization, Penalties, TopExamples, demo_images, layers, maximize, top_activating
from cnnviz.inside.maximize import DEFAULT_LEARNING_RATE, DEFAULT_STEPS, MAX_IMAGES_PER_TARGET
from cnnviz.models import LoadedModel
from ui import progress, state
from ui.downloads import download_png
from ui.errors import user_errors

MAX_TARGETS = 8
RESULT_CACHE_ENTRIES = 16
GALLERY_CELL = 192
METHOD_LABELS = {"fourier": "Feature Visualization (Olah 2017)", "pixel": "Plain pixel ascent (Erhan 2009)"}
# What each regulariser and the learning rate do (the images are in [0, 1]; each weight 0 = off).
HELP = {
    "diversity": "With several images per target: a penalty on how alike their feature statistics "
                 "(Gram matrices of the layer) are, so that the images show different things the "
                 "target responds to (Olah et al., 2017).",
    "tv": "Total variation: the mean difference between neighbouring pixels. A penalty on it smooths "
          "the image and removes high-frequency noise (Mahendran and Vedaldi, 2015).",
    "blur": "A penalty on the distance between the image and a blurred copy of itself: like total "
            "variation, it favours smooth images.",
    "l1": "A penalty on the mean absolute distance of the pixels from mid grey: keeps most of the "
          "image grey, so only the pixels that matter move.",
    "l2": "A penalty on the mean squared distance from mid grey: keeps colours away from the extremes.",
    "rate": "The size of each Adam step on the image's parameters. Too large: noisy, saturated images; "
            "too small: little changes in the given steps. 0.05 is Lucid's default.",
}
DEMO_SET_SIZES = (32, 64, 128, 256)
EXAMPLE_CELL = 160


@st.cache_data(max_entries=RESULT_CACHE_ENTRIES, show_spinner=False)
def _maximize(
    model_key: str, params: tuple[tuple[str, object], ...], _loaded: LoadedModel, _progress=None
) -> Maximization:
    options = dict(params)
    penalties = Penalties(**dict(options.pop("penalties")))  # type: ignore[arg-type]
    return maximize(_loaded, penalties=penalties, progress=_progress, **options)  # type: ignore[arg-type]


@st.cache_data(max_entries=RESULT_CACHE_ENTRIES, show_spinner=False)
def _top(
    model_key: str,
    set_key: str,
    layer: str,
    channel: int,
    top: int,
    fit: str,
    _loaded: LoadedModel,
    _images: list[np.ndarray],
    _progress=None,
) -> TopExamples:
    return top_activating(_loaded, _images, layer, channel, top=top, fit=fit, progress=_progress)


def _history_chart(result: Maximization) -> go.Figure:
    figure = go.Figure()
    for index, label in enumerate(result.labels):
        figure.add_scatter(y=result.history[:, index], mode="lines", name=f"{index}: {label}")
    figure.update_layout(
        xaxis_title="step",
        yaxis_title="objective (on the transformed image)",
        height=280,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
    )
    return figure


def _history_png(result: Maximization) -> Figure:
    """The objective against the step, drawn with matplotlib for the PNG download."""
    figure = Figure(figsize=(7, 3.2))
    axes = figure.add_subplot()
    for index, label in enumerate(result.labels):
        axes.plot(result.history[:, index], label=f"{index}: {label}", linewidth=1)
    axes.set_xlabel("step")
    axes.set_ylabel("objective (transformed image)")
    axes.legend(fontsize=7)
    return figure


def _middle_layer(fallback: str) -> str:
    """The deepest spatial layer whose units see at most half the image: patches worth cutting out."""
    half = min(loaded.input_size) / 2
    fitting = [
        row.name
        for row in table
        if row.geometry is not None and not row.geometry.whole_image and max(row.geometry.size) <= half
    ]
    return fitting[-1] if fitting else fallback


st.title("Activation maximization")
st.caption(
    "Ask the network what it looks for: the image that excites a channel or a class the most, "
    "and the real images that do."
)

model = state.require_model()
loaded = model.loaded
table = layers(loaded)
spatial = [row.name for row in table if row.spatial]
with user_errors():
    default_layer = default_target_layer(loaded)

optimise_tab, examples_tab = st.tabs(["Optimised images", "Top activating examples"])

with optimise_tab:
    kind = st.segmented_control(
        "Maximise",
        ["class", "channel"],
        default="class",
        key="maximize.kind",
        format_func={"class": "a class score", "channel": "a channel of a layer"}.get,
    )
    kind = kind or "class"
    target_params: dict[str, object]
    if kind == "class":
        classes = st.multiselect(
            "Classes",
            list(range(loaded.num_classes)),
            key="maximize.classes",
            default=list(range(min(4, loaded.num_classes))),
            max_selections=MAX_TARGETS,
            format_func=lambda c: loaded.class_names[c],
        )
        target_params = {"class_index": tuple(int(c) for c in classes)}
        ready = bool(classes)
    else:
        layer = st.selectbox("Layer", spatial, index=spatial.index(default_layer), key="maximize.layer")
        count = int(table.row(layer).output_shape[-1] or 1)
        channels = st.multiselect(
            f"Channels (0 to {count - 1})",
            list(range(count)),
            key="maximize.channels",
            default=list(range(min(4, count))),
            max_selections=MAX_TARGETS,
        )
        target_params = {"layer": layer, "channels": tuple(int(c) for c in channels)}
        ready = bool(channels)
    columns = st.columns(4)
    method = columns[0].selectbox(
        "Method", list(METHOD_LABELS), format_func=METHOD_LABELS.get, key="maximize.method"
    )
    steps = columns[1].slider("Steps", 16, 1024, DEFAULT_STEPS, step=16, key="maximize.steps")
    per_target = columns[2].number_input(
        "Images per target", 1, MAX_IMAGES_PER_TARGET, 1, key="maximize.per_target"
    )
    seed = columns[3].number_input("Seed", 0, 2**31 - 1, 0, key="maximize.seed")
    with st.expander("Regularisers and learning rate"):
        columns = st.columns(3)
        diversity = columns[0].number_input(
            "Diversity (with several images per target)", 0.0, 100.0, 0.0, step=0.5, key="maximize.diversity",
            help=HELP["diversity"],
        )
        total_variation = columns[1].number_input(
            "Total variation", 0.0, 100.0, 0.0, step=0.1, key="maximize.tv", help=HELP["tv"]
        )
        blur = columns[2].number_input(
            "Blur", 0.0, 100.0, 0.0, step=0.1, key="maximize.blur", help=HELP["blur"]
        )
        l1 = columns[0].number_input(
            "L1 (distance from grey)", 0.0, 100.0, 0.0, step=0.1, key="maximize.l1", help=HELP["l1"]
        )
        l2 = columns[1].number_input(
            "L2 (distance from grey)", 0.0, 100.0, 0.0, step=0.1, key="maximize.l2", help=HELP["l2"]
        )
        rate = columns[2].number_input(
            "Adam learning rate",
            0.001,
            1.0,
            DEFAULT_LEARNING_RATE,
            step=0.01,
            format="%.3f",
            key="maximize.rate",
            help=HELP["rate"],
        )
    penalties = (
        ("blur", float(blur)),
        ("diversity", float(diversity)),
        ("l1", float(l1)),
        ("l2", float(l2)),
        ("total_variation", float(total_variation)),
    )
    params = tuple(
        sorted(
            {
                **target_params,
                "steps": int(steps),
                "method": method,
                "seed": int(seed),
                "images_per_target": int(per_target),
                "learning_rate": float(rate),
                "penalties": penalties,
            }.items()
        )
    )
    if not ready:
        st.info("Choose at least one target.", icon=":material/info:")
    elif progress.requested("maximize", (model.key, params), label="Optimise"):
        with user_errors(), progress.progress_bar("Optimising", key="maximize") as bar:
            result = _maximize(model.key, params, loaded, _progress=bar)
        captions = [
            f"{label}: {start:.3g} -> {final:.3g}" + (f", p={p:.2f}" if result.target_kind == "class" else "")
            for label, start, final, p in zip(
                result.labels, result.start_objective, result.final_objective, result.probabilities
            )
        ]
        gallery = render_inside.gallery(list(result.images), captions, cell=GALLERY_CELL, columns=4)
        st.image(
            gallery,
            caption=f"{result.steps} steps in {result.seconds:.1f} s "
            f"({result.steps_per_second:.1f} steps/s). Caption: objective of the "
            "starting noise -> of the final image"
            + (", and the probability of the class." if result.target_kind == "class" else "."),
        )
        download_png(
            "Download the images (PNG)",
            gallery,
            key="maximize.download",
            file_name=f"maximize-{loaded.name}-{result.target_kind}-{result.method}.png",
        )
        if result.target_kind == "class":
            fooled = [
                label
                for label, p, c, t in zip(
                    result.labels, result.probabilities, result.predicted, result.targets
                )
                if c == t and p >= 0.9
            ]
            st.caption(
                f"Classified as the class asked for with p >= 0.9: {len(fooled)} of {len(result.labels)}."
            )
        st.plotly_chart(_history_chart(result), config={"displayModeBar": False}, key="maximize.history")
        download_png("Download the chart (PNG)", lambda: _history_png(result), key="maximize.download.history",
                     file_name=f"maximize-{loaded.name}-{result.target_kind}-objective.png")

with examples_tab:
    columns = st.columns([3, 2, 2])
    layer = columns[0].selectbox(
        "Layer", spatial, index=spatial.index(_middle_layer(default_layer)), key="examples.layer"
    )
    count = int(table.row(layer).output_shape[-1] or 1)
    channel = int(
        columns[1].number_input(f"Channel (0 to {count - 1})", 0, count - 1, 0, key="examples.channel")
    )
    top = int(columns[2].number_input("How many", 1, 32, 9, key="examples.top"))
    source = st.radio(
        "Images",
        ["generated", "uploads"],
        horizontal=True,
        key="examples.source",
        format_func={"generated": "generated demo shapes", "uploads": "my own images"}.get,
    )
    images: list[np.ndarray] = []
    if source == "generated":
        columns = st.columns(2)
        size = columns[0].selectbox("How many images", DEMO_SET_SIZES, index=1, key="examples.size")
        set_seed = int(columns[1].number_input("Seed of the set", 0, 2**31 - 1, 0, key="examples.seed"))
        images = demo_images(int(size), seed=None if set_seed == 0 else set_seed)
        set_key = f"demo:{size}:{set_seed}"
    else:
        uploads = st.file_uploader(
            "Images (several at once)", accept_multiple_files=True, key="examples.files"
        )
        for upload in uploads or []:
            try:
                images.append(load_image(upload.getvalue()))
            except CnnvizError as error:
                st.warning(f"{upload.name} skipped: {error}", icon=":material/warning:")
        set_key = "uploads:" + ",".join(image_sha256(image)[:16] for image in images)
    if not images:
        st.info("Upload some images (or use the generated set).", icon=":material/upload:")
    elif progress.requested("examples", (model.key, set_key, layer, channel, top, state.fit()), label="Find"):
        with user_errors(), progress.progress_bar("Scoring the images", key="examples") as bar:
            found = _top(model.key, set_key, layer, channel, top, state.fit(), loaded, images, _progress=bar)
        geometry = found.geometry
        st.caption(
            f"{len(images)} images scored by the peak of channel {channel} of {layer}; each unit of "
            f"this layer sees a {geometry.size[0]:g}x{geometry.size[1]:g}-pixel receptive field (box)."
        )
        boxed = render_inside.boxed_examples(
            [e.image for e in found.examples],
            [e.box for e in found.examples],
            [f"#{e.index}: {e.score:.3g}" for e in found.examples],
            cell=EXAMPLE_CELL,
        )
        st.image(boxed, caption="The most activating images, with the receptive field of the strongest unit.")
        patches = render_inside.gallery(
            [e.patch for e in found.examples],
            [f"#{e.index}" for e in found.examples],
            cell=96,
            columns=min(len(found.examples), 9),
        )
        st.image(patches, caption="The patches those units see (cut at the image border).")
        download_png(
            "Download the examples (PNG)",
            boxed,
            key="examples.download",
            file_name=f"top-examples-{loaded.name}-{layer.replace('/', '_')}-{channel}.png",
        )

with st.expander("How to read this", expanded=False):
    st.markdown(
        "**Optimised images.** Start from noise and change the image, step by step, in the direction "
        "that makes the chosen channel (its mean activation) or class score larger: gradient ascent "
        "on the input (Erhan et al., 2009). Done naively on the pixels, this finds high-frequency "
        "patterns the network reacts to but a person cannot read; the same trick fools classifiers "
        "with noise (compare the two methods on a class). The Feature Visualization recipe (Olah et "
        "al., 2017) steers towards natural-looking images: the image is described by its Fourier "
        "spectrum, scaled so low frequencies learn as fast as high ones, with decorrelated colours, "
        "and it must work under small random shifts, rotations and zooms. What appears are fragments: "
        "a channel of the shapes model draws arcs, corners or stripes, repeated everywhere it can.\n\n"
        "**Top activating examples.** The other way to ask: run many real images and keep those that "
        "excite the channel most (Girshick et al., 2014). The box is the part of the image the "
        "strongest unit can see at all (its receptive field), computed from the layer table.\n\n"
        "**Limits.** An optimised image shows what *increases* a channel, not everything it responds "
        "to; a channel can respond to several unrelated things. A high class probability on an "
        "optimised image does not mean the image looks like the class.\n\n"
        "**References.** D. Erhan, Y. Bengio, A. Courville, P. Vincent, *Visualizing Higher-Layer "
        "Features of a Deep Network*, 2009. C. Olah, A. Mordvintsev, L. Schubert, *Feature "
        "Visualization*, Distill 2017. R. Girshick et al., *Rich feature hierarchies for accurate "
        "object detection*, CVPR 2014."
    )
