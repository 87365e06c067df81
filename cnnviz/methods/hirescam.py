"""HiRes-CAM (Draelos and Carin, 2020): activations times their gradients element-wise, summed over
channels, ReLU: ReLU(sum_c g_c * A_c). Unlike Grad-CAM it never averages a gradient over positions, so
the map is exactly what each location adds to the score (for a GAP -> Dense head it equals CAM)."""

from __future__ import annotations

from cnnviz.methods.core import Maps, Method, Request, layer_pass, weighted_maps


def hirescam(request: Request) -> Maps:
    result = layer_pass(request)
    return result.maps(weighted_maps(result.activations, result.gradients))


METHOD = Method(
    name="hirescam", title="HiRes-CAM", compute=hirescam,
    citation="Draelos and Carin, Use HiResCAM instead of Grad-CAM, 2020",
    about=("Each location of each feature map times its own gradient, added over channels: what that "
           "location contributes to the class score, with no averaging that could move evidence to "
           "where the model did not look. Same coarse grid as Grad-CAM."),
)
