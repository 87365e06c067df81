"""First-call latency: what an app user waits for on the first click of a new (model, method)
(never part of CI).

    python bench/first_call.py [--models shapes MobileNetV2 ResNet50] [--repeats 3] [--skip-xla]

Each measurement runs in a fresh subprocess (nothing traced yet) on a random image, in the order a
user meets them: load the model (with the app's warm-up under its spinner: forward pass and Grad-CAM),
then first Grad-CAM, first occlusion (default settings), the Adversarial page's speed estimate and
the one-pixel attack's first generation (the page's default population, ``maxiter=0``), then the
same again on another image ("warm", in ``before`` only: the work itself, nothing left to trace). Modes:

- ``before``: no background warm-up (the app before cnnviz.warmup);
- ``after``: cnnviz.warmup's background warm-up starts at load; the clicks come once it is done
  (a user who looks at the page first), its own seconds reported as "background";
- ``after-now``: the same, but the clicks come at once (the worst case: they share the CPU with it).

Also, in fresh processes: the first call of the compiled occlusion pass at a new batch size against
a padded call of the usual size (what padding the last batch would trade), and the forward pass
compiled by XLA (``jit_compile=True``) with and without its persistent cache in a folder under
models_cache, against the ordinary compiled pass. Medians over ``--repeats`` runs. Zoo models use
random weights (speed does not depend on them).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
XLA_CACHE = REPO_ROOT / "models_cache" / "xla_cache"
CLICKS = ("gradcam", "occlusion", "attack page", "attack generation")
MODES = ("before", "after", "after-now")


def _timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def _clicks(loaded, image: np.ndarray) -> dict[str, float]:
    from cnnviz.attacks.budget import estimate_onepixel
    from cnnviz.attacks.onepixel import PRESETS, default_preset, one_pixel_attack
    from cnnviz.explanation import explain

    popsize, maxiter = PRESETS[default_preset(loaded.input_size)]
    return {
        "gradcam": _timed(lambda: explain(loaded, image, method="gradcam")),
        "occlusion": _timed(lambda: explain(loaded, image, method="occlusion")),
        "attack page": _timed(lambda: estimate_onepixel(loaded, popsize, maxiter)),
        "attack generation": _timed(lambda: one_pixel_attack(loaded, image, popsize=popsize, maxiter=0,
                                                             stop_early=False, seed=0)),
    }


def _load(name: str):
    import keras

    from cnnviz.models import load_model

    keras.utils.set_random_seed(0)
    return load_model(name, weights=None)


def child_clicks(name: str, mode: str) -> dict[str, object]:
    started = time.perf_counter()
    import cnnviz.warmup

    imported = time.perf_counter() - started
    started = time.perf_counter()
    loaded = _load(name)
    cnnviz.warmup.warm_up(loaded)  # the app's "Loading the model" spinner
    background = cnnviz.warmup.warm_up_in_background(loaded) if mode != "before" else None
    load = time.perf_counter() - started
    waited = 0.0
    if mode == "after":
        waited = _timed(background.wait)
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (*loaded.input_size, 3), dtype=np.uint8) for _ in range(2)]
    first = _clicks(loaded, images[0])
    if background is not None:
        background.wait()
    warm = _clicks(loaded, images[1]) if mode == "before" else {}
    return {"import": imported, "load": load, "background": waited, "first": first, "warm": warm,
            "background steps": background.seconds if background else {}}


def child_padding(name: str) -> dict[str, float]:
    """The compiled full occlusion pass: batch 32, then the default occlusion's last batch size for
    the first time, again, and padded to 32 (its tracing count stays 1: it never retraces)."""
    import tensorflow as tf

    from cnnviz.methods.occlusion import DEFAULTS, _build_occluded_logits, patch_geometry, positions

    loaded = _load(name)
    height, width = loaded.input_size
    patch, stride = patch_geometry(dict(DEFAULTS), loaded.input_size)
    count = 1 + len(positions(height, patch, stride)) * len(positions(width, patch, stride))
    batch = DEFAULTS["batch_size"]
    last = count % batch or batch
    function = _build_occluded_logits(loaded)
    image = tf.constant(np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8))
    fill = tf.fill((height, width, 3), tf.constant(128, tf.uint8))

    def call(size: int) -> float:
        corners = tf.constant(np.zeros((size, 2), np.int32))
        return _timed(lambda: function(image, fill, corners, tf.constant(patch)).numpy())

    result = {"first batch (traces)": call(batch), "batch again": call(batch),
              f"last batch {last}, first time": call(last), f"last batch {last}, again": call(last),
              f"padded to {batch}": call(batch)}
    result["tracing count"] = float(function.experimental_get_tracing_count())
    return result


def child_xla(name: str, jit: bool) -> dict[str, float]:
    """The forward pass on a batch of 32, compiled by XLA or not: first call (trace, compile) and
    the next ones. TF_XLA_FLAGS (set by the parent) points XLA at its persistent cache or not."""
    import tensorflow as tf

    loaded = _load(name)
    pixels = tf.constant(np.random.default_rng(0).integers(0, 256, (32, *loaded.input_size, 3),
                                                           dtype=np.uint8))

    @tf.function(jit_compile=jit)
    def forward(batch: tf.Tensor) -> tf.Tensor:
        return loaded.model(loaded.preprocess(tf.cast(batch, tf.float32)), training=False)

    first = _timed(lambda: forward(pixels).numpy())
    after = float(np.median([_timed(lambda: forward(pixels).numpy()) for _ in range(3)]))
    return {"first call": first, "next calls": after}


def _run_child(arguments: list[str], env: dict[str, str] | None = None) -> dict:
    command = [sys.executable, __file__, "--child", *arguments]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=3600, cwd=REPO_ROOT,
                               env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})})
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(arguments)} failed:\n{completed.stderr[-3000:]}")
    line = completed.stdout.strip().splitlines()[-1]
    print(" ".join(arguments), line, file=sys.stderr, flush=True)  # each run as it ends: partial runs count
    return json.loads(line)


def _median(runs: list[dict], *keys: str) -> float:
    values = []
    for run in runs:
        value = run
        for key in keys:
            value = value[key]
        values.append(value)
    return float(np.median(values))


def report_clicks(name: str, repeats: int) -> None:
    runs = {mode: [] for mode in MODES}
    for _ in range(repeats):  # interleaved, so that load on the machine hits every mode alike
        for mode in MODES:
            runs[mode].append(_run_child([name, mode]))
    print(f"\n### {name}: first-call seconds, median of {repeats} fresh processes")
    print("| step | before | after | after, clicked at once | warm (2nd image) |")
    print("|---|---|---|---|---|")
    print(f"| import cnnviz + TensorFlow | {_median(runs['before'], 'import'):.1f} | "
          f"{_median(runs['after'], 'import'):.1f} | {_median(runs['after-now'], 'import'):.1f} | |")
    print(f"| load (spinner: model, forward pass, Grad-CAM) | {_median(runs['before'], 'load'):.1f} | "
          f"{_median(runs['after'], 'load'):.1f} | {_median(runs['after-now'], 'load'):.1f} | |")
    print(f"| background warm-up (user reads the page) | | {_median(runs['after'], 'background'):.1f} | | |")
    for click in CLICKS:
        print(f"| first {click} | {_median(runs['before'], 'first', click):.2f} | "
              f"{_median(runs['after'], 'first', click):.2f} | {_median(runs['after-now'], 'first', click):.2f} | "
              f"{_median(runs['before'], 'warm', click):.2f} |")
    totals = {mode: float(np.median([sum(r["first"].values()) for r in runs[mode]])) for mode in MODES}
    print(f"| **all four clicks** | **{totals['before']:.1f}** | **{totals['after']:.1f}** | "
          f"**{totals['after-now']:.1f}** | {float(np.median([sum(r['warm'].values()) for r in runs['before']])):.1f} |")


def report_padding(name: str, repeats: int) -> None:
    runs = [_run_child([name, "padding"]) for _ in range(repeats)]
    print(f"\n{name}, compiled occlusion pass (seconds, median of {repeats}): "
          + ", ".join(f"{key} {_median(runs, key):.3f}" for key in runs[0]))


def report_xla(name: str, repeats: int) -> None:
    flags = f"--tf_xla_persistent_cache_directory={XLA_CACHE}"
    rows = {"ordinary (no XLA)": [], "XLA, no cache": [], "XLA, cold cache": [], "XLA, warm cache": []}
    for _ in range(repeats):
        shutil.rmtree(XLA_CACHE, ignore_errors=True)
        rows["ordinary (no XLA)"].append(_run_child([name, "xla", "0"]))
        rows["XLA, no cache"].append(_run_child([name, "xla", "1"], {"TF_XLA_FLAGS": ""}))
        rows["XLA, cold cache"].append(_run_child([name, "xla", "1"], {"TF_XLA_FLAGS": flags}))
        rows["XLA, warm cache"].append(_run_child([name, "xla", "1"], {"TF_XLA_FLAGS": flags}))
    cached = sum(1 for _ in XLA_CACHE.rglob("*") if _.is_file()) if XLA_CACHE.is_dir() else 0
    shutil.rmtree(XLA_CACHE, ignore_errors=True)
    print(f"\n{name}, forward pass of 32 images (seconds, median of {repeats}; {cached} cache files):")
    for label, runs in rows.items():
        print(f"  {label}: first call {_median(runs, 'first call'):.2f}, next calls {_median(runs, 'next calls'):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["shapes", "MobileNetV2", "ResNet50"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-xla", action="store_true")
    parser.add_argument("--only", choices=["clicks", "padding", "xla"], nargs="+",
                        default=["clicks", "padding", "xla"])
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        sys.path.insert(0, str(REPO_ROOT))
        name, kind, *rest = arguments.child
        result = (child_padding(name) if kind == "padding" else child_xla(name, rest[0] == "1")
                  if kind == "xla" else child_clicks(name, kind))
        print(json.dumps(result))
        return
    for name in arguments.models:
        if "clicks" in arguments.only:
            report_clicks(name, arguments.repeats)
        if "padding" in arguments.only:
            report_padding(name, arguments.repeats)
        if "xla" in arguments.only and not arguments.skip_xla:
            report_xla(name, arguments.repeats)


if __name__ == "__main__":
    main()
