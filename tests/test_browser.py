"""Real-browser tests: ``streamlit run app.py`` driven by Debian's Chromium through Playwright.

Screenshots of each page land in tests/artifacts/ (gitignored) for a person to look at.
"""

from __future__ import annotations

import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, Locator, Page, expect

from cnnviz.images import encode_png
from cnnviz.demo.shapes import SHAPE_CLASSES, TEST_SEED, generate_sample

# The fixtures streamlit_server, browser and page (one server for the whole test session). The
# helper module is registered for assertion rewriting before it is imported.
pytest_plugins = ("browser_helpers",)
pytest.register_assert_rewrite("browser_helpers")

from browser_helpers import (
    ARTIFACTS,
    REPO_ROOT,
    assert_no_exception,
    open_page,
    running_streamlit,
    screenshot,
    upload_image,
    wait_for_app,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def main_area(page: Page) -> Locator:
    return page.get_by_test_id("stMain")


def test_home_page(page: Page) -> None:
    main = main_area(page)
    expect(main.get_by_role("heading", name="cnnviz: see what a CNN sees")).to_be_visible()
    expect(main.get_by_text("How to use it")).to_be_visible()
    expect(main.get_by_role("link", name="Predict", exact=False).first).to_be_visible()
    assert_no_exception(page)
    screenshot(page, "home")


def test_uploaded_shape_is_predicted_and_the_chart_downloads(page: Page, tmp_path: Path) -> None:
    sample = generate_sample(TEST_SEED, class_index=SHAPE_CLASSES.index("star"))
    path = tmp_path / "star.png"
    path.write_bytes(encode_png(sample.image))
    open_page(page, "Predict")
    upload_image(page, path)
    main = main_area(page)
    expect(main.get_by_text("says:")).to_contain_text("star")
    expect(main.locator("[data-testid=stImageCaption]:has-text('Top 5 of')")).to_be_visible()
    expect(main.get_by_text("Prediction took")).to_be_visible()
    assert_no_exception(page)
    screenshot(page, "predict-star")
    with page.expect_download() as download_info:
        main.get_by_role("button", name="Download the chart (PNG)").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".png")
    assert Path(download.path()).read_bytes().startswith(PNG_SIGNATURE)
    download.save_as(ARTIFACTS / "predict-chart-download.png")


def test_uploaded_photo_gets_predictions(page: Page, tmp_path: Path) -> None:
    from skimage import data

    path = tmp_path / "chelsea.jpg"
    Image.fromarray(data.chelsea()).save(path, format="JPEG", quality=90)
    open_page(page, "Predict")
    upload_image(page, path)
    main = main_area(page)
    expect(main.get_by_text("says:")).to_be_visible()
    expect(main.locator("[data-testid=stImageCaption]:has-text('Top 5 of')")).to_be_visible()
    expect(main.get_by_text("Your image: chelsea.jpg (451x300)")).to_be_visible()
    assert_no_exception(page)
    screenshot(page, "predict-photo-screen", whole_page=False)  # what a 1280x800 window shows
    screenshot(page, "predict-photo")
    page.set_viewport_size({"width": 420, "height": 800})
    page.wait_for_timeout(500)
    screenshot(page, "predict-photo-narrow-screen", whole_page=False)
    screenshot(page, "predict-photo-narrow")


def test_non_image_upload_shows_a_readable_error(page: Page, tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_bytes(b"not a picture at all\n" * 50)
    open_page(page, "Predict")
    upload_image(page, path)
    main = main_area(page)
    expect(main.get_by_test_id("stAlertContentError")).to_contain_text(
        "notes.png: The file is not an image cnnviz can read")
    expect(main.locator("[data-testid=stImageCaption]:has-text('Top 5 of')")).to_have_count(0)
    assert_no_exception(page)
    screenshot(page, "predict-bad-upload")


# --- Stop button of ui.progress, in a small app of its own (no TensorFlow: starts in seconds) ---
PROGRESS_APP = """
import time
import streamlit as st
from ui import progress
from ui.errors import user_errors

@st.cache_data(show_spinner=False)
def slow_sum(n: int, _progress) -> int:
    total = 0
    for i in range(n):
        time.sleep(0.05)
        total += i
        if _progress(i + 1, n, {"total": total}) is False:
            raise RuntimeError("not expected: the callback never returns False")
    return total

n = st.number_input("How many numbers", value=400, step=1)
if progress.requested("sum", n):
    with user_errors(), progress.progress_bar("Adding", key="sum") as bar:
        st.write(f"sum = {slow_sum(int(n), bar)}")
"""


@pytest.fixture(scope="module")
def progress_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("progress_app")
    script = folder / "progress_app.py"
    script.write_text(textwrap.dedent(PROGRESS_APP))
    with running_streamlit(script, folder / "server.log", {"PYTHONPATH": str(REPO_ROOT)}) as url:
        yield url


def test_stop_button_interrupts_a_running_computation(browser: Browser, progress_server: str) -> None:
    context = browser.new_context(viewport={"width": 1000, "height": 700})
    tab = context.new_page()
    try:
        tab.goto(progress_server)
        wait_for_app(tab)
        tab.get_by_role("button", name="Run").click()
        expect(tab.get_by_test_id("stProgress")).to_be_visible()
        expect(tab.get_by_test_id("stProgress")).to_contain_text("Adding:", timeout=5000)
        started = time.monotonic()
        tab.get_by_role("button", name="Stop").click()
        expect(tab.get_by_text("Stopped: nothing was kept. Press Run to start again.")).to_be_visible(timeout=5000)
        assert time.monotonic() - started < 3  # 400 x 50 ms = 20 s if Stop did nothing
        wait_for_app(tab)
        expect(tab.get_by_test_id("stProgress")).to_have_count(0)
        expect(tab.get_by_text("sum =")).to_have_count(0)
        assert_no_exception(tab)
        # a short run completes; running it again is served from the cache without a bar
        tab.get_by_label("How many numbers").fill("5")
        tab.get_by_label("How many numbers").press("Enter")
        wait_for_app(tab)
        tab.get_by_role("button", name="Run").click()
        expect(tab.get_by_text("sum = 10")).to_be_visible(timeout=10000)
        wait_for_app(tab)
        tab.get_by_role("button", name="Run").click()  # a cache hit: nothing to replay
        wait_for_app(tab)
        expect(tab.get_by_text("sum = 10")).to_be_visible()
        assert_no_exception(tab)
    finally:
        context.close()
