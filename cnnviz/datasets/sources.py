"""open_dataset: a folder, a zip archive (path, bytes or an uploaded file) or a generated set -> Dataset."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cnnviz.datasets.archive import ArchiveLimits, ZipSource
from cnnviz.datasets.dataset import Dataset, FileReader
from cnnviz.datasets.folder import FolderSource
from cnnviz.datasets.generated import GeneratedSource
from cnnviz.datasets.records import ImageRecord
from cnnviz.datasets.scan import class_warnings, scan
from cnnviz.datasets.splits import DEFAULT_FRACTIONS, stratified_split
from cnnviz.errors import DatasetError, DatasetLayoutError, ParameterError
from cnnviz.progress import ProgressCallback


class GeneratedReader:
    """Pixels and masks of a generated set, regenerated on demand from each image's own seed."""

    def __init__(self, source: GeneratedSource) -> None:
        self.source = source

    def _sample(self, record: ImageRecord) -> Any:
        number = int(record.file.rsplit("/", 1)[1].split(".", 1)[0])
        return self.source.sample(int(record.label or 0), number)

    def image(self, record: ImageRecord) -> np.ndarray:
        return self._sample(record).image

    def mask(self, record: ImageRecord) -> np.ndarray | None:
        return self._sample(record).mask


def _open_generated(source: GeneratedSource, seed: int, split: Sequence[float],
                    labelled: bool | None) -> Dataset:
    if labelled is False:
        raise DatasetLayoutError("A generated set is always labelled (its classes are the shapes).")
    size = source.size
    records = tuple(
        ImageRecord(source.file(label, number), label, f"{source.identity()}:{label}:{number}", size, size)
        for label in range(len(source.class_names)) for number in range(source.images_per_class)
    )
    labels = np.array([r.label for r in records], np.int64)
    counts = [source.images_per_class] * len(source.class_names)
    return Dataset(name=source.name, class_names=source.class_names, records=records, skipped=(),
                   duplicates=(), warnings=tuple(class_warnings(source.class_names, counts)),
                   split=stratified_split(labels, seed, split), labelled=True,
                   reader=GeneratedReader(source), source_identity=source.identity())


def _file_source(source: Any, limits: ArchiveLimits, name: str | None) -> FolderSource | ZipSource:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return ZipSource(bytes(source), limits, name=name or "archive.zip")
    if hasattr(source, "read") and not isinstance(source, (str, os.PathLike)):  # an uploaded file
        if getattr(source, "seekable", lambda: False)():
            source.seek(0)
        data = source.read()
        shown = name or Path(str(getattr(source, "name", "archive.zip"))).name
        return ZipSource(bytes(data), limits, name=shown)
    if not isinstance(source, (str, os.PathLike)):
        raise ParameterError(
            f"Cannot open a dataset from a {type(source).__name__}: give a folder, a .zip path, zip "
            "bytes, an uploaded file, or cnnviz.datasets.generated(...)."
        )
    path = Path(source)
    if path.is_dir():
        return FolderSource(path, limits)
    if path.is_file():
        return ZipSource(path, limits, name=name)
    raise DatasetError(f"No folder or zip file at {str(path)!r}: check the path.")


def open_dataset(source: Any, *, seed: int = 0, split: Sequence[float] = DEFAULT_FRACTIONS,
                 labelled: bool | None = None, limits: ArchiveLimits = ArchiveLimits(),
                 name: str | None = None, progress: ProgressCallback | None = None) -> Dataset:
    """Open a dataset: a folder (a subfolder per class, or flat = unlabelled), a .zip (path, bytes,
    or a file object; a single top folder inside is allowed), or ``generated(...)``.

    Every file is checked once (decoded, then dropped); unusable files are listed in ``skipped``
    with their reason. ``labelled=None`` decides from the layout (subfolders -> labelled).
    ``seed`` and ``split`` (train, val, test fractions) make the stored stratified split.
    ``progress(done, total, info)`` follows the reading of the files and may cancel it.
    """
    if isinstance(source, GeneratedSource):
        return _open_generated(source, seed, split, labelled)
    stratified_split(np.zeros(0, np.int64), seed, split)  # check seed and fractions before reading
    files = _file_source(source, limits, name)
    result = scan(files, labelled, progress)
    labels = np.array([-1 if r.label is None else r.label for r in result.records], np.int64)
    return Dataset(name=name or files.name, class_names=result.class_names, records=result.records,
                   skipped=result.skipped, duplicates=result.duplicates, warnings=result.warnings,
                   split=stratified_split(labels, seed, split), labelled=result.labelled,
                   reader=FileReader(files), source_identity=files.identity())
