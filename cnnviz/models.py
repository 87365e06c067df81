"""Loading models: ImageNet classifiers from the zoo, the bundled demo model, or a user's file.

Every model is wrapped in a :class:`LoadedModel` whose ``model`` outputs **logits** (class scores
before softmax): explanations and attacks need them, and ``probabilities_from_logits`` gives probabilities.
Its ``preprocess`` maps raw pixels (float, 0..255, RGB) to what the network expects, on NumPy arrays
(copied first, never in place) and on tensors inside a gradient tape alike: for a grayscale model it
converts to luma first (so gradients still reach the RGB pixels and overlays stay on the original).
The head decides how logits become probabilities (``LoadedModel.head``): "softmax" (one class per
image), "binary" (one sigmoid unit z, seen as the two logits -z/2 and z/2, whose softmax is
1 - sigmoid(z) and sigmoid(z)) or "multilabel" (several sigmoid units, independent probabilities).
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
    ModelError,
    ModelFileError,
    NotAnImageModelError,
    ParameterError,
    WeightsDownloadError,
)
from cnnviz.zoo import DEMO_MODEL_NAME, LENET_MODEL_NAME, ModelSpec, get_spec

import keras  # noqa: E402  (after cnnviz/__init__ has set KERAS_HOME)
import tensorflow as tf  # noqa: E402

#: Preprocessing a user's model may ask for: raw 0..255 ("none"), [0, 1] ("scale01"), or one of
#: the keras.applications families.
USER_PREPROCESSING = ("none", "scale01", "tf", "caffe", "torch", "standardize")
USER_MODEL_SUFFIXES = (".keras", ".h5", ".hdf5", ".zip")  # .zip: a zipped TensorFlow SavedModel folder
#: ITU-R BT.601 luma weights: how a grayscale model sees an RGB image.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)
MIN_INPUT_SIDE = 8

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
    head: str = "softmax"  # one of HEADS: how logits become probabilities
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _functions: dict[Hashable, Any] = field(default_factory=dict, repr=False)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def channels(self) -> int:
        """Channels the network itself takes: 3 (RGB) or 1 (grayscale; preprocess converts)."""
        return int(self.model.inputs[0].shape[-1])

    @property
    def multilabel(self) -> bool:
        """Independent per-class probabilities (several sigmoid units) instead of one softmax."""
        return self.head == "multilabel"

    def probabilities_from_logits(self, logits: Any) -> Any:
        """Probabilities from logits (NumPy in, NumPy out; tensors in, tensors out): a softmax,
        or independent sigmoids for a multi-label model."""
        if isinstance(logits, np.ndarray):
            logits = logits.astype(np.float64)
            if self.multilabel:
                return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
            shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
            return (shifted / shifted.sum(axis=-1, keepdims=True)).astype(np.float32)
        return tf.sigmoid(logits) if self.multilabel else tf.nn.softmax(logits)

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
        """Class probabilities (N, classes) for a batch of raw pixels (see probabilities_from_logits)."""
        return self.probabilities_from_logits(self.logits(pixels)).numpy()

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


def to_grayscale(pixels: Any) -> Any:
    """(..., 3) RGB -> (..., 1) luma with LUMA_WEIGHTS, on NumPy arrays and tensors alike."""
    red, green, blue = LUMA_WEIGHTS
    return pixels[..., 0:1] * red + pixels[..., 1:2] * green + pixels[..., 2:3] * blue


def _standardizer(mean: Sequence[float], std: Sequence[float], channels: int) -> Callable[[Any], Any]:
    """(pixels / 255 - mean) / std with mean and std on the 0..1 scale (one value, or one per channel)."""
    mean_array = np.asarray(mean, np.float32).reshape(-1)
    std_array = np.asarray(std, np.float32).reshape(-1)
    if mean_array.size not in (1, channels) or std_array.size not in (1, channels) or np.any(std_array <= 0):
        raise ParameterError(
            f"Standardisation needs a mean and a positive std with 1 or {channels} values each "
            f"(on the 0..1 scale, e.g. MNIST's 0.1307 and 0.3081), got {list(mean)} and {list(std)}."
        )

    def standardize(pixels: Any) -> Any:
        return (pixels / 255.0 - mean_array) / std_array

    return standardize


def preprocessing_function(family: str, channels: int = 3, mean: Sequence[float] | None = None,
                           std: Sequence[float] | None = None) -> Callable[[Any], Any]:
    """The preprocessing of a family, as a function of raw 0..255 RGB pixels.

    For a grayscale model (``channels=1``) the pixels become luma first; ImageNet's per-channel
    families (caffe, torch) do not apply to one channel. "standardize" takes ``mean`` and ``std``.
    """
    if channels not in (1, 3):
        raise NotAnImageModelError(
            f"cnnviz reads images with 1 (grayscale) or 3 (RGB) channels, not {channels}.")
    if channels == 1:
        if family in ("caffe", "torch"):
            raise ParameterError(
                f"The {family!r} preprocessing uses ImageNet's three colour channels; a grayscale model "
                "takes one. Choose none, scale01, tf or standardize (with a mean and std)."
            )
        family_function = (_standardizer(mean, std, 1) if family == "standardize" and mean and std
                           else preprocessing_function(family, 3, mean, std))

        def grayscale(pixels: Any) -> Any:
            return family_function(to_grayscale(pixels))

        grayscale.__doc__ = f"RGB -> luma, then {family} preprocessing."
        return grayscale
    if family == "standardize":
        if mean is None or std is None:
            raise ParameterError("The 'standardize' preprocessing needs the training data's mean and std: "
                                 'give them in a JSON labels file, e.g. {"labels": [...], '
                                 '"preprocessing": "standardize", "mean": [0.5], "std": [0.25]}.')
        return _standardizer(mean, std, 3)
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


#: The file Keras' ``decode_predictions`` downloads into ``keras_models_dir()`` on first use.
IMAGENET_CLASS_INDEX = "imagenet_class_index.json"


@functools.lru_cache(maxsize=None)
def imagenet_class_names(spec: ModelSpec, download: bool = True) -> tuple[tuple[str, ...], bool]:
    """ImageNet labels via the model's own ``decode_predictions``; placeholders when offline.

    Cached per process, so an offline machine tries the download once, not on every load. With
    ``download=False`` (random weights need no network) only an already cached index is read.
    """
    placeholders = tuple(f"class {i}" for i in range(_IMAGENET_CLASSES)), False
    if not download and not (keras_models_dir() / IMAGENET_CLASS_INDEX).is_file():
        return placeholders
    order = np.linspace(1.0, 0.0, _IMAGENET_CLASSES, dtype=np.float32)[None, :]
    before = _snapshot(keras_models_dir())
    try:
        with contextlib.redirect_stdout(sys.stderr):  # Keras announces downloads on stdout
            decoded = spec.decode_predictions(order, top=_IMAGENET_CLASSES)[0]
    except Exception:  # noqa: BLE001  (offline: fall back to numbered classes)
        _remove_changed_files(keras_models_dir(), before)
        return placeholders
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


def _demo_loaded_model(spec: ModelSpec) -> LoadedModel:
    """A bundled demo model: the shapes CNN (RGB) or LeNet-5 on digits (grayscale, luma conversion)."""
    if spec.name == LENET_MODEL_NAME:
        from cnnviz.demo.digits import DIGIT_CLASSES
        from cnnviz.demo.lenet import load_lenet

        model, classes = load_lenet(), DIGIT_CLASSES
    else:
        from cnnviz.demo.model import load_demo_model
        from cnnviz.demo.shapes import SHAPE_CLASSES

        model, classes = load_demo_model(), SHAPE_CLASSES
    channels = int(model.inputs[0].shape[-1])
    return LoadedModel(
        name=spec.name, model=model, input_size=spec.input_size, class_names=tuple(classes),
        preprocess=preprocessing_function("builtin", channels), preprocessing="builtin",
        spec=spec, weights="bundled",
    )


def load_model(name: str, weights: str | None = "imagenet") -> LoadedModel:
    """Load a zoo model by name (``"MobileNetV2"``, ``"shapes"``...), reusing it within a process.

    ``weights="imagenet"`` downloads the pretrained weights once into ``$KERAS_HOME/models``
    (cnnviz points KERAS_HOME at ``models_cache/``); ``weights=None`` builds the architecture with
    random weights, which is enough to look at its structure. The demo models ``shapes`` and
    ``lenet5_digits`` always use their bundled weights.
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
            loaded = _demo_loaded_model(spec)
        else:
            model = _build_imagenet(spec, weights)
            names, known = imagenet_class_names(spec, download=weights is not None)
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
def _begins_with_preprocessing(model: keras.Model) -> bool:
    first = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)][:2]
    return any(isinstance(layer, (keras.layers.Rescaling, keras.layers.Normalization))
               for layer in first)


