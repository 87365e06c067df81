"""The Dataset object: the usable images of a source, their labels, what was skipped, and the split.

A Dataset holds records, never pixels: ``image`` decodes (or regenerates) one image when asked and
``batches`` decodes batch by batch in a few threads, one batch ahead of the consumer, so memory
stays bounded by the batch size whatever the dataset's size. Every later job (evaluation,
training, audits) reads ``split``, so they all test on the same images.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

import numpy as np

from cnnviz.datasets.records import ImageRecord, SkippedFile, Split
from cnnviz.datasets.scan import DECODE_THREADS, FileSource
from cnnviz.datasets.splits import stratified_split
from cnnviz.errors import CnnvizError, DatasetError, ParameterError
from cnnviz.progress import ProgressCallback, report

SPLIT_NAMES = ("train", "val", "test", "all")
DEFAULT_BATCH_SIZE = 32
#: Batches decoded ahead of the one being consumed (memory: (1 + this) batches of images).
PREFETCH_BATCHES = 1

Transform = Callable[[np.ndarray, int], np.ndarray]


class PixelReader(Protocol):
    """Where a dataset's pixels come from (a folder, an archive, the generator)."""

    def image(self, record: ImageRecord) -> np.ndarray: ...

    def mask(self, record: ImageRecord) -> np.ndarray | None: ...


class FileReader:
    """Pixels of a folder's or an archive's files, decoded with cnnviz.images.load_image."""

    def __init__(self, source: FileSource) -> None:
        self.source = source

    def image(self, record: ImageRecord) -> np.ndarray:
        from cnnviz.images import load_image

        try:
            return load_image(self.source.read(record.file))
        except CnnvizError as error:  # it was readable at scan time: the file changed since
            raise DatasetError(f"{record.file} can no longer be read ({error}); open the dataset again.") \
                from None

    def mask(self, record: ImageRecord) -> np.ndarray | None:
        return None


