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
from docker_check_helpers import (  # noqa: E402,F401
    pytest_collection_modifyitems,
    pytest_unconfigure,
    pytest_xdist_node_collection_finished,
)
# Tests written for float32 values keep float32; tests/test_precision.py asks for "auto" and "bfloat16".
os.environ.setdefault("CNNVIZ_PRECISION", "float32")
