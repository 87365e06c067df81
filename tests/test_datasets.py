"""cnnviz.datasets: sources, archive safety, skipped files, duplicates, warnings, splits, batches."""

from __future__ import annotations

import io
import os
import struct
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from cnnviz.datasets import ArchiveLimits, generated, open_dataset, stratified_split
from cnnviz.demo.shapes import SHAPE_CLASSES, generate_sample
from cnnviz.errors import (
    ArchiveTooLargeError,
    CancelledError,
    DatasetError,
    DatasetLayoutError,
    EmptyDatasetError,
    UnsafeArchiveError,
)
from cnnviz.images import prepare_image
from tests.dataset_helpers import drawn_shape, png_bytes, write_damaged_files, write_drawn_folder, zip_folder


def _files_under(path: Path) -> set[str]:
    return {p.relative_to(path).as_posix() for p in path.rglob("*")}


# --- folders ------------------------------------------------------------------------------------
def test_folder_lists_every_unusable_file_with_its_reason(tmp_path: Path) -> None:
    root = tmp_path / "data"
    write_drawn_folder(root, per_class=6, classes=("circle", "square"), size=32)
    expected = write_damaged_files(root / "square")
    (root / "square" / "img0.png").rename(root / "square" / "img0.webp")  # a suffix that lies is fine
    (root / "readme.txt").write_text("about this data")
    (root / "circle" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (root / "circle" / "more.zip").write_bytes(zip_folder(root / "circle"))
    formats = {"circle/scan": "TIFF", "square/anim": "GIF", "square/photo": "WEBP"}  # no suffix at all
    for c, (name, fmt) in enumerate(formats.items()):
        (root / name).write_bytes(png_bytes(drawn_shape(name.split("/")[0], 50 + c, 32), fmt))

    (root / "square" / "film.mp4").write_bytes(bytes(30_000))

    dataset = open_dataset(root, limits=ArchiveLimits(max_entry_bytes=20_000))

    assert dataset.class_names == ("circle", "square")
    assert dataset.labelled and len(dataset) == 15
    assert {"square/img0.webp", *formats} <= set(dataset.files())
    reasons = {s.file: s.reason for s in dataset.skipped}
    assert reasons == {**expected, "readme.txt": "outside a class folder", "square/film.mp4": "too large",
                       "circle/.DS_Store": "system file", "circle/more.zip": "nested archive"}
    assert all(s.detail for s in dataset.skipped)
    assert dataset.class_counts() == {"circle": 7, "square": 8}
    assert list(dataset.labels()) == [0] * 7 + [1] * 8
    assert np.array_equal(dataset.image(0), np.asarray(drawn_shape("circle", 0, 32)))


def test_duplicates_are_found_by_pixels_and_kept_once(tmp_path: Path) -> None:
    root = tmp_path / "data"
    write_drawn_folder(root, per_class=5, classes=("circle", "square"), size=32)
    same = drawn_shape("circle", 0, 32)  # circle/img0.png, saved again losslessly as BMP elsewhere
    (root / "circle" / "copy.bmp").write_bytes(png_bytes(same, "BMP"))
    (root / "square" / "stray.bmp").write_bytes(png_bytes(same, "BMP"))

    dataset = open_dataset(root)

    assert dataset.duplicates == (("circle/copy.bmp", "circle/img0.png", "square/stray.bmp"),)
    reasons = {s.file: s.reason for s in dataset.skipped}
    assert reasons == {"circle/img0.png": "duplicate of circle/copy.bmp",
                       "square/stray.bmp": "duplicate of circle/copy.bmp"}
    assert len(dataset) == 10
    assert any("more than one class" in w for w in dataset.warnings)


def test_warnings_for_a_small_class_and_for_imbalance(tmp_path: Path) -> None:
    root = tmp_path / "data"
    write_drawn_folder(root, per_class=26, classes=("circle",), size=32)
    write_drawn_folder(root, per_class=4, classes=("square",), size=32, seed=1)
    dataset = open_dataset(root)
    assert dataset.class_counts() == {"circle": 26, "square": 4}
    assert len(dataset.warnings) == 2
    assert "'square' has only 4 image(s)" in dataset.warnings[0]
    assert "imbalanced" in dataset.warnings[1] and "6.5x" in dataset.warnings[1]


def test_layouts_that_cannot_make_a_dataset_are_typed_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(EmptyDatasetError, match="Expected layout: one subfolder per class"):
        open_dataset(tmp_path / "empty")
    write_drawn_folder(tmp_path / "one", per_class=3, classes=("circle",), size=32)
    with pytest.raises(DatasetLayoutError, match="at least two classes.*one class folder \\('circle'\\)"):
        open_dataset(tmp_path / "one")
    broken = tmp_path / "broken"
    write_damaged_files(broken / "circle")
    write_damaged_files(broken / "square")
    with pytest.raises(EmptyDatasetError, match="holds no usable image \\(8 file"):
        open_dataset(broken)
    half = tmp_path / "half"
    write_drawn_folder(half, per_class=3, classes=("circle",), size=32)
    write_damaged_files(half / "square")
    with pytest.raises(DatasetLayoutError, match="only one class \\('circle'\\)"):
        open_dataset(half)
    with pytest.raises(DatasetError, match="No folder or zip file"):
        open_dataset(tmp_path / "missing")


def test_a_flat_folder_is_unlabelled(tmp_path: Path) -> None:
    for i in range(3):
        (tmp_path / f"photo{i}.png").write_bytes(png_bytes(drawn_shape("ring", i, 32)))
    dataset = open_dataset(tmp_path)
    assert not dataset.labelled and dataset.class_names == () and len(dataset) == 3
    assert list(dataset.labels()) == [-1, -1, -1] and dataset.class_counts() == {}
    assert sorted(np.concatenate(dataset.split.parts())) == [0, 1, 2]
    with pytest.raises(DatasetLayoutError, match="no class folder"):
        open_dataset(tmp_path, labelled=True)


# --- zip archives -------------------------------------------------------------------------------
def test_zip_from_path_or_bytes_with_a_single_top_folder(tmp_path: Path) -> None:
    root = tmp_path / "data"
    write_drawn_folder(root, per_class=5, classes=("circle", "square"), size=32)
    expected = write_damaged_files(root / "circle")
    data = zip_folder(root, top="my_shapes/")
    (tmp_path / "shapes.zip").write_bytes(data)
    folder = open_dataset(root)
    for dataset in (open_dataset(tmp_path / "shapes.zip"), open_dataset(data, name="upload.zip"),
                    open_dataset(io.BytesIO(data))):
        assert dataset.class_names == ("circle", "square")
        assert dataset.files() == folder.files()
        assert {s.file: s.reason for s in dataset.skipped} == expected
        assert np.array_equal(dataset.image(7), folder.image(7))
    assert open_dataset(data, name="upload.zip").name == "upload.zip"


def _unsafe_zip(name: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("data/circle/a.png", png_bytes(drawn_shape("circle", 1, 32)))
        archive.writestr("data/square/b.png", png_bytes(drawn_shape("square", 1, 32)))
        archive.writestr(name, b"I escaped")
    return buffer.getvalue()


@pytest.mark.parametrize("entry", ["data/../../evil.txt", "/tmp/cnnviz_evil.txt", "C:/evil.txt",
                                   "data\\..\\..\\evil.txt"])
def test_unsafe_zip_entries_refuse_the_archive_and_write_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entry: str
) -> None:
    work, private_tmp = tmp_path / "work" / "inner", tmp_path / "tmp"
    work.mkdir(parents=True)
    private_tmp.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    (work / "upload.zip").write_bytes(_unsafe_zip(entry))
    before = _files_under(tmp_path)

    for source in (work / "upload.zip", (work / "upload.zip").read_bytes()):
        with pytest.raises(UnsafeArchiveError, match="Nothing was extracted"):
            open_dataset(source)

    assert _files_under(tmp_path) == before
    assert not Path("/tmp/cnnviz_evil.txt").exists()
    assert os.listdir(private_tmp) == []


def _declared_bomb(declared: int = 3_000_000_000) -> bytes:
    """A tiny zip whose entry declares ``declared`` bytes uncompressed (sizes patched in)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data/circle/zeros.png", bytes(1000))
        archive.writestr("data/square/b.png", png_bytes(drawn_shape("square", 1, 32)))
    data = bytearray(buffer.getvalue())
    local, central = data.find(b"PK\x03\x04"), data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, local + 22, declared)
    struct.pack_into("<I", data, central + 24, declared)
    return bytes(data)


def test_a_zip_bomb_is_refused_from_its_directory_before_decompressing() -> None:
    bomb = _declared_bomb()
    started = time.perf_counter()
    with pytest.raises(ArchiveTooLargeError, match="declares 3.00 GB uncompressed.*nothing was decompressed"):
        open_dataset(bomb)
    assert time.perf_counter() - started < 0.5
    assert len(bomb) < 10_000


def test_entry_limits_and_oversized_entries() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for c in ("circle", "square"):
            for i in range(3):
                archive.writestr(f"{c}/{i}.png", png_bytes(drawn_shape(c, i, 32)))
        archive.writestr("circle/zeros.bmp", bytes(50_000))  # inflates 50 kB from a few bytes
        archive.writestr("square/inner.zip", zip_folder(Path(__file__).parent / "__none__"))
        archive.writestr("__MACOSX/circle/._0.png", b"\0\5\26\7")
    data = buffer.getvalue()
    with pytest.raises(ArchiveTooLargeError, match="declares 9 entries, more than the limit of 8"):
        open_dataset(data, limits=ArchiveLimits(max_entries=8))
    dataset = open_dataset(data, limits=ArchiveLimits(max_entry_bytes=20_000))
    assert {s.file: s.reason for s in dataset.skipped} == {
        "circle/zeros.bmp": "bomb", "square/inner.zip": "nested archive",
        "__MACOSX/circle/._0.png": "system file"}
    assert len(dataset) == 6
    with pytest.raises(DatasetError, match="not a zip archive"):
        open_dataset(b"this is not a zip file at all")


# --- splits -------------------------------------------------------------------------------------
def test_splits_are_seeded_stratified_and_disjoint() -> None:
    labels = np.repeat(np.arange(3), [20, 40, 7])
    split = stratified_split(labels, seed=3)
    parts = split.parts()
    assert sorted(np.concatenate(parts)) == list(range(len(labels)))
    counts = [np.bincount(labels[p], minlength=3).tolist() for p in parts]
    assert counts == [[14, 28, 5], [3, 6, 1], [3, 6, 1]]
    assert stratified_split(labels, seed=3) == split
    assert not np.array_equal(stratified_split(labels, seed=4).test, split.test)
    with pytest.raises(ValueError, match="add up to 1"):
        stratified_split(labels, fractions=(0.5, 0.2, 0.2))


def test_the_dataset_stores_its_split(tmp_path: Path) -> None:
    dataset = open_dataset(generated(10, seed=2), seed=5, split=(0.6, 0.2, 0.2))
    assert dataset.split == open_dataset(generated(10, seed=2), seed=5, split=(0.6, 0.2, 0.2)).split
    for part, share in (("train", 6), ("val", 2), ("test", 2)):
        assert np.bincount(dataset.labels(dataset.indices(part))).tolist() == [share] * 8
    other = dataset.with_split(seed=6)
    assert other.split != dataset.split and other.sha256() != dataset.sha256()


# --- generated sets, pixels and batches ---------------------------------------------------------
def test_generated_sets_regenerate_the_same_images_with_masks() -> None:
    dataset = open_dataset(generated(4, seed=7, size=48))
    assert dataset.class_names == SHAPE_CLASSES and len(dataset) == 32
    assert dataset.files()[5] == "generated/square/1.png" and dataset.labels()[5] == 1
    sample = generate_sample(np.random.default_rng([7, 1, 1]), 48, 1, varied=False)  # its plain look
    assert np.array_equal(dataset.image(5), sample.image)
    assert np.array_equal(dataset.mask(5), sample.mask) and sample.mask.sum() > 50
    assert not np.array_equal(dataset.image(4), dataset.image(5))
    assert open_dataset(generated(4, seed=8, size=48)).sha256() != dataset.sha256()


def test_batches_decode_lazily_in_order_and_can_be_cancelled(tmp_path: Path) -> None:
    write_drawn_folder(tmp_path, per_class=5, classes=("circle", "square"), size=40)
    dataset = open_dataset(tmp_path)
    order = np.array([9, 0, 4, 7, 1])
    seen = []
    for indices, batch in dataset.batches(order, (32, 32), batch_size=2, fit="stretch"):
        for index, pixels in zip(indices, batch):
            assert np.array_equal(pixels, prepare_image(dataset.image(int(index)), (32, 32), fit="stretch"))
        seen.extend(indices.tolist())
    assert seen == order.tolist()
    calls = []

    def stop_after_two(done: int, total: int, info: object) -> bool:
        calls.append((done, total))
        return done < 4

    with pytest.raises(CancelledError):
        list(dataset.batches(order, (32, 32), batch_size=2, progress=stop_after_two))
    assert calls == [(2, 5), (4, 5)]


def test_with_transform_changes_only_the_chosen_images() -> None:
    dataset = open_dataset(generated(2, seed=1, size=32))

    def white_corner(image: np.ndarray, index: int) -> np.ndarray:
        marked = image.copy()
        marked[:4, :4] = 255
        return marked

    marked = dataset.with_transform(white_corner, [1, 3])
    assert marked.split == dataset.split and marked.records == dataset.records
    assert (marked.image(1)[:4, :4] == 255).all() and (marked.image(3)[:4, :4] == 255).all()
    assert np.array_equal(marked.image(0), dataset.image(0))
    assert not (dataset.image(1)[:4, :4] == 255).all()
    assert marked.sha256() != dataset.sha256()
    assert marked.sha256() != dataset.with_transform(white_corner, [1]).sha256()
    batch = next(marked.batches([1], (32, 32)))[1]
    assert (batch[0, :4, :4] == 255).all()
