"""Cached calls into the cnnviz engine: models once per process, results once per input.

Models: ``st.cache_resource`` (shared by every session; never mutate a loaded model; each
``LoadedModel`` carries a lock that cnnviz holds while running it). Results: ``st.cache_data`` keyed
on the model's key, the image's sha256 and the parameters; the model and the image themselves are
passed as unhashed ``_``-arguments, because Streamlit hashes only a sample of large arrays and could
serve the result of another image. Copy this pattern for every engine call a page makes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st

import cnnviz.explanation
import cnnviz.prediction
import cnnviz.warmup
from cnnviz.errors import CnnvizError
from cnnviz.explanation import Heatmap
from cnnviz.faithfulness import (
    DeepChecks,
    Faithfulness,
    MapMetrics,
    deep_checks,
    faithfulness,
    map_metrics,
)
from cnnviz.models import LoadedModel, load_model, load_model_file
from cnnviz.prediction import Prediction, model_input
from cnnviz.zoo import get_spec
from ui.state import ImageChoice, ModelChoice, failed_loads, zoo_model_key

MODEL_CACHE_ENTRIES = 6  # zoo models kept loaded (MobileNetV2 ~ 30 MB in memory; VGG16 ~ 550 MB)
USER_MODEL_CACHE_ENTRIES = 2
PREDICT_CACHE_ENTRIES = 64
EXPLAIN_CACHE_ENTRIES = 64
BADGE_STEPS = 16  # deletion / insertion curve steps of a faithfulness badge (2 x 17 model runs)


def _warm_up(loaded: LoadedModel) -> None:
    """Trace the compiled forward pass and Grad-CAM now, while the "Loading the model" spinner
    shows, so the first prediction and heatmap on a page come in well under a second (tracing
    MobileNetV2's gradient takes about 2 s on 2 cores); occlusion and the one-pixel attack are
    traced in a background thread after that (cnnviz.warmup), so loading is not slower."""
    cnnviz.warmup.warm_up(loaded)
    cnnviz.warmup.warm_up_in_background(loaded)


@st.cache_resource(show_spinner="Loading the model (once per server)...",
                   max_entries=MODEL_CACHE_ENTRIES)
def load_zoo_model(name: str, weights: str | None) -> LoadedModel:
    """A zoo model with ImageNet weights ("imagenet"), random weights (None), or the demo model."""
    loaded = load_model(name, weights=weights)
    _warm_up(loaded)
    return loaded


def zoo_choice(name: str, weights: str) -> ModelChoice | CnnvizError:
    """A zoo model with "imagenet" or "random" weights (the demo model has its own) ready for a page,
    or the typed error saying why it cannot be loaded. A failed download is remembered for the
    session (``ui.state.failed_loads``) and not retried on every rerun."""
    spec = get_spec(name)
    key = zoo_model_key(spec.name, weights)
    failed = failed_loads()
    if key in failed:
        return failed[key]
    try:
        loaded = load_zoo_model(spec.name, None if weights == "random" and not spec.is_demo else "imagenet")
    except CnnvizError as error:
        if not spec.is_demo:  # a local file that failed may be fixed; a download is not retried
            failed[key] = error
        return error
    which = "random" if weights == "random" else "imagenet"
    label = f"{spec.name} (demo)" if spec.is_demo else f"{spec.name} ({which} weights)"
    return ModelChoice(key=key, label=label, loaded=loaded)


@st.cache_resource(show_spinner="Loading your model file...", max_entries=USER_MODEL_CACHE_ENTRIES)
def load_user_model(sha256: str, filename: str, labels_sha256: str | None,
                    preprocessing: str | None, _data: bytes, _labels: bytes | None) -> LoadedModel:
    """A user's .keras/.h5 file (safe mode), keyed on the sha256 of its bytes and the options."""
    loaded = load_model_file(_data, filename=filename, labels=_labels, preprocessing=preprocessing)
    _warm_up(loaded)
    return loaded


@dataclass(frozen=True)
class PredictResult:
    """The top classes, what the model was shown, and how long the computation took."""

    predictions: tuple[Prediction, ...]
    model_input: np.ndarray  # the image resized to the model's input (uint8)
    seconds: float


@st.cache_data(max_entries=PREDICT_CACHE_ENTRIES, show_spinner=False)
def _predict(model_key: str, image_sha256: str, top: int, fit: str,
             _loaded_model: LoadedModel, _image: np.ndarray) -> PredictResult:
    start = time.perf_counter()
    predictions = cnnviz.prediction.predict(_loaded_model, _image, top=top, fit=fit)
    seconds = time.perf_counter() - start
    return PredictResult(tuple(predictions), model_input(_loaded_model, _image, fit), seconds)


def predict(model: ModelChoice, image: ImageChoice, top: int = 5, fit: str = "crop") -> PredictResult:
    """The ``top`` classes of the current image (computed once per model, image, top and fit)."""
    return _predict(model.key, image.sha256, top, fit, model.loaded, image.image)


Params = tuple[tuple[str, Any], ...]  # a method's settings as sorted (name, value) pairs


@st.cache_data(max_entries=EXPLAIN_CACHE_ENTRIES, show_spinner=False)
def _explain(model_key: str, image_sha256: str, method: str, class_index: int, layer: str, fit: str,
             params: Params, _loaded: LoadedModel, _image: np.ndarray, _progress: Any = None,
             precision: str | None = None) -> Heatmap:
    return cnnviz.explanation.explain(_loaded, _image, method=method, class_index=class_index,
                                      layer=layer or None, fit=fit, progress=_progress, precision=precision,
                                      **dict(params))


def explain(model: ModelChoice, image: ImageChoice, method: str, class_index: int, layer: str = "",
            fit: str = "crop", params: Params = (), progress: Any = None,
            precision: str | None = None) -> Heatmap:
    """A heatmap (computed once per model, image, method, class, layer, fit, settings and precision).

    ``layer`` "" means the method's default; ``progress`` is a ``ui.progress`` bar or None;
    ``precision`` as in cnnviz.explain (None: the process default, "auto").
    """
    return _explain(model.key, image.sha256, method, class_index, layer, fit, params, model.loaded,
                    image.image, _progress=progress, precision=precision)


@st.cache_data(max_entries=EXPLAIN_CACHE_ENTRIES, show_spinner=False)
def _faithfulness(model_key: str, image_sha256: str, method: str, class_index: int, layer: str,
                  box: tuple[int, int, int, int], params: Params, _loaded: LoadedModel,
                  _heatmap: Heatmap) -> Faithfulness:
    return faithfulness(_loaded, _heatmap, steps=BADGE_STEPS)


def faithfulness_of(model: ModelChoice, image: ImageChoice, heatmap: Heatmap) -> Faithfulness:
    """Deletion, insertion and confidence drop of a heatmap, computed once per heatmap: keyed on the
    model, the image and what the heatmap records of itself (method, class, layer, settings, and the
    region of the image the model saw, which the crop or stretch fit decides)."""
    return _faithfulness(model.key, image.sha256, heatmap.method, heatmap.class_index, heatmap.layer or "",
                         heatmap.box, tuple(sorted(heatmap.params.items())), model.loaded, heatmap)


@st.cache_data(max_entries=EXPLAIN_CACHE_ENTRIES, show_spinner=False)
def _map_metrics(model_key: str, image_sha256: str, method: str, class_index: int, layer: str,
                 box: tuple[int, int, int, int], params: Params, _loaded: LoadedModel,
                 _heatmap: Heatmap) -> MapMetrics:
    return map_metrics(_loaded, _heatmap)


def map_metrics_of(model: ModelChoice, image: ImageChoice, heatmap: Heatmap) -> MapMetrics:
    """MuFidelity, complexity and sparseness of a heatmap, once per heatmap (keyed as faithfulness_of)."""
    return _map_metrics(model.key, image.sha256, heatmap.method, heatmap.class_index, heatmap.layer or "",
                        heatmap.box, tuple(sorted(heatmap.params.items())), model.loaded, heatmap)


@st.cache_data(max_entries=EXPLAIN_CACHE_ENTRIES, show_spinner=False)
def _deep_checks(model_key: str, image_sha256: str, method: str, class_index: int, layer: str,
                 box: tuple[int, int, int, int], params: Params, _loaded: LoadedModel, _heatmap: Heatmap,
                 _progress: Any = None) -> DeepChecks:
    return deep_checks(_loaded, _heatmap, progress=_progress)


def deep_checks_of(model: ModelChoice, image: ImageChoice, heatmap: Heatmap, progress: Any = None) -> DeepChecks:
    """ROAD, stability, random-logit test and cascading randomisation of a heatmap, once per heatmap."""
    return _deep_checks(model.key, image.sha256, heatmap.method, heatmap.class_index, heatmap.layer or "",
                        heatmap.box, tuple(sorted(heatmap.params.items())), model.loaded, heatmap,
                        _progress=progress)
