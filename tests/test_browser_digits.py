"""The browser tour on the second demo model: LeNet-5 and a generated digit, in real Chromium.

One visit per page that shows the model's own answers (Predict, Heatmaps, Feature maps,
Architecture); screenshots go to ``tests/artifacts/tour-digits-*.png``.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytest_plugins = ("browser_helpers",)
pytest.register_assert_rewrite("browser_helpers")

from browser_helpers import assert_no_exception, open_page, screenshot, wait_for_app


def choose(page: Page, index: int, text: str) -> None:
    """Type ``text`` into the sidebar's ``index``-th selectbox and confirm it."""
    page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").nth(index).click()
    page.keyboard.type(text)
    page.keyboard.press("Enter")
    wait_for_app(page)


def test_digits_model_tour(page: Page) -> None:
    sidebar, main = page.get_by_test_id("stSidebar"), page.get_by_test_id("stMain")
    choose(page, 0, "lenet5_digits")
    expect(sidebar.get_by_text("LeNet-5 (LeCun et al. 1998)", exact=False)).to_be_visible()
    choose(page, 1, "7")  # the generated-sample picker now offers digits
    expect(sidebar.get_by_text("generated digit 7 (seed 0), 28x28")).to_be_visible()

    open_page(page, "Predict")
    expect(main.get_by_text("says: 7", exact=False)).to_be_visible()
    expect(main.get_by_text("Ground truth of this generated sample: 7", exact=False)).to_be_visible()
    screenshot(page, "tour-digits-predict")

    open_page(page, "Heatmaps")
    expect(main.get_by_test_id("stImage").nth(2)).to_be_visible()  # the input and two maps
    assert_no_exception(page)
    screenshot(page, "tour-digits-heatmaps")

    open_page(page, "Feature maps")
    main.get_by_role("tab", name="Filters").click()
    wait_for_app(page)
    expect(main.get_by_text("kernel 5x5x1x6", exact=False).first).to_be_visible()
    screenshot(page, "tour-digits-filters")

    open_page(page, "Architecture")
    table = main.get_by_test_id("stDataFrame").first
    expect(table).to_be_visible()
    assert_no_exception(page)
    screenshot(page, "tour-digits-architecture")
