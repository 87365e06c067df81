"""Tests of cnnviz.images: every format and colour mode, every refusal, resizing and helpers.

All fixtures are made with Pillow at run time; nothing here imports TensorFlow.
"""

from __future__ import annotations

import io
import os
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageFile

from cnnviz.errors import (
    EmptyImageError,
    ImageSizeError,
    ImageTooLargeError,
    NotAnImageError,
    ParameterError,
    TruncatedImageError,
)
from cnnviz.images import (
    FIT_MODES,
    MAX_PIXELS,
    crop_box,
    encode_png,
    image_sha256,
    load_image,
    prepare_image,
)

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)
LOSSY_TOLERANCE = 12  # max per-channel error inside a flat patch after JPEG/WebP compression


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def quadrants(size: int = 32) -> np.ndarray:
    """An RGB image with four flat patches: red, green / blue, white."""
    array = np.zeros((size, size, 3), np.uint8)
    half = size // 2
    array[:half, :half], array[:half, half:] = RED, GREEN
    array[half:, :half], array[half:, half:] = BLUE, WHITE
    return array


def patch_centres(array: np.ndarray) -> list[tuple[int, ...]]:
    """The colour at the centre of each quadrant."""
    q = array.shape[0] // 4
    return [tuple(int(v) for v in array[y, x]) for y, x in ((q, q), (q, 3 * q), (3 * q, q), (3 * q, 3 * q))]


def with_ihdr_size(png: bytes, width: int, height: int) -> bytes:
    """Patch a PNG's header to claim another size (with a valid CRC), leaving the data tiny."""
    ihdr = png[12:16] + struct.pack(">II", width, height) + png[24:29]
    crc = struct.pack(">I", zlib.crc32(ihdr) & 0xFFFFFFFF)
    return png[:12] + ihdr + crc + png[33:]


# --- formats ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fmt", "options", "tolerance"),
    [
        ("PNG", {}, 0),
        ("BMP", {}, 0),
        ("TIFF", {}, 0),
        ("TIFF", {"compression": "tiff_lzw"}, 0),
        ("GIF", {}, 0),
        ("WEBP", {"lossless": True}, 0),
        ("WEBP", {"quality": 90}, LOSSY_TOLERANCE),
        ("JPEG", {"quality": 95}, LOSSY_TOLERANCE),
    ],
)
def test_every_format_round_trips_colours(fmt: str, options: dict, tolerance: int) -> None:
    original = quadrants()
    loaded = load_image(encode(Image.fromarray(original), fmt, **options))
    assert loaded.shape == original.shape and loaded.dtype == np.uint8
    assert loaded.flags.c_contiguous
    if tolerance == 0:
        np.testing.assert_array_equal(loaded, original)
    else:
        got, want = np.array(patch_centres(loaded)), np.array(patch_centres(original))
        assert np.abs(got - want).max() <= tolerance


def test_mpo_camera_jpeg_loads_its_first_picture() -> None:
    # Many phones save JPEGs with a Multi-Picture extension, which Pillow names "MPO".
    first, second = Image.new("RGB", (16, 16), RED), Image.new("RGB", (16, 16), BLUE)
    data = encode(first, "MPO", save_all=True, append_images=[second])
    loaded = load_image(data)
    assert np.abs(loaded[8, 8].astype(int) - RED).max() <= LOSSY_TOLERANCE


