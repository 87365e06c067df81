"""Reading the models people bring: Keras 3 .keras, Keras 2 (tf.keras) .h5, zipped SavedModels, and
their heads and labels. :func:`cnnviz.models.load_model_file` puts the pieces together.

- Keras 2 .h5 files (tf.keras, TensorFlow 2.15 and earlier; Teachable Machine's Keras export) hold
  layer configs Keras 3 refuses: DepthwiseConv2D's ``groups`` (keras-team/keras#19151),
  BatchNormalization's list ``axis``. :data:`KERAS2_REPAIRS` fixes them in a copy of the file's
  config (nested models too); loading stays in safe mode (no code is run).
- A SavedModel folder, zipped for upload, is called through ``keras.layers.TFSMLayer`` (its
  ``serving_default`` signature); its inside is opaque, so only the methods working on input pixels
  apply to it.
- Heads: a softmax is removed to expose logits; one output unit (sigmoid or not) is a binary
  classifier, turned into the two logits (-z/2, z/2); several sigmoid units are multi-label. For an
  opaque model whose outputs are probabilities, their log (softmax) or logit (sigmoid) is used.
- Labels: one per line, a JSON list or mapping, or a JSON object with options:
  ``{"labels": [...], "preprocessing": "standardize", "mean": [0.13], "std": [0.31], "head": ...}``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import weakref
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np

from cnnviz.errors import LabelsFileError, ModelFileError, NotAnImageModelError

HEADS = ("softmax", "binary", "multilabel")
BINARY_LABELS = ("negative", "positive")
METADATA_KEYS = ("labels", "class_names", "preprocessing", "mean", "std", "head")
SERVING_ENDPOINT = "serving_default"
MAX_ZIP_BYTES = 2 * 1024**3  # unpacked size limit of a zipped SavedModel (zip-bomb guard)
PROBE_IMAGES = 4
_PROBABILITY_TOLERANCE = 1e-3


# --- Keras 2 configs -------------------------------------------------------------------------------
def _drop_groups(config: dict[str, Any]) -> None:
    config.pop("groups", None)  # tf.keras wrote groups=1 for DepthwiseConv2D; Keras 3 has no such argument


def _axis_as_int(config: dict[str, Any]) -> None:
    axis = config.get("axis")
    if isinstance(axis, list) and len(axis) == 1:  # tf.keras wrote [3]; Keras 3 takes 3
        config["axis"] = int(axis[0])


def _single_endpoints(config: dict[str, Any]) -> None:
    """tf.keras wrote one input/output as [[name, 0, 0]], which Keras 3 reads as a list of one tensor
    (a nested model then hands a list to the next layer); write it as [name, 0, 0]."""
    for key in ("input_layers", "output_layers"):
        value = config.get(key)
        if isinstance(value, list) and len(value) == 1 and isinstance(value[0], list):
            config[key] = value[0]


#: Keras 2 (tf.keras <= 2.15) layer configs that Keras 3 refuses, by class name, with their repair.
KERAS2_REPAIRS: dict[str, Callable[[dict[str, Any]], None]] = {
    "DepthwiseConv2D": _drop_groups,
    "BatchNormalization": _axis_as_int,
    "Functional": _single_endpoints,
    "Model": _single_endpoints,
}


def repair_keras2_config(node: Any) -> Any:
    """The model config with every known Keras 2 difference repaired, nested models included (in place)."""
    if isinstance(node, dict):
        repair = KERAS2_REPAIRS.get(str(node.get("class_name")))
        if repair is not None and isinstance(node.get("config"), dict):
            repair(node["config"])
        for value in node.values():
            repair_keras2_config(value)
    elif isinstance(node, list):
        for value in node:
            repair_keras2_config(value)
    return node


def read_keras_file(path: Path) -> keras.Model:
    """A .keras or .h5 file, with safe mode on; an .h5 file's config is repaired first (a copy)."""
    if path.suffix.lower() not in (".h5", ".hdf5"):
        return keras.models.load_model(path, compile=False, safe_mode=True)
    import h5py

    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "model.h5"
        shutil.copyfile(path, copy)
        with h5py.File(copy, "r+") as file:
            raw = file.attrs.get("model_config")
            if raw is not None:
                text = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
                file.attrs["model_config"] = json.dumps(repair_keras2_config(json.loads(text)))
        return keras.models.load_model(copy, compile=False, safe_mode=True)


# --- zipped SavedModels ----------------------------------------------------------------------------
def _extract(archive: zipfile.ZipFile, folder: Path) -> Path:
    """Unpack safely (no paths outside ``folder``, bounded size); the folder holding saved_model.pb."""
    if sum(info.file_size for info in archive.infolist()) > MAX_ZIP_BYTES:
        raise ModelFileError("The zip file unpacks to more than 2 GB; cnnviz does not open it.")
    root = folder.resolve()
    for info in archive.infolist():
        target = (folder / info.filename).resolve()
        if root not in target.parents and target != root:
            raise ModelFileError(f"The zip file holds an unsafe path ({info.filename!r}); cnnviz refuses it.")
    archive.extractall(folder)
    found = sorted(folder.rglob("saved_model.pb"), key=lambda p: len(p.parts))
    if not found:
        raise ModelFileError("The zip file holds no saved_model.pb: zip a TensorFlow SavedModel folder "
                             "(the one with saved_model.pb and variables/).")
    return found[0].parent


