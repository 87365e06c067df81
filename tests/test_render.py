"""Rendering heatmaps: colour maps, overlays on the model input and on the original photo, grids, PNG."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from cnnviz.errors import ParameterError
from cnnviz.explanation import explain
from cnnviz.models import load_model
from cnnviz.render import colorize, heatmap_overlay, overlay, png, side_by_side
from cnnviz.demo.shapes import generate_sample


@pytest.fixture(scope="module")
def heatmaps() -> tuple:
    loaded = load_model("shapes")
    sample = generate_sample(7, 64, 0)
    photo = np.concatenate([sample.image, sample.image[:, :32]], axis=1)  # 64 x 96: cropped to the middle
    return photo, [explain(loaded, photo, method) for method in ("gradcam", "cam")]


def test_colorize_maps_low_to_blue_and_high_to_red_with_jet() -> None:
    colours = colorize(np.array([[0.0, 1.0]], np.float32), "jet")
    assert colours.dtype == np.uint8 and colours.shape == (1, 2, 3)
    assert colours[0, 0, 2] > colours[0, 0, 0] and colours[0, 1, 0] > colours[0, 1, 2]
    with pytest.raises(ParameterError, match="colour map"):
        colorize(np.zeros((2, 2)), "rainbow-unicorn")


def test_default_colour_map_is_perceptually_ordered_and_jet_is_not() -> None:
    """Lightness rises steadily along the default map (so it reads in grey); jet's goes up and down."""
    import cv2

    from cnnviz.render import DEFAULT_COLORMAP

    def lightness(colormap: str) -> np.ndarray:
        ramp = colorize(np.linspace(0, 1, 64, dtype=np.float32)[None], colormap)
        return cv2.cvtColor(ramp, cv2.COLOR_RGB2LAB)[0, :, 0].astype(float)

    steps = np.diff(lightness(DEFAULT_COLORMAP))
    assert (steps >= -1).all() and lightness(DEFAULT_COLORMAP)[-1] - lightness(DEFAULT_COLORMAP)[0] > 150
    assert (np.diff(lightness("jet")) < -3).any()


def test_overlay_opacity_blends_image_and_map() -> None:
    image = np.full((8, 8, 3), 100, np.uint8)
    heatmap = np.ones((4, 4), np.float32)  # resized to the image
    assert np.array_equal(overlay(image, heatmap, opacity=0.0), image)
    assert np.array_equal(overlay(image, heatmap, opacity=1.0), colorize(np.ones((8, 8))))
    with pytest.raises(ParameterError, match="opacity"):
        overlay(image, heatmap, opacity=1.5)


def test_overlay_on_the_original_photo(heatmaps: tuple) -> None:
    photo, (gradcam, _) = heatmaps
    on_photo = heatmap_overlay(gradcam, photo, opacity=1.0)
    assert on_photo.shape == photo.shape
    top, left, height, width = gradcam.box
    outside = np.ones(photo.shape[:2], bool)
    outside[top:top + height, left:left + width] = False
    assert np.all(on_photo[outside] == colorize(np.zeros((1, 1)))[0, 0])  # no evidence outside the crop
    assert heatmap_overlay(gradcam).shape == (64, 64, 3)


def test_side_by_side_grid_and_png(heatmaps: tuple) -> None:
    photo, results = heatmaps
    grid = side_by_side(results, tile=128, notes=["deletion 0.12", ""])
    assert grid.dtype == np.uint8 and grid.shape[1] == 3 * 128 + 2 * 4 and grid.shape[0] > 128
    decoded = np.array(Image.open(io.BytesIO(png(grid))))
    assert np.array_equal(decoded, grid)
    on_photo = side_by_side(results, original=photo, tile=96)
    assert on_photo.shape[1] == 3 * 96 + 2 * 4


def test_captioned_rows_stack_into_one_grid() -> None:
    from cnnviz.render import CAPTION_HEIGHT, GAP, captioned_row, stack_rows

    red = np.zeros((32, 64, 3), np.uint8)
    red[..., 0] = 255
    row = captioned_row([red, np.full((10, 10, 3), 7, np.uint8)], [["red"], ["grey", "small"]], tile=40)
    assert row.shape[1] == 40 + GAP + 40 and row.dtype == np.uint8
    below_caption = row[CAPTION_HEIGHT:CAPTION_HEIGHT + 20, :40]
    assert (below_caption == [255, 0, 0]).all()  # the wide image, scaled to 40 x 20, under its caption
    grid = stack_rows([row, row[:, :40]])
    assert grid.shape == (2 * row.shape[0] + GAP, row.shape[1], 3)
    assert np.array_equal(grid[:row.shape[0]], row) and (grid[row.shape[0]:row.shape[0] + GAP] == 255).all()
    with pytest.raises(ParameterError, match="one caption"):
        captioned_row([red], [])
    with pytest.raises(ParameterError, match="at least one row"):
        stack_rows([])
