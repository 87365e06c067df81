"""Backbones for transfer learning: a pretrained network cut below its classifier.

A backbone comes from the zoo (ImageNet weights when they can be had, else random weights with a
warning that nothing is transferred), from the bundled demo model "shapes" (offline, pretrained on
the generated shapes), or from a user's model file. It is cut at a named layer or, by default, at
its last spatial layer (Yosinski et al. 2014, "How transferable are features in deep neural
networks?": the deeper the layer, the more specific to the original task its features are).

The loaded models are shared (cached per process, used by other sessions): they are never mutated.
Training works on a *copy* of the cut network (:meth:`Backbone.network`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras

from cnnviz.errors import LayerNotSpatialError, ParameterError, UnknownLayerError, WeightsDownloadError
from cnnviz.models import USER_MODEL_SUFFIXES, LoadedModel, load_model, load_model_file
from cnnviz.zoo import get_spec

BackboneSource = str | Path | LoadedModel


@dataclass(frozen=True, eq=False)
class Backbone:
    """A network cut at ``cut``: what it is, where it came from, and a way to copy it for training."""

    name: str  # e.g. "shapes", "MobileNetV2", "my_model"
    cut: str  # the top-level layer whose output the head reads
    input_size: tuple[int, int]
    preprocessing: str  # family of cnnviz.models (the export puts it inside the model)
    weights: str | None  # "imagenet", "bundled", "file", "trained", or None (random)
    key: str  # identity of these weights and this cut (the features cache is keyed on it)
    source: LoadedModel = field(repr=False)
    warnings: tuple[str, ...] = ()

    @property
    def pretrained(self) -> bool:
        return self.weights is not None

    @property
    def feature_shape(self) -> tuple[int, ...]:
        return tuple(self.source.model.get_layer(self.cut).output.shape[1:])

    def network(self, pretrained: bool = True) -> keras.Model:
        """A new model from preprocessed input to the cut's output: a copy with the backbone's weights
        (``pretrained``), or the same architecture freshly initialised (the "scratch" strategy)."""
        with self.source.lock:
            model = self.source.model
            cut = keras.Model(model.inputs, model.get_layer(self.cut).output, name=f"{self.name}_backbone")
            copy = keras.models.clone_model(cut, recursive=True)
            if pretrained:
                copy.set_weights(cut.get_weights())
        copy.name = _safe_name(f"{self.name}_backbone")
        return copy


def _safe_name(text: str) -> str:
    return "".join(c if c.isalnum() or c in "_-" else "_" for c in text)


def _random_weights_warning(name: str, reason: str) -> str:
    return (f"{name} has random weights ({reason}): nothing is transferred from ImageNet; the head "
            "learns from random features. Copy the weights into models_cache/models/ or use the "
            "offline demo backbone 'shapes' to see transfer learning at work.")


def _demo_random() -> LoadedModel:
    from cnnviz.demo.model import build_demo_model
    from cnnviz.models import preprocessing_function

    model = build_demo_model()
    return LoadedModel(name="shapes", model=model, input_size=(int(model.inputs[0].shape[1]),
                                                                 int(model.inputs[0].shape[2])),
                       class_names=load_model("shapes").class_names,
                       preprocess=preprocessing_function("builtin"), preprocessing="builtin",
                       weights=None, labels_known=True)


def _load_source(source: BackboneSource, weights: str | None) -> tuple[LoadedModel, str, tuple[str, ...]]:
    """The loaded model, a key naming its weights, and warnings (random weights)."""
    if isinstance(source, LoadedModel):
        warnings = () if source.weights is not None else (
            _random_weights_warning(source.name, "chosen so"),)
        return source, f"model:{source.name}:{id(source.model)}", warnings
    text = str(source)
    if Path(text).suffix.lower() in USER_MODEL_SUFFIXES:
        loaded = load_model_file(text)
        digest = hashlib.sha256(Path(text).read_bytes()).hexdigest()
        return loaded, f"file:{digest}", ()
    spec = get_spec(text)
    if spec.is_demo:
        if weights is None:
            return _demo_random(), "shapes|random", (
                "The demo backbone has random weights (chosen so): nothing is transferred.",)
        return load_model(spec.name), "shapes|bundled", ()
    if weights is None:
        loaded = load_model(spec.name, weights=None)
        return loaded, f"{spec.name}|random", (_random_weights_warning(spec.name, "chosen so"),)
    try:
        return load_model(spec.name, weights="imagenet"), f"{spec.name}|imagenet", ()
    except WeightsDownloadError:
        loaded = load_model(spec.name, weights=None)
        reason = "its ImageNet weights could not be downloaded or read"
        return loaded, f"{spec.name}|random", (_random_weights_warning(spec.name, reason),)


def _is_spatial(layer: Any) -> bool:
    shape = tuple(layer.output.shape)
    return len(shape) == 4 and (shape[1] or 2) * (shape[2] or 2) > 1


def spatial_cuts(model: keras.Model) -> list[str]:
    """The top-level layers a backbone can be cut at (a (height, width, channels) output over 1 x 1)."""
    return [layer.name for layer in model.layers
            if not isinstance(layer, keras.layers.InputLayer) and _is_spatial(layer)]


def default_cut(model: keras.Model) -> str:
    """The last top-level layer with a (height, width, channels) output larger than 1 x 1."""
    spatial = spatial_cuts(model)
    if not spatial:
        raise LayerNotSpatialError(
            f"{model.name} has no layer with a (height, width, channels) output to cut at; a "
            "backbone must be a convolutional network.")
    return spatial[-1]


def check_cut(model: keras.Model, name: str) -> str:
    """A top-level layer with a spatial output, or a typed error saying which layers qualify."""
    names = [layer.name for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    spatial = spatial_cuts(model)
    if name not in names:
        nested = [n for n in names if isinstance(model.get_layer(n), keras.Model)]
        where = (f" Layers inside the nested model(s) {', '.join(nested)} cannot be cut at; cut at "
                 "the nested model itself or at a layer after it." if nested else "")
        raise UnknownLayerError(
            f"{model.name} has no top-level layer called {name!r}.{where} Layers with a spatial "
            f"output: {', '.join(spatial[-12:])}.")
    if name not in spatial:
        shape = tuple(model.get_layer(name).output.shape[1:])
        raise LayerNotSpatialError(
            f"Cannot cut {model.name} at {name!r}: it outputs {shape}, not a (height, width, "
            f"channels) grid, so the head's global average pooling has nothing to pool. Cut at a "
            f"convolutional layer such as {default_cut(model)!r} (the default).")
    return name


def resolve_backbone(source: BackboneSource, *, weights: str | None = "imagenet",
                     cut: str | None = None) -> Backbone:
    """The backbone to train on: a zoo name, "shapes", a model file path or a LoadedModel, cut at
    ``cut`` (default: the last spatial layer). ``weights`` "imagenet" (falls back to random weights
    with a warning when they cannot be had) or None (random, with a warning)."""
    if weights not in ("imagenet", None):
        raise ParameterError(f"weights must be 'imagenet' or None, not {weights!r}.")
    loaded, key, warnings = _load_source(source, weights)
    layer = default_cut(loaded.model) if cut is None else check_cut(loaded.model, cut)
    return Backbone(name=loaded.name, cut=layer, input_size=tuple(loaded.input_size),
                    preprocessing=loaded.preprocessing, weights=loaded.weights,
                    key=f"{key}|cut:{layer}", source=loaded, warnings=warnings)
