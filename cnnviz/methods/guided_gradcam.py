"""Guided Grad-CAM (Selvaraju et al., 2017): guided backpropagation (Springenberg et al., 2015)
multiplied by the upsampled Grad-CAM map: pixel detail, but only where Grad-CAM points."""

from __future__ import annotations

import numpy as np

from cnnviz.methods.core import Maps, Method, Request, input_gradients, layer_pass, upsample, weighted_maps
from cnnviz.methods.gradcam import channel_weights
from cnnviz.methods.saliency import DEFAULTS, check, gradient_magnitude


def guided_gradcam(request: Request) -> Maps:
    result = layer_pass(request)
    cams = weighted_maps(result.activations, channel_weights(result))
    peaks = cams.max(axis=(1, 2), keepdims=True)
    cams = upsample(cams / np.where(peaks > 0, peaks, 1.0), request.loaded_model.input_size)
    guided, _ = input_gradients(request.loaded_model, request.pixels, result.class_indices, guided=True)
    return result.maps(gradient_magnitude(guided * cams[..., None]))


METHOD = Method(
    name="guided_gradcam", title="Guided Grad-CAM", compute=guided_gradcam, defaults=DEFAULTS, check=check,
    citation="Selvaraju et al., Grad-CAM, ICCV 2017 (guided backpropagation: Springenberg et al., 2015)",
    about=("Fine pixel detail from guided backpropagation, kept only where Grad-CAM points. Sharp and "
           "readable, but guided backpropagation is known to reconstruct edges of the image whatever "
           "the model learned (Adebayo et al., NeurIPS 2018): trust the Grad-CAM part for 'where'."),
)
