"""A real-browser tour of every page: Chromium + Playwright on ``streamlit run app.py``.

Each page is visited twice, on a generated demo image and on a real photo (scikit-image's cat),
and on the demo image one method of the page is run. Every visit checks that the page's own result
appears and that no exception box appears anywhere, and saves a screenshot to
``tests/artifacts/tour-*.png`` for a person to look at.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Locator, Page, expect

from ui.navigation import PAGES, PageEntry

pytest_plugins = ("browser_helpers",)
pytest.register_assert_rewrite("browser_helpers")

from browser_helpers import (
    ARTIFACTS,
    assert_no_exception,
    open_page,
    screenshot,
    set_number,
    upload_image,
    wait_for_app,
)
from dataset_helpers import write_drawn_folder, zip_folder

LONG_RUN_MS = 90_000  # a method run on the demo model, on a busy 2-core machine
LAB_CLASSES = ("circle", "square", "triangle")  # the lab's zip: drawn with Pillow, 10 per class (audit: 8+)
LAB_PER_CLASS = 10


def main_area(page: Page) -> Locator:
    return page.get_by_test_id("stMain")


def run_button(page: Page, label: str) -> None:
    """Press a page's Run-style button and wait until the run has finished."""
    main_area(page).get_by_role("button", name=label).click()
    wait_for_app(page, LONG_RUN_MS)


def images_in_main(page: Page, at_least: int) -> None:
    expect(main_area(page).get_by_test_id("stImage").nth(at_least - 1)).to_be_visible()


# --- what each page must show; ``run`` also presses one of its methods ------------------------------
def home(page: Page, run: bool) -> None:
    main = main_area(page)
    expect(main.get_by_role("heading", name="cnnviz: see what a CNN sees")).to_be_visible()
    for entry in PAGES[1:]:
        expect(main.get_by_text(entry.summary)).to_be_visible()


def predict(page: Page, run: bool) -> None:
    expect(main_area(page).get_by_text("says:")).to_be_visible()
    expect(main_area(page).locator("[data-testid=stImageCaption]:has-text('Top 5 of')")).to_be_visible()


def dataset(page: Page, run: bool) -> None:
    main = main_area(page)
    expect(main.get_by_role("heading", name="Dataset", exact=True)).to_be_visible()
    expect(main.get_by_text("Zip of class folders", exact=True)).to_be_visible()
    if run:
        main.get_by_test_id("stButtonGroup").get_by_text("Generated shapes").click()
        wait_for_app(page)
        main.get_by_label("Images per class").fill("5")
        main.get_by_label("Images per class").press("Enter")
        wait_for_app(page)
        run_button(page, "Use this generated set")
        expect(main.get_by_text("Usable images", exact=True)).to_be_visible()
        images_in_main(page, 9)  # the class counts chart and a row of samples per class (8 classes)
        expect(main.get_by_role("button", name="Evaluate")).to_be_visible()  # tests/test_browser_dataset.py


def heatmaps(page: Page, run: bool) -> None:
    main = main_area(page)
    images_in_main(page, 3)  # what the model sees, Grad-CAM, Grad-CAM++
    expect(main.get_by_text("deletion", exact=False).first).to_be_visible()
    if run:
        run_button(page, "Run Occlusion")
        images_in_main(page, 4)
        expect(main.get_by_text("Occlusion: ", exact=False)).to_be_visible()
        expect(main.get_by_role("button", name="Download all side by side (PNG)")).to_be_visible()


def compare(page: Page, run: bool) -> None:
    main = main_area(page)
    images_in_main(page, 4)  # the model input and three maps
    expect(main.get_by_role("button", name="Download report (HTML)")).to_be_visible()
    if run:
        with page.expect_download() as download_info:
            main.get_by_role("button", name="Download report (HTML)").click()
        report = Path(download_info.value.path()).read_text(encoding="utf-8")
        assert report.startswith("<!DOCTYPE html>") and report.count("data:image/png;base64,") == 5
        download_info.value.save_as(ARTIFACTS / "compare-report.html")
        with page.expect_download() as download_info:
            main.get_by_role("button", name="Download the grid (PNG)").click()
        grid = Image.open(download_info.value.path())
        assert grid.format == "PNG" and grid.width >= 4 * 224  # the image and three maps in a row


