"""AppTest for the cnnviz app: ``app_test()`` gives an ``AppTest`` of ``app.py`` that runs like the server.

AppTest quirk (Streamlit 1.67, checked): each ``AppTest.run()`` resets
``PagesManager.uses_pages_directory``, which is then True because a ``pages/`` folder exists, so a
page reached with ``switch_page`` runs *alone*, without ``app.py`` (no sidebar, no shared state).
The real server sets the flag to False for good at the first ``st.navigation`` call. ``app_test()``
patches the flag the same way, so every run goes through ``app.py`` as it does in the browser.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

REPO_ROOT = Path(__file__).resolve().parents[1]
APP = REPO_ROOT / "app.py"
TIMEOUT_S = 90  # TensorFlow import and a first model load take several seconds


@contextmanager
def navigation_mode() -> Iterator[None]:
    """Make AppTest run ``app.py`` (st.navigation) on every page, as the server does."""
    original = PagesManager.__init__

    def init(self: PagesManager, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    PagesManager.__init__ = init  # type: ignore[method-assign]
    try:
        yield
    finally:
        PagesManager.__init__ = original  # type: ignore[method-assign]


def app_test(timeout: float = TIMEOUT_S) -> AppTest:
    """An AppTest of app.py (use inside ``navigation_mode()``, or the ``app`` fixture)."""
    return AppTest.from_file(str(APP), default_timeout=timeout)


def messages(at: AppTest) -> dict[str, list[str]]:
    """Texts of the error, warning, info and exception elements (for assertion messages)."""
    return {
        "error": [e.value for e in at.error],
        "warning": [e.value for e in at.warning],
        "info": [e.value for e in at.info],
        "exception": [e.value for e in at.exception],
    }


def app_on_page(path: str, sample_class: str = "star", model: str = "shapes") -> AppTest:
    """The app (run through ``app.py``; call inside ``navigation_mode()``) on the page ``path``,
    with a zoo model and a generated sample of ``sample_class`` chosen in the sidebar."""
    from ui import state

    at = app_test()
    at.run()
    at.selectbox(key=state.MODEL_NAME_KEY).set_value(model)
    at.run()
    at.switch_page(path).run()
    at.selectbox(key="cnnviz.sample_class").set_value(sample_class)
    at.run()
    assert not at.exception, messages(at)
    return at
