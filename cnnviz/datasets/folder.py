"""A folder on disk as a dataset source: its regular files, sorted, read on demand."""

from __future__ import annotations

import os
from pathlib import Path

from cnnviz.datasets.archive import NESTED_ARCHIVE_SUFFIXES, SYSTEM_NAMES, ArchiveLimits
from cnnviz.datasets.records import SkippedFile
from cnnviz.errors import DatasetError


class FolderSource:
    """The files under a folder (recursively, links not followed), as paths relative to it.

    ``files`` are posix relative paths, sorted; ``skipped`` lists what is not a dataset file
    (hidden and system files, nested archives, links, special files, files over
    ``limits.max_entry_bytes``, which would otherwise be read whole into memory).
    """

    def __init__(self, folder: str | os.PathLike[str], limits: ArchiveLimits = ArchiveLimits()) -> None:
        self.root = Path(folder)
        self.max_file_bytes = limits.max_entry_bytes
        if not self.root.is_dir():
            raise DatasetError(f"{self.root} is not a folder: give a folder with one subfolder per class.")
        self.name = self.root.resolve().name or str(self.root)
        self.files, self.skipped = self._walk()

    def _walk(self) -> tuple[tuple[str, ...], tuple[SkippedFile, ...]]:
        files, skipped = [], []
        for current, folders, names in os.walk(self.root, followlinks=False):
            folders.sort()
            relative = Path(current).relative_to(self.root)
            for name in sorted(names + [f for f in folders if (Path(current) / f).is_symlink()]):
                path = Path(current) / name
                shown = (relative / name).as_posix()
                problem = _problem(path, shown, self.max_file_bytes)
                if problem:
                    skipped.append(SkippedFile(shown, *problem))
                else:
                    files.append(shown)
        return tuple(sorted(files)), tuple(sorted(skipped, key=lambda s: s.file))

    def read(self, file: str) -> bytes:
        """The bytes of one file (a name from ``files``); DatasetError when it cannot be read."""
        try:
            return (self.root / file).read_bytes()
        except OSError as error:
            raise DatasetError(f"{file}: cannot be read ({error.strerror or error}).") from None

    def identity(self) -> str:
        return f"folder:{self.root.resolve()}"


def _problem(path: Path, shown: str, max_bytes: int) -> tuple[str, str] | None:
    """(reason, detail) when a path is not a dataset file; None when it is."""
    parts = Path(shown).parts
    if any(part in SYSTEM_NAMES for part in parts):
        return "system file", "added by the operating system, not part of the dataset"
    if any(part.startswith(".") for part in parts):
        return "hidden file", "names starting with '.' are hidden files, not dataset images"
    if path.is_symlink():
        return "link", "symbolic links are not followed"
    if not path.is_file():
        return "not a regular file", "pipes, sockets and devices are never read"
    if shown.lower().endswith(NESTED_ARCHIVE_SUFFIXES):
        return "nested archive", "archives inside the folder are ignored; unpack them into the folders"
    size = path.stat().st_size
    if size > max_bytes:
        return "too large", f"{size / 1e6:,.0f} MB, over the {max_bytes / 1e6:,.0f} MB limit for one file"
    return None
