"""cnnviz: see what a convolutional neural network sees, and why it decides what it decides.

The public API is imported lazily, so ``import cnnviz`` is instant and TensorFlow loads only when a
function that needs it is first used.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import os
import sys
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
    "train": "cnnviz.training",
    "open_dataset": "cnnviz.datasets",
    "evaluate": "cnnviz.datasets",
    "embed": "cnnviz.datasets",
}

__all__ = sorted(_API) + ["errors", "__version__"]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    if name == "errors":
        return importlib.import_module("cnnviz.errors")
    raise AttributeError(f"module 'cnnviz' has no attribute {name!r}")


# Modules that moved into packages: the old import paths keep working (``import cnnviz.shapes``).
_MOVED_MODULES: dict[str, str] = {
    "cnnviz.shapes": "cnnviz.demo.shapes",
    "cnnviz.demo_model": "cnnviz.demo.model",
    "cnnviz.train_demo": "cnnviz.demo.train",
    "cnnviz.render_attack": "cnnviz.render.attack",
    "cnnviz.render_inside": "cnnviz.render.inside",
}


class _MovedModuleLoader(importlib.abc.Loader):
    """Answers an old module path with the module at its new place (one object, not a copy)."""

    def __init__(self, new_name: str) -> None:
        self.new_name = new_name

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Any:
        return importlib.import_module(self.new_name)

    def exec_module(self, module: Any) -> None:
        pass


class _MovedModuleFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname not in _MOVED_MODULES:
            return None
        return importlib.util.spec_from_loader(fullname, _MovedModuleLoader(_MOVED_MODULES[fullname]))


if not any(isinstance(finder, _MovedModuleFinder) for finder in sys.meta_path):
    sys.meta_path.insert(0, _MovedModuleFinder())