def read_savedmodel_zip(path: Path) -> keras.Model:
    """A Keras model calling a zipped SavedModel's serving signature through TFSMLayer."""
    import tensorflow as tf

    folder = Path(tempfile.mkdtemp(prefix="cnnviz_savedmodel_"))
    try:
        with zipfile.ZipFile(path) as archive:
            saved = _extract(archive, folder)
        signatures = tf.saved_model.load(str(saved)).signatures
        if SERVING_ENDPOINT not in signatures:
            raise ModelFileError(
                f"The SavedModel has no {SERVING_ENDPOINT!r} signature (it has "
                f"{', '.join(signatures) or 'none'}); export it with model.export(...) or "
                "tf.saved_model.save(model, path) from a Keras model."
            )
        specs = signatures[SERVING_ENDPOINT].structured_input_signature[1]
        if len(specs) != 1:
            raise NotAnImageModelError(
                f"The SavedModel's signature takes {len(specs)} inputs; cnnviz needs one image.")
        (spec,) = specs.values()
        layer = keras.layers.TFSMLayer(str(saved), call_endpoint=SERVING_ENDPOINT, name="savedmodel")
        inputs = keras.Input(tuple(spec.shape[1:]), dtype="float32", name="image")
        outputs = layer(inputs)
        if isinstance(outputs, dict):
            if len(outputs) != 1:
                raise NotAnImageModelError(
                    f"The SavedModel returns {len(outputs)} outputs ({', '.join(outputs)}); cnnviz needs "
                    "one vector of class scores.")
            (outputs,) = outputs.values()
        model = keras.Model(inputs, outputs, name=path.stem)
    except zipfile.BadZipFile as error:
        shutil.rmtree(folder, ignore_errors=True)
        raise ModelFileError(f"{path.name} is not a readable zip file ({error}).") from error
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    weakref.finalize(layer, shutil.rmtree, str(folder), True)  # the files live as long as the layer
    return model


# --- labels and options ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelOptions:
    """What a labels file may say beside the labels."""

    labels: tuple[str, ...] | None = None
    preprocessing: str | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    head: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _numbers(value: Any, key: str) -> tuple[float, ...] | None:
    if value is None:
        return None
    values = value if isinstance(value, (list, tuple)) else [value]
    try:
        return tuple(float(v) for v in values)
    except (TypeError, ValueError) as error:
        raise LabelsFileError(f'"{key}" in the labels file must be a number or a list of numbers.') from error


def read_options(labels: str | os.PathLike[str] | bytes | Sequence[str] | None) -> ModelOptions:
    """Labels and options from a path, bytes (lines, JSON list/mapping/object) or a list."""
    if labels is None:
        return ModelOptions()
    if isinstance(labels, (str, os.PathLike)) and Path(labels).is_file():
        labels = Path(labels).read_bytes()
    if not isinstance(labels, bytes):
        return ModelOptions(labels=tuple(str(name) for name in labels))
    text = labels.decode("utf-8", errors="replace").strip()
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        return ModelOptions(labels=tuple(line.strip() for line in text.splitlines() if line.strip()))
    if isinstance(parsed, dict) and any(key in parsed for key in METADATA_KEYS):
        head = parsed.get("head")
        if head is not None and head not in HEADS:
            raise LabelsFileError(
                f'"head" in the labels file must be one of {", ".join(HEADS)}, not {head!r}.')
        names = parsed.get("labels", parsed.get("class_names"))
        return ModelOptions(
            labels=None if names is None else read_options(json.dumps(names).encode()).labels,
            preprocessing=parsed.get("preprocessing"), mean=_numbers(parsed.get("mean"), "mean"),
            std=_numbers(parsed.get("std"), "std"), head=head,
            extra={k: v for k, v in parsed.items() if k not in METADATA_KEYS},
        )
    if isinstance(parsed, dict):  # {"0": "cat", ...} or {"cat": 0, ...}
        try:
            pairs = sorted((int(k), str(v)) for k, v in parsed.items())
        except ValueError:
            pairs = sorted((int(v), str(k)) for k, v in parsed.items())
        return ModelOptions(labels=tuple(name for _, name in pairs))
    if isinstance(parsed, list):
        return ModelOptions(labels=tuple(str(name) for name in parsed))
    raise LabelsFileError("The labels file must hold one label per line, a JSON list, or a JSON object.")


