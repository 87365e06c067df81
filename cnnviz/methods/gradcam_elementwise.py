"""Grad-CAM element-wise (pytorch-grad-cam's GradCAMElementWise): the ReLU of activation times gradient
at each location and channel, summed over channels: sum_c ReLU(g_c * A_c). Negative products are
dropped before they can cancel positive ones (HiRes-CAM takes the ReLU after the sum)."""

from __future__ import annotations

import numpy as np

from cnnviz.methods.core import Maps, Method, Request, layer_pass


def gradcam_elementwise(request: Request) -> Maps:
    result = layer_pass(request)
    products = np.maximum(result.activations * result.gradients, 0.0)
    return result.maps(products.sum(axis=-1).astype(np.float32))


METHOD = Method(
    name="gradcam_elementwise", title="Grad-CAM element-wise", compute=gradcam_elementwise,
    citation="Gildenblat et al., pytorch-grad-cam (GradCAMElementWise), 2021",
    about=("Like HiRes-CAM, but only the positive products of activation and gradient count, so a "
           "channel that argues against the class cannot hide one that argues for it at the same "
           "place. Same coarse grid as Grad-CAM."),
)