def _check_image_model(model: Any, filename: str) -> tuple[int, int, int]:
    """(height, width, channels) of a one-input image classifier; NotAnImageModelError otherwise."""
    if not isinstance(model, keras.Model) or len(model.inputs) != 1:
        raise NotAnImageModelError(f"{filename} must be a Keras model with exactly one input.")
    shape = tuple(model.inputs[0].shape)
    if len(shape) != 4 or shape[-1] not in (1, 3) or shape[1] is None or shape[2] is None:
        raise NotAnImageModelError(
            f"{filename} takes input of shape {shape}; cnnviz needs an image classifier with a "
            "fixed-size grayscale or RGB input (batch, height, width, 1 or 3)."
        )
    if min(shape[1], shape[2]) < MIN_INPUT_SIDE:
        raise NotAnImageModelError(f"{filename} takes {shape[1]}x{shape[2]} images; cnnviz needs at "
                                   f"least {MIN_INPUT_SIDE}x{MIN_INPUT_SIDE}.")
    outputs = tuple(model.outputs[0].shape)
    if len(model.outputs) != 1 or len(outputs) != 2:
        raise NotAnImageModelError(
            f"{filename} outputs {outputs}; cnnviz needs one vector of class scores per image."
        )
    return int(shape[1]), int(shape[2]), int(shape[3])


