"""Zip archives as a dataset source, read in place: nothing is extracted to disk.

Safety comes before decoding. The entry count is read from the end-of-central-directory record and
the uncompressed sizes from the central directory, so a zip bomb (a few kilobytes declaring
gigabytes) is refused before a single byte is inflated; Python's zipfile never inflates an entry
past its declared size (and checks its CRC), so the declared sizes bound memory. Entries with
absolute paths or '..' refuse the whole archive: a file that tries to escape its folder says the
archive was built to attack whoever extracts it.
"""

from __future__ import annotations

import io
import os
import re
import stat
import struct
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from cnnviz.datasets.records import SkippedFile
from cnnviz.errors import ArchiveTooLargeError, DatasetError, ParameterError, UnsafeArchiveError

#: Suffixes of archives inside an archive: ignored and listed, never opened.
NESTED_ARCHIVE_SUFFIXES = (".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".jar")
#: Folders and files that operating systems add to archives (macOS resource forks, Windows thumbs).
SYSTEM_NAMES = ("__MACOSX", ".DS_Store", "Thumbs.db", "desktop.ini")

_EOCD = b"PK\x05\x06"
_EOCD_SIZE = 22
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_EOCD = b"PK\x06\x06"
_MAX_COMMENT = 65_535
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class ArchiveLimits:
    """What a zip archive may declare before cnnviz reads it (checked from its directory)."""

    max_entries: int = 20_000
    max_total_bytes: int = 2_000_000_000  # uncompressed, all entries together
    max_entry_bytes: int = 256_000_000  # uncompressed, one entry (above: skipped as "bomb")

    def __post_init__(self) -> None:
        for name in ("max_entries", "max_total_bytes", "max_entry_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ParameterError(f"ArchiveLimits.{name} must be a positive integer, got {value!r}.")


def declared_entry_count(fp: BinaryIO) -> int | None:
    """The entry count in the end-of-central-directory record (zip64 aware); None if not a zip."""
    fp.seek(0, os.SEEK_END)
    size = fp.tell()
    tail_size = min(size, _EOCD_SIZE + _MAX_COMMENT)
    fp.seek(size - tail_size)
    tail = fp.read(tail_size)
    at = tail.rfind(_EOCD)
    if at < 0 or len(tail) - at < _EOCD_SIZE:
        return None
    count = struct.unpack("<H", tail[at + 10 : at + 12])[0]
    locator = at - 20
    if count == 0xFFFF and locator >= 0 and tail[locator : locator + 4] == _ZIP64_LOCATOR:
        offset = struct.unpack("<Q", tail[locator + 8 : locator + 16])[0]
        fp.seek(offset)
        record = fp.read(56)
        if record[:4] == _ZIP64_EOCD and len(record) == 56:
            count = struct.unpack("<Q", record[32:40])[0]
    return count


def _unsafe_reason(name: str) -> str | None:
    """Why an entry name would escape the archive's folder, or None when it is safe."""
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        return "an absolute path"
    if ".." in re.split(r"[\\/]", name):
        return "a '..' component"
    if "\x00" in name:
        return "a NUL character"
    return None


def _is_link(info: zipfile.ZipInfo) -> bool:
    """Whether a Unix-made entry is a symbolic link (its mode sits in the high 16 bits)."""
    return stat.S_ISLNK(info.external_attr >> 16)


def _single_top_folder(names: list[str]) -> str:
    """The one folder every entry sits in ("photos/"), or "" when there is none or several."""
    tops = {name.split("/", 1)[0] for name in names}
    if len(tops) == 1 and all("/" in name for name in names):
        return f"{tops.pop()}/"
    return ""


class ZipSource:
    """The files of a zip archive (a path or its bytes), checked for safety, read on demand.

    ``files`` are the names as the user sees them (a single top folder removed), sorted; ``skipped``
    lists the entries that are not dataset files (nested archives, links, system files, encrypted
    or oversized entries). Reading is thread-safe; the archive stays open (bytes stay in memory).
    """

    def __init__(self, source: str | os.PathLike[str] | bytes, limits: ArchiveLimits = ArchiveLimits(),
                 name: str | None = None) -> None:
        self.limits = limits
        self._source = source if isinstance(source, bytes) else Path(source)
        self.name = name or ("archive.zip" if isinstance(source, bytes) else Path(source).name)
        self._lock = threading.Lock()
        self._fp: BinaryIO | None = None
        self._zip = self._open()
        self.files, self.skipped, self._infos = self._check(self._zip)

    # --- opening and checking -------------------------------------------------------------------
    def _open(self) -> zipfile.ZipFile:
        fp: BinaryIO = (io.BytesIO(self._source) if isinstance(self._source, bytes)
                        else open(self._source, "rb"))  # noqa: SIM115 - owned by the ZipFile
        try:
            count = declared_entry_count(fp)
            if count is None:
                raise DatasetError(
                    f"{self.name} is not a zip archive (or it is damaged): give a .zip file with one "
                    "folder per class, or a folder."
                )
            if count > self.limits.max_entries:
                raise ArchiveTooLargeError(
                    f"{self.name} declares {count:,} entries, more than the limit of "
                    f"{self.limits.max_entries:,}; split it into smaller archives."
                )
            fp.seek(0)
            archive = zipfile.ZipFile(fp)
            self._fp = fp
            return archive
        except zipfile.BadZipFile as error:
            fp.close()
            raise DatasetError(f"{self.name} is a damaged zip archive ({error}); create it again.") from None
        except BaseException:
            fp.close()
            raise

    def _check(self, archive: zipfile.ZipFile) -> tuple[tuple[str, ...], tuple[SkippedFile, ...],
                                                        dict[str, zipfile.ZipInfo]]:
        infos = archive.infolist()
        if len(infos) > self.limits.max_entries:  # the directory may hold more than the record says
            raise ArchiveTooLargeError(
                f"{self.name} holds {len(infos):,} entries, more than the limit of "
                f"{self.limits.max_entries:,}; split it into smaller archives."
            )
        for info in infos:
            reason = _unsafe_reason(info.filename)
            if reason:
                raise UnsafeArchiveError(
                    f"{self.name} was refused: its entry {info.filename!r} has {reason}, which would "
                    "write outside the folder it is extracted to. Nothing was extracted. Create the "
                    "archive again from the dataset folder (for example `zip -r data.zip data/`)."
                )
        total = sum(info.file_size for info in infos)
        if total > self.limits.max_total_bytes:
            raise ArchiveTooLargeError(
                f"{self.name} declares {total / 1e9:.2f} GB uncompressed, more than the limit of "
                f"{self.limits.max_total_bytes / 1e9:.2f} GB (a zip bomb, or a dataset to split); "
                "nothing was decompressed."
            )
        files = [info for info in infos if not info.is_dir()]
        top = _single_top_folder([info.filename for info in files])
        kept: dict[str, zipfile.ZipInfo] = {}
        skipped = []
        for info in sorted(files, key=lambda i: i.filename):
            shown = info.filename[len(top):]
            reason = self._entry_problem(info, shown)
            if reason:
                skipped.append(SkippedFile(shown, reason[0], reason[1]))
            else:
                kept[shown] = info
        return tuple(kept), tuple(skipped), kept

    def _entry_problem(self, info: zipfile.ZipInfo, shown: str) -> tuple[str, str] | None:
        """(reason, detail) when an entry is not a dataset file; None when it is."""
        parts = PurePosixPath(shown).parts
        if any(part in SYSTEM_NAMES for part in parts):
            return "system file", "added by the operating system, not part of the dataset"
        if any(part.startswith(".") for part in parts):
            return "hidden file", "names starting with '.' are hidden files, not dataset images"
        if shown.lower().endswith(NESTED_ARCHIVE_SUFFIXES):
            return "nested archive", "archives inside the archive are ignored; unpack them into the folders"
        if _is_link(info):
            return "link", "symbolic links are not followed"
        if info.flag_bits & 0x1:
            return "encrypted", "password-protected entries cannot be read"
        if info.file_size > self.limits.max_entry_bytes:
            return "bomb", (f"declares {info.file_size / 1e6:,.0f} MB uncompressed, over the "
                            f"{self.limits.max_entry_bytes / 1e6:,.0f} MB limit for one file")
        return None

    # --- reading --------------------------------------------------------------------------------
    def read(self, file: str) -> bytes:
        """The bytes of one file (a name from ``files``); DatasetError when the entry is damaged."""
        info = self._infos[file]
        try:
            with self._lock:
                return self._zip.read(info)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError,
                RuntimeError) as error:
            raise DatasetError(f"{file}: the zip entry is damaged ({error}).") from None

    def identity(self) -> str:
        """What makes this source itself (for cache keys): the archive's name."""
        return f"zip:{self.name}"

    def close(self) -> None:
        self._zip.close()
        if self._fp is not None:
            self._fp.close()

    # Picklable (a cache may copy a dataset): reopen the archive on unpickling.
    def __getstate__(self) -> dict[str, object]:
        return {"limits": self.limits, "source": self._source, "name": self.name}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__(state["source"], state["limits"], state["name"])  # type: ignore[misc,arg-type]
