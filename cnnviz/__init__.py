"""cnnviz: see what a convolutional neural network sees, and why it decides what it decides.

The public API is imported lazily, so ``import cnnviz`` is instant and TensorFlow loads only when a
function that needs it is first used.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

#: Where downloaded Keras weights live (Keras reads KERAS_HOME once, at its first import).
MODELS_CACHE = Path(__file__).resolve().parents[1] / "models_cache"
os.environ.setdefault("KERAS_HOME", str(MODELS_CACHE))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"

# public name -> module that defines it
_API: dict[str, str] = {
    "load_image": "cnnviz.images",
    "prepare_image": "cnnviz.images",
    "crop_box": "cnnviz.images",
    "encode_png": "cnnviz.images",
    "image_sha256": "cnnviz.images",
    "load_model": "cnnviz.models",
    "load_model_file": "cnnviz.models",
    "LoadedModel": "cnnviz.models",
    "available_models": "cnnviz.zoo",
    "ModelSpec": "cnnviz.zoo",
    "predict": "cnnviz.prediction",
    "predict_batch": "cnnviz.prediction",
    "Prediction": "cnnviz.prediction",
    "explain": "cnnviz.explanation",
    "attack": "cnnviz.attacks",
    "feature_maps": "cnnviz.inside",
    "filters": "cnnviz.inside",
    "maximize": "cnnviz.inside",
    "layers": "cnnviz.inside",
}

__all__ = sorted(_API) + ["errors", "__version__"]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    if name == "errors":
        return importlib.import_module("cnnviz.errors")
    raise AttributeError(f"module 'cnnviz' has no attribute {name!r}")
