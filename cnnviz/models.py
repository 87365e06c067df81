"""Loading models: ImageNet classifiers from the zoo, the bundled demo model, or a user's file.

Every model is wrapped in a :class:`LoadedModel` whose ``model`` outputs **logits** (class scores
before softmax): explanations and attacks need them, and ``softmax(logits)`` gives probabilities.
Its ``preprocess`` maps raw pixels (float, 0..255, RGB) to what the network expects, on NumPy arrays
(copied first, never in place) and on tensors inside a gradient tape alike.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import tempfile
import sys
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cnnviz.errors import (
    LabelsFileError,
    ModelError,
    ModelFileError,
    NotAnImageModelError,
    ParameterError,
    WeightsDownloadError,
)
from cnnviz.zoo import DEMO_MODEL_NAME, ModelSpec, get_spec

import keras  # noqa: E402  (after cnnviz/__init__ has set KERAS_HOME)
import tensorflow as tf  # noqa: E402

#: Preprocessing a user's model may ask for: raw 0..255 ("none"), [0, 1] ("scale01"), or one of
#: the keras.applications families.
USER_PREPROCESSING = ("none", "scale01", "tf", "caffe", "torch")
USER_MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")

_IMAGENET_CLASSES = 1000


@dataclass(eq=False)
class LoadedModel:
    """A Keras classifier with everything needed to feed it images and read its answers.

    ``model`` takes preprocessed input and returns logits. ``preprocess`` takes raw RGB pixels
    (0..255). ``lock`` guards the model when threads (Streamlit sessions) share it.
    """

    name: str
    model: keras.Model
    input_size: tuple[int, int]  # (height, width)
    class_names: tuple[str, ...]
    preprocess: Callable[[Any], Any]
    preprocessing: str  # family name, for display ("caffe", "tf", "torch", "builtin", ...)
    spec: ModelSpec | None = None
    weights: str | None = "imagenet"
    labels_known: bool = True  # False when class names are placeholders ("class 17")
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _functions: dict[Hashable, Any] = field(default_factory=dict, repr=False)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def cached(self, key: Hashable, build: Callable[[], Any]) -> Any:
        """Build an expensive object (sub-model, compiled function) once per model and key."""
        with self.lock:
            if key not in self._functions:
                self._functions[key] = build()
            return self._functions[key]

    def logits(self, pixels: Any) -> tf.Tensor:
        """Logits for a batch of raw pixels (uint8 or float, 0..255), compiled and reused."""
        tensor = tf.convert_to_tensor(pixels)
        function = self.cached(("logits", tensor.dtype.name), lambda: self._compile_logits(tensor.dtype))
        return function(tensor)

    def probabilities(self, pixels: Any) -> np.ndarray:
        """Softmax probabilities (N, classes) for a batch of raw pixels."""
        return tf.nn.softmax(self.logits(pixels)).numpy()

    def _compile_logits(self, dtype: tf.DType) -> Callable[[tf.Tensor], tf.Tensor]:
        height, width = self.input_size
        spec = tf.TensorSpec([None, height, width, 3], dtype)

        @tf.function(input_signature=[spec])
        def logits(pixels: tf.Tensor) -> tf.Tensor:
            inputs = self.preprocess(tf.cast(pixels, tf.float32))
            return self.model(inputs, training=False)

        return logits

    def class_index(self, target: int | str) -> int:
        """Resolve a class given as an index or a label (case-insensitive) to its index."""
        from cnnviz.errors import ClassIndexError

        if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
            if 0 <= int(target) < self.num_classes:
                return int(target)
            raise ClassIndexError(
                f"Class index {target} is out of range: {self.name} has classes 0 to "
                f"{self.num_classes - 1}."
            )
        text = str(target).strip()
        if text.lstrip("-").isdigit():
            return self.class_index(int(text))
        lowered = [name.lower() for name in self.class_names]
        if text.lower() in lowered:
            return lowered.index(text.lower())
        close = [name for name in self.class_names if text.lower() in name.lower()][:5]
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise ClassIndexError(f"{self.name} has no class called {text!r}.{hint}")


# --- preprocessing ------------------------------------------------------------------------------
def _identity(pixels: Any) -> Any:
    return pixels


def _scale01(pixels: Any) -> Any:
    return pixels / 255.0


def _copying(preprocess_input: Callable[..., Any]) -> Callable[[Any], Any]:
    """Wrap a keras ``preprocess_input`` so NumPy input is copied (it works in place otherwise)."""

    def preprocess(pixels: Any) -> Any:
        if isinstance(pixels, np.ndarray):
            pixels = pixels.astype(np.float32, copy=True)
        return preprocess_input(pixels)

    preprocess.__doc__ = f"Copying wrapper of {preprocess_input.__module__}.preprocess_input."
    return preprocess


def preprocessing_function(family: str) -> Callable[[Any], Any]:
    """The preprocessing of a family, as a function of raw 0..255 RGB pixels."""
    if family in ("none", "builtin"):
        return _identity
    if family == "scale01":
        return _scale01
    if family in ("tf", "caffe", "torch"):
        from keras.applications import imagenet_utils

        def preprocess(pixels: Any) -> Any:
            if isinstance(pixels, np.ndarray):
                pixels = pixels.astype(np.float32, copy=True)
            return imagenet_utils.preprocess_input(pixels, mode=family)

        return preprocess
    raise ParameterError(
        f"Unknown preprocessing {family!r}; choose one of {', '.join(USER_PREPROCESSING)}."
    )


# --- ImageNet weights and labels ----------------------------------------------------------------
_LOCK = threading.Lock()
#: Models stay reusable while anyone (the app's resource cache, a caller) holds them, and the
#: few most recently loaded stay alive regardless; others are freed instead of piling up.
_LOADED: weakref.WeakValueDictionary[tuple[str, str | None], LoadedModel] = weakref.WeakValueDictionary()
_RECENT: OrderedDict[tuple[str, str | None], LoadedModel] = OrderedDict()
_RECENT_KEPT = 3


def _keep_recent(key: tuple[str, str | None], loaded: LoadedModel) -> None:
    _RECENT[key] = loaded
    _RECENT.move_to_end(key)
    while len(_RECENT) > _RECENT_KEPT:
        _RECENT.popitem(last=False)


def keras_models_dir() -> Path:
    """Where Keras caches downloaded weights: ``$KERAS_HOME/models``."""
    from keras.src.backend import config

    return Path(config.keras_home()) / "models"


def _snapshot(folder: Path) -> dict[str, tuple[int, float]]:
    if not folder.is_dir():
        return {}
    return {p.name: (p.stat().st_size, p.stat().st_mtime) for p in folder.iterdir() if p.is_file()}


def _remove_changed_files(folder: Path, before: dict[str, tuple[int, float]]) -> list[str]:
    """Delete files a failed download created or modified, so no partial file stays cached."""
    removed = []
    for name, stat in _snapshot(folder).items():
        if before.get(name) != stat:
            (folder / name).unlink(missing_ok=True)
            removed.append(name)
    return removed


def _check_cache_writable(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if not os.access(folder, os.W_OK):
        raise WeightsDownloadError(
            f"The weights cache {folder} is not writable, so Keras would download into a temporary "
            "folder and lose the weights on restart. Make it writable or set KERAS_HOME to a "
            "writable folder before starting cnnviz."
        )


def _download_error(name: str, error: BaseException, removed: list[str]) -> WeightsDownloadError:
    text = str(error)
    cleanup = (f" The incomplete or damaged file(s) {', '.join(removed)} were removed from the cache."
               if removed else "")
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        what = "the disk is full"
        todo = f"Free some space in {keras_models_dir()} (or point KERAS_HOME elsewhere) and retry."
    elif "URL fetch failure" in text or "urlopen error" in text or "Name or service" in text:
        what = "the download failed (no internet connection, or the server could not be reached)"
        todo = ("Connect to the internet and retry, copy the weights file into "
                f"{keras_models_dir()}, or use the bundled offline demo model '{DEMO_MODEL_NAME}'.")
    elif any(word in text.lower() for word in ("hash", "corrupt", "truncated", "signature",
                                               "unable to synchronously open")):
        what = "the downloaded or cached weights file is damaged"
        todo = "Retry the download; if it keeps failing, delete the file from the cache."
    else:
        what = f"loading failed ({type(error).__name__}: {text[:200]})"
        todo = (f"Retry, or use the bundled offline demo model '{DEMO_MODEL_NAME}'.")
    return WeightsDownloadError(
        f"Could not get the ImageNet weights of {name}: {what}.{cleanup} {todo}"
    )


@functools.lru_cache(maxsize=None)
def imagenet_class_names(spec: ModelSpec) -> tuple[tuple[str, ...], bool]:
    """ImageNet labels via the model's own ``decode_predictions``; placeholders when offline.

    Cached per process, so an offline machine tries the download once, not on every load.
    """
    order = np.linspace(1.0, 0.0, _IMAGENET_CLASSES, dtype=np.float32)[None, :]
    before = _snapshot(keras_models_dir())
    try:
        with contextlib.redirect_stdout(sys.stderr):  # Keras announces downloads on stdout
            decoded = spec.decode_predictions(order, top=_IMAGENET_CLASSES)[0]
    except Exception:  # noqa: BLE001  (offline: fall back to numbered classes)
        _remove_changed_files(keras_models_dir(), before)
        return tuple(f"class {i}" for i in range(_IMAGENET_CLASSES)), False
    return tuple(label.replace("_", " ") for _, label, _ in decoded), True


def _build_imagenet(spec: ModelSpec, weights: str | None) -> keras.Model:
    """Construct the architecture with logits output, downloading weights on first use."""
    kwargs: dict[str, Any] = {"weights": weights, "classifier_activation": None,
                              "input_shape": (*spec.input_size, 3)}  # fixed size, even for MobileNetV3
    if weights is None:
        return spec.constructor(**kwargs)
    folder = keras_models_dir()
    _check_cache_writable(folder)
    before = _snapshot(folder)
    try:
        with contextlib.redirect_stdout(sys.stderr):  # keep stdout clean for --json output
            model = spec.constructor(**kwargs)
    except (Exception, KeyboardInterrupt) as error:  # noqa: BLE001
        removed = _remove_changed_files(folder, before)
        if isinstance(error, KeyboardInterrupt):
            raise
        raise _download_error(spec.name, error, removed) from error
    _record_weights(spec.name, [f for f in _snapshot(folder) if f not in before and f.endswith(".h5")])
    return model


def _demo_loaded_model() -> LoadedModel:
    from cnnviz.demo.model import load_demo_model
    from cnnviz.demo.shapes import DEMO_IMAGE_SIZE, SHAPE_CLASSES

    spec = get_spec(DEMO_MODEL_NAME)
    return LoadedModel(
        name=DEMO_MODEL_NAME, model=load_demo_model(), input_size=(DEMO_IMAGE_SIZE, DEMO_IMAGE_SIZE),
        class_names=tuple(SHAPE_CLASSES), preprocess=_identity, preprocessing="builtin",
        spec=spec, weights="bundled",
    )


def load_model(name: str, weights: str | None = "imagenet") -> LoadedModel:
    """Load a zoo model by name (``"MobileNetV2"``, ``"shapes"``...), reusing it within a process.

    ``weights="imagenet"`` downloads the pretrained weights once into ``$KERAS_HOME/models``
    (cnnviz points KERAS_HOME at ``models_cache/``); ``weights=None`` builds the architecture with
    random weights, which is enough to look at its structure. The demo model ``shapes`` always
    uses its bundled weights.
    """
    spec = get_spec(name)
    if weights not in ("imagenet", None):
        raise ParameterError(f"weights must be 'imagenet' or None, not {weights!r}.")
    key = (spec.name, "bundled" if spec.is_demo else weights)
    with _LOCK:
        cached = _LOADED.get(key)
        if cached is not None:
            _keep_recent(key, cached)
            return cached
        if spec.is_demo:
            loaded = _demo_loaded_model()
        else:
            model = _build_imagenet(spec, weights)
            names, known = imagenet_class_names(spec)
            if weights is None:
                known = known and False
            loaded = LoadedModel(
                name=spec.name, model=model, input_size=spec.input_size, class_names=names,
                preprocess=_copying(spec.preprocess_input), preprocessing=spec.preprocessing,
                spec=spec, weights=weights, labels_known=known,
            )
        _LOADED[key] = loaded
        _keep_recent(key, loaded)
        return loaded


# --- a user's own model file --------------------------------------------------------------------
def _read_labels(labels: str | os.PathLike[str] | bytes | Sequence[str] | None,
                 num_classes: int) -> tuple[tuple[str, ...], bool]:
    if labels is None:
        return tuple(f"class {i}" for i in range(num_classes)), False
    if isinstance(labels, (str, os.PathLike)) and Path(labels).is_file():
        labels = Path(labels).read_bytes()
    if isinstance(labels, bytes):
        text = labels.decode("utf-8", errors="replace").strip()
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            parsed = [line.strip() for line in text.splitlines() if line.strip()]
        if isinstance(parsed, dict):  # {"0": "cat", ...} or {"cat": 0, ...}
            try:
                pairs = sorted((int(k), str(v)) for k, v in parsed.items())
            except ValueError:
                pairs = sorted((int(v), str(k)) for k, v in parsed.items())
            parsed = [name for _, name in pairs]
        labels = parsed
    names = tuple(str(name) for name in labels)  # type: ignore[union-attr]
    if len(names) != num_classes:
        raise LabelsFileError(
            f"The labels file has {len(names)} labels but the model has {num_classes} outputs. "
            "Give one label per line (or a JSON list) in the order of the model's outputs."
        )
    return names, True


class _LinearPart(keras.layers.Layer):
    """The affine part of an existing Dense layer (shares its weights), to expose logits."""

    def __init__(self, dense: keras.layers.Dense, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dense = dense

    def call(self, inputs: Any) -> Any:
        outputs = keras.ops.matmul(inputs, self.dense.kernel)
        return outputs + self.dense.bias if self.dense.use_bias else outputs


def _logits_model(model: keras.Model) -> keras.Model:
    """The same network with its final softmax removed, sharing all weights (no mutation)."""
    last = model.layers[-1]
    activation = getattr(last, "activation", None)
    if getattr(activation, "__name__", "") != "softmax":
        return model  # already outputs scores
    features = last.input
    if isinstance(last, keras.layers.Activation):
        logits = features
    elif isinstance(last, keras.layers.Dense):
        logits = _LinearPart(last, name=f"{last.name}_logits")(features)
    else:
        return model
    return keras.Model(model.inputs, logits, name=f"{model.name}_logits")


def _begins_with_preprocessing(model: keras.Model) -> bool:
    first = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)][:2]
    return any(isinstance(layer, (keras.layers.Rescaling, keras.layers.Normalization))
               for layer in first)


def load_model_file(source: str | os.PathLike[str] | bytes, *, filename: str | None = None,
                    labels: str | os.PathLike[str] | bytes | Sequence[str] | None = None,
                    preprocessing: str | None = None, name: str | None = None) -> LoadedModel:
    """Load a user's .keras or legacy .h5 classifier with ``safe_mode`` on.

    ``source`` is a path or the file's bytes (then ``filename`` gives its suffix). The input size
    is read from the model; ``labels`` is a path, bytes (one label per line, or JSON) or a list.
    ``preprocessing`` defaults to "none" when the model starts with a Rescaling/Normalization layer
    and to "scale01" otherwise.
    """
    path = Path(filename or str(source) if not isinstance(source, bytes) else filename or "")
    suffix = path.suffix.lower()
    if suffix not in USER_MODEL_SUFFIXES:
        raise ModelFileError(
            f"Cannot load {path.name or 'this file'}: model files must end in "
            f"{', '.join(USER_MODEL_SUFFIXES)} (Keras 3 .keras, or legacy HDF5 .h5)."
        )
    with tempfile.TemporaryDirectory() as folder:
        if isinstance(source, bytes):
            target = Path(folder) / f"model{suffix}"
            target.write_bytes(source)
        else:
            target = Path(source)
        try:
            model = keras.models.load_model(target, compile=False, safe_mode=True)
        except FileNotFoundError as error:
            raise ModelFileError(f"Model file not found: {target}.") from error
        except Exception as error:  # noqa: BLE001  (keras raises many types for bad files)
            message = str(error)
            if "safe_mode" in message or "Lambda" in message:
                reason = ("it contains a Lambda layer or other arbitrary code, which cnnviz refuses "
                          "to run (safe mode). Re-save the model without Lambda layers.")
            else:
                reason = f"it is not a readable Keras model ({type(error).__name__}: {message[:200]})."
            raise ModelFileError(f"Could not load {path.name}: {reason}") from error
    if not isinstance(model, keras.Model) or len(model.inputs) != 1:
        raise NotAnImageModelError(f"{path.name} must be a Keras model with exactly one input.")
    shape = tuple(model.inputs[0].shape)
    if len(shape) != 4 or shape[-1] != 3 or shape[1] is None or shape[2] is None:
        raise NotAnImageModelError(
            f"{path.name} takes input of shape {shape}; cnnviz needs an image classifier with a "
            "fixed-size RGB input (batch, height, width, 3)."
        )
    outputs = tuple(model.outputs[0].shape)
    if len(model.outputs) != 1 or len(outputs) != 2:
        raise NotAnImageModelError(
            f"{path.name} outputs {outputs}; cnnviz needs one vector of class scores per image."
        )
    if preprocessing is None:
        preprocessing = "none" if _begins_with_preprocessing(model) else "scale01"
    class_names, known = _read_labels(labels, int(outputs[-1]))
    return LoadedModel(
        name=name or path.stem, model=_logits_model(model), input_size=(int(shape[1]), int(shape[2])),
        class_names=class_names, preprocess=preprocessing_function(preprocessing),
        preprocessing=preprocessing, spec=None, weights="file", labels_known=known,
    )


def _manifest_path() -> Path:
    return keras_models_dir() / "cnnviz_weights.json"


def _read_manifest() -> dict[str, list[str]]:
    try:
        return json.loads(_manifest_path().read_text())
    except (OSError, ValueError):
        return {}


def _record_weights(name: str, files: list[str]) -> None:
    """Remember which cache files hold a model's weights, so ``is_cached`` is exact."""
    if not files:
        return
    manifest = _read_manifest()
    manifest[name] = sorted(set(manifest.get(name, [])) | set(files))
    try:
        _manifest_path().write_text(json.dumps(manifest, indent=1))
    except OSError:
        pass  # a read-only cache only loses the "cached" marker, never the model


def is_cached(spec: ModelSpec) -> bool:
    """Whether this model's ImageNet weights are in the cache (the demo model always is)."""
    if spec.is_demo:
        return True
    files = _read_manifest().get(spec.name, [])
    return bool(files) and all((keras_models_dir() / f).is_file() for f in files)


__all__ = ["LoadedModel", "load_model", "load_model_file", "preprocessing_function",
           "imagenet_class_names", "keras_models_dir", "is_cached", "ModelError"]
