"""CAM (Zhou et al., 2016): the class's Dense weights applied to the maps that global pooling averages.

Exact for models whose head is global average pooling then one Dense layer (the demo model,
ResNets, MobileNetV2, DenseNets, EfficientNets); no gradients needed. Keras' MobileNet and
MobileNetV3 do not qualify: after their pooling come 1x1 convolutions, not a Dense layer.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from cnnviz.errors import MethodNotApplicableError
from cnnviz.graph import default_target_layer, downstream_layers
from cnnviz.methods.core import Maps, Method, Request, layer_pass, weighted_maps
from cnnviz.models import LoadedModel

#: Layers allowed between the pooling and the Dense layer: they do nothing at inference.
_PASS_THROUGH = (keras.layers.Dropout, keras.layers.Flatten, keras.layers.SpatialDropout2D,
                 keras.layers.GaussianNoise, keras.layers.GaussianDropout, keras.layers.AlphaDropout)


def _dense_layer(layer: Any) -> Any | None:
    """The layer holding the logits' kernel: a linear Dense, or cnnviz's logits view of a softmax or
    sigmoid Dense (cnnviz.model_files.LinearPart, whose ``kernel`` is in logit space)."""
    dense = getattr(layer, "dense", layer)
    if isinstance(dense, keras.layers.Dense):
        activation = getattr(layer, "activation", None)
        if activation is None or getattr(activation, "__name__", "linear") == "linear":
            return layer if dense is not layer else dense
    return None


def cam_head(loaded_model: LoadedModel, layer: str) -> Any:
    """The Dense layer CAM uses, after checking that ``layer`` feeds a GAP -> Dense head (cached)."""
    return loaded_model.cached(("methods.cam_head", layer), lambda: _check_head(loaded_model, layer))


def _check_head(loaded_model: LoadedModel, layer: str) -> Any:
    head = downstream_layers(loaded_model, layer)
    pooling = [entry for entry in head if not isinstance(entry.layer, _PASS_THROUGH)]
    ok = (len(pooling) == 2 and isinstance(pooling[0].layer, keras.layers.GlobalAveragePooling2D)
          and pooling[0].inputs == (layer,) and not getattr(pooling[0].layer, "keepdims", False))
    dense = _dense_layer(pooling[1].layer) if ok else None
    if dense is None:
        steps = " -> ".join(f"{e.name} ({type(e.layer).__name__})" for e in head[:4])
        more = " -> ..." if len(head) > 4 else ""
        suggestion = default_target_layer(loaded_model)
        where = (f"layer {suggestion!r} (the default)" if suggestion != layer else "another layer")
        raise MethodNotApplicableError(
            f"CAM needs the chosen layer to feed global average pooling and then one Dense layer "
            f"(logits); after {layer!r} {loaded_model.name} has {steps}{more}. Use Grad-CAM, which "
            f"works on any layer and any head, or CAM on {where} if the model has a GAP head."
        )
    return dense


def cam(request: Request) -> Maps:
    dense = cam_head(request.loaded_model, str(request.layer))
    result = layer_pass(request, gradients=False)
    weights = tf.gather(dense.kernel, result.class_indices, axis=1).numpy().T  # (n, channels)
    return result.maps(weighted_maps(result.activations, weights))


METHOD = Method(
    name="cam", title="CAM", compute=cam,
    citation="Zhou et al., Learning Deep Features for Discriminative Localization, CVPR 2016",
    about=("The original class activation map: the last feature maps weighted by the classifier's own "
           "weights for the class. Exact and fast, but only for models that end in global average "
           "pooling then one Dense layer, and only on that last layer."),
)
