"""``make docker-check`` in the background of the test session, so the image builds while other tests run.

Hooks (imported into tests/conftest.py): once collection is done, if the image test was collected
and the check can run here (root or passwordless sudo; not disabled with CNNVIZ_SKIP_DOCKER_CHECK=1),
``make docker-check`` starts in its own process group. The test then only waits for it and reads
its report (deploy/docker_check.py); test_docker.py is moved to the end of the session, so it waits
only for what the other tests left of the build. The check is stopped if the session ends first.

With pytest-xdist (``make test`` runs two workers) the controller starts the check once, when the
first worker reports its collection, and writes STATE; the worker that runs the test waits for the
exit code file the background shell writes (EXIT), since only the controller holds the process.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
FOLDER = REPO_ROOT / "tests" / "artifacts" / "docker-check"
REPORT = FOLDER / "report.json"
LOG = FOLDER / "make.log"
STATE = FOLDER / "session.json"  # {"skip_reason": str, "started": epoch seconds}
EXIT = FOLDER / "exit-code"
TEST_FILE = "test_docker.py"
TEST_NAME = f"{TEST_FILE}::test_image_builds_and_runs_as_a_container"
SKIPPED = 77  # deploy/docker_check.py: the tools cannot be had here
# Cold (no base image, no pip layer cached): about 4 minutes on 2 busy cores; warm: about 1.
WAIT_TIMEOUT_S = 1500
POLL_S = 2.0


@dataclass
class Background:
    process: subprocess.Popen[bytes] | None  # None: not started, see skip_reason
    skip_reason: str = ""
    started: float = 0.0


_check: Background | None = None


def _skip_reason() -> str:
    if os.environ.get("CNNVIZ_SKIP_DOCKER_CHECK") == "1":
        return "CNNVIZ_SKIP_DOCKER_CHECK=1 is set"
    if shutil.which("make") is None:
        return "make is missing"
    if os.geteuid() != 0 and subprocess.run(["sudo", "-n", "true"], capture_output=True,
                                            check=False).returncode != 0:
        return "make docker-check needs root or passwordless sudo (chroot, mounts, Podman's storage)"
    return ""


def start() -> Background:
    """Start ``make docker-check`` (without its venv and chromium prerequisites: this session has them)."""
    for stale in (REPORT, EXIT, STATE):
        stale.unlink(missing_ok=True)
    FOLDER.mkdir(parents=True, exist_ok=True)
    reason = _skip_reason()
    started = time.time()
    STATE.write_text(json.dumps({"skip_reason": reason, "started": started}))
    if reason:
        return Background(None, reason)
    make = "make --no-print-directory -o setup-dev -o chromium docker-check"
    shell = f"{make}; echo $? > {shlex.quote(str(EXIT))}"
    with LOG.open("wb") as log:
        process = subprocess.Popen(["sh", "-c", shell], cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    return Background(process, started=time.monotonic())


def _is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def start_with_collection(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Move test_docker.py to the end (it waits only for what the others left); start the check
    here unless an xdist controller does it. Called from tests/conftest.py's collection hook."""
    global _check
    ours = [item for item in items if item.nodeid.endswith(TEST_NAME)]
    if not ours or config.option.collectonly:
        return
    last = [item for item in items if item.nodeid.split("::")[0].endswith(TEST_FILE)]
    items[:] = [item for item in items if item not in last] + last
    if _check is None and not _is_xdist_worker(config):
        _check = start()


@pytest.hookimpl(optionalhook=True)  # only with pytest-xdist
def pytest_xdist_node_collection_finished(node: object, ids: list[str]) -> None:
    """xdist controller: start the check once, as soon as a worker has collected its test."""
    global _check
    if _check is None and any(nodeid.endswith(TEST_NAME) for nodeid in ids):
        _check = start()


def pytest_unconfigure() -> None:
    """Stop a check still running when the session ends (it removes its container on SIGTERM)."""
    if _check is not None and _check.process is not None and _check.process.poll() is None:
        os.killpg(_check.process.pid, signal.SIGTERM)
        try:
            _check.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(_check.process.pid, signal.SIGKILL)


def _wait_for_exit_code() -> int:
    """Worker side: the check's exit code, once the background shell has written it."""
    if not STATE.exists():
        pytest.skip("the docker check was not started (run this test through pytest's collection)")
    state = json.loads(STATE.read_text())
    if state["skip_reason"]:
        pytest.skip(state["skip_reason"])
    while not EXIT.exists():
        if time.time() - state["started"] > WAIT_TIMEOUT_S:
            pytest.fail(f"make docker-check still running after {WAIT_TIMEOUT_S} s; see {LOG}")
        time.sleep(POLL_S)
    return int(EXIT.read_text().strip() or "1")


def _wait_for_process() -> int:
    if _check is None:
        pytest.skip("the docker check was not started (run this test through pytest's collection)")
    if _check.process is None:
        pytest.skip(_check.skip_reason)
    try:
        left = WAIT_TIMEOUT_S - (time.monotonic() - _check.started)
        return _check.process.wait(timeout=max(1.0, left))
    except subprocess.TimeoutExpired:
        pytest.fail(f"make docker-check still running after {WAIT_TIMEOUT_S} s; see {LOG}")


def result() -> dict:
    """Wait for the background check; its report (skips the test when the tools cannot be had)."""
    returncode = _wait_for_process() if _check is not None else _wait_for_exit_code()
    output = LOG.read_text(errors="replace") if LOG.exists() else ""
    report = json.loads(REPORT.read_text()) if REPORT.exists() else {"status": "no report"}
    if returncode == SKIPPED and report["status"] == "skipped":
        pytest.skip(f"make docker-check: {report['reason']}")
    assert returncode == 0 and report["status"] == "passed", f"make docker-check failed:\n{output[-6000:]}"
    return report
