"""The Dataset page's clickable charts: the confusion matrix and the embedding map as Plotly figures.

Clicking them selects images (``st.plotly_chart(on_select=...)``). Plotly's heatmap trace returns no
selection in Streamlit 1.67 (checked; streamlit#8760, #15042), so the matrix is a heatmap for the
colours with a transparent square marker on every cell that receives the click and carries (row,
column). Their PNG downloads and the static charts are matplotlib figures from
``cnnviz.render.datasets`` (shared with the CLI); the map uses the same class colours.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.colors
import plotly.graph_objects as go
from matplotlib import colormaps
from matplotlib.colors import to_hex
from PIL import Image

from cnnviz.render import datasets as render_datasets

SELECTED_COLOUR = "#c92a2a"
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
                         y1=selected[0] + 0.5, line={"color": SELECTED_COLOUR, "width": 3})
    figure.update_layout(
        height=120 + CELL_PX * rows, width=min(MAX_MATRIX_WIDTH, 160 + CELL_WIDTH_PX * columns),
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        clickmode="event+select", dragmode=False, hoverdistance=-1,
        xaxis={"title": "predicted class", "side": "top", "tickangle": -30, "fixedrange": True},
        yaxis={"title": "true class", "autorange": "reversed", "fixedrange": True})
    return figure


def class_colours(names: Sequence[str]) -> dict[str, str]:
    """One colour per class name, in class order: the colours of cnnviz.render.datasets' PNG map."""
    few = len(names) <= 10
    cmap = colormaps[render_datasets.CLASS_COLOURS if few else render_datasets.MANY_CLASS_COLOURS]
    return {name: to_hex(cmap(i % cmap.N)) for i, name in enumerate(names)}


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
    if thumbnails is not None:
        figure.update_layout(images=_thumbnail_images(points, thumbnails, [colours[n] for n in labels]))
    figure.update_layout(height=560, margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
                         title=title or None, clickmode="event+select", dragmode="pan",
                         legend={"orientation": "h", "y": -0.08}, xaxis={"showticklabels": False},
                         yaxis={"showticklabels": False, "scaleanchor": "x"})
    return figure
