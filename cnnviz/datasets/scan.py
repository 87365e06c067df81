"""Scanning a folder or archive: which files are usable images, their labels, and what is wrong.

Every file is decoded once (a few at a time, in threads: Pillow releases the GIL), checked by
cnnviz.images.load_image (by content, not by suffix) and reduced to a record with the hash of its
pixels; the pixels are then dropped, so scanning holds no more than a few images in memory. Files
that cannot be used are listed with their reason, never dropped silently; images with the same
pixels are reported as duplicates and only the first is kept, so no image sits in both the
training and the test part of a split.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from cnnviz.datasets.records import ImageRecord, SkippedFile
from cnnviz.errors import (
    CnnvizError,
    DatasetError,
    DatasetLayoutError,
    EmptyDatasetError,
    EmptyImageError,
    ImageSizeError,
    ImageTooLargeError,
    NotAnImageError,
    TruncatedImageError,
)
from cnnviz.progress import ProgressCallback, report

#: A class with fewer usable images than this gets a warning.
FEW_IMAGES = 5
#: A warning when the largest class has more than this many times the images of the smallest.
IMBALANCE_RATIO = 5.0
#: Threads that decode while scanning (and while batching: cnnviz.datasets.dataset).
DECODE_THREADS = max(1, min(4, os.cpu_count() or 1))
_CHUNK = 64  # files decoded per round: bounds the pixels held at once

EXPECTED_LAYOUT = (
    "Expected layout: one subfolder per class, named after the class, holding that class's images "
    "(data/cat/1.jpg, data/dog/2.png, ...; the keras image_dataset_from_directory convention), or "
    "a flat folder of images for prediction and embedding only."
)

_ARCHIVE_MAGIC = (b"PK\x03\x04", b"\x1f\x8b", b"7z\xbc\xaf\x27\x1c", b"Rar!")


class FileSource(Protocol):
    """What scanning needs from a folder or an archive."""

    name: str
    files: tuple[str, ...]
    skipped: tuple[SkippedFile, ...]

    def read(self, file: str) -> bytes: ...

    def identity(self) -> str: ...


@dataclass(frozen=True)
class ScanResult:
    """Everything open_dataset learns from one pass over the files."""

    class_names: tuple[str, ...]
    records: tuple[ImageRecord, ...]
    skipped: tuple[SkippedFile, ...]
    duplicates: tuple[tuple[str, ...], ...]
    warnings: tuple[str, ...]
    labelled: bool


def skip_reason(error: CnnvizError) -> str:
    """The few words a skipped file is listed with, from the error that refused it."""
    if isinstance(error, EmptyImageError):
        return "empty file"
    if isinstance(error, TruncatedImageError):
        return "truncated"
    if isinstance(error, ImageTooLargeError):
        return "bomb"
    if isinstance(error, ImageSizeError):
        return "too small" if "short side" in str(error) else "bad aspect ratio"
    if isinstance(error, NotAnImageError):
        return "not an image"
    return "unreadable"


def _layout(files: Sequence[str], labelled: bool | None) -> tuple[bool, tuple[str, ...]]:
    """Whether the files are labelled by their first folder, and the class names (sorted)."""
    folders = sorted({file.split("/", 1)[0] for file in files if "/" in file})
    if labelled is None:
        labelled = bool(folders)
    if not labelled:
        return False, ()
    if len(folders) < 2:
        found = f"one class folder ({folders[0]!r})" if folders else "no class folder"
        raise DatasetLayoutError(
            f"A labelled dataset needs at least two classes, but there is {found}. {EXPECTED_LAYOUT} "
            "For unlabelled images, open the dataset with labelled=False."
        )
    return True, tuple(folders)


def _decode(source: FileSource, file: str) -> tuple[str, ImageRecord | SkippedFile]:
    from cnnviz.images import image_sha256, load_image

    try:
        data = source.read(file)
        if data.startswith(_ARCHIVE_MAGIC):
            return file, SkippedFile(file, "nested archive", "an archive inside the dataset is ignored")
        image = load_image(data)
    except CnnvizError as error:
        return file, SkippedFile(file, skip_reason(error) if not isinstance(error, DatasetError)
                                 else "unreadable", str(error))
    height, width = image.shape[:2]
    return file, ImageRecord(file, None, image_sha256(image), int(height), int(width))


def _decoded(source: FileSource, files: Sequence[str],
             progress: ProgressCallback | None) -> Iterator[tuple[str, ImageRecord | SkippedFile]]:
    """Decode the files a chunk at a time, in order, reporting progress."""
    with ThreadPoolExecutor(DECODE_THREADS) as pool:
        for start in range(0, len(files), _CHUNK):
            chunk = files[start : start + _CHUNK]
            yield from pool.map(lambda file: _decode(source, file), chunk)
            report(progress, min(start + _CHUNK, len(files)), len(files), stage="reading")


def _without_duplicates(records: list[ImageRecord]
                        ) -> tuple[list[ImageRecord], list[SkippedFile], list[tuple[str, ...]], list[str]]:
    """Keep the first image of each group with the same pixels; list the others as skipped."""
    groups: dict[str, list[ImageRecord]] = defaultdict(list)
    for record in records:
        groups[record.sha256].append(record)
    kept, skipped, duplicates, across = [], [], [], []
    for record in records:
        group = groups[record.sha256]
        if record is group[0]:
            kept.append(record)
            if len(group) > 1:
                duplicates.append(tuple(r.file for r in group))
                if len({r.label for r in group}) > 1:
                    across.append(" = ".join(r.file for r in group))
        else:
            skipped.append(SkippedFile(record.file, f"duplicate of {group[0].file}",
                                       "the same pixels as an image kept in the dataset"))
    warnings = []
    if across:
        warnings.append(f"{len(across)} image(s) appear in more than one class with the same pixels "
                        f"(only the first copy is kept): {'; '.join(across[:5])}"
                        + (" ..." if len(across) > 5 else ""))
    return kept, skipped, duplicates, warnings


def class_warnings(class_names: Sequence[str], counts: Sequence[int]) -> list[str]:
    """Warnings for classes with few images and for imbalance (largest over 5x the smallest)."""
    warnings = []
    for name, count in zip(class_names, counts):
        if count == 0:
            warnings.append(f"Class {name!r} has no usable image; add images or remove its folder.")
        elif count < FEW_IMAGES:
            warnings.append(f"Class {name!r} has only {count} image(s) (fewer than {FEW_IMAGES}): "
                            "its accuracy and its test split mean little.")
    present = [(count, name) for name, count in zip(class_names, counts) if count > 0]
    if len(present) >= 2:
        (small, small_name), (large, large_name) = min(present), max(present)
        if large > IMBALANCE_RATIO * small:
            warnings.append(f"The classes are imbalanced: {large_name!r} has {large} images, "
                            f"{large / small:.1f}x the {small} of {small_name!r} (over "
                            f"{IMBALANCE_RATIO:g}x); accuracy alone will flatter the model.")
    return warnings


def scan(source: FileSource, labelled: bool | None = None,
         progress: ProgressCallback | None = None) -> ScanResult:
    """Decode and check every file of ``source``; raise typed errors for unusable datasets."""
    labelled, class_names = _layout(source.files, labelled)
    skipped = list(source.skipped)
    candidates = []
    for file in source.files:
        if labelled and "/" not in file:
            skipped.append(SkippedFile(file, "outside a class folder",
                                       "in a labelled dataset every image sits in its class's folder"))
        else:
            candidates.append(file)
    records = []
    for file, result in _decoded(source, candidates, progress):
        if isinstance(result, SkippedFile):
            skipped.append(result)
        else:
            label = class_names.index(file.split("/", 1)[0]) if labelled else None
            records.append(ImageRecord(file, label, result.sha256, result.height, result.width))
    records, duplicate_skips, duplicates, warnings = _without_duplicates(records)
    skipped.extend(duplicate_skips)
    if not records:
        listed = f" ({len(skipped)} file(s) skipped, for example {skipped[0].file}: {skipped[0].reason})" \
            if skipped else ""
        raise EmptyDatasetError(f"{source.name} holds no usable image{listed}. {EXPECTED_LAYOUT}")
    if labelled:
        counts = [sum(r.label == i for r in records) for i in range(len(class_names))]
        usable = [name for name, count in zip(class_names, counts) if count]
        if len(usable) < 2:
            raise DatasetLayoutError(
                f"{source.name} has usable images in only one class ({usable[0]!r}); a labelled "
                f"dataset needs at least two. {EXPECTED_LAYOUT}"
            )
        warnings = class_warnings(class_names, counts) + warnings
    return ScanResult(class_names, tuple(records), tuple(sorted(skipped, key=lambda s: s.file)),
                      tuple(duplicates), tuple(warnings), labelled)
