"""Layer-CAM (Jiang et al., IEEE TIP 2021): activations weighted element-wise by their positive gradients.

Grad-CAM gives each channel one weight, its gradient averaged over the whole grid; on earlier layers
the gradients vary a lot from place to place, so that average mixes positive and negative evidence
and the map comes out noisy and badly localised (the grid is as fine as the layer's, not blurred).
Layer-CAM keeps each position's own positive gradient instead.
"""

from __future__ import annotations

import numpy as np

from cnnviz.methods.core import Maps, Method, Request, layer_pass, weighted_maps


def layercam(request: Request) -> Maps:
    result = layer_pass(request)
    return result.maps(weighted_maps(result.activations, np.maximum(result.gradients, 0.0)))


METHOD = Method(
    name="layercam", title="Layer-CAM", compute=layercam,
    citation="Jiang et al., LayerCAM, IEEE TIP 2021",
    about=("Each location of each feature map is weighted by its own positive gradient, where Grad-CAM "
           "uses one gradient averaged over the whole grid per channel. On earlier (finer) layers that "
           "single average makes Grad-CAM noisy and badly localised; Layer-CAM stays on the object, so "
           "pick an earlier layer to see finer detail. Still noisier on the earliest layers."),
)
