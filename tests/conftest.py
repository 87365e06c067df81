"""Shared test set-up: point Keras at the repo's model cache and keep TensorFlow quiet."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("KERAS_HOME", str(REPO_ROOT / "models_cache"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# No background warm-ups of loaded models (cnnviz.warmup): their CPU belongs to the tests.
os.environ.setdefault("CNNVIZ_BACKGROUND_WARMUP", "0")

# `make docker-check` starts in the background once its test is collected (tests/docker_check_helpers.py).
import pytest  # noqa: E402
from docker_check_helpers import (  # noqa: E402,F401
    pytest_unconfigure,
    pytest_xdist_node_collection_finished,
    start_with_collection,
)

# The longest files (a real browser on a real server, minutes each) go first, so that under
# pytest-xdist (make test: --dist loadfile --no-loadscope-reorder) two workers never wait on one
# of them at the end; test_docker.py goes last (it waits for the background image build).
SLOW_FIRST = ("test_browser", "test_train_page", "test_page_")


@pytest.hookimpl(trylast=True)  # after -k / -m deselection: start only for a selected test
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def slow(item: pytest.Item) -> bool:
        return item.path.name.startswith(SLOW_FIRST)

    items.sort(key=lambda item: not slow(item))  # stable: the order within each part stays
    start_with_collection(config, items)
# Tests written for float32 values keep float32; tests/test_precision.py asks for "auto" and "bfloat16".
os.environ.setdefault("CNNVIZ_PRECISION", "float32")
