"""The cascading model-randomisation curve (Adebayo et al., 2018) as a picture."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cnnviz.faithfulness import RandomisationCurve

#: Figure size in inches at 100 dpi (640 x 320 pixels).
FIGURE_SIZE = (6.4, 3.2)
#: At most this many layer names are written under the curve.
MAX_TICKS = 12


def randomisation_curve(curves: Sequence[tuple[str, RandomisationCurve]]) -> np.ndarray:
    """RGB uint8 picture: for each (method title, curve), the rank correlation (solid) and SSIM (dashed)
    between the original map and the map after randomising the layers from the output down."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=FIGURE_SIZE, dpi=100, layout="constrained")
    canvas = FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    layers: tuple[str, ...] = ()
    for title, curve in curves:
        steps = np.arange(len(curve.rank_correlations))
        line, = axes.plot(steps, curve.rank_correlations, marker="o", markersize=3, label=f"{title} (rank)")
        axes.plot(steps, curve.ssims, linestyle="--", color=line.get_color(), label=f"{title} (SSIM)")
        layers = curve.layers if len(curve.layers) > len(layers) else layers
    names = ("none", *[name.rsplit("/", 1)[-1] for name in layers])
    every = max(1, int(np.ceil(len(names) / MAX_TICKS)))
    axes.set_xticks(range(0, len(names), every), names[::every], rotation=45, ha="right", fontsize=7)
    axes.set_ylim(-0.2, 1.05)
    axes.axhline(0.0, color="grey", linewidth=0.5)
    axes.set_xlabel("randomised down to layer (from the output)", fontsize=8)
    axes.set_ylabel("similarity to the original map", fontsize=8)
    axes.legend(fontsize=7)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()