def class_names(options: ModelOptions, outputs: int, head: str) -> tuple[tuple[str, ...], bool]:
    """The class names (and whether they are real, not placeholders) for a model's outputs."""
    classes = 2 if head == "binary" else outputs
    names = options.labels
    if names is None:
        placeholder = BINARY_LABELS if head == "binary" else tuple(f"class {i}" for i in range(classes))
        return placeholder, False
    if head == "binary" and len(names) == 1:  # the positive class only: "dog" -> ("not dog", "dog")
        names = (f"not {names[0]}", names[0])
    if len(names) != classes:
        what = ("2 labels (negative class first) or 1 (the positive class)" if head == "binary"
                else "one label per line (or a JSON list) in the order of the model's outputs")
        unit = "classes" if head == "binary" else "outputs"
        raise LabelsFileError(f"The labels file has {len(names)} labels but the model has {classes} "
                              f"{unit}. Give {what}.")
    return tuple(names), True


# --- heads and logits ------------------------------------------------------------------------------
class LinearPart(keras.layers.Layer):
    """The affine part of an existing Dense layer (shares its weights), to expose logits.

    ``binary``: the single unit z becomes the two logits (-z/2, z/2), whose softmax is
    (1 - sigmoid(z), sigmoid(z)). ``kernel`` is the effective (features, classes) kernel, for CAM.
    """

    def __init__(self, dense: keras.layers.Dense, binary: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dense = dense
        self.binary = binary

    @property
    def kernel(self) -> Any:
        kernel = self.dense.kernel
        return keras.ops.concatenate([-kernel / 2, kernel / 2], axis=1) if self.binary else kernel

    def call(self, inputs: Any) -> Any:
        outputs = keras.ops.matmul(inputs, self.dense.kernel)
        outputs = outputs + self.dense.bias if self.dense.use_bias else outputs
        return two_class_logits(outputs) if self.binary else outputs


def two_class_logits(z: Any) -> Any:
    """(n, 1) binary logit z -> (n, 2) logits (-z/2, z/2): softmax gives 1 - sigmoid(z), sigmoid(z)."""
    return keras.ops.concatenate([-z / 2, z / 2], axis=1)


class TwoClassLogits(keras.layers.Layer):
    """:func:`two_class_logits` as a layer."""

    def call(self, inputs: Any) -> Any:
        return two_class_logits(inputs)


class ProbabilityLogits(keras.layers.Layer):
    """Logits recovered from probability outputs: log p (softmax) or log(p / (1 - p)) (sigmoid)."""

    def __init__(self, kind: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kind = kind

    def call(self, inputs: Any) -> Any:
        p = keras.ops.clip(inputs, 1e-7, 1 - 1e-7)
        return keras.ops.log(p) if self.kind == "softmax" else keras.ops.log(p) - keras.ops.log(1 - p)


def _activation_name(layer: Any) -> str:
    return getattr(getattr(layer, "activation", None), "__name__", "linear")


def _probed_activation(model: keras.Model) -> str:
    """For an opaque model: "softmax" or "sigmoid" when its outputs on random input are
    probabilities (rows summing to 1, or values in 0..1), else "linear"."""
    shape = (PROBE_IMAGES, *model.inputs[0].shape[1:])
    rng = np.random.default_rng(0)
    probes = [rng.uniform(0, high, shape).astype(np.float32) for high in (1.0, 255.0)]  # either scale
    values = np.concatenate([np.asarray(model(probe)) for probe in probes])
    if values.min() < 0 or values.max() > 1:
        return "linear"
    if values.shape[1] > 1 and np.allclose(values.sum(axis=1), 1, atol=_PROBABILITY_TOLERANCE):
        return "softmax"
    return "sigmoid"


def logits_model(model: keras.Model, head: str | None = None) -> tuple[keras.Model, str]:
    """The same network giving logits (all weights shared, nothing mutated) and its head.

    The head comes from the last activation (softmax, sigmoid) unless ``head`` says otherwise;
    one output unit always means a binary classifier.
    """
    last = model.layers[-1]
    activation = _activation_name(last)
    if isinstance(last, keras.layers.TFSMLayer):
        activation = _probed_activation(model)
    outputs = int(model.outputs[0].shape[-1])
    if outputs == 1:
        head = "binary"  # a softmax over one unit would say 100 % for every image
    elif head is None:
        head = "multilabel" if activation == "sigmoid" else "softmax"
    if head == "binary" and outputs != 1:
        raise NotAnImageModelError(f"A binary head has one output unit; this model has {outputs}.")
    if activation not in ("softmax", "sigmoid"):
        if head != "binary":
            return model, head  # already outputs scores
        logits = TwoClassLogits(name="two_class_logits")(model.outputs[0])
    elif isinstance(last, keras.layers.Dense):
        logits = LinearPart(last, binary=head == "binary", name=f"{last.name}_logits")(last.input)
    elif isinstance(last, keras.layers.Activation):
        logits = last.input if head != "binary" else TwoClassLogits(name="two_class_logits")(last.input)
    else:
        logits = ProbabilityLogits(activation, name="probability_logits")(model.outputs[0])
        if head == "binary":
            logits = TwoClassLogits(name="two_class_logits")(logits)
    return keras.Model(model.inputs, logits, name=f"{model.name}_logits"), head
