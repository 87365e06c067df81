"""The Dataset page's charts: Plotly where a click means something, matplotlib where a PNG is enough.

The confusion matrix and the embedding map are Plotly figures because clicking them selects
images (``st.plotly_chart(on_select=...)``). Plotly's heatmap trace returns no selection in
Streamlit 1.67 (checked; streamlit#8760, #15042), so the matrix is a heatmap for the colours with a
transparent square marker on every cell that receives the click and carries (row, column). Their
PNG downloads, and the static charts (class counts, reliability diagram), are matplotlib
``Figure`` objects (never pyplot: downloads render on another thread).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.colors
import plotly.graph_objects as go
from matplotlib.figure import Figure
from PIL import Image

BAR_COLOUR = "#3b5bdb"
GAP_COLOUR = "#c92a2a"
MATRIX_SCALE = "Blues"
CELL_PX = 44  # height of one confusion-matrix row on screen
CELL_WIDTH_PX = 90
MAX_MATRIX_WIDTH = 1000
MAX_THUMBNAILS_ON_MAP = 400
THUMBNAIL_FRACTION = 0.045  # thumbnail side as a share of the map's range
FRAME_PX = 4  # class-coloured frame around each thumbnail on the map


def customdata(point: Mapping, position: int) -> float:
    """Item ``position`` of a selected point's customdata: Streamlit 1.67 returns an array-valued
    customdata as a dict with string keys ({"0": ..., "1": ...}) (checked), a list elsewhere."""
    data = point["customdata"]
    return data[str(position)] if isinstance(data, Mapping) else data[position]


def class_counts(counts: Mapping[str, int]) -> Figure:
    """Images per class as bars, the count written on each."""
    names, values = list(counts), list(counts.values())
    figure = Figure(figsize=(6.4, 0.9 + 0.32 * len(names)))
    axes = figure.add_subplot()
    bars = axes.barh(names[::-1], values[::-1], color=BAR_COLOUR)
    axes.bar_label(bars, padding=3)
    axes.set_xlim(0, max(values, default=1) * 1.15 + 1)
    axes.set_xlabel("usable images")
    axes.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    return figure


def _cell_text(matrix: np.ndarray) -> list[list[str]]:
    return [[str(int(v)) if v else "" for v in row] for row in matrix]


def confusion_figure(matrix: np.ndarray, true_names: Sequence[str], predicted_names: Sequence[str],
                     selected: tuple[int, int] | None = None) -> go.Figure:
    """Rows = true class, columns = predicted class, counts written in the cells; click a cell.

    Each cell's transparent marker has ``customdata`` = (row, column); ``selected`` is outlined.
    """
    rows, columns = len(true_names), len(predicted_names)
    row_of, column_of = np.meshgrid(np.arange(rows), np.arange(columns), indexing="ij")
    x = [predicted_names[c] for c in column_of.ravel()]
    y = [true_names[r] for r in row_of.ravel()]
    counts = matrix.ravel()
    row_totals = np.maximum(matrix.sum(axis=1), 1)
    share = (matrix / row_totals[:, None]).ravel()
    figure = go.Figure(go.Heatmap(
        z=matrix, x=list(predicted_names), y=list(true_names), colorscale=MATRIX_SCALE, hoverinfo="skip",
        text=_cell_text(matrix), texttemplate="%{text}", showscale=False, xgap=1, ygap=1))
    figure.add_trace(go.Scatter(
        x=x, y=y, mode="markers", showlegend=False,
        marker={"symbol": "square", "size": CELL_PX - 4, "opacity": 0.0},
        customdata=np.stack([row_of.ravel(), column_of.ravel(), counts, 100 * share], axis=1),
        hovertemplate="true %{y}, predicted %{x}: %{customdata[2]} images "
                      "(%{customdata[3]:.0f} % of the row)<extra>click to see them</extra>"))
    if selected is not None and selected[0] < rows and selected[1] < columns:
        figure.add_shape(type="rect", x0=selected[1] - 0.5, x1=selected[1] + 0.5, y0=selected[0] - 0.5,
                         y1=selected[0] + 0.5, line={"color": GAP_COLOUR, "width": 3})
    figure.update_layout(
        height=120 + CELL_PX * rows, width=min(MAX_MATRIX_WIDTH, 160 + CELL_WIDTH_PX * columns),
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        clickmode="event+select", dragmode=False, hoverdistance=-1,
        xaxis={"title": "predicted class", "side": "top", "tickangle": -30, "fixedrange": True},
        yaxis={"title": "true class", "autorange": "reversed", "fixedrange": True})
    return figure


def confusion_png(matrix: np.ndarray, true_names: Sequence[str], predicted_names: Sequence[str],
                  title: str | None = None) -> Figure:
    """The confusion matrix as a matplotlib figure with the counts written in the cells."""
    rows, columns = matrix.shape
    figure = Figure(figsize=(1.6 + 0.6 * columns, 1.4 + 0.5 * rows))
    axes = figure.add_subplot()
    axes.imshow(matrix, cmap=MATRIX_SCALE, aspect="auto")
    limit = matrix.max() if matrix.size else 0
    for r in range(rows):
        for c in range(columns):
            if matrix[r, c]:
                axes.text(c, r, str(int(matrix[r, c])), ha="center", va="center", fontsize=9,
                          color="white" if matrix[r, c] > limit / 2 else "black")
    axes.set_xticks(range(columns), predicted_names, rotation=40, ha="right")
    axes.set_yticks(range(rows), true_names)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    if title:
        axes.set_title(title, fontsize=10)
    figure.tight_layout()
    return figure


def reliability(confidence: np.ndarray, accuracy: np.ndarray, counts: np.ndarray, edges: np.ndarray,
                ece: float) -> Figure:
    """Reliability diagram: accuracy per confidence bin against the diagonal of perfect calibration,
    the gap drawn in red, and the number of images per bin underneath (Guo et al., 2017)."""
    figure = Figure(figsize=(5.6, 5.2))
    axes, histogram = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    width = np.diff(edges)
    filled = counts > 0
    axes.bar(edges[:-1][filled], accuracy[filled], width=width[filled], align="edge", color=BAR_COLOUR,
             edgecolor="white", label="accuracy in the bin")
    axes.bar(edges[:-1][filled], (confidence - accuracy)[filled], bottom=accuracy[filled],
             width=width[filled], align="edge", color=GAP_COLOUR, alpha=0.35, edgecolor=GAP_COLOUR,
             label="gap to the mean confidence")
    axes.plot([0, 1], [0, 1], color="black", linestyle="--", linewidth=1, label="perfect calibration")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_ylabel("accuracy")
    axes.set_title(f"Reliability diagram: ECE {100 * ece:.1f} %", fontsize=10)
    axes.legend(loc="upper left", fontsize=8)
    histogram.bar(edges[:-1], counts, width=width, align="edge", color="#868e96", edgecolor="white")
    histogram.set_xlabel("confidence (probability of the predicted class)")
    histogram.set_ylabel("images")
    for a in (axes, histogram):
        a.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    return figure


def class_colours(names: Sequence[str]) -> dict[str, str]:
    """One colour per class name, in class order (the same on the map and in its PNG)."""
    palette = plotly.colors.qualitative.Plotly + plotly.colors.qualitative.Dark24
    return {name: palette[i % len(palette)] for i, name in enumerate(names)}


def _framed(tile: np.ndarray, colour: str, width: int = FRAME_PX) -> np.ndarray:
    """The thumbnail inside a frame of its class colour, so the map stays coloured by class."""
    rgb = np.array(plotly.colors.hex_to_rgb(colour), np.uint8)
    framed = tile.copy()
    framed[:width], framed[-width:], framed[:, :width], framed[:, -width:] = rgb, rgb, rgb, rgb
    return framed


def _thumbnail_images(points: np.ndarray, thumbnails: np.ndarray, colours: Sequence[str]) -> list[dict]:
    span = float(np.ptp(points, axis=0).max()) or 1.0
    side = THUMBNAIL_FRACTION * span
    return [{"source": Image.fromarray(_framed(tile, colour)), "xref": "x", "yref": "y", "x": float(x),
             "y": float(y), "sizex": side, "sizey": side, "xanchor": "center", "yanchor": "middle",
             "layer": "above"}
            for (x, y), tile, colour in zip(points, thumbnails, colours)]


def embedding_figure(points: np.ndarray, labels: Sequence[str], files: Sequence[str],
                     indices: Sequence[int], class_order: Sequence[str],
                     thumbnails: np.ndarray | None = None, title: str = "") -> go.Figure:
    """The 2-D map, one colour per class; hover names the file; a point's customdata is its dataset
    index. With ``thumbnails`` ((n, s, s, 3), same order) each point also shows its image."""
    colours = class_colours(class_order)
    labels = np.asarray(labels, dtype=object)
    figure = go.Figure()
    for name in [n for n in class_order if n in set(labels)]:
        chosen = np.flatnonzero(labels == name)
        figure.add_trace(go.Scatter(
            x=points[chosen, 0], y=points[chosen, 1], mode="markers", name=name,
            marker={"size": 9, "color": colours[name], "line": {"width": 1, "color": "white"}},
            customdata=np.stack([np.asarray(indices)[chosen], chosen], axis=1),
            text=[files[i] for i in chosen],
            hovertemplate="%{text}<br>class " + name + "<extra>click: open on the Heatmaps page</extra>"))
    if thumbnails is not None and len(thumbnails) <= MAX_THUMBNAILS_ON_MAP:
        figure.update_layout(images=_thumbnail_images(points, thumbnails, [colours[n] for n in labels]))
    figure.update_layout(height=560, margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
                         title=title or None, clickmode="event+select", dragmode="pan",
                         legend={"orientation": "h", "y": -0.08}, xaxis={"showticklabels": False},
                         yaxis={"showticklabels": False, "scaleanchor": "x"})
    return figure


def embedding_png(points: np.ndarray, labels: Sequence[str], class_order: Sequence[str],
                  title: str = "") -> Figure:
    """The same map as a matplotlib figure (one colour per class, a legend below)."""
    colours = class_colours(class_order)
    labels = np.asarray(labels, dtype=object)
    figure = Figure(figsize=(7, 7))
    axes = figure.add_subplot()
    for name in [n for n in class_order if n in set(labels)]:
        chosen = labels == name
        axes.scatter(points[chosen, 0], points[chosen, 1], s=22, color=colours[name], label=name,
                     edgecolors="white", linewidths=0.5)
    axes.set_xticks([])
    axes.set_yticks([])
    axes.set_aspect("equal", adjustable="datalim")
    if title:
        axes.set_title(title, fontsize=10)
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=min(6, len(class_order)), fontsize=8,
                frameon=False)
    figure.tight_layout()
    return figure
