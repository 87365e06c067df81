"""Datasets: a folder, a zip or a generated set of images as one object, evaluated and embedded.

One module per job:

- :mod:`~cnnviz.datasets.sources`: ``open_dataset`` (folder, zip path/bytes/upload, generated set);
- :mod:`~cnnviz.datasets.folder`, :mod:`~cnnviz.datasets.archive`: reading folders, and zip archives
  in place with their safety checks (:class:`ArchiveLimits`);
- :mod:`~cnnviz.datasets.generated`: the demo shapes generator as a source, with masks;
- :mod:`~cnnviz.datasets.scan`: decoding and checking every file, layout, duplicates, warnings;
- :mod:`~cnnviz.datasets.splits`: seeded stratified train / validation / test splits;
- :mod:`~cnnviz.datasets.dataset`: the :class:`Dataset` object (lazy, batched decoding);
- :mod:`~cnnviz.datasets.labels`: matching the dataset's classes to a model's, by name;
- :mod:`~cnnviz.datasets.evaluation`, :mod:`~cnnviz.datasets.calibration`: ``evaluate``;
- :mod:`~cnnviz.datasets.embedding`, :mod:`~cnnviz.datasets.neighbours`: ``embed``.

Importing this package loads no TensorFlow; ``evaluate`` and ``embed`` load it when called.
"""

from __future__ import annotations

import importlib
from typing import Any

from cnnviz.datasets.archive import ArchiveLimits
from cnnviz.datasets.dataset import Dataset
from cnnviz.datasets.generated import GeneratedSource, generated
from cnnviz.datasets.records import ImageRecord, SkippedFile, Split
from cnnviz.datasets.sources import open_dataset
from cnnviz.datasets.splits import stratified_split
from cnnviz.datasets.cues import Cue, cue_mass, cue_region, cue_test_versions, mean_cue_mass, plant_cue  # noqa: F401, E501  (Clever Hans)

_LAZY = {
    "evaluate": "cnnviz.datasets.evaluation",
    "Evaluation": "cnnviz.datasets.evaluation",
    "embed": "cnnviz.datasets.embedding",
    "Embedding": "cnnviz.datasets.embedding",
    "match_classes": "cnnviz.datasets.labels",
}

__all__ = sorted(["ArchiveLimits", "Dataset", "GeneratedSource", "ImageRecord", "SkippedFile", "Split",
                  "generated", "open_dataset", "stratified_split", *_LAZY])


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'cnnviz.datasets' has no attribute {name!r}")
