"""Feature maps and filters: what each channel of a layer computes for the image, and the learned
kernels that compute it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from cnnviz.render import inside as render_inside
from cnnviz.graph import default_target_layer
from cnnviz.inside import FeatureMaps, Filters, feature_maps, filters, layers
from cnnviz.inside.features import SORT_KEYS
from cnnviz.inside.kernels import CONVOLUTION_TYPES
from cnnviz.models import LoadedModel
from ui import state
from ui.downloads import download_png
from ui.errors import user_errors

CONVOLUTION_NAMES = tuple(kind.__name__ for kind in CONVOLUTION_TYPES)
PAGE_SIZE = 64  # channels per page of the grid: a 2048-channel layer is 32 pages, never one dump
FILTER_PAGE_SIZE = 64
FEATURE_CACHE_ENTRIES = 2  # results hold every layer's maps (tens of MB for ImageNet models)
FEATURE_CACHE_TTL_S = 600
CELL = 56
BIG = 320  # side of the large view of one channel
SORT_LABELS = {
    "mean": "strongest mean first",
    "max": "strongest peak first",
    "std": "most varied first",
    "active": "most often active first",
    "index": "layer order",
}
BRIGHTNESS_HELP = (
    "Each tile its own: every tile runs from its channel's own minimum (dark) to its own maximum "
    "(bright), so a weak channel looks as bright as a strong one. One scale for all: the whole "
    "layer's minimum and maximum, so strengths compare across tiles."
)
ACTIVE_HELP = (
    "Share of the map's positions where the channel is above zero: after a ReLU, where it fires at "
    "all. On layers without a ReLU (batch normalisation, additions) the values are signed, and "
    "'active' only means positive."
)


@st.cache_resource(
    max_entries=FEATURE_CACHE_ENTRIES,
    ttl=FEATURE_CACHE_TTL_S, show_spinner="Running the model once for every layer..."
)
def _all_feature_maps(
    model_key: str, image_sha256: str, fit: str, _loaded: LoadedModel, _image: np.ndarray
) -> FeatureMaps:
    """Every spatial layer's maps from one forward pass (kept as a resource: no copy per rerun)."""
    return feature_maps(_loaded, _image, fit=fit)


@st.cache_data(max_entries=16, show_spinner=False)
def _filters(model_key: str, layer: str, _loaded: LoadedModel) -> Filters:
    return filters(_loaded, layer)


