"""Eigen-CAM (Muhammad and Yeasin, 2020): the chosen layer's activations projected on their first
principal component (SVD of the centred (positions, channels) matrix), no gradients and no class.

The sign of a principal component is arbitrary: it is chosen so that the map agrees with the
activations' channel sum (pytorch-grad-cam leaves it to the SVD).
"""

from __future__ import annotations

import numpy as np

from cnnviz.methods.core import Maps, Method, Request, layer_pass


def principal_projection(activations: np.ndarray) -> np.ndarray:
    """(h, w, c) -> (h, w): the centred activations projected on their first right singular vector."""
    height, width, channels = activations.shape
    matrix = activations.reshape(-1, channels).astype(np.float64)
    centred = matrix - matrix.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    projection = centred @ vt[0]
    if np.dot(projection, matrix.sum(axis=1) - matrix.sum(axis=1).mean()) < 0:
        projection = -projection
    return projection.reshape(height, width).astype(np.float32)


def eigencam(request: Request) -> Maps:
    result = layer_pass(request, gradients=False)
    return result.maps(np.maximum(np.stack([principal_projection(a) for a in result.activations]), 0.0))


METHOD = Method(
    name="eigencam", title="Eigen-CAM", compute=eigencam,
    citation="Muhammad and Yeasin, Eigen-CAM, IJCNN 2020",
    about=("The main pattern of the layer's feature maps (their first principal component), with no "
           "gradients: it shows what the layer responds to most, the same for every class. Robust and "
           "fast, but it cannot tell the classes apart."),
)