def _read_model(target: Path, filename: str) -> keras.Model:
    from cnnviz.model_files import read_keras_file, read_savedmodel_zip

    try:
        if target.suffix.lower() == ".zip":
            return read_savedmodel_zip(target)
        return read_keras_file(target)
    except FileNotFoundError as error:
        raise ModelFileError(f"Model file not found: {target}.") from error
    except ModelError:
        raise
    except Exception as error:  # noqa: BLE001  (keras raises many types for bad files)
        message = str(error)
        if "safe_mode" in message or "Lambda" in message:
            reason = ("it contains a Lambda layer or other arbitrary code, which cnnviz refuses "
                      "to run (safe mode). Re-save the model without Lambda layers.")
        else:
            reason = f"it is not a readable Keras model ({type(error).__name__}: {message[:200]})."
        raise ModelFileError(f"Could not load {filename}: {reason}") from error


def load_model_file(source: str | os.PathLike[str] | bytes, *, filename: str | None = None,
                    labels: str | os.PathLike[str] | bytes | Sequence[str] | None = None,
                    preprocessing: str | None = None, name: str | None = None) -> LoadedModel:
    """Load a user's classifier with ``safe_mode`` on: Keras 3 .keras, Keras 2 or 3 .h5, or a
    zipped SavedModel folder (.zip, called through its serving signature).

    ``source`` is a path or the file's bytes (then ``filename`` gives its suffix). Input size and
    channels (1 = grayscale, 3 = RGB) are read from the model, the head from its last activation
    (cnnviz.model_files). ``labels`` is a path, bytes (one label per line, or JSON) or a list; a
    JSON object may also give "preprocessing", "mean"/"std" (for "standardize") and "head".
    ``preprocessing`` (else the labels file's) defaults to "none" when the model starts with a
    Rescaling/Normalization layer and to "scale01" otherwise.
    """
    from cnnviz.model_files import class_names, logits_model, read_options

    path = Path(filename or str(source) if not isinstance(source, bytes) else filename or "")
    suffix = path.suffix.lower()
    if suffix not in USER_MODEL_SUFFIXES:
        raise ModelFileError(
            f"Cannot load {path.name or 'this file'}: model files must end in "
            f"{', '.join(USER_MODEL_SUFFIXES)} (Keras 3 .keras, HDF5 .h5 from Keras 2 or 3, or a "
            "zipped SavedModel folder)."
        )
    options = read_options(labels)
    with tempfile.TemporaryDirectory() as folder:
        if isinstance(source, bytes):
            target = Path(folder) / f"model{suffix}"
            target.write_bytes(source)
        else:
            target = Path(source)
        model = _read_model(target, path.name)
    height, width, channels = _check_image_model(model, path.name)
    preprocessing = preprocessing or options.preprocessing
    if preprocessing is None:
        preprocessing = "none" if _begins_with_preprocessing(model) else "scale01"
    preprocess = preprocessing_function(preprocessing, channels, options.mean, options.std)
    logits, head = logits_model(model, options.head)
    names, known = class_names(options, int(model.outputs[0].shape[-1]), head)
    return LoadedModel(
        name=name or path.stem, model=logits, input_size=(height, width), class_names=names,
        preprocess=preprocess, preprocessing=preprocessing, spec=None, weights="file",
        labels_known=known, head=head,
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
