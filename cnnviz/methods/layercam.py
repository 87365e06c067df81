"""Layer-CAM (Jiang et al., 2021): activations weighted element-wise by their positive gradients."""

from __future__ import annotations

import numpy as np

from cnnviz.methods.core import Maps, Method, Request, layer_pass, weighted_maps


def layercam(request: Request) -> Maps:
    result = layer_pass(request)
    return result.maps(weighted_maps(result.activations, np.maximum(result.gradients, 0.0)))


METHOD = Method(
    name="layercam", title="Layer-CAM", compute=layercam,
    citation="Jiang et al., LayerCAM, IEEE TIP 2021",
    about=("Each location of each feature map is weighted by its own positive gradient, so the map "
           "stays sharp on earlier (finer) layers where Grad-CAM blurs; pick an earlier layer to see "
           "finer detail. Noisier on early layers."),
)
