"""Matching a dataset's class names to a model's classes, by name, before anything is evaluated.

A dataset class matches a model class when their names agree after normalising case, '_', '-' and
spaces ("golden_retriever" = "golden retriever"); for ImageNet models the WordNet ids of the
classes ("n02099601") match too. A mapping (a dict or a JSON / "dataset,model" lines file) names
the model class of any dataset class explicitly. Anything left unmatched is a ClassMismatchError
that names the classes and the ways out.
"""

from __future__ import annotations

import csv
import difflib
import functools
import io
import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cnnviz.errors import ClassMismatchError, ParameterError

ClassMappingSource = Mapping[str, "str | int"] | str | os.PathLike[str] | bytes | None

_SHOWN = 12  # model classes listed in an error message


def normalise(name: str) -> str:
    """A class name for comparison: lower case, '_' and '-' as spaces, single spaces."""
    return re.sub(r"\s+", " ", re.sub(r"[_\-]", " ", str(name))).strip().lower()


@functools.lru_cache(maxsize=None)
def _imagenet_wordnet_ids(spec: Any) -> tuple[str, ...] | None:
    """WordNet ids of the ImageNet classes via the model's decode_predictions; None offline."""
    order = np.linspace(1.0, 0.0, 1000, dtype=np.float32)[None, :]
    try:
        decoded = spec.decode_predictions(order, top=1000)[0]
    except Exception:  # noqa: BLE001  (offline: the class index file cannot be fetched)
        return None
    return tuple(wnid for wnid, _, _ in decoded)


def wordnet_ids(loaded_model: Any) -> tuple[str, ...] | None:
    """The WordNet ids of an ImageNet model's classes (in output order), None for other models."""
    spec = loaded_model.spec
    if spec is None or spec.is_demo or not loaded_model.labels_known or loaded_model.num_classes != 1000:
        return None
    return _imagenet_wordnet_ids(spec)


def read_mapping(source: ClassMappingSource) -> dict[str, str]:
    """{dataset class: model class} from a dict, or a file/bytes: a JSON object or 'a,b' lines."""
    if source is None:
        return {}
    if isinstance(source, Mapping):
        return {str(k): str(v) for k, v in source.items()}
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise ParameterError(f"No class mapping file at {str(path)!r}.")
        source = path.read_bytes()
    text = bytes(source).decode("utf-8", errors="replace").strip()
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        rows = [row for row in csv.reader(io.StringIO(text), delimiter="\t" if "\t" in text else ",")
                if row and not row[0].startswith("#")]
        if not all(len(row) == 2 for row in rows):
            raise ParameterError(
                "A class mapping file is a JSON object {\"dataset class\": \"model class\"} or one "
                "'dataset class,model class' pair per line."
            ) from None
        return {a.strip(): b.strip() for a, b in rows}
    if not isinstance(parsed, dict):
        raise ParameterError("A JSON class mapping must be an object {\"dataset class\": \"model class\"}.")
    return {str(k): str(v) for k, v in parsed.items()}


def _model_index(name: str, lookup: dict[str, int], count: int) -> int | None:
    """The model class called ``name``; with ``count`` > 0, an output index ("17") works too."""
    key = normalise(name)
    if key in lookup:
        return lookup[key]
    if key.isdigit() and int(key) < count:
        return int(key)
    return None


def match_classes(dataset_classes: Sequence[str], loaded_model: Any,
                  mapping: ClassMappingSource = None) -> np.ndarray:
    """The model class index of each dataset class (int array, in dataset class order).

    Raises ClassMismatchError naming the dataset classes the model does not have (with close model
    class names) and how to fix it, or when two dataset classes land on one model class.
    """
    model_classes = tuple(loaded_model.class_names)
    lookup = {normalise(name): i for i, name in reversed(list(enumerate(model_classes)))}
    for i, wnid in enumerate(wordnet_ids(loaded_model) or ()):
        lookup.setdefault(normalise(wnid), i)
    explicit = {normalise(k): v for k, v in read_mapping(mapping).items()}
    unknown_keys = sorted(set(explicit) - {normalise(c) for c in dataset_classes})
    if unknown_keys:
        raise ParameterError(f"The class mapping names {', '.join(unknown_keys)}, which are not classes "
                             f"of the dataset ({', '.join(dataset_classes)}).")
    indices, unmatched = [], []
    for name in dataset_classes:
        given = normalise(name) in explicit
        target = explicit.get(normalise(name), name)
        index = _model_index(target, lookup, len(model_classes) if given else 0)  # indices: mapping only
        if index is None:
            unmatched.append((name, target))
        indices.append(index)
    if unmatched:
        raise ClassMismatchError(_mismatch_message(unmatched, loaded_model, model_classes))
    seen: dict[int, str] = {}
    for name, index in zip(dataset_classes, indices):
        if index in seen:
            raise ClassMismatchError(
                f"The dataset classes {seen[index]!r} and {name!r} both match the model class "
                f"{model_classes[index]!r}; give each dataset class its own model class in a mapping "
                "file, or merge the two folders."
            )
        seen[index] = name
    return np.array(indices, np.int64)


def _mismatch_message(unmatched: list[tuple[str, str]], loaded_model: Any,
                      model_classes: tuple[str, ...]) -> str:
    parts = []
    for name, target in unmatched:
        close = difflib.get_close_matches(target, model_classes, n=3, cutoff=0.6)
        hint = f" (close: {', '.join(close)})" if close else ""
        shown = name if target == name else f"{name} -> {target}"
        parts.append(f"{shown}{hint}")
    listed = ", ".join(model_classes[:_SHOWN]) + (" ..." if len(model_classes) > _SHOWN else "")
    unknown = "" if loaded_model.labels_known else (
        f" {loaded_model.name}'s class names are not known here (placeholders such as 'class 0'): give "
        "its labels file (--labels, for a model file), or map each dataset class to an output index in "
        "a mapping file ({\"cat\": \"281\"}).")
    return (
        f"{len(unmatched)} dataset class(es) are not classes of {loaded_model.name}: "
        f"{'; '.join(parts)}. The model's classes ({len(model_classes)}): {listed}.{unknown} "
        "To fix it, rename the class folders to the model's class names, give a class mapping file "
        "(--class-map FILE: a JSON object {\"dataset class\": \"model class\"} or 'dataset,model' lines), "
        "or train a new head on this dataset (the Train page / `python -m cnnviz train`)."
    )