def feature_maps(page: Page, run: bool) -> None:
    main = main_area(page)
    expect(main.get_by_text("channels of", exact=False).first).to_be_visible()
    images_in_main(page, 2)
    if run:
        main.get_by_role("tab", name="Filters").click()
        wait_for_app(page)
        expect(main.get_by_text("kernel 3x3x3x16", exact=False).first).to_be_visible()


def maximize(page: Page, run: bool) -> None:
    main = main_area(page)
    expect(main.get_by_role("button", name="Optimise")).to_be_visible()
    if run:
        run_button(page, "Optimise")
        expect(main.get_by_text("Classified as the class asked for", exact=False)).to_be_visible()
        images_in_main(page, 1)


def architecture(page: Page, run: bool) -> None:
    main = main_area(page)
    expect(main.get_by_test_id("stDataFrame").first).to_be_visible()
    if run:
        main.get_by_role("tab", name="Invariance probe").click()
        wait_for_app(page)
        run_button(page, "Probe")
        expect(main.get_by_text("The top class changes for", exact=False)).to_be_visible()
        expect(main.get_by_test_id("stTabPanel").filter(has_text="Uncovered area")
               .get_by_test_id("stPlotlyChart")).to_be_visible()


def adversarial(page: Page, run: bool) -> None:
    main = main_area(page)
    expect(main.get_by_role("button", name="Attack")).to_be_visible()
    if run:
        main.get_by_test_id("stButtonGroup").get_by_text("PGD (Madry et al. 2018)").click()
        wait_for_app(page)
        run_button(page, "Attack")
        expect(main.get_by_text("Fooled:", exact=False).or_(main.get_by_text("Not fooled", exact=False))
               ).to_be_visible()
        expect(main.get_by_text("The perturbation, amplified")).to_be_visible()
        images_in_main(page, 4)
        with page.expect_download() as download_info:
            main.get_by_role("button", name="Download the whole figure (PNG)").click()
        figure = Image.open(download_info.value.path())
        assert figure.format == "PNG" and figure.width > 3 * 200 and figure.height > 2 * 200
        figure.save(ARTIFACTS / "adversarial-figure.png")


def train(page: Page, run: bool) -> None:
    main = main_area(page)
    expect(main.get_by_role("heading", name="Train", exact=True)).to_be_visible()
    expect(main.get_by_role("button", name="Train", exact=True)).to_be_visible()
    if run:  # the fastest real run: frozen demo features + logistic regression on a generated set
        main.get_by_text("features: frozen features", exact=False).click()
        wait_for_app(page)
        set_number(main, "Epochs", 5)  # enough for the generated set; the default 30 is for real data
        wait_for_app(page)
        main.get_by_role("button", name="Train", exact=True).click()
        try:
            expect(main.get_by_text("Test accuracy", exact=True)).to_be_visible(timeout=2 * LONG_RUN_MS)
        finally:
            screenshot(page, "tour-train-run")
        expect(main.get_by_role("button", name="Explain this model")).to_be_visible()


