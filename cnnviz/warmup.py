"""Warm-up: trace and run once, on a blank image, the compiled functions a page needs first.

TensorFlow traces a ``tf.function`` (Python runs through the whole model) and optimises its graph
on the first call; for a new (model, method) that costs seconds to tens of seconds (the demo
model's first occlusion took 44 s against 1.2 s for the next on a busy 2-core machine:
docs/benchmarks.md, "First call"; tracing the incremental-inference walker is a large part).
Doing it while the user looks at the page moves that wait off their first click:

- ``warm_up(loaded)``: the quick steps, now (the app runs them under its "Loading" spinner): the
  forward pass and Grad-CAM (Selvaraju et al., 2017), which the Predict and Heatmaps pages show first.
- ``warm_up_in_background(loaded)``: the slow steps in a daemon thread, started once per model:
  occlusion with the default patch size (Zeiler and Fergus, 2014) and the one-pixel attack's first
  generation and speed estimate (Su et al., 2019), with the Adversarial page's default budget.

Every step goes through the public entry points (``explain``, ``one_pixel_attack``), so it fills the
model's cache (``LoadedModel.cached``) with exactly the functions a click then reuses; the compiled
functions take any batch size, so the warm-up's smaller work traces the same ones. The compiled
functions are shared and run under ``loaded.lock``, so a click during a background step waits until
the step's current call ends, tracing included (up to tens of seconds on a busy 2-core machine; still
less in all than tracing on the click). ``CNNVIZ_BACKGROUND_WARMUP=0`` turns the background steps
off (the test suite does, to keep its CPU for the tests).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from cnnviz.errors import CnnvizError
from cnnviz.models import LoadedModel

#: Set to "0" to skip the background steps (the foreground ones still run).
ENVIRONMENT_SWITCH = "CNNVIZ_BACKGROUND_WARMUP"
FOREGROUND = ("logits", "gradcam")
BACKGROUND = ("occlusion", "attack")
#: The warm-up's one-pixel population: the compiled functions take any batch size, so a small
#: population traces them as well as the page's 100 or 400 (the speed estimate uses the page's).
ATTACK_POPULATION = 8

_LOG = logging.getLogger(__name__)


def _blank(loaded: LoadedModel) -> np.ndarray:
    return np.zeros((*loaded.input_size, 3), np.uint8)


def _logits(loaded: LoadedModel) -> None:
    with loaded.lock:
        loaded.logits(_blank(loaded)[None]).numpy()


def _gradcam(loaded: LoadedModel) -> None:
    from cnnviz.explanation import explain

    explain(loaded, _blank(loaded), method="gradcam")


def _occlusion(loaded: LoadedModel) -> None:
    """Occlusion with the default patch (the incremental pass is compiled per patch size) and a
    stride of one patch: a quarter of the default's positions, the same compiled functions."""
    from cnnviz.explanation import explain
    from cnnviz.methods.occlusion import DEFAULTS, patch_geometry

    patch, _ = patch_geometry(dict(DEFAULTS), loaded.input_size)
    explain(loaded, _blank(loaded), method="occlusion", stride=patch)


def _attack(loaded: LoadedModel) -> None:
    """The one-pixel attack's first generation, then the speed estimate the Adversarial page shows
    before its first click (measured once per model and batch size, kept in the model's cache)."""
    from cnnviz.attacks.budget import estimate_onepixel
    from cnnviz.attacks.onepixel import PRESETS, default_preset, one_pixel_attack

    one_pixel_attack(loaded, _blank(loaded), popsize=ATTACK_POPULATION, maxiter=0, stop_early=False, seed=0)
    estimate_onepixel(loaded, *PRESETS[default_preset(loaded.input_size)])


STEPS: dict[str, Callable[[LoadedModel], None]] = {
    "logits": _logits, "gradcam": _gradcam, "occlusion": _occlusion, "attack": _attack,
}


def warm_up(loaded: LoadedModel, steps: Sequence[str] = FOREGROUND) -> dict[str, float]:
    """Run ``steps`` (names of :data:`STEPS`) now; seconds per step. A step the model cannot do (a
    typed error, e.g. no spatial layer for Grad-CAM) is skipped: the page explains it when opened."""
    seconds = {}
    for name in steps:
        started = time.perf_counter()
        try:
            STEPS[name](loaded)
        except CnnvizError:
            continue
        seconds[name] = time.perf_counter() - started
    return seconds


@dataclass
class Background:
    """A background warm-up: its thread and the seconds of each step done so far."""

    thread: threading.Thread | None
    seconds: dict[str, float] = field(default_factory=dict)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the warm-up to end (at most ``timeout`` s); whether it has."""
        if self.thread is not None:
            self.thread.join(timeout)
        return self.thread is None or not self.thread.is_alive()


def background_enabled() -> bool:
    """Whether background warm-ups run (``CNNVIZ_BACKGROUND_WARMUP`` is not "0")."""
    return os.environ.get(ENVIRONMENT_SWITCH, "1") != "0"


def warm_up_in_background(loaded: LoadedModel, steps: Sequence[str] = BACKGROUND) -> Background:
    """Start ``steps`` in a daemon thread, once per model (later calls return the same warm-up).
    An optimisation must never break what it speeds up: a failing step is logged and skipped."""

    def start() -> Background:
        if not background_enabled():
            return Background(None)
        background = Background(None)

        def run() -> None:
            for name in steps:
                try:
                    background.seconds.update(warm_up(loaded, [name]))
                except Exception:  # noqa: BLE001  (the user's own click reports the real error)
                    _LOG.warning("cnnviz warm-up step %r failed for %s", name, loaded.name, exc_info=True)

        background.thread = threading.Thread(target=run, name=f"cnnviz-warmup-{loaded.name}", daemon=True)
        background.thread.start()
        return background

    return loaded.cached(("warmup", tuple(steps)), start)


__all__ = ["warm_up", "warm_up_in_background", "Background", "STEPS", "FOREGROUND", "BACKGROUND",
           "background_enabled", "ENVIRONMENT_SWITCH"]
