"""Drawing: every picture cnnviz shows or writes, as RGB uint8 arrays and PNG bytes.

One module per kind of result, none of them drawing inside the engine:

- :mod:`cnnviz.render.heatmaps`: colour maps, overlays, side-by-side grids (re-exported here, so
  ``cnnviz.render.heatmap_overlay`` keeps working);
- :mod:`cnnviz.render.attack`: adversarial before/after/perturbation figures;
- :mod:`cnnviz.render.inside`: feature maps, kernels, maximisation galleries, top examples;
- :mod:`cnnviz.render.datasets`: class counts, sample grids, confusion matrices, reliability diagrams.
"""

from cnnviz.render.heatmaps import (  # noqa: F401
    BACKGROUND,
    CAPTION_HEIGHT,
    COLORMAPS,
    DEFAULT_COLORMAP,
    DEFAULT_OPACITY,
    DEFAULT_TILE,
    GAP,
    captioned_row,
    check_style,
    colorize,
    heatmap_overlay,
    overlay,
    png,
    side_by_side,
    stack_rows,
)
from cnnviz.render.heatmaps import __all__  # noqa: F401
