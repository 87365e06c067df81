"""The Train page in a real browser, the path of issue 13: upload a zip of class folders drawn with
Pillow, train a head on the demo backbone with live curves, leave the page and come back (the run goes
on), press Stop (it stops and keeps the best epoch), make the trained model the model of every page
and see it explain an image on the Heatmaps page. Screenshots land in tests/artifacts/train-*.png."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from dataset_helpers import write_drawn_folder, zip_folder
from playwright.sync_api import Locator, Page, expect

pytest_plugins = ("browser_helpers",)
pytest.register_assert_rewrite("browser_helpers")

from browser_helpers import assert_no_exception, open_page, screenshot, set_number, wait_for_app

CLASSES = ("circle", "square", "triangle")
PER_CLASS = 10
TRAIN_MS = 240_000  # a busy 2-core machine


def main_area(page: Page) -> Locator:
    return page.get_by_test_id("stMain")


@pytest.fixture
def drawn_zip(tmp_path: Path) -> Path:
    write_drawn_folder(tmp_path / "drawn", PER_CLASS, CLASSES)
    path = tmp_path / "drawn.zip"
    path.write_bytes(zip_folder(tmp_path / "drawn"))
    return path


def test_zip_trains_live_survives_a_page_switch_stops_and_explains(page: Page, drawn_zip: Path) -> None:
    open_page(page, "Train")
    main = main_area(page)
    main.get_by_text("Upload a zip of class folders", exact=True).click()
    wait_for_app(page)
    main.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(drawn_zip))
    wait_for_app(page)
    expect(main.get_by_text(re.compile(r"30 images in 3 classes"))).to_be_visible()
    main.get_by_text("head: a new head on the frozen backbone", exact=False).click()
    wait_for_app(page)
    set_number(main, "Epochs", 200)  # far more than it gets before Stop
    wait_for_app(page)
    set_number(main, "Early stopping patience (epochs)", 50)
    wait_for_app(page)

    main.get_by_role("button", name="Train", exact=True).click()
    progress = main.get_by_test_id("stProgress")
    expect(progress).to_contain_text(re.compile(r"head epoch [2-9]"), timeout=TRAIN_MS)
    expect(main.get_by_test_id("stPlotlyChart").first).to_be_visible()  # the live curves
    screenshot(page, "train-live")

    open_page(page, "Predict")  # leaving the page does not stop the run
    open_page(page, "Train")
    expect(progress).to_contain_text(re.compile(r"head epoch \d+"), timeout=TRAIN_MS)
    main.get_by_role("button", name="Stop", exact=True).click()
    expect(main.get_by_text("Results of", exact=False)).to_be_visible(timeout=TRAIN_MS)
    expect(main.get_by_test_id("stProgress")).to_have_count(0)
    table = main.get_by_test_id("stDataFrame").first
    expect(table).to_be_visible()
    expect(main.get_by_text("Test accuracy", exact=True)).to_be_visible()
    assert_no_exception(page)
    screenshot(page, "train-stopped")

    main.get_by_role("button", name="Explain this model").click()
    wait_for_app(page)
    expect(main.get_by_text("This model is now the model of every page", exact=False)).to_be_visible()
    open_page(page, "Heatmaps")
    expect(page.get_by_test_id("stSidebar").get_by_text("(trained here)", exact=False).first).to_be_visible()
    expect(main.get_by_text("Grad-CAM:", exact=False).first).to_be_visible(timeout=TRAIN_MS)
    expect(main.get_by_text(re.compile(r"\b(circle|square|triangle)\b")).first).to_be_visible()
    assert_no_exception(page)
    screenshot(page, "train-heatmaps")
