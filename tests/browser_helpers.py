"""Real-browser tests of the app: one ``streamlit run app.py`` server per test session, Debian chromium.

Fixtures (load them once for the whole session with ``pytest_plugins = ["browser_helpers"]`` in
``tests/conftest.py``; importing them into several test modules would start several servers):

- ``streamlit_server``: the base URL of ``streamlit run app.py`` on a free localhost port, started
  headless without a file watcher; the whole process group is stopped at the end.
- ``browser``: a Chromium browser (the binary Debian's ``chromium`` package installs, found with
  ``shutil.which``; Playwright never downloads a browser).
- ``page``: a fresh browser page at 1280x800 per test, already on the app, with helpers below.

Helpers: ``running_streamlit(script, log_path)`` serves another script (a test app of its own);
``wait_for_app(page)`` waits until the script run has finished; ``upload_image(page,
path)`` switches the sidebar to "Upload an image" and uploads; ``open_page(page, title)`` clicks a
page in the sidebar navigation; ``screenshot(page, name)`` saves ``tests/artifacts/<name>.png``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

REPO_ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO_ROOT / "tests" / "artifacts"
SERVER_START_TIMEOUT_S = 60
RUN_TIMEOUT_MS = 60_000  # one script run: TensorFlow import and a first model load included
# A server's very first run imports TensorFlow and loads the demo model in a fresh process; under
# make test the other xdist worker, its own server and the Docker build share the two cores.
FIRST_RUN_TIMEOUT_MS = 240_000
_served: set[str] = set()  # servers whose first run has finished
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 800}


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.read().decode().strip() == "ok"
    except OSError:
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server and every process it started (its own process group)."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@contextmanager
def running_streamlit(script: Path, log_path: Path, env: dict[str, str] | None = None,
                      timeout_s: float = SERVER_START_TIMEOUT_S) -> Iterator[str]:
    """``streamlit run script`` on a free localhost port until the block ends; yields its base URL.

    Headless, no file watcher; started in its own process group, which is stopped at the end.
    """
    port = free_port()
    command = [
        sys.executable, "-m", "streamlit", "run", str(script),
        "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
        "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false",
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=script.parent, stdout=log, stderr=subprocess.STDOUT,
                                   env={**os.environ, **(env or {})}, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while not _healthy(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not start; its log:\n{log_path.read_text()}")
            time.sleep(0.25)
        yield url
    finally:
        _stop(process)


@pytest.fixture(scope="session")
def streamlit_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``streamlit run app.py`` on a free port; yields its base URL, e.g. http://127.0.0.1:8765."""
    log_path = tmp_path_factory.mktemp("streamlit") / "server.log"
    env = {"KERAS_HOME": str(REPO_ROOT / "models_cache"), "TF_CPP_MIN_LOG_LEVEL": "2"}
    with running_streamlit(REPO_ROOT / "app.py", log_path, env) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium driven by Playwright (never a downloaded browser)."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser, streamlit_server: str) -> Iterator[Page]:
    """A new browser page at 1280x800 showing the app's home page, its first run finished."""
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    tab = context.new_page()
    try:
        tab.goto(streamlit_server)
        first = streamlit_server not in _served
        wait_for_app(tab, FIRST_RUN_TIMEOUT_MS if first else RUN_TIMEOUT_MS)
        _served.add(streamlit_server)
        yield tab
    finally:
        context.close()


def wait_for_app(page: Page, timeout_ms: int = RUN_TIMEOUT_MS) -> None:
    """Wait until the app's current script run has finished (Streamlit marks it on stApp)."""
    page.wait_for_selector(
        "[data-testid='stApp'][data-test-script-state='notRunning']", timeout=timeout_ms)
    # A rerun can start just after: give it a moment to begin, then wait again.
    page.wait_for_timeout(300)
    page.wait_for_selector(
        "[data-testid='stApp'][data-test-script-state='notRunning']", timeout=timeout_ms)


def open_page(page: Page, title: str) -> None:
    """Click a page in the sidebar navigation, wait for its address and for it to render.

    A click that lands while a rerun is starting can be lost on a busy machine: it is repeated once.
    """
    link = page.get_by_test_id("stSidebarNav").locator("a").filter(
        has=page.get_by_text(title, exact=True)).first
    address = link.get_attribute("href") or ""
    for attempt in range(2):
        link.click()
        try:
            page.wait_for_url(address, timeout=10_000)
            break
        except PlaywrightTimeoutError:
            if attempt:
                raise
    wait_for_app(page)


def upload_image(page: Page, path: Path) -> None:
    """Choose "Upload an image" in the sidebar and upload ``path`` through the file uploader."""
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_text("Upload an image", exact=True).click()
    wait_for_app(page)
    sidebar.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(path))
    wait_for_app(page)


def screenshot(page: Page, name: str, whole_page: bool = True) -> Path:
    """Save a screenshot to tests/artifacts/<name>.png (gitignored) and return its path.

    Streamlit scrolls inside its own container, so Playwright's ``full_page`` sees one screen only:
    with ``whole_page`` the window is made as tall as the content for the shot, then restored.
    """
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    viewport = page.viewport_size
    if whole_page and viewport is not None:
        height = page.evaluate(
            "() => Math.max(...[...document.querySelectorAll('[data-testid=stMain], "
            "[data-testid=stSidebarContent]')].map(e => e.scrollHeight), window.innerHeight)")
        page.set_viewport_size({"width": viewport["width"], "height": min(int(height) + 40, 6000)})
        page.wait_for_timeout(300)
    try:
        page.screenshot(path=str(path))
    finally:
        if whole_page and viewport is not None:
            page.set_viewport_size(viewport)
    return path


def assert_no_exception(page: Page) -> None:
    """No uncaught exception box anywhere on the page."""
    count = page.get_by_test_id("stException").count()
    assert count == 0, f"{count} exception element(s) on the page"


def set_number(area: Locator, label: str, value: int) -> None:
    """Type ``value`` into the number input labelled ``label`` and submit it."""
    field = area.get_by_label(label, exact=True)
    field.fill(str(value))
    field.press("Enter")