def _page_choice(count: int, page_size: int, key: str) -> int:
    """A page number input (1-based on screen) when there is more than one page; 0-based page."""
    pages = max(1, -(-count // page_size))
    if pages == 1:
        return 0
    column = st.columns([1, 3])[0]
    return int(column.number_input(f"Page (of {pages}, {page_size} per page)", 1, pages, 1, key=key)) - 1


st.title("Feature maps and filters")
st.caption("What every channel of a layer responds to in your image, and the kernels it learned.")

model = state.require_model()
image = state.require_image()
fit = state.fit()
loaded = model.loaded
table = layers(loaded)

maps_tab, filters_tab = st.tabs(["Feature maps", "Filters"])

with maps_tab:
    with user_errors():
        result = _all_feature_maps(model.key, image.sha256, fit, loaded, image.image)
        default = default_target_layer(loaded)
    names = list(result.layer_names)
    left, middle, right = st.columns([3, 2, 2])
    layer = left.selectbox(
        "Layer",
        names,
        index=names.index(default),
        key="features.layer",
        format_func=lambda n: f"{n} ({table.row(n).type}, {'x'.join(map(str, table.row(n).output_shape))})",
    )
    sort = middle.selectbox(
        "Order", SORT_KEYS, index=SORT_KEYS.index("mean"), format_func=SORT_LABELS.get, key="features.sort"
    )
    scale = right.radio(
        "Brightness",
        ("channel", "layer"),
        horizontal=True,
        key="features.scale",
        format_func={"channel": "each tile its own", "layer": "one scale for all"}.get,
        help=BRIGHTNESS_HELP,
    )
    maps = result[layer]
    page = _page_choice(maps.channels, PAGE_SIZE, "features.page")
    with user_errors():
        channels = maps.page(page, PAGE_SIZE, sort)
    height, width = maps.maps.shape[:2]
    st.caption(
        f"{layer}: {maps.channels} channels of {height}x{width}; showing {len(channels)} "
        f"({SORT_LABELS[sort]}). All {len(names)} layers came from one forward pass. "
        + (
            "Each tile has its own scale: bright is the channel's own maximum, however weak; dark is "
            "its own minimum, which is negative on layers without a ReLU."
            if scale == "channel"
            else "One scale for all tiles: bright is the layer's largest value, dark its smallest."
        )
    )
    grid = render_inside.feature_map_grid(maps.maps, channels, cell=CELL, columns=8, scale=scale)
    st.image(grid, width="content")
    download_png(
        "Download this page of maps (PNG)",
        grid,
        file_name=f"feature-maps-{loaded.name}-{layer.replace('/', '_')}-p{page + 1}.png",
        key="features.download_grid",
    )

    st.subheader("One channel, large")
    channel = st.selectbox(
        "Channel (from this page, in the order shown)", [int(c) for c in channels], key="features.channel"
    )
    values = maps.channel(channel)
    overlay = render_inside.channel_overlay(render_inside.enlarge(result.image, BIG, smooth=True), values)
    columns = st.columns([2, 2, 1])  # images fill their columns, so nothing overlaps on narrow screens
    columns[0].image(overlay, caption="over the model's input", width="stretch")
    columns[1].image(
        render_inside.enlarge(render_inside.colorize(values), BIG),
        width="stretch",
        caption=f"channel {channel} alone ({height}x{width}, pixels enlarged)",
    )
    columns[2].metric("Mean", f"{maps.mean[channel]:.4g}")
    columns[2].metric("Max", f"{maps.max[channel]:.4g}")
    columns[2].metric("Active positions", f"{100 * maps.active[channel]:.0f} %", help=ACTIVE_HELP)
    download_png(
        "Download the overlay (PNG)",
        overlay,
        file_name=f"channel-{loaded.name}-{layer.replace('/', '_')}-{channel}.png",
        key="features.download_channel",
    )
    with st.expander("Statistics of the channels on this page"):
        st.dataframe(
            pd.DataFrame(
                {
                    "channel": channels,
                    "mean": maps.mean[channels],
                    "max": maps.max[channels],
                    "min": maps.min[channels],
                    "std": maps.std[channels],
                    "active %": 100 * maps.active[channels],
                }
            ),
            hide_index=True,
        )

with filters_tab:
    convolutions = [row.name for row in table if row.type in CONVOLUTION_NAMES]
    if not convolutions:
        st.info("This model has no convolution layer.", icon=":material/info:")
    else:
        name = st.selectbox(
            "Convolution layer",
            convolutions,
            key="filters.layer",
            format_func=lambda n: f"{n} ({table.row(n).type})",
        )
        with user_errors():
            view = _filters(model.key, name, loaded)
        shape = "x".join(map(str, view.kernel.shape))
        st.caption(
            f"{view.layer}: {view.kind} kernel {shape}, {view.description}, stride "
            f"{view.strides[0]}, padding '{view.padding}'."
        )
        if view.rgb:
            page = _page_choice(view.num_filters, FILTER_PAGE_SIZE, "filters.page")
            shown = np.arange(page * FILTER_PAGE_SIZE, min(view.num_filters, (page + 1) * FILTER_PAGE_SIZE))
            tiles = render_inside.rgb_kernel_tiles(view.pixel_kernel, shown, columns=16)
            st.image(
                tiles,
                caption="Each tile is one filter as the colours it looks for: grey is zero, a "
                "colour means 'more of this colour here' (preprocessing folded in, so "
                "these are raw RGB pixels).",
            )
        elif view.kind == "convolution":
            output = st.number_input("Output filter", 0, view.num_filters - 1, 0, key="filters.output")
            page = _page_choice(view.input_channels, FILTER_PAGE_SIZE, "filters.input_page")
            inputs = list(
                range(page * FILTER_PAGE_SIZE, min(view.input_channels, (page + 1) * FILTER_PAGE_SIZE))
            )
            tiles = render_inside.filter_input_grid(view.kernel, int(output), columns=16, inputs=inputs)
            st.image(
                tiles,
                caption=f"Filter {output} reads each input channel through its own "
                f"{view.kernel.shape[0]}x{view.kernel.shape[1]} kernel (tile number = input "
                "channel; red positive, blue negative, one scale for all).",
            )
        else:
            spatial = view.kernel.reshape(*view.kernel.shape[:2], -1)
            page = _page_choice(spatial.shape[-1], FILTER_PAGE_SIZE, "filters.page")
            chosen = list(
                range(page * FILTER_PAGE_SIZE, min(spatial.shape[-1], (page + 1) * FILTER_PAGE_SIZE))
            )
            tiles = render_inside.kernel_slices(
                spatial[..., chosen], columns=16, captions=[str(c) for c in chosen]
            )
            st.image(
                tiles,
                caption="A depthwise convolution filters every channel on its own: one spatial "
                "kernel per channel (red positive, blue negative).",
            )
            if view.pointwise is not None:
                st.image(
                    render_inside.pointwise_matrix(view.pointwise),
                    caption=(
                        f"Then a 1x1 convolution mixes the {view.pointwise.shape[0]} filtered channels into "
                        f"{view.pointwise.shape[1]} outputs (rows: inputs, columns: outputs)."
                    ),
                )
        download_png(
            "Download the kernels (PNG)",
            tiles,
            file_name=f"filters-{loaded.name}-{view.layer.replace('/', '_')}.png",
            key="filters.download",
        )


with st.expander("How to read this", expanded=False):
    st.markdown(
        "**Feature maps.** A convolution layer slides each of its filters over its input; where the "
        "input matches the filter's pattern, the output is large. Each output channel is therefore "
        "a map of *where* one pattern occurs (Zeiler & Fergus, 2014). Early layers respond to edges "
        "and colours, deeper ones to parts and textures, and their maps get coarser because pooling "
        "and strides shrink them. With *each tile its own* brightness, bright is the channel's own "
        "maximum, however weak, and dark its own minimum: zero after a ReLU, negative on layers without "
        "one. *One scale for all* shows which channels are really strong. *Active positions* is the "
        "share of positions above zero. Many channels are silent for a given image: they look for "
        "something that is not there.\n\n"
        "**Filters.** The first layer reads colours directly, so its kernels can be drawn as small "
        "colour pictures. Large first kernels, such as the 7x7 ones of ResNet50 and DenseNet, become "
        "readable edge, bar and colour-blob detectors (Krizhevsky et al., 2012, showed them on AlexNet's "
        "11x11). The 3x3 first kernels of VGG, MobileNet and EfficientNet are too small to read that "
        "way: edges and blobs only emerge from several stacked layers. "
        "Deeper kernels read feature maps, not colours, so they are shown as one small grid per input "
        "channel; they are hard to read alone, which is why the Activation maximization page asks "
        "the network instead what image a channel wants.\n\n"
        "**Limits.** Random-weight models show noise-like kernels and meaningless maps. A channel's "
        "strength depends on the image: sort by mean or peak to find the ones this image excites.\n\n"
        "**References.** M. Zeiler, R. Fergus, *Visualizing and Understanding Convolutional "
        "Networks*, ECCV 2014. A. Krizhevsky, I. Sutskever, G. Hinton, *ImageNet Classification with "
        "Deep Convolutional Neural Networks*, NeurIPS 2012."
    )
