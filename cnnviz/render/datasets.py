"""Drawing dataset results: class counts, sample grids, confusion matrices, reliability diagrams and
embedding maps.

Charts are matplotlib ``Figure`` objects (not pyplot: safe on any thread), so a page can offer them
as PNG downloads (ui.downloads) and the CLI can write them (``figure_png``); ``figure_image`` turns
one into an RGB uint8 array. The engine (cnnviz.datasets) never draws.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from cnnviz.render.inside import gallery

DPI = 110
#: Qualitative colours for up to 10 classes (matplotlib's tab10); more classes cycle through tab20.
CLASS_COLOURS = "tab10"
MANY_CLASS_COLOURS = "tab20"
MAX_TICK_LABELS = 40  # a confusion matrix with more columns hides its column names
SAMPLE_CELL = 96


def figure_png(figure: Figure) -> bytes:
    """PNG bytes of a figure."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    return buffer.getvalue()


def figure_image(figure: Figure) -> np.ndarray:
    """A figure as an RGB uint8 array."""
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def _colours(count: int) -> list[tuple[float, float, float, float]]:
    from matplotlib import colormaps

    cmap = colormaps[CLASS_COLOURS if count <= 10 else MANY_CLASS_COLOURS]
    return [cmap(i % cmap.N) for i in range(count)]


def class_counts_figure(counts: Mapping[str, int], title: str = "Images per class") -> Figure:
    """A horizontal bar chart of images per class (classes top to bottom in dataset order)."""
    names, values = list(counts), [int(v) for v in counts.values()]
    figure = Figure(figsize=(6, 0.6 + 0.32 * max(len(names), 1)), dpi=DPI)
    axes = figure.add_subplot()
    positions = np.arange(len(names))[::-1]
    axes.barh(positions, values, color=_colours(len(names)))
    axes.set_yticks(positions, names)
    for y, value in zip(positions, values):
        axes.text(value, y, f" {value}", va="center", fontsize=8)
    axes.set_xlabel("images")
    axes.set_title(title)
    axes.margins(x=0.12)
    figure.tight_layout()
    return figure


def sample_grid(images: Sequence[np.ndarray], captions: Sequence[str], cell: int = SAMPLE_CELL,
                columns: int | None = None) -> np.ndarray:
    """Images of any size fitted into ``cell`` squares with captions (file names, labels)."""
    return gallery(list(images), list(captions), cell=cell, columns=columns)


def confusion_matrix_figure(matrix: np.ndarray, rows: Sequence[str], columns: Sequence[str],
                            normalise: bool = False, title: str = "Confusion matrix") -> Figure:
    """Counts (or row fractions with ``normalise``) as a heatmap: rows = true, columns = predicted."""
    matrix = np.asarray(matrix)
    shown = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1) if normalise else matrix
    width = min(14.0, 2.5 + 0.5 * len(columns))
    figure = Figure(figsize=(width, min(12.0, 2 + 0.45 * len(rows))), dpi=DPI)
    axes = figure.add_subplot()
    image = axes.imshow(shown, cmap="Blues", aspect="auto", vmin=0)
    figure.colorbar(image, ax=axes, label="fraction of the row" if normalise else "images")
    if len(columns) <= MAX_TICK_LABELS:
        axes.set_xticks(range(len(columns)), columns, rotation=45, ha="right")
    axes.set_yticks(range(len(rows)), rows)
    if matrix.size <= 400:
        limit = float(shown.max()) or 1.0
        for (r, c), value in np.ndenumerate(matrix):
            text = f"{shown[r, c]:.2f}" if normalise else str(int(value))
            axes.text(c, r, text, ha="center", va="center", fontsize=8,
                      color="white" if shown[r, c] > limit / 2 else "black")
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    axes.set_title(title)
    figure.tight_layout()
    return figure


def reliability_figure(bins: Sequence[object], ece: float, title: str = "Reliability diagram") -> Figure:
    """Accuracy against confidence per bin (cnnviz.datasets.calibration bins), with the diagonal
    of perfect calibration and the number of images per bin under it."""
    figure = Figure(figsize=(5, 5.4), dpi=DPI)
    top, bottom = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": (3, 1)})
    lowers = np.array([b.lower for b in bins])  # type: ignore[attr-defined]
    widths = np.array([b.upper - b.lower for b in bins])  # type: ignore[attr-defined]
    counts = np.array([b.count for b in bins])  # type: ignore[attr-defined]
    accuracy = np.array([b.accuracy if b.count else 0.0 for b in bins])  # type: ignore[attr-defined]
    confidence = np.array([b.confidence if b.count else 0.0 for b in bins])  # type: ignore[attr-defined]
    filled = counts > 0
    top.bar(lowers[filled], accuracy[filled], width=widths[filled], align="edge", color="#4c72b0",
            edgecolor="white", label="accuracy")
    gap_bottom = np.minimum(accuracy, confidence)[filled]
    top.bar(lowers[filled], np.abs(confidence - accuracy)[filled], bottom=gap_bottom, width=widths[filled],
            align="edge", facecolor=(0.87, 0.2, 0.2, 0.2), edgecolor="#c03030", hatch="//",
            label="gap to mean confidence")
    top.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    top.set_ylim(0, 1)
    top.set_ylabel("accuracy")
    top.set_title(f"{title} (ECE {ece:.3f})")
    top.legend(loc="upper left", fontsize=8)
    bottom.bar(lowers, counts, width=widths, align="edge", color="#8c8c8c", edgecolor="white")
    bottom.set_xlim(0, 1)
    bottom.set_xlabel("confidence (top probability)")
    bottom.set_ylabel("images")
    figure.tight_layout()
    return figure


def embedding_figure(points: np.ndarray, labels: np.ndarray, class_names: Sequence[str],
                     title: str = "Embedding") -> Figure:
    """The 2-D map, one colour per class (grey points when unlabelled)."""
    points, labels = np.asarray(points), np.asarray(labels)
    figure = Figure(figsize=(6.5, 5.5), dpi=DPI)
    axes = figure.add_subplot()
    if not len(class_names):
        axes.scatter(points[:, 0], points[:, 1], s=10, color="#555555")
    for index, (name, colour) in enumerate(zip(class_names, _colours(len(class_names)))):
        chosen = labels == index
        axes.scatter(points[chosen, 0], points[chosen, 1], s=10, color=colour, label=name)
    if len(class_names):
        axes.legend(fontsize=8, markerscale=1.5, loc="best")
    axes.set_xticks([])
    axes.set_yticks([])
    axes.set_title(title)
    figure.tight_layout()
    return figure
