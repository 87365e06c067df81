"""Architecture: the layer table (receptive fields, FLOPs), the model catalog with latency measured
here, a convolution worked out with the model's own numbers, and how invariant the model is to
shifts, rotations and zooms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.colors
import plotly.graph_objects as go
import streamlit as st
from matplotlib.figure import Figure

from cnnviz.render import inside as render_inside
from cnnviz.inside import (
    TRANSFORMS,
    ConvolutionStep,
    InvarianceProbe,
    catalog,
    explain_convolution,
    first_convolution,
    invariance_probe,
    layers,
    measured_catalog,
    shrinking_after,
)
from cnnviz.inside.catalog import IMAGENET_21K, PUBLISHED_BATCH_SIZE
from cnnviz.inside.invariance import FILLS
from cnnviz.models import LoadedModel
from cnnviz.zoo import imagenet_models
from ui import progress, state
from ui.downloads import download_png
from ui.errors import user_errors

CACHE_ENTRIES = 16
LATENCY_REPEATS = 5
DEFAULT_MEASURED = ("MobileNetV2",)
PATCH_CELL = 180
TRANSFORM_LABELS = {
    "shift_x": "shift left / right",
    "shift_y": "shift up / down",
    "rotate": "rotate",
    "scale": "zoom",
}
RANGES = {
    "shift_x": (-0.5, 0.5, 0.05),
    "shift_y": (-0.5, 0.5, 0.05),
    "rotate": (-180.0, 180.0, 5.0),
    "scale": (0.3, 2.0, 0.05),
}
STRIP_IMAGES = 7
NO_IMAGE = "Choose an image in the sidebar (a generated sample or your own) to {}."
MEASURED = "measured here, ms per image"
PUBLISHED_CPU = f"published CPU ms per batch-{PUBLISHED_BATCH_SIZE} step"
PUBLISHED_GPU = f"published GPU ms per batch-{PUBLISHED_BATCH_SIZE} step"
PUBLISHED_CPU_PER_IMAGE = f"published CPU ms per image (step / {PUBLISHED_BATCH_SIZE})"
PARAMETERS_AXIS = "parameters (millions, log scale)"
LATENCY_AXIS = "CPU milliseconds per image (log scale)"
PUBLISHED_SERIES = f"published: batch-{PUBLISHED_BATCH_SIZE} step / {PUBLISHED_BATCH_SIZE}, 92-core EPYC"
PRETRAINED = "pretrained on"
SOURCE = "source of the figures"
MARK_21K = " (ImageNet-21k)"  # appended to the names of models pretrained on ImageNet-21k in the charts
SYMBOL_21K = "diamond-open"  # their marker on the Plotly charts; a hollow diamond in the PNGs
CATALOG_HELP = {
    "depth": "As Keras counts it: the number of layers with weights (convolutions, batch "
             "normalisations, Dense layers), not the number of stacked convolutions. ResNet50 has 107: "
             "53 convolutions, 53 batch normalisations and the Dense layer.",
    PRETRAINED: "ConvNeXt Base, Large and XLarge were pretrained on ImageNet-21k (about 14 million "
                "images) before ImageNet-1k: their accuracy is not comparable with the others'.",
    SOURCE: "The lecture's table is the Keras applications table; ConvNeXt rows come from the same "
            "table on keras.io, MobileNetV3 rows from Keras' MobileNetV3 documentation.",
}
TABLE_HELP = {
    "receptive field": "Side length, in input pixels, of the square (or rectangle) a unit of this layer "
                       "can see at all: 3x3 for a first 3x3 convolution. Its effective field, where the "
                       "pixels really matter, is much smaller (Luo et al., NeurIPS 2016).",
    "jump": "Input pixels between two neighbouring units of this layer: each stride multiplies it.",
    "MFLOPs": "Millions of floating-point operations for one image: 2 per multiply-add (a multiply "
              "and an add) plus the elementwise work. Lecture 5's 15.3 billion (VGG16) and 11.3 "
              "billion (ResNet-152) count multiply-adds, about half the FLOPs here.",
}


@st.cache_data(max_entries=CACHE_ENTRIES, show_spinner="Measuring forward passes...")
def _measured(names: tuple[str, ...], batch_size: int, _progress=None) -> pd.DataFrame:
    entries = measured_catalog(names, batch_size=batch_size, repeats=LATENCY_REPEATS, progress=_progress)
    return pd.DataFrame(
        {"model": [e.name for e in entries], MEASURED: [e.measured.per_image_ms for e in entries]}
    )


@st.cache_data(max_entries=CACHE_ENTRIES, show_spinner=False)
def _convolution(
    model_key: str,
    image_sha256: str,
    fit: str,
    position: tuple[int, int],
    filter_index: int,
    _loaded: LoadedModel,
    _image: np.ndarray,
) -> ConvolutionStep:
    return explain_convolution(_loaded, _image, position, filter_index=filter_index, fit=fit)


@st.cache_data(max_entries=CACHE_ENTRIES, show_spinner=False)
def _probe(
    model_key: str,
    image_sha256: str,
    fit: str,
    transform: str,
    values: tuple[float, ...],
    fill: str,
    _loaded: LoadedModel,
    _image: np.ndarray,
    _progress=None,
) -> InvarianceProbe:
    return invariance_probe(
        _loaded, _image, transform, values=list(values), fill=fill, fit=fit, progress=_progress
    )


def _per_axis(pair: tuple[float, float], separator: str) -> str:
    """One number when rows and columns agree (square models), else both: '2x1', '0.5, 1.5'."""
    return f"{pair[0]:g}" if pair[0] == pair[1] else f"{pair[0]:g}{separator}{pair[1]:g}"


def _layer_frame(loaded: LoadedModel) -> pd.DataFrame:
    rows = []
    for row in layers(loaded):
        g = row.geometry
        rows.append(
            {
                "layer": row.name,
                "type": row.type,
                "output": " x ".join(str(d) for d in row.output_shape),
                "parameters": row.params,
                "receptive field": None
                if g is None
                else ("whole image" if g.whole_image else f"{g.size[0]:g}x{g.size[1]:g}"),
                "jump": None if g is None else _per_axis(g.jump, "x"),
                "start": None if g is None else _per_axis(g.start, ", "),
                "MFLOPs": round(row.flops / 1e6, 3),
            }
        )
    return pd.DataFrame(rows)


def _catalog_frame() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "model": e.name,
                "family": e.family,
                "input": f"{e.input_size[0]}",
                "size MB": e.size_mb,
                "top-1 %": e.top1,
                "top-5 %": e.top5,
                "parameters M": e.params_m,
                "depth": e.depth,
                PRETRAINED: e.pretraining,
                PUBLISHED_CPU: e.published_cpu_ms,
                PUBLISHED_GPU: e.published_gpu_ms,
                PUBLISHED_CPU_PER_IMAGE: None
                if e.published_cpu_ms is None
                else e.published_cpu_ms / PUBLISHED_BATCH_SIZE,
                SOURCE: e.source,
            }
            for e in catalog()
        ]
    )


def _help_columns(helps: dict[str, str]) -> dict[str, object]:
    """Column settings that show a help text when the header is hovered."""
    return {name: st.column_config.Column(help=text) for name, text in helps.items()}


def _family_colours(frame: pd.DataFrame) -> dict[str, str]:
    """One colour per model family, from the whole catalog: the same family has the same colour on
    both charts and in both PNGs, whichever families a chart shows."""
    families = sorted(frame["family"].dropna().unique())
    palette = plotly.colors.qualitative.Plotly
    return {family: palette[index % len(palette)] for index, family in enumerate(families)}


def _scatter(
    frame: pd.DataFrame, x: str, title: str, x_title: str, unit: str, measured_name: str | None = None
) -> go.Figure:
    """Top-1 accuracy against ``x`` (log axis), one colour per family, names on hover; with
    ``measured_name``, the latency measured here (column MEASURED) as black crosses on the same axis."""
    shown = frame.dropna(subset=[x, "top-1 %"])
    source = {"legendgroup": "published", "legendgrouptitle_text": PUBLISHED_SERIES} if measured_name else {}
    colours = _family_colours(frame)
    figure = go.Figure()
    for family, group in shown.groupby("family"):
        wide = group[PRETRAINED] == IMAGENET_21K
        figure.add_scatter(
            x=group[x],
            y=group["top-1 %"],
            mode="markers",
            marker={"color": colours[family], "symbol": ["circle" if not w else SYMBOL_21K for w in wide],
                    "size": [7 if not w else 11 for w in wide]},
            name=family,
            text=[name + (MARK_21K if w else "") for name, w in zip(group["model"], wide)],
            hovertemplate=f"%{{text}}: %{{y}} %, %{{x:.3g}} {unit}<extra></extra>",
            **source,
        )
    if measured_name and MEASURED in frame:
        measured = frame.dropna(subset=[MEASURED, "top-1 %"])
        figure.add_scatter(
            x=measured[MEASURED],
            y=measured["top-1 %"],
            mode="markers+text",
            name=measured_name,
            legendgroup="measured",
            legendgrouptitle_text="measured here",
            text=measured["model"],
            textposition="top center",
            marker={"symbol": "x", "size": 10, "color": "black"},
            hovertemplate=f"%{{text}}: %{{y}} %, %{{x:.3g}} {unit} measured here<extra></extra>",
        )
    figure.update_layout(
        xaxis={"title": x_title, "type": "log"},
        yaxis_title="ImageNet top-1 %",
        title=title,
        height=520,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        # below the chart: beside it, the families and the two sources squeezed the points into a strip
        legend={"orientation": "h", "yanchor": "top", "y": -0.24, "x": 0},
    )
    return figure


def _scatter_png(frame: pd.DataFrame, x: str, x_title: str, measured_name: str | None = None) -> Figure:
    figure = Figure(figsize=(7, 4.5))
    axes = figure.add_subplot()
    shown = frame.dropna(subset=[x, "top-1 %"])
    colours = _family_colours(frame)
    series = [(family, group, {"s": 18, "color": colours[family]}) for family, group in shown.groupby("family")]
    if measured_name and MEASURED in frame:
        measured = frame.dropna(subset=[MEASURED, "top-1 %"]).rename(columns={MEASURED: x})
        series.append((measured_name, measured, {"s": 40, "marker": "x", "color": "black"}))
    for label, group, style in series:
        axes.scatter(group[x], group["top-1 %"], label=label, **style)
        wide = group[group[PRETRAINED] == IMAGENET_21K] if PRETRAINED in group else group.iloc[:0]
        if len(wide):
            axes.scatter(wide[x], wide["top-1 %"], s=70, marker="D", facecolors="none",
                         edgecolors=style["color"], linewidths=1)
        for _, item in group.iterrows():
            axes.annotate(
                item["model"] + (MARK_21K if item.get(PRETRAINED) == IMAGENET_21K else ""),
                (item[x], item["top-1 %"]),
                fontsize=6,
                xytext=(2, 2),
                textcoords="offset points",
            )
    axes.set_xscale("log")
    axes.set_xlabel(x_title)
    axes.set_ylabel("ImageNet top-1 %")
    axes.legend(fontsize=6, title=PUBLISHED_SERIES if measured_name else None, title_fontsize=6)
    figure.text(0.01, 0.01, "hollow diamond: pretrained on ImageNet-21k, then ImageNet-1k", fontsize=6)
    return figure


def _matrix(values: np.ndarray, digits: int = 3) -> pd.DataFrame:
    return pd.DataFrame(np.round(values, digits))


def _shrinking_note(loaded: LoadedModel, layer: str) -> str:
    """What this network really does next, when no pooling follows the convolution directly."""
    shrinking = shrinking_after(layers(loaded), layer)
    where = shrinking.shrinks_at
    if shrinking.itself and where is not None:
        return (f"No pooling layer follows this convolution: it shrinks the map itself, with a stride "
                f"of {_per_axis(where.geometry.jump, 'x')} pixels between neighbouring units.")
    text = "No pooling layer follows this convolution directly."
    if shrinking.next_layer is not None:
        text += f" Next comes {shrinking.next_layer.name} ({shrinking.next_layer.type})"
        if where is not None and where.name != shrinking.next_layer.name:
            text += f"; the maps first shrink at {where.name} ({where.type})"
        text += "."
    return text


def _worked_convolution(model: state.ModelChoice, image: state.ImageChoice, fit: str) -> None:
    """The first convolution computed by hand at one position of ``image``, beside the model's own."""
    loaded = model.loaded
    with user_errors():
        first = first_convolution(loaded)
        row = layers(loaded).row(first)
    height, width = loaded.input_size
    count = int(row.output_shape[-1])
    columns = st.columns(3)
    filter_index = int(
        columns[0].number_input(
            f"Filter of {first} (0 to {count - 1})", 0, count - 1, 0, key="convolution.filter"
        )
    )
    row_position = int(
        columns[1].slider("Row in the model input", 0, height - 1, height // 2, key="convolution.row")
    )
    column_position = int(columns[2].slider("Column", 0, width - 1, width // 2, key="convolution.column"))
    with user_errors():
        step = _convolution(
            model.key, image.sha256, fit, (row_position, column_position), filter_index, loaded, image.image
        )
    top, left, bottom, right = (round(v) for v in step.field)
    scale = max(1, 320 // height)
    shown = render_inside.draw_box(
        render_inside.enlarge(step.image, (height * scale, width * scale)),
        (top * scale, left * scale, (bottom + 1) * scale - 1, (right + 1) * scale - 1),
        thickness=2,
    )
    columns = st.columns([2, 1, 1])
    columns[0].image(
        shown,
        caption=f"Output unit {step.position} of {step.layer} looks at rows {top}..{bottom}, "
        f"columns {left}..{right} (box; beyond the border is padding).",
    )
    columns[1].image(render_inside.enlarge(step.patch_pixels, PATCH_CELL), caption="the patch (raw pixels)")
    if step.kernel.shape[2] == 3:
        from cnnviz.inside import filters as kernel_view

        pixel_kernel = kernel_view(loaded, step.layer).pixel_kernel
        if pixel_kernel is not None:
            columns[2].image(
                render_inside.rgb_kernel_tiles(pixel_kernel, [filter_index], cell=PATCH_CELL),
                caption="the filter, as colours",
            )
    st.markdown(
        "**Multiply the patch by the kernel, channel by channel, and add everything up.** The patch "
        "values are what the layer receives, after the model's preprocessing."
    )
    names = (
        ["red", "green", "blue"] if step.patch.shape[2] == 3 else [str(c) for c in range(step.patch.shape[2])]
    )
    for channel, label in list(enumerate(names))[:3]:
        columns = st.columns(3)
        columns[0].caption(f"input ({label})")
        columns[0].dataframe(_matrix(step.patch[..., channel]), hide_index=True)
        columns[1].caption(f"kernel ({label})")
        columns[1].dataframe(_matrix(step.kernel[..., channel], 4), hide_index=True)
        columns[2].caption(f"product ({label}), sum {step.products[..., channel].sum():.4f}")
        columns[2].dataframe(_matrix(step.products[..., channel], 4), hide_index=True)
    lines = [
        f"sum of all {step.products.size} products = **{step.weighted_sum:.4f}**",
        f"plus the bias {step.bias:.4f} = **{step.pre_activation:.4f}**",
    ]
    if step.normalization is not None:
        name, factor, shift = step.normalization
        lines.append(
            f"batch normalisation ({name}): x {factor:.4f} + {shift:.4f} = **{step.normalized:.4f}**"
        )
    for activation in step.activation_layers:
        lines.append(f"activation {activation}")
    lines.append(f"= **{step.activation:.4f}** (the model's own layers give {step.model_activation:.4f})")
    st.markdown("  \n".join(lines))
    if step.pooling is not None:
        pooling = step.pooling
        st.markdown(
            f"**Then {pooling.kind} pooling ({pooling.layer})** keeps the {pooling.kind} of this window "
            f"of activations (top-left at {pooling.window_origin}): **{pooling.result:.4f}** "
            f"(model: {pooling.model_result:.4f})."
        )
        st.dataframe(_matrix(pooling.window, 4), hide_index=True)
    else:
        st.caption(_shrinking_note(loaded, step.layer))
    st.image(
        render_inside.enlarge(render_inside.colorize(step.feature_map), 256),
        caption=f"The whole map of filter {filter_index} after the activation: the same sum at every "
        "position.",
    )


st.title("Architecture")
st.caption("How the network is built, how fast it is, and what one convolution actually computes.")

model = state.require_model()
loaded = model.loaded
table_tab, catalog_tab, convolution_tab, invariance_tab = st.tabs(
    ["Layer table", "Model catalog", "How a convolution works", "Invariance probe"]
)

with table_tab:
    with user_errors():
        table = layers(loaded)
    columns = st.columns(4)
    columns[0].metric("Layers", f"{len(table)}")
    columns[1].metric("Parameters", f"{table.total_params:,}")
    columns[2].metric("Multiply-adds per image", f"{table.total_macs / 1e6:,.1f} M",
                      help="One multiply-add: a weight times an input, added to a sum. The lecture's "
                           "'FLOPs' of VGG and ResNet (15.3 and 11.3 billion) count these.")
    height, width = table.input_size
    spatial = [row for row in table if row.geometry is not None]
    widest = spatial[-1].geometry if spatial else None
    columns[3].metric(
        "Receptive field of the last spatial layer",
        "-" if widest is None else f"{_per_axis(widest.size, 'x')} px",
        help="Side length of the input region one unit can see at all (it may exceed the image).",
    )
    frame = _layer_frame(loaded)
    st.dataframe(frame, hide_index=True, height=420, column_config=_help_columns(TABLE_HELP))
    st.download_button(
        "Download the table (CSV)",
        frame.to_csv(index=False).encode(),
        key="architecture.csv",
        file_name=f"layers-{loaded.name}.csv",
        mime="text/csv",
        icon=":material/download:",
        on_click="ignore",
    )
    st.caption(
        f"Input {height}x{width}. Receptive field: the side length, in input pixels, of the region one "
        "unit of the layer can see at all (its effective field, where pixels really matter, is much "
        "smaller: Luo et al., NeurIPS 2016); jump: input pixels between neighbouring units; start: "
        "centre of the first unit's field (negative when padding adds pixels outside the image). One "
        "number when rows and columns agree; otherwise sizes and jump read rows x columns and start "
        "reads row, column. MFLOPs: 2 floating-point operations per multiply-add plus the elementwise "
        "work, an estimate; the multiply-adds above are half of it. Lecture 5's 15.3 billion (VGG16) "
        "and 11.3 billion (ResNet-152) are multiply-adds: compare them with the metric, not with this "
        "column. Hover a column's name for its meaning."
    )

with catalog_tab:
    frame = _catalog_frame()
    names = [spec.name for spec in imagenet_models()]
    chosen = st.multiselect(
        "Measure the latency here (random weights, nothing downloaded)",
        names,
        default=[n for n in DEFAULT_MEASURED if n in names],
        key="catalog.models",
        max_selections=6,
    )
    batch = st.select_slider("Batch size", [1, 8, 32], value=1, key="catalog.batch")
    if chosen and progress.requested("catalog", (tuple(chosen), batch), label="Measure"):
        with user_errors(), progress.progress_bar("Building and timing", key="catalog") as bar:
            measured = _measured(tuple(chosen), int(batch), _progress=bar)
        frame = frame.merge(measured, on="model", how="left")
    st.dataframe(frame, hide_index=True, height=360, column_config=_help_columns(CATALOG_HELP))
    measured_name = f"measured here: batch {batch}, time / {batch}"
    columns = st.columns(2)
    columns[0].plotly_chart(
        _scatter(frame, "parameters M", "Accuracy against size", PARAMETERS_AXIS, "M parameters"),
        key="catalog.params",
        config={"displayModeBar": False},
    )
    columns[1].plotly_chart(
        _scatter(
            frame,
            PUBLISHED_CPU_PER_IMAGE,
            "Accuracy against latency",
            LATENCY_AXIS,
            "ms per image",
            measured_name,
        ),
        key="catalog.latency",
        config={"displayModeBar": False},
    )
    with columns[0]:
        download_png(
            "Download accuracy against parameters (PNG)",
            lambda: _scatter_png(frame, "parameters M", PARAMETERS_AXIS),
            file_name="catalog-accuracy-parameters.png",
            key="catalog.download",
        )
    with columns[1]:
        download_png(
            "Download accuracy against latency (PNG)",
            lambda: _scatter_png(frame, PUBLISHED_CPU_PER_IMAGE, LATENCY_AXIS, measured_name),
            file_name="catalog-accuracy-latency.png",
            key="catalog.download.latency",
        )
    st.caption(
        f"Time per image, in milliseconds, on both sources. Published (dots, Keras applications "
        f"table): the CPU time of one inference step on a batch of {PUBLISHED_BATCH_SIZE} images on a "
        f"92-core AMD EPYC, divided by {PUBLISHED_BATCH_SIZE} for the chart: the time per image at "
        f"batch {PUBLISHED_BATCH_SIZE} (the inverse of the throughput), not the latency of a single "
        f"image (the table keeps the step time; the GPU column is one batch-{PUBLISHED_BATCH_SIZE} step "
        f"on an A100). Measured here (crosses): the median of {LATENCY_REPEATS} compiled forward passes "
        f"of a batch of {batch} on this machine, random weights, divided by {batch}; at batch 1 that is "
        "the latency. Machines and batch sizes differ: compare models within one source; between the "
        "two sources only ratios (model A against model B) carry over, never one dot against one "
        "cross. Hollow diamonds: ConvNeXt Base, Large and XLarge, pretrained on ImageNet-21k before "
        "ImageNet-1k, so their accuracy is not comparable with the others'. Sources: the lecture's "
        "table (the Keras applications table), keras.io for ConvNeXt, Keras' MobileNetV3 "
        "documentation for MobileNetV3 (column 'source of the figures')."
    )

image = state.current_image()
fit = state.fit()

with convolution_tab:
    if image is None:
        st.info(NO_IMAGE.format("see a convolution worked out on it"), icon=":material/arrow_back:")
    else:
        _worked_convolution(model, image, fit)

with invariance_tab:
    columns = st.columns(3)
    transform = columns[0].selectbox(
        "Transformation", list(TRANSFORMS), format_func=TRANSFORM_LABELS.get, key="invariance.transform"
    )
    low, high, step_size = RANGES[transform]
    default_low, default_high, _ = TRANSFORMS[transform][1][[0, -1, 0]]
    span = columns[1].slider(
        f"Range ({TRANSFORMS[transform][0]})",
        low,
        high,
        (float(default_low), float(default_high)),
        step=step_size,
        key=f"invariance.range.{transform}",
    )
    points = int(columns[2].number_input("Points", 3, 121, 21, key="invariance.points"))
    fill = st.radio(
        "Uncovered area",
        FILLS,
        horizontal=True,
        key="invariance.fill",
        format_func={"mean": "mean colour", "reflect": "mirror", "black": "black"}.get,
    )
    values = tuple(float(v) for v in np.linspace(span[0], span[1], points))
    if image is None:
        st.info(
            NO_IMAGE.format("probe how its class changes under these transformations"),
            icon=":material/arrow_back:",
        )
    elif progress.requested(
        "invariance", (model.key, image.sha256, fit, transform, values, fill), label="Probe"
    ):
        with (
            user_errors(),
            progress.progress_bar("Classifying the transformed images", key="invariance") as bar,
        ):
            probe = _probe(
                model.key, image.sha256, fit, transform, values, fill, loaded, image.image, _progress=bar
            )
        figure = go.Figure()
        figure.add_scatter(
            x=probe.values, y=100 * probe.probabilities, mode="lines+markers", name=f"p({probe.label})"
        )
        figure.add_scatter(
            x=probe.values,
            y=100 * probe.top_probabilities,
            mode="lines",
            line={"dash": "dot"},
            name="top class",
            text=[loaded.class_names[c] for c in probe.top_classes],
            hovertemplate="%{x}: %{text} %{y:.1f} %<extra></extra>",
        )
        figure.update_layout(
            xaxis_title=probe.unit,
            yaxis={"title": "probability (%)", "range": [0, 100]},
            height=360,
            margin={"l": 10, "r": 10, "t": 10, "b": 10},
        )
        st.plotly_chart(figure, key="invariance.chart", config={"displayModeBar": False})
        changed = int(np.sum(probe.top_classes != probe.class_index))
        st.caption(
            f"Following **{probe.label}** (the top class of the untransformed image). The top class "
            f"changes for {changed} of {len(probe.values)} transformations."
        )
        picks = np.linspace(0, len(probe.values) - 1, min(STRIP_IMAGES, len(probe.values))).astype(int)
        strip = render_inside.gallery(
            [probe.images[i] for i in picks],
            [f"{probe.values[i]:.2g}: {100 * probe.probabilities[i]:.0f} %" for i in picks],
            cell=128,
            columns=len(picks),
        )
        st.image(strip)

        def _chart_png() -> Figure:
            chart = Figure(figsize=(6.4, 3.2))
            axes = chart.add_subplot()
            axes.plot(probe.values, 100 * probe.probabilities, marker="o", label=f"p({probe.label})")
            axes.plot(probe.values, 100 * probe.top_probabilities, linestyle=":", label="top class")
            axes.set_xlabel(probe.unit)
            axes.set_ylabel("probability (%)")
            axes.set_ylim(0, 100)
            axes.legend()
            return chart

        download_png(
            "Download the chart (PNG)",
            _chart_png,
            key="invariance.download",
            file_name=f"invariance-{loaded.name}-{transform}.png",
        )

with st.expander("How to read this", expanded=False):
    st.markdown(
        "**Layer table.** Every layer, in order, with its output size and parameters. The *receptive "
        "field* is the side length, in input pixels, of the region one unit can see. It grows with "
        "every convolution or pooling whose window is larger than 1: a 3x3 convolution adds two "
        "*jumps*, a 1x1 convolution adds nothing (it mixes channels at one position, lecture 4), and "
        "each stride multiplies the jump. Three stacked 3x3 convolutions see as far as one 7x7 with "
        "fewer weights, which is why VGG and its successors stack small kernels. A layer after global "
        "pooling or a squeeze-and-excitation block sees the whole image: *squeeze-and-excitation* "
        "(Hu et al., CVPR 2018) averages each channel over the whole map, passes these averages "
        "through a small two-layer network and rescales every channel by the result, so each position "
        "is weighted by information from everywhere. The field counts every pixel that can matter; "
        "the *effective* receptive field, where pixels matter much, is far smaller, roughly Gaussian "
        "around the centre (Luo et al., NeurIPS 2016). Fields are computed from the model's graph "
        "(Araujo et al., 2019). FLOPs count 2 per multiply-add; the lecture's figures for VGG and "
        "ResNet count multiply-adds.\n\n"
        "**Catalog.** Bigger is not always better: compare accuracy with parameters and with the time "
        "per image. *Depth* is Keras' count of layers with weights (ResNet50: 107), not the number of "
        "convolutions in a row. Published times are per batch of 32 on a large server: divided by 32 "
        "they are the time per image at that batch size, not the latency of one image. Compare models "
        "within one source; between the published and the measured times only ratios carry over. "
        "ConvNeXt Base, Large and XLarge learned from ImageNet-21k first: part of their lead is more "
        "data, not the architecture.\n\n"
        "**How a convolution works.** One output number is a weighted sum: the kernel's weights times the "
        "patch under it, added up, plus a bias, then (often) batch normalisation and an activation "
        "such as ReLU, which keeps positive values and zeroes the rest. Sliding the same kernel over "
        "every position gives the whole feature map; max pooling then keeps the largest value of each "
        "small window, average pooling its mean (CNN Explainer, Wang et al., IEEE TVCG 2021, shows "
        "this on a toy network).\n\n"
        "**Invariance probe.** A convolution with stride 1 shifts its output with the image. Strides "
        "and pooling break even that: they keep one position in 2 (or more), so a shift by one pixel "
        "can change what survives, and the whole network is not invariant: a shift of a few pixels, "
        "a rotation or a zoom can change the answer, and the border filling matters too (Azulay and "
        "Weiss, JMLR 2019).\n\n"
        "**References.** A. Araujo, W. Norris, J. Sim, *Computing Receptive Fields of Convolutional "
        "Neural Networks*, Distill 2019. W. Luo, Y. Li, R. Urtasun, R. Zemel, *Understanding the "
        "Effective Receptive Field in Deep Convolutional Neural Networks*, NeurIPS 2016. J. Hu, L. "
        "Shen, G. Sun, *Squeeze-and-Excitation Networks*, CVPR 2018. Z. Wang et al., *CNN Explainer: "
        "Learning Convolutional Neural Networks with Interactive Visualization*, IEEE TVCG 2021 (VIS "
        "2020). A. Azulay, Y. Weiss, *Why do deep convolutional networks generalize so poorly to small "
        "image transformations?*, JMLR 2019."
    )
