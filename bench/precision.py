"""Benchmark of precision "auto" (cnnviz.precision): each batched method in auto against float32,
alternately in one process, with the decision auto made, its first-call cost and the map agreement.

    python bench/precision.py [--models VGG16 ResNet50 MobileNetV2 shapes] [--rounds 2] [--methods ...]
                              [--patch-size 16 --stride 8] [--skip-full] [--against bfloat16]

Zoo models use random weights (seeded; speed does not depend on them, but the agreement check
does). Per method: a warm-up call in each precision (compiling, and auto's one-time calibration,
timed as "first auto call"), then ``rounds`` alternating timed calls; medians. Occlusion is also
timed in float32 with incremental inference off (plain batched passes), the baseline of issue 15.
Settings (kept small for a shared 2-core machine): occlusion 32x32 patches stride 32 (49 positions
at 224; issue 15's target setting is --patch-size 16 --stride 8, 729 positions), Score-CAM top_k=64,
SmoothGrad 16 samples, Integrated Gradients 16 steps.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from cnnviz.demo.shapes import generate_sample  # noqa: E402
from cnnviz.explanation import explain  # noqa: E402
from cnnviz.methods import occlusion as occlusion_method  # noqa: E402
from cnnviz.methods.core import Request  # noqa: E402
from cnnviz.models import load_model  # noqa: E402
from cnnviz.prediction import model_input  # noqa: E402

METHODS = {"occlusion": {"patch_size": 32, "stride": 32}, "scorecam": {"top_k": 64},
           "smoothgrad": {"samples": 16}, "integrated_gradients": {"steps": 16}}


AGAINST = "auto"  # the precision timed against float32 (--against)


def timed(function) -> tuple[float, object]:
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def occlusion_full_float32(loaded, image, params) -> None:
    request = Request(loaded, image[None], np.array([-1], np.int32), None,
                      {**occlusion_method.DEFAULTS, **params, "incremental": "off"})
    occlusion_method.occlusion(request)


def bench_model(name: str, rounds: int, methods: list[str], full_passes: bool = True) -> list[dict]:
    keras.utils.set_random_seed(0)  # the docstring's "seeded": load_model draws fresh weights otherwise
    loaded = load_model(name, weights=None)
    image = model_input(loaded, generate_sample(11, size=max(loaded.input_size)).image, "crop")
    rows = []
    for method in methods:
        params = METHODS[method]
        first_float32, reference = timed(lambda: explain(loaded, image, method, precision="float32", **params))
        first_auto, auto = timed(lambda: explain(loaded, image, method, precision=AGAINST, **params))
        times: dict[str, list[float]] = {"float32": [], "auto": [], "full": []}
        for _ in range(rounds):
            times["float32"].append(timed(lambda: explain(loaded, image, method, precision="float32", **params))[0])
            times["auto"].append(timed(lambda: explain(loaded, image, method, precision=AGAINST, **params))[0])
            if method == "occlusion" and full_passes:
                if not times["full"]:
                    occlusion_full_float32(loaded, image, params)  # warm-up
                times["full"].append(timed(lambda: occlusion_full_float32(loaded, image, params))[0])
        float32_s, auto_s = statistics.median(times["float32"]), statistics.median(times["auto"])
        r = float(np.corrcoef(auto.heatmap.ravel(), reference.heatmap.ravel())[0, 1])
        row = {"model": name, "method": method, "float32_s": float32_s, "auto_s": auto_s,
               "speedup": float32_s / auto_s, "first_float32_s": first_float32, "first_auto_s": first_auto,
               "r": r, "decision": auto.precision, "times": times, "load": os.getloadavg()[0]}
        if times["full"]:
            row["full_float32_s"] = statistics.median(times["full"])
            row["speedup_vs_full"] = row["full_float32_s"] / auto_s
        rows.append(row)
        print(row, flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["VGG16", "ResNet50", "MobileNetV2", "shapes"])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--against", default="auto", choices=["auto", "bfloat16"],
                        help="the precision timed against float32 (its column is still called auto)")
    parser.add_argument("--skip-full", action="store_true", help="skip occlusion's float32 full passes")
    parser.add_argument("--patch-size", type=int, help="occlusion's patch side (default 32; issue 15: 16)")
    parser.add_argument("--stride", type=int, help="occlusion's stride (default 32; issue 15: 8)")
    args = parser.parse_args()
    global AGAINST
    AGAINST = args.against
    for key, value in (("patch_size", args.patch_size), ("stride", args.stride)):
        if value:
            METHODS["occlusion"][key] = value
    print(f"load average at start: {os.getloadavg()[0]:.1f}", flush=True)
    rows = [row for name in args.models
            for row in bench_model(name, args.rounds, args.methods, not args.skip_full)]
    print(f"load average at end: {os.getloadavg()[0]:.1f}")
    print("| model | method | float32, s | auto, s | **auto speed-up** | vs float32 full passes | "
          "auto chose (measured) | first auto call, s | map r |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        decision = row["decision"]
        full = f"{row['speedup_vs_full']:.1f}x" if "speedup_vs_full" in row else "-"
        print(f"| {row['model']} | {row['method']} | {row['float32_s']:.2f} | {row['auto_s']:.2f} | "
              f"**{row['speedup']:.2f}x** | {full} | {decision['policy']} ({decision['reason']}) | "
              f"{row['first_auto_s']:.1f} | {row['r']:.4f} |")


if __name__ == "__main__":
    main()
