"""The Dataset page in a real browser: upload a zip of class folders drawn with Pillow (one damaged
file among them), evaluate the demo model, see the skipped file listed, click a confusion-matrix cell
and see its images with their Grad-CAM overlays. Screenshots land in tests/artifacts/dataset-*.png."""

from __future__ import annotations

from pathlib import Path

import pytest
from dataset_helpers import drawn_shape, png_bytes, write_drawn_folder, zip_folder
from PIL import Image
from playwright.sync_api import Locator, Page, expect

pytest_plugins = ("browser_helpers",)
pytest.register_assert_rewrite("browser_helpers")

from browser_helpers import ARTIFACTS, assert_no_exception, open_page, screenshot, wait_for_app

CLASSES = ("circle", "square", "triangle")
PER_CLASS = 5
EVALUATE_MS = 90_000


def main_area(page: Page) -> Locator:
    return page.get_by_test_id("stMain")


@pytest.fixture
def drawn_zip(tmp_path: Path) -> Path:
    """drawn.zip: 3 drawn classes x 5 images, and circle/cut.png cut in half."""
    root = tmp_path / "drawn"
    write_drawn_folder(root, PER_CLASS, CLASSES)
    whole = png_bytes(drawn_shape("circle", 4242))
    (root / "circle" / "cut.png").write_bytes(whole[: len(whole) // 2])
    path = tmp_path / "drawn.zip"
    path.write_bytes(zip_folder(root))
    return path


def click_cell(chart: Locator, row: int, column: int) -> None:
    """Click the centre of a cell of the confusion matrix (row 0 at the top)."""
    chart.scroll_into_view_if_needed()
    box = chart.locator(".nsewdrag").first.bounding_box()
    assert box is not None
    rows, columns = chart.locator(".ytick text").count(), chart.locator(".xtick text").count()
    chart.page.mouse.click(box["x"] + box["width"] * (column + 0.5) / columns,
                           box["y"] + box["height"] * (row + 0.5) / rows)


def test_zip_upload_evaluate_and_click_a_cell(page: Page, drawn_zip: Path) -> None:
    open_page(page, "Dataset")
    main = main_area(page)
    main.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(drawn_zip))
    wait_for_app(page)
    expect(main.get_by_text("Skipped files (1)")).to_be_visible()
    skipped = main.get_by_test_id("stTable")
    expect(skipped.get_by_text("circle/cut.png")).to_be_visible()
    assert_no_exception(page)
    screenshot(page, "dataset-overview")

    main.get_by_role("button", name="Evaluate").click()
    wait_for_app(page, EVALUATE_MS)
    expect(main.get_by_text("Images evaluated", exact=True)).to_be_visible()
    chart = main.get_by_test_id("stPlotlyChart").first
    expect(chart).to_be_visible()
    page.wait_for_timeout(500)  # Plotly draws after the element appears
    click_cell(chart, 1, 1)  # true square, predicted square
    wait_for_app(page, EVALUATE_MS)
    expect(main.get_by_text("True square, predicted square", exact=False)).to_be_visible()
    cell = main.locator(".st-key-cards-dataset-cell_images").get_by_test_id("stImage")
    expect(cell.first).to_be_visible()
    captions = cell.get_by_test_id("stImageCaption").all_inner_texts()
    assert len(captions) >= 3, captions  # the demo model finds most drawn squares
    assert all(c.startswith("square/img") and "predicted square" in c for c in captions), captions
    assert_no_exception(page)
    screenshot(page, "dataset-cell")

    with page.expect_download() as download_info:
        main.get_by_role("button", name="Download these images (PNG)").first.click()
    grid = Image.open(download_info.value.path())
    assert grid.format == "PNG" and grid.width >= 3 * 192
    grid.save(ARTIFACTS / "dataset-cell-download.png")