class Dataset:
    """The usable images of a folder, an archive or a generated set, with labels and a split.

    Build one with :func:`cnnviz.datasets.open_dataset`. Indices are positions in ``records``.
    """

    def __init__(self, *, name: str, class_names: tuple[str, ...], records: tuple[ImageRecord, ...],
                 skipped: tuple[SkippedFile, ...], duplicates: tuple[tuple[str, ...], ...],
                 warnings: tuple[str, ...], split: Split, labelled: bool, reader: PixelReader,
                 source_identity: str, transforms: tuple[tuple[str, Transform, frozenset[int]], ...] = ()
                 ) -> None:
        self.name = name
        self.class_names = class_names
        self.records = records
        self.skipped = skipped
        self.duplicates = duplicates
        self.warnings = warnings
        self.split = split
        self.labelled = labelled
        self._reader = reader
        self._source_identity = source_identity
        self._transforms = transforms
        self._labels = np.array([-1 if r.label is None else r.label for r in records], np.int64)
        self._sha256: str | None = None

    def __len__(self) -> int:
        return len(self.records)

    def __repr__(self) -> str:
        kind = f"{len(self.class_names)} classes" if self.labelled else "unlabelled"
        return f"<Dataset {self.name!r}: {len(self)} images, {kind}, {len(self.skipped)} skipped>"

    # --- labels and splits ----------------------------------------------------------------------
    def indices(self, split: str = "all") -> np.ndarray:
        """Record indices of a split part: "train", "val", "test" or "all"."""
        if split == "all":
            return np.arange(len(self.records), dtype=np.int64)
        if split not in SPLIT_NAMES:
            raise ParameterError(f"Unknown split {split!r}: use one of {', '.join(SPLIT_NAMES)}.")
        return getattr(self.split, split).copy()

    def labels(self, indices: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """Int labels of the records at ``indices`` (all when None); -1 when unlabelled."""
        return self._labels.copy() if indices is None else self._labels[self._checked(indices)]

    def class_counts(self) -> dict[str, int]:
        """Usable images per class, in class order ({} when unlabelled)."""
        counts = np.bincount(self._labels[self._labels >= 0], minlength=len(self.class_names))
        return {name: int(count) for name, count in zip(self.class_names, counts)}

    def files(self, indices: Sequence[int] | np.ndarray | None = None) -> list[str]:
        """The file names of the records at ``indices`` (all when None)."""
        chosen = range(len(self.records)) if indices is None else self._checked(indices)
        return [self.records[int(i)].file for i in chosen]

    def with_split(self, seed: int = 0, fractions: Sequence[float] = (0.7, 0.15, 0.15)) -> Dataset:
        """The same dataset with another seeded, stratified split."""
        return self._derived(split=stratified_split(self._labels, seed, fractions))

    # --- pixels ---------------------------------------------------------------------------------
    def image(self, index: int) -> np.ndarray:
        """The image at ``index``: RGB uint8 at full resolution, decoded now (transforms applied)."""
        index = self._index(index)
        image = self._reader.image(self.records[index])
        for _, transform, chosen in self._transforms:
            if index in chosen:
                image = _checked_image(transform(image, index), index)
        return image

    def mask(self, index: int) -> np.ndarray | None:
        """The object's mask, bool (H, W), for generated sets; None for files."""
        return self._reader.mask(self.records[self._index(index)])

    def batches(self, indices: Sequence[int] | np.ndarray, size: tuple[int, int],
                batch_size: int = DEFAULT_BATCH_SIZE, fit: str = "crop",
                progress: ProgressCallback | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(indices of the batch, uint8 (n, h, w, 3) resized by cnnviz.images.prepare_image), lazily.

        Images are decoded in threads, one batch ahead; ``progress(done, total, info)`` is called
        after each batch is ready and may cancel (cnnviz.progress).
        """
        from cnnviz.images import crop_box

        chosen = self._checked(indices)
        crop_box((1, 1), size, fit)  # validates size and fit now, not at the first batch
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ParameterError(f"batch_size must be a positive integer, got {batch_size!r}.")
        return self._batch_iterator(chosen, (int(size[0]), int(size[1])), int(batch_size), fit, progress)

    def _batch_iterator(self, chosen: np.ndarray, size: tuple[int, int], batch_size: int, fit: str,
                        progress: ProgressCallback | None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        starts = deque(range(0, len(chosen), batch_size))
        pending: deque[tuple[np.ndarray, list[Future[np.ndarray]]]] = deque()
        pool = ThreadPoolExecutor(DECODE_THREADS)

        def submit() -> None:
            start = starts.popleft()
            part = chosen[start : start + batch_size]
            pending.append((part, [pool.submit(self.model_input, int(i), size, fit) for i in part]))

        try:
            for _ in range(1 + PREFETCH_BATCHES):
                if starts:
                    submit()
            done = 0
            while pending:
                part, futures = pending.popleft()
                batch = np.stack([future.result() for future in futures])
                if starts:
                    submit()
                done += len(part)
                report(progress, done, len(chosen), stage="decoding")
                yield part, batch
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def model_input(self, index: int, size: tuple[int, int], fit: str = "crop") -> np.ndarray:
        """The image at ``index`` resized for a model of input ``size`` (height, width)."""
        from cnnviz.images import prepare_image

        image = self.image(index)
        if image.shape[:2] == tuple(size):
            return image
        return prepare_image(image, size, fit=fit)

    # --- derived datasets and identity ----------------------------------------------------------
    def with_transform(self, transform: Transform, indices: Sequence[int] | np.ndarray,
                       name: str | None = None) -> Dataset:
        """A dataset whose images at ``indices`` pass through ``transform(image, index)`` when read.

        Same records, split and class names; ``name`` (default: the function's qualified name)
        enters ``sha256``, so caches tell the two datasets apart.
        """
        if not callable(transform):
            raise ParameterError(f"transform must be a function (image, index) -> image, not {transform!r}.")
        chosen = frozenset(int(i) for i in self._checked(indices))
        label = name or getattr(transform, "__qualname__", type(transform).__name__)
        return self._derived(transforms=self._transforms + ((label, transform, chosen),),
                             name=f"{self.name} + {label}")

    def sha256(self) -> str:
        """Identity for caches: the records' files, labels and pixels, the split and the transforms."""
        if self._sha256 is None:
            digest = hashlib.sha256()
            digest.update(repr((self._source_identity, self.class_names, self.labelled)).encode())
            for record in self.records:
                digest.update(f"{record.file}|{record.label}|{record.sha256}\n".encode())
            for part in self.split.parts():
                digest.update(np.asarray(part, np.int64).tobytes() + b"|")
            for label, _, chosen in self._transforms:
                digest.update(f"{label}:{sorted(chosen)}\n".encode())
            self._sha256 = digest.hexdigest()
        return self._sha256

    def _derived(self, **changes: object) -> Dataset:
        fields = dict(name=self.name, class_names=self.class_names, records=self.records,
                      skipped=self.skipped, duplicates=self.duplicates, warnings=self.warnings,
                      split=self.split, labelled=self.labelled, reader=self._reader,
                      source_identity=self._source_identity, transforms=self._transforms)
        fields.update(changes)
        return Dataset(**fields)  # type: ignore[arg-type]

    # --- checks ---------------------------------------------------------------------------------
    def _index(self, index: int) -> int:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or \
                not 0 <= int(index) < len(self.records):
            raise ParameterError(f"Image index {index!r} is out of range: the dataset has "
                                 f"{len(self.records)} images (0 to {len(self.records) - 1}).")
        return int(index)

    def _checked(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        array = np.asarray(indices)
        if array.size == 0:
            return np.zeros(0, np.int64)
        if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
            raise ParameterError("indices must be a 1-D sequence of integers (positions in records).")
        if array.min() < 0 or array.max() >= len(self.records):
            raise ParameterError(f"indices must lie in 0..{len(self.records) - 1}; got "
                                 f"{int(array.min())}..{int(array.max())}.")
        return array.astype(np.int64)


def _checked_image(image: object, index: int) -> np.ndarray:
    """A transform's result must stay an RGB uint8 image."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        kind = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ParameterError(f"A dataset transform returned {kind} for image {index}; it must return "
                             "an RGB uint8 array (height, width, 3).")
    return image
