"""Real-browser tests of speed and of several people using one server at once.

- After MobileNetV2 is loaded, the Predict page and a Grad-CAM overlay each appear within 2 s.
- Two sessions on different models and images do not mix results, and one session stays responsive
  while the other runs a long one-pixel attack.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, expect

pytest_plugins = ("browser_helpers",)
pytest.register_assert_rewrite("browser_helpers")

from browser_helpers import (
    VIEWPORT,
    assert_no_exception,
    open_page,
    screenshot,
    upload_image,
    wait_for_app,
)

INTERACTIVE_S = 2.0  # issue #6: Predict and a Grad-CAM overlay within 2 s once the model is loaded
# Predict of another session while a long attack keeps both cores busy; the suite runs on two xdist
# workers, so another test file shares the cores too (measured 10.3 s in a two-worker run).
RESPONSIVE_S = 15.0
# A generated star the demo model resists: the 1-pixel attack runs its whole budget (400 x 100).
ROBUST_CLASS, ROBUST_SEED = "star", 0


@pytest.fixture
def contexts(browser: Browser) -> Iterator[list[BrowserContext]]:
    """Two independent browser sessions (separate cookies, separate Streamlit sessions)."""
    opened = [browser.new_context(viewport=VIEWPORT, accept_downloads=True) for _ in range(2)]
    try:
        yield opened
    finally:
        for context in opened:
            context.close()


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from skimage import data

    path = tmp_path_factory.mktemp("photo") / "astronaut.png"
    Image.fromarray(data.astronaut()).save(path)
    return path


def open_app(context: BrowserContext, url: str) -> Page:
    tab = context.new_page()
    tab.goto(url)
    wait_for_app(tab)
    return tab


def choose_mobilenetv2_with_random_weights(tab: Page) -> None:
    """Pick MobileNetV2 in the sidebar, then random weights (ImageNet cannot be downloaded here)."""
    sidebar = tab.get_by_test_id("stSidebar")
    sidebar.get_by_test_id("stSelectbox").first.click()
    tab.keyboard.type("MobileNetV2")
    tab.keyboard.press("Enter")
    wait_for_app(tab)
    sidebar.get_by_text("Random (architecture only)").click()
    wait_for_app(tab)
    expect(sidebar.get_by_text("input 224x224", exact=False)).to_be_visible()
    expect(sidebar.get_by_text("No model loaded", exact=False)).to_have_count(0)


def seconds_until_visible(tab: Page, click: str, selector: str) -> float:
    """Click a page in the sidebar and time until ``selector`` shows in the main area."""
    started = time.monotonic()
    tab.get_by_test_id("stSidebarNav").get_by_text(click, exact=True).click()
    tab.get_by_test_id("stMain").locator(selector).first.wait_for(state="visible", timeout=30_000)
    return time.monotonic() - started


def test_predict_and_gradcam_appear_within_two_seconds_on_mobilenetv2(
        contexts: list[BrowserContext], streamlit_server: str, photo: Path) -> None:
    """Timed from the click on the page to the result on screen, MobileNetV2 on a 512x512 photo."""
    tab = open_app(contexts[0], streamlit_server)
    choose_mobilenetv2_with_random_weights(tab)  # loading (and warming up) the model happens here
    upload_image(tab, photo)
    predict_s = seconds_until_visible(tab, "Predict", "[data-testid=stImageCaption]:has-text('Top 5 of')")
    expect(tab.get_by_test_id("stMain").get_by_text("says:")).to_be_visible()
    wait_for_app(tab)
    gradcam_s = seconds_until_visible(tab, "Heatmaps", "[data-testid=stImageCaption]:has-text('Grad-CAM:')")
    wait_for_app(tab)
    assert_no_exception(tab)
    screenshot(tab, "mobilenetv2-heatmaps-photo")
    print(f"MobileNetV2, 512x512 photo: Predict page with its chart {predict_s:.2f} s, "
          f"Grad-CAM overlay {gradcam_s:.2f} s")
    assert max(predict_s, gradcam_s) < INTERACTIVE_S, (predict_s, gradcam_s)


def test_two_sessions_keep_their_results_apart_during_a_long_attack(
        contexts: list[BrowserContext], streamlit_server: str, photo: Path) -> None:
    attacker = open_app(contexts[0], streamlit_server)
    sidebar = attacker.get_by_test_id("stSidebar")
    sidebar.get_by_test_id("stSelectbox").nth(1).click()  # the shape of the generated sample
    attacker.keyboard.type(ROBUST_CLASS)
    attacker.keyboard.press("Enter")
    wait_for_app(attacker)
    open_page(attacker, "Adversarial")
    expect(attacker.get_by_test_id("stMain").get_by_text(re.compile(r"At most 40,4\d\d model queries"))
           ).to_be_visible()
    attacker.get_by_test_id("stMain").get_by_role("button", name="Attack").click()
    expect(attacker.get_by_test_id("stProgress")).to_contain_text("Attacking", timeout=30_000)

    # Meanwhile a second person, on another model and image.
    other = open_app(contexts[1], streamlit_server)
    choose_mobilenetv2_with_random_weights(other)
    started = time.monotonic()
    upload_image(other, photo)
    open_page(other, "Predict")
    expect(other.get_by_test_id("stMain").get_by_text("says:")).to_be_visible()
    responsive_s = time.monotonic() - started
    expect(other.get_by_test_id("stMain").get_by_text("Your image: astronaut.png (512x512)")).to_be_visible()
    still_attacking = attacker.get_by_test_id("stProgress").count() > 0
    screenshot(other, "sessions-other-predict")

    # The attack finishes on the attacker's own star, with the demo model.
    wait_for_app(attacker, timeout_ms=180_000)
    main = attacker.get_by_test_id("stMain")
    expect(main.get_by_text("Not fooled", exact=False).or_(main.get_by_text("Fooled:", exact=False))
           ).to_be_visible()
    expect(main.get_by_text("star", exact=False).first).to_be_visible()
    expect(attacker.get_by_test_id("stSidebar").get_by_text("generated star (seed 0)", exact=False)
           ).to_be_visible()
    expect(main.get_by_text("astronaut", exact=False)).to_have_count(0)
    assert_no_exception(attacker)
    screenshot(attacker, "sessions-attacker-result")
    # and the other session, rerun now, still shows its own model and image
    open_page(other, "Heatmaps")
    expect(other.get_by_test_id("stMain").get_by_text("Grad-CAM:", exact=False).first).to_be_visible()
    expect(other.get_by_test_id("stSidebar").get_by_text("astronaut.png, 512x512")).to_be_visible()
    expect(other.get_by_test_id("stMain").get_by_text("star", exact=False)).to_have_count(0)
    assert_no_exception(other)
    print(f"Predict in another session during the attack: {responsive_s:.2f} s")
    assert still_attacking, "the attack ended before the other session was served: not a concurrency test"
    assert responsive_s < RESPONSIVE_S, responsive_s
