"""Training jobs: run in a background worker thread, one at a time per server, in a queue.

The page script never trains: it submits a :class:`TrainingJob` to the server-wide
:class:`JobQueue` (one ``st.cache_resource`` object shared by every session) and polls the job from
an ``st.fragment(run_every=...)``. The worker thread has no Streamlit script context and calls no
``st.*`` function: it writes progress into the job under the job's lock (the documented pattern for
long jobs). One job at a time keeps a class of students from exhausting the server's memory; the
others wait and see their place in the queue. Stop sets an event that the job's progress callback
reads after every batch, so training ends within one batch, keeping the best epoch so far.
"""

from __future__ import annotations

import itertools
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cnnviz.errors import CnnvizError

QUEUED, RUNNING, DONE, STOPPED, FAILED = "queued", "running", "done", "stopped", "failed"
_NUMBERS = itertools.count(1)


@dataclass(eq=False)
class TrainingJob:
    """One training run of a session: its settings, live progress and, at the end, its result."""

    label: str  # "run 3: shapes head"
    settings: dict[str, Any]  # what the comparison table shows
    work: Callable[[Callable[[int, int, Mapping[str, Any]], bool | None]], Any]  # work(progress) -> result
    dataset: Any = None  # the cnnviz.datasets.Dataset it trains on (the results show its images)
    number: int = field(default_factory=lambda: next(_NUMBERS))
    status: str = QUEUED
    done: int = 0
    total: int = 0
    info: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    result: Any = None
    error: str | None = None
    started: float | None = None
    finished: float | None = None
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def progress(self, done: int, total: int, info: Mapping[str, Any]) -> bool | None:
        """The cnnviz progress callback the worker passes to train(): records, and says stop."""
        with self._lock:
            self.done, self.total, self.info = done, total, dict(info)
            if "val_loss" in info:
                self.history.append(dict(info))
        return False if self._stop.is_set() else None

    def stop(self) -> None:
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def snapshot(self) -> dict[str, Any]:
        """A consistent copy of the live fields, for the page to draw."""
        with self._lock:
            return {"status": self.status, "done": self.done, "total": self.total, "info": dict(self.info),
                    "history": [dict(row) for row in self.history], "error": self.error}

    @property
    def finished_ok(self) -> bool:
        return self.status in (DONE, STOPPED) and self.result is not None


class JobQueue:
    """First come, first served: one worker thread runs the jobs of every session, one at a time."""

    def __init__(self) -> None:
        self._waiting: deque[TrainingJob] = deque()
        self._running: TrainingJob | None = None
        self._condition = threading.Condition()
        self._worker = threading.Thread(target=self._serve, name="cnnviz-training", daemon=True)
        self._worker.start()

    def submit(self, job: TrainingJob) -> None:
        with self._condition:
            self._waiting.append(job)
            self._condition.notify()

    def place(self, job: TrainingJob) -> int | None:
        """0 while it runs, 1 for the next in line, ...; None once it has finished."""
        with self._condition:
            if job is self._running:
                return 0
            for position, waiting in enumerate(self._waiting, start=1):
                if waiting is job:
                    return position
            return None

    def cancel(self, job: TrainingJob) -> None:
        """Stop a running job within one batch; take a waiting one out of the queue."""
        job.stop()
        with self._condition:
            if job in self._waiting:
                self._waiting.remove(job)
                job.status, job.finished = STOPPED, time.time()

    def _serve(self) -> None:
        while True:
            with self._condition:
                while not self._waiting:
                    self._condition.wait()
                job = self._running = self._waiting.popleft()
            try:
                _run(job)
            finally:
                with self._condition:
                    self._running = None


def _run(job: TrainingJob) -> None:
    job.status, job.started = RUNNING, time.time()
    try:
        result = job.work(job.progress)
    except CnnvizError as error:  # bad input, or stopped before any model existed
        job.error, job.status = str(error), STOPPED if job.stop_requested else FAILED
    except Exception as error:  # noqa: BLE001  (a bug: keep the worker alive, show a short message)
        job.error, job.status = f"Training failed unexpectedly ({type(error).__name__}).", FAILED
        traceback.print_exc()
    else:
        job.result = result
        job.status = STOPPED if getattr(result, "cancelled", False) else DONE
    finally:
        job.finished = time.time()