@pytest.mark.parametrize(("orientation", "marked_corner"), [(6, (0, -1)), (8, (-1, 0)), (3, (-1, -1))])
def test_exif_orientation_is_applied(orientation: int, marked_corner: tuple[int, int]) -> None:
    # Stored 40 wide, 20 high, with a red top-left corner. Orientation 6 means "rotate 90 degrees
    # clockwise to display": the corner lands top-right; 8 (counter-clockwise): bottom-left.
    stored = np.full((20, 40, 3), 255, np.uint8)
    stored[:6, :6] = RED
    exif = Image.Exif()
    exif[0x0112] = orientation
    loaded = load_image(encode(Image.fromarray(stored), "JPEG", quality=95, exif=exif))
    assert loaded.shape == ((40, 20, 3) if orientation in (6, 8) else (20, 40, 3))
    y, x = marked_corner
    assert np.abs(loaded[y, x].astype(int) - RED).max() <= 40
    assert loaded[loaded.shape[0] // 2, loaded.shape[1] // 2].min() > 200  # centre stays white


def test_damaged_exif_is_ignored_not_fatal() -> None:
    data = encode(Image.fromarray(quadrants()), "JPEG", quality=95, exif=b"Exif\x00\x00garbage!")
    assert load_image(data).shape == (32, 32, 3)


# --- colour modes -------------------------------------------------------------------------------
def test_rgba_is_composited_on_white() -> None:
    rgba = np.zeros((16, 16, 4), np.uint8)  # fully transparent black
    rgba[:8] = (255, 0, 0, 255)  # opaque red top half
    rgba[12:, :] = (0, 0, 0, 128)  # half-transparent black
    loaded = load_image(encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert tuple(loaded[2, 2]) == RED
    assert tuple(loaded[10, 2]) == WHITE
    assert abs(int(loaded[14, 2, 0]) - 127) <= 1 and len(set(loaded[14, 2])) == 1


def test_la_is_composited_on_white() -> None:
    la = np.zeros((16, 16, 2), np.uint8)
    la[:8] = (0, 255)  # opaque black
    la[8:] = (0, 0)  # transparent
    loaded = load_image(encode(Image.fromarray(la, "LA"), "PNG"))
    assert tuple(loaded[2, 2]) == (0, 0, 0)
    assert tuple(loaded[12, 2]) == WHITE


def test_grayscale_becomes_three_equal_channels() -> None:
    grey = np.tile(np.arange(0, 256, 16, dtype=np.uint8), (16, 1))
    loaded = load_image(encode(Image.fromarray(grey, "L"), "PNG"))
    for channel in range(3):
        np.testing.assert_array_equal(loaded[..., channel], grey)


def test_palette_with_transparency_becomes_white() -> None:
    palette_image = Image.new("P", (16, 16), 0)
    palette_image.putpalette([0, 0, 0, *RED, *BLUE] + [0] * (256 * 3 - 9))
    palette_image.paste(1, (0, 0, 16, 8))  # red top half, index 0 (transparent) below
    palette_image.paste(2, (0, 12, 16, 16))  # blue bottom rows
    for fmt in ("PNG", "GIF"):
        loaded = load_image(encode(palette_image, fmt, transparency=0))
        assert tuple(loaded[2, 2]) == RED, fmt
        assert tuple(loaded[10, 2]) == WHITE, fmt
        assert tuple(loaded[14, 2]) == BLUE, fmt


def test_16_bit_png_is_scaled_to_8_bit() -> None:
    values = np.zeros((16, 16), np.uint16)
    values[:, 5:10], values[:, 10:] = 32768, 65535
    image = Image.fromarray(values)
    assert image.mode == "I;16"
    loaded = load_image(encode(image, "PNG"))
    assert tuple(loaded[0, 0]) == (0, 0, 0)
    assert tuple(loaded[0, 7]) == (128, 128, 128)
    assert tuple(loaded[0, 15]) == (255, 255, 255)


def test_32_bit_integer_tiff_uses_the_16_bit_range() -> None:
    values = np.zeros((16, 16), np.int32)
    values[:, 5:10], values[:, 10:] = 32768, 65535
    image = Image.fromarray(values)
    assert image.mode == "I"
    loaded = load_image(encode(image, "TIFF"))
    assert (int(loaded[0, 0, 0]), int(loaded[0, 7, 0]), int(loaded[0, 15, 0])) == (0, 128, 255)


@pytest.mark.parametrize(("fmt", "tolerance"), [("JPEG", LOSSY_TOLERANCE), ("TIFF", 0)])
def test_cmyk_is_converted_to_rgb(fmt: str, tolerance: int) -> None:
    cyan = Image.new("CMYK", (16, 16), (255, 0, 0, 0))
    cyan.paste((0, 0, 0, 255), (0, 8, 16, 16))  # black bottom half
    loaded = load_image(encode(cyan, fmt))
    assert np.abs(loaded[4, 4].astype(int) - (0, 255, 255)).max() <= tolerance
    assert loaded[12, 4].max() <= tolerance


def test_embedded_srgb_profile_keeps_colours() -> None:
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode(Image.fromarray(quadrants()), "PNG", icc_profile=profile)
    got = np.array(patch_centres(load_image(data)))
    assert np.abs(got - np.array(patch_centres(quadrants()))).max() <= 3


def test_unusable_icc_profile_falls_back_to_plain_conversion() -> None:
    rgb_profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    cyan = Image.new("CMYK", (16, 16), (255, 0, 0, 0))  # an RGB profile on CMYK data is unusable
    loaded = load_image(encode(cyan, "TIFF", icc_profile=rgb_profile))
    assert tuple(loaded[4, 4]) == (0, 255, 255)


def test_animated_gif_returns_its_first_frame() -> None:
    frames = [Image.new("RGB", (16, 16), RED), Image.new("RGB", (16, 16), BLUE)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert Image.open(io.BytesIO(data)).n_frames == 2
    loaded = load_image(data)
    assert (loaded == RED).all()


def test_multi_page_tiff_returns_its_first_page() -> None:
    pages = [Image.new("RGB", (16, 16), GREEN), Image.new("RGB", (16, 16), BLUE)]
    loaded = load_image(encode(pages[0], "TIFF", save_all=True, append_images=pages[1:]))
    assert (loaded == GREEN).all()


# --- sources ------------------------------------------------------------------------------------
def test_bytes_path_and_file_object_give_equal_arrays(tmp_path: Path) -> None:
    data = encode(Image.fromarray(quadrants()), "PNG")
    path = tmp_path / "quadrants.png"
    path.write_bytes(data)
    from_bytes = load_image(data)
    np.testing.assert_array_equal(load_image(bytearray(data)), from_bytes)
    np.testing.assert_array_equal(load_image(str(path)), from_bytes)
    np.testing.assert_array_equal(load_image(path), from_bytes)
    with path.open("rb") as file:
        np.testing.assert_array_equal(load_image(file), from_bytes)
    upload = io.BytesIO(data)
    upload.read()  # an upload already read to its end is still read from its start
    np.testing.assert_array_equal(load_image(upload), from_bytes)


def test_returned_array_is_writable_and_independent() -> None:
    data = encode(Image.fromarray(quadrants()), "PNG")
    first = load_image(data)
    first[:] = 0
    assert tuple(load_image(data)[0, 0]) == RED


# --- refusals -----------------------------------------------------------------------------------
def test_zero_bytes_is_empty(tmp_path: Path) -> None:
    with pytest.raises(EmptyImageError, match="empty"):
        load_image(b"")
    with pytest.raises(EmptyImageError, match="empty"):
        load_image(io.BytesIO())
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(EmptyImageError, match="empty"):
        load_image(empty)


@pytest.mark.parametrize(
    ("data", "looks_like"),
    [
        (np.random.default_rng(0).bytes(4096), "not recognised"),
        (b"Dear diary,\nthe model saw a cat.\n" * 20, "text file"),
        (b"<!DOCTYPE html>\n<html><body><img src='cat.jpg'></body></html>", "HTML page"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64), "HEIC"),
    ],
)
def test_non_images_are_refused_with_the_supported_formats(data: bytes, looks_like: str) -> None:
    with pytest.raises(NotAnImageError) as caught:
        load_image(data)
    message = str(caught.value)
    assert "not an image" in message and looks_like in message
    assert "JPEG, PNG, WebP, BMP, GIF, TIFF" in message


def test_unsupported_image_format_is_refused() -> None:
    ico = encode(Image.fromarray(quadrants()), "ICO")
    with pytest.raises(NotAnImageError, match="Supported formats"):
        load_image(ico)


def test_text_file_path_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("this is not a picture\n", encoding="utf-8")
    with pytest.raises(NotAnImageError, match="text file"):
        load_image(path)


def test_missing_path_and_folder_are_refused(tmp_path: Path) -> None:
    with pytest.raises(NotAnImageError, match="No file at"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(NotAnImageError, match="not a regular file"):
        load_image(tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_named_pipe_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)  # opening it for reading would block until a writer appears
    with pytest.raises(NotAnImageError, match="not a regular file"):
        load_image(fifo)


@pytest.mark.parametrize(
    ("fmt", "name"), [("PNG", "PNG"), ("JPEG", "JPEG"), ("WEBP", "WebP"), ("GIF", "GIF"), ("BMP", "BMP")]
)
def test_truncated_files_are_refused(fmt: str, name: str) -> None:
    noisy = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    data = encode(Image.fromarray(noisy), fmt)
    with pytest.raises(TruncatedImageError) as caught:
        load_image(data[: len(data) // 2])
    message = str(caught.value)
    assert name in message and "truncated" in message
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_damaged_header_of_a_known_format_is_called_damaged() -> None:
    png = encode(Image.fromarray(quadrants()), "PNG")
    with pytest.raises(TruncatedImageError, match="starts like a PNG"):
        load_image(png[:20])


@pytest.mark.parametrize(
    ("width", "height", "problem"),
    [
        (1, 1, "short side"),
        (1, 10000, "aspect ratio"),
        (10000, 1, "aspect ratio"),
        (7, 100, "short side"),
        (8, 170, "aspect ratio"),
    ],
)
def test_absurd_sizes_are_refused(width: int, height: int, problem: str) -> None:
    data = encode(Image.new("RGB", (width, height), RED), "PNG")
    with pytest.raises(ImageSizeError) as caught:
        load_image(data)
    message = str(caught.value)
    assert problem in message and f"{width} pixels wide and {height} high" in message


def test_extreme_but_allowed_sizes_load() -> None:
    assert load_image(encode(Image.new("RGB", (8, 8), RED), "PNG")).shape == (8, 8, 3)
    assert load_image(encode(Image.new("RGB", (160, 8), RED), "PNG")).shape == (8, 160, 3)


def test_pixel_limit_is_checked_before_decoding() -> None:
    data = encode(Image.fromarray(quadrants()), "PNG")  # 32x32 = 1024 pixels
    assert load_image(data, max_pixels=1024).shape == (32, 32, 3)
    with pytest.raises(ImageTooLargeError, match="at most 1,000 pixels"):
        load_image(data, max_pixels=1000)


@pytest.mark.parametrize(("width", "height"), [(8000, 6000), (50000, 50000)])
def test_decompression_bomb_header_fails_fast(width: int, height: int) -> None:
    # The header claims 48 MP (above cnnviz's 40 MP) or 2.5 GP (above Pillow's own limit too) while
    # the data is tiny. ImageTooLargeError, not TruncatedImageError, proves nothing was decoded.
    maximum_before = Image.MAX_IMAGE_PIXELS
    bomb = with_ihdr_size(encode(Image.new("RGB", (8, 8)), "PNG"), width, height)
    assert len(bomb) < 200
    start = time.perf_counter()
    with pytest.raises(ImageTooLargeError) as caught:
        load_image(bomb)
    assert time.perf_counter() - start < 1.0
    assert f"{MAX_PIXELS:,} pixels" in str(caught.value) and "decompression bomb" in str(caught.value)
    assert Image.MAX_IMAGE_PIXELS == maximum_before


@pytest.mark.parametrize("bad", [0, -5, 1.5, True])
def test_max_pixels_must_be_a_positive_integer(bad: object) -> None:
    with pytest.raises(ParameterError, match="max_pixels"):
        load_image(b"x", max_pixels=bad)  # type: ignore[arg-type]


def test_unsupported_source_types_are_parameter_errors() -> None:
    with pytest.raises(ParameterError, match="bytes, a file path or a binary file object"):
        load_image(42)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="'rb'"):
        load_image(io.StringIO("not binary"))  # type: ignore[arg-type]


# --- preparing for a model ----------------------------------------------------------------------
def red_left_third(height: int = 60, width: int = 180) -> np.ndarray:
    image = np.zeros((height, width, 3), np.uint8)
    image[:] = GREEN
    image[:, : width // 3] = RED
    return image


def is_red(pixels: np.ndarray) -> np.ndarray:
    return (pixels[..., 0] > 128) & (pixels[..., 1] < 128)


def test_crop_removes_the_sides_of_a_wide_image_and_stretch_keeps_them() -> None:
    wide = red_left_third()
    cropped = prepare_image(wide, (32, 32), fit="crop")
    stretched = prepare_image(wide, (32, 32), fit="stretch")
    for prepared in (cropped, stretched):
        assert prepared.shape == (32, 32, 3) and prepared.dtype == np.uint8
        assert prepared.flags.c_contiguous
    assert not is_red(cropped).any()
    assert is_red(stretched[:, :9]).all() and not is_red(stretched[:, 12:]).any()
    np.testing.assert_array_equal(prepare_image(wide, (32, 32)), cropped)  # crop is the default


def test_prepare_image_handles_non_square_targets_and_upscaling() -> None:
    tall = np.transpose(red_left_third(30, 90), (1, 0, 2)).copy()  # red top third, 90 x 30
    prepared = prepare_image(tall, (48, 64), fit="crop")
    assert prepared.shape == (48, 64, 3)
    assert not is_red(prepared).any()  # the centre band of a tall image: no red top
    assert prepare_image(tall, (200, 100), fit="stretch").shape == (200, 100, 3)


def test_downscaling_is_antialiased() -> None:
    checkerboard = ((np.indices((240, 240)).sum(axis=0) % 2) * 255).astype(np.uint8)
    image = np.repeat(checkerboard[..., None], 3, axis=2)
    prepared = prepare_image(image, (24, 24), fit="stretch")
    assert np.abs(prepared.astype(int) - 127).max() <= 3  # nearest neighbour would give 0 or 255


@pytest.mark.parametrize("fit", ["cover", "", "CROP"])
def test_unknown_fit_lists_the_valid_values(fit: str) -> None:
    with pytest.raises(ParameterError, match="crop, stretch"):
        prepare_image(quadrants(), (16, 16), fit=fit)
    with pytest.raises(ParameterError, match="crop, stretch"):
        crop_box((32, 32), (16, 16), fit)


@pytest.mark.parametrize(
    "bad_image",
    [np.zeros((8, 8), np.uint8), np.zeros((8, 8, 4), np.uint8), np.zeros((8, 8, 3), np.float32)],
)
def test_prepare_image_refuses_non_rgb_uint8(bad_image: np.ndarray) -> None:
    with pytest.raises(ParameterError, match="RGB"):
        prepare_image(bad_image, (4, 4))


@pytest.mark.parametrize("bad_size", [(0, 4), (4,), (4.0, 4), "224", (-1, 3)])
def test_prepare_image_refuses_bad_sizes(bad_size: object) -> None:
    with pytest.raises(ParameterError, match="height, width"):
        prepare_image(quadrants(), bad_size)  # type: ignore[arg-type]


def test_fit_modes_constant() -> None:
    assert FIT_MODES == ("crop", "stretch")


@pytest.mark.parametrize(
    ("shape", "size", "fit", "expected"),
    [
        ((60, 180), (32, 32), "crop", (0, 60, 60, 60)),
        ((180, 60), (32, 32), "crop", (60, 0, 60, 60)),
        ((100, 100), (50, 100), "crop", (25, 0, 50, 100)),
        ((60, 180, 3), (32, 32), "stretch", (0, 0, 60, 180)),
        ((224, 224), (224, 224), "crop", (0, 0, 224, 224)),
    ],
)
def test_crop_box_values(shape: tuple, size: tuple, fit: str, expected: tuple) -> None:
    assert crop_box(shape, size, fit) == expected


@pytest.mark.parametrize("fit", FIT_MODES)
def test_crop_box_maps_prepared_pixels_back_to_the_original(fit: str) -> None:
    # A white square in a black wide image; its centre in the prepared image, mapped back through
    # crop_box, must land on its centre in the original.
    original = np.zeros((60, 150, 3), np.uint8)
    original[20:26, 80:86] = WHITE  # centre (22.5, 82.5) in pixel-centre coordinates
    size = (30, 40)
    prepared = prepare_image(original, size, fit=fit)
    top, left, box_height, box_width = crop_box(original.shape, size, fit)
    weights = prepared[..., 0].astype(float)
    rows, cols = np.indices(weights.shape)
    centre_y = (rows * weights).sum() / weights.sum()
    centre_x = (cols * weights).sum() / weights.sum()
    back_y = top + (centre_y + 0.5) * box_height / size[0] - 0.5
    back_x = left + (centre_x + 0.5) * box_width / size[1] - 0.5
    assert abs(back_y - 22.5) < 0.5 and abs(back_x - 82.5) < 0.5


def test_crop_equals_stretching_the_crop_box() -> None:
    rng = np.random.default_rng(2)
    smooth = np.array(Image.fromarray(rng.integers(0, 256, (12, 30, 3), np.uint8)).resize((300, 120)))
    top, left, height, width = crop_box(smooth.shape, (64, 64), "crop")
    region = smooth[top : top + height, left : left + width]
    difference = prepare_image(smooth, (64, 64), fit="crop").astype(int) - prepare_image(
        region, (64, 64), fit="stretch"
    )
    assert np.abs(difference).mean() < 1.0


# --- helpers ------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(9, 13, 3), (9, 13), (9, 13, 4)])
def test_encode_png_round_trips_exactly(shape: tuple[int, ...]) -> None:
    image = np.random.default_rng(3).integers(0, 256, shape, dtype=np.uint8)
    data = encode_png(image)
    assert data.startswith(b"\x89PNG")
    np.testing.assert_array_equal(np.array(Image.open(io.BytesIO(data))), image)


def test_encode_png_output_loads_back_unchanged() -> None:
    image = np.random.default_rng(4).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    np.testing.assert_array_equal(load_image(encode_png(image)), image)


def test_encode_png_refuses_non_uint8() -> None:
    with pytest.raises(ParameterError, match="uint8"):
        encode_png(np.zeros((4, 4, 3), np.float32))


def test_image_sha256_sees_one_pixel_and_the_shape() -> None:
    image = np.random.default_rng(5).integers(0, 256, (512, 512, 3), dtype=np.uint8)
    changed = image.copy()
    changed[300, 200, 1] ^= 1
    assert image_sha256(image) == image_sha256(image.copy())
    assert image_sha256(image) != image_sha256(changed)
    assert image_sha256(image) != image_sha256(image.reshape(512, 1536))
    assert image_sha256(image) != image_sha256(image.astype(np.int16))
    assert image_sha256(image[:, ::2]) == image_sha256(np.ascontiguousarray(image[:, ::2]))
    assert len(image_sha256(image)) == 64
