"""What the Train page draws: learning curves, the strategy table, the comparison of runs.

Plotly for the page (live curves); matplotlib for the PNG downloads (no kaleido here).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from matplotlib.figure import Figure
from plotly.subplots import make_subplots

from cnnviz.training import guide

TRAIN_COLOUR, VAL_COLOUR = "#1c7ed6", "#e8590c"
CURVE_HEIGHT = 320


def curves_figure(history: Sequence[dict[str, Any]], epochs: int | None = None) -> go.Figure:
    """Loss and accuracy per epoch, training and validation side by side."""
    figure = make_subplots(rows=1, cols=2, subplot_titles=("Loss", "Accuracy"))
    x = [row["epoch"] for row in history]
    for column, metric in enumerate(("loss", "accuracy"), start=1):
        for name, key, colour in (("train", metric, TRAIN_COLOUR), ("validation", f"val_{metric}", VAL_COLOUR)):
            figure.add_trace(go.Scatter(x=x, y=[row.get(key) for row in history], mode="lines+markers",
                                        name=name, legendgroup=name, showlegend=column == 1,
                                        line={"color": colour}), row=1, col=column)
    phases = [row.get("phase") for row in history]
    if "finetune" in phases:  # where fine-tuning starts
        start = x[phases.index("finetune")] - 0.5
        for column in (1, 2):
            figure.add_vline(x=start, line_dash="dot", line_color="grey", row=1, col=column)
    figure.update_xaxes(title_text="epoch", range=[0.5, max(epochs or 1, len(x)) + 0.5], dtick=1 if
                        max(epochs or 1, len(x)) <= 20 else None)
    figure.update_yaxes(range=[0, 1.02], row=1, col=2)
    figure.update_layout(height=CURVE_HEIGHT, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                         legend={"orientation": "h", "y": -0.25})
    return figure


def curves_png_figure(history: Sequence[dict[str, Any]], title: str) -> Figure:
    """The same curves with matplotlib, for the PNG download."""
    figure = Figure(figsize=(9, 3.4))
    x = [row["epoch"] for row in history]
    for axis, metric in zip(figure.subplots(1, 2), ("loss", "accuracy")):
        axis.plot(x, [row.get(metric) for row in history], "o-", color=TRAIN_COLOUR, label="train")
        axis.plot(x, [row.get(f"val_{metric}") for row in history], "o-", color=VAL_COLOUR, label="validation")
        axis.set_title(metric.capitalize())
        axis.set_xlabel("epoch")
        axis.legend()
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def strategy_table_markdown() -> str:
    """The lectures' strategy table (size of the dataset x similarity to ImageNet)."""
    header = " | ".join(guide.COLUMNS)
    lines = [f"| {header} |", "|" + "---|" * len(guide.COLUMNS)]
    lines += [f"| **{row[0]}** | {row[1]} | {row[2]} |" for row in guide.TABLE]
    return "\n".join(lines)


def confusion_heatmap(matrix: np.ndarray, true_names: Sequence[str], predicted_names: Sequence[str]) -> go.Figure:
    """Rows: true class; columns: predicted class; counts in the cells."""
    figure = go.Figure(go.Heatmap(z=matrix, x=list(predicted_names), y=list(true_names), colorscale="Blues",
                                  text=[[str(int(v)) if v else "" for v in row] for row in matrix],
                                  texttemplate="%{text}", showscale=False, xgap=1, ygap=1))
    figure.update_layout(height=120 + 40 * len(true_names), margin={"l": 10, "r": 10, "t": 10, "b": 10},
                         xaxis={"title": "predicted class", "side": "top"},
                         yaxis={"title": "true class", "autorange": "reversed"})
    return figure


def clickable_confusion(matrix: np.ndarray, true_names: Sequence[str], predicted_names: Sequence[str],
                        selected: tuple[int, int] | None) -> tuple[go.Figure, bool]:
    """The Dataset page's clickable confusion matrix when that page is installed (a click selects a
    cell: ``ui.dataset_charts.customdata`` reads it), else the plain heatmap. Returns (figure, clickable)."""
    try:
        from ui.dataset_charts import confusion_figure
    except ImportError:
        return confusion_heatmap(matrix, true_names, predicted_names), False
    return confusion_figure(matrix, true_names, predicted_names, selected), True


def comparison_rows(jobs: Sequence[Any]) -> list[dict[str, Any]]:
    """One row per run of this session: settings and scores side by side."""
    rows = []
    for job in jobs:
        result = job.result
        settings = job.settings
        rows.append({
            "run": job.label, "status": job.status, "backbone": settings["backbone"],
            "strategy": settings["strategy"], "epochs": settings["epochs"], "batch": settings["batch_size"],
            "learning rate": settings["learning_rate"], "augmentation": settings["augmentation"],
            "best epoch": getattr(result, "best_epoch", None),
            "val accuracy": _best_val_accuracy(result),
            "test accuracy": getattr(result, "test_accuracy", None),
            "s / epoch": None if result is None or result.seconds_per_epoch is None
            else round(result.seconds_per_epoch, 2),
        })
    return rows


def _best_val_accuracy(result: Any) -> float | None:
    if result is None or not result.history or result.best_epoch is None:
        return None
    return result.history[result.best_epoch - 1].get("val_accuracy")