def clever_hans(page: Page, run: bool) -> None:
    main = main_area(page)
    expect(main.get_by_role("heading", name="Clever Hans lab")).to_be_visible()
    expect(main.get_by_role("button", name="Train both models")).to_be_visible()
    if run:  # the story end to end on a user's zip at the smallest size: plant, train both, compare, audit,
        # filter statistics, a member opened on the Heatmaps page (learning it: test_clever_hans.py)
        images_in_main(page, 1)  # the cue preview of the generated set
        main.get_by_text("My own (zip of class folders)", exact=True).click()
        wait_for_app(page)
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder)
            write_drawn_folder(root / "drawn", LAB_PER_CLASS, LAB_CLASSES, size=48)
            (root / "drawn.zip").write_bytes(zip_folder(root / "drawn"))
            main.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(root / "drawn.zip"))
            wait_for_app(page)
        expect(main.get_by_text(f"{LAB_PER_CLASS} images carry the cue (tag")).to_be_visible()  # all circles
        main.get_by_label("Epochs", exact=True).fill("1")
        main.get_by_label("Epochs", exact=True).press("Enter")
        wait_for_app(page)
        run_button(page, "Train both models")
        table = main.get_by_test_id("stDataFrame").first
        expect(table).to_contain_text("cued model", timeout=4 * LONG_RUN_MS)  # the run may still go on
        expect(table).to_contain_text("clean model")  # (the grid draws only the columns in view)
        wait_for_app(page, LONG_RUN_MS)
        run_button(page, "Audit the class")
        expect(main.get_by_text(f"{LAB_PER_CLASS} images of circle", exact=False)).to_be_visible(
            timeout=2 * LONG_RUN_MS)
        wait_for_app(page, LONG_RUN_MS)
        run_button(page, "Count the winning channels")  # filter activation statistics of the class
        expect(main.get_by_text("Most often the most active channel", exact=False)).to_be_visible(
            timeout=2 * LONG_RUN_MS)
        wait_for_app(page, LONG_RUN_MS)
        member = main.get_by_test_id("stExpander").first.get_by_role("button", name="Open").first
        member.click()  # a member of the audit opens on the Heatmaps page, with the audited model
        page.wait_for_url("**/heatmaps", timeout=LONG_RUN_MS)
        wait_for_app(page, LONG_RUN_MS)
        sidebar = page.get_by_test_id("stSidebar")
        expect(sidebar.get_by_text("trained in the Clever Hans lab", exact=False).first).to_be_visible()
        expect(sidebar.get_by_text("circle/img", exact=False).first).to_be_visible()
        # the page shows the map the audit clustered: the lab's Integrated Gradients of the class
        # circle (not the page's default methods, nor the 1-epoch model's top class); it runs the
        # model many times, so it waits for Run like any such method
        methods = main.get_by_test_id("stMultiSelect").first
        expect(methods).to_contain_text("Integrated Gradients")
        expect(methods).not_to_contain_text("Grad-CAM")
        run_button(page, "Run Integrated Gradients")
        images_in_main(page, 2)  # what the model sees and a heatmap of the lab's model
        expect(main.get_by_text("Integrated Gradients: circle", exact=False).first).to_be_visible()
        screenshot(page, "tour-clever-hans-member")


CHECKS: dict[str, Callable[[Page, bool], None]] = {
    "pages/home.py": home, "pages/predict.py": predict, "pages/dataset.py": dataset, "pages/heatmaps.py": heatmaps,
    "pages/compare.py": compare, "pages/feature_maps.py": feature_maps, "pages/maximize.py": maximize,
    "pages/architecture.py": architecture, "pages/train.py": train, "pages/adversarial.py": adversarial,
    "pages/clever_hans.py": clever_hans,
}


def slug(entry: PageEntry) -> str:
    return Path(entry.path).stem.replace("_", "-")


def test_every_page_of_the_navigation_is_toured() -> None:
    assert {entry.path for entry in PAGES} <= set(CHECKS)


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real photo (scikit-image's Chelsea the cat, 451x300) saved as JPEG."""
    from skimage import data

    path = tmp_path_factory.mktemp("photo") / "chelsea.jpg"
    Image.fromarray(data.chelsea()).save(path, format="JPEG", quality=90)
    return path


@pytest.mark.parametrize("entry", PAGES, ids=slug)
def test_page_on_a_generated_sample_runs_its_method(page: Page, entry: PageEntry) -> None:
    open_page(page, entry.title)
    CHECKS[entry.path](page, True)
    assert_no_exception(page)
    screenshot(page, f"tour-{slug(entry)}-sample")


@pytest.mark.parametrize("entry", PAGES, ids=slug)
def test_page_on_a_real_photo(page: Page, entry: PageEntry, photo: Path) -> None:
    upload_image(page, photo)
    open_page(page, entry.title)
    CHECKS[entry.path](page, False)
    if entry.path != "pages/home.py":
        expect(page.get_by_test_id("stSidebar").get_by_text("chelsea.jpg, 451x300")).to_be_visible()
    assert_no_exception(page)
    screenshot(page, f"tour-{slug(entry)}-photo")
