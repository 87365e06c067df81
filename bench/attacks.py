"""Benchmarks of the adversarial attacks (never part of CI): speed and quality.

    python bench/attacks.py                 # all three below, with their defaults (make bench)
    python bench/attacks.py speed   [--model shapes] [--popsize 400] [--maxiter 10] [--rounds 3]
    python bench/attacks.py quality [--images 100] [--pixels 1 3 5] [--preset paper]
    python bench/attacks.py gradient [--images 100] [--epsilon 1 2 4 8]

speed: queries per second of the one-pixel attack (every generation run, no early stop) against
the throughput of the same compiled forward pass on uint8 batches of the same size, measured
alternately in one process; the ratio must be at least 0.9 (attack overhead <= 10%).
quality: untargeted one-pixel attacks on correctly classified generated test images
(cnnviz.demo.shapes.TEST_SEED, never used in training): success rate and mean confidence of the
adversarial class. Results are appended to bench/results/attacks_quality.jsonl, and a rerun skips
the attacks already done, so a long run can be split.
gradient: untargeted FGSM and PGD success rates at each epsilon (pixel units) on the same images.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from cnnviz.attacks import attack  # noqa: E402
from cnnviz.attacks.onepixel import default_batch_size  # noqa: E402
from cnnviz.demo.model import DEMO_WEIGHTS_PATH  # noqa: E402
from cnnviz.models import load_model  # noqa: E402
from cnnviz.demo.shapes import TEST_SEED, generate_dataset  # noqa: E402

RESULTS = REPO_ROOT / "bench" / "results" / "attacks_quality.jsonl"
#: Test images are drawn from this many samples of TEST_SEED, correctly classified ones kept.
CANDIDATE_IMAGES = 400


def forward_throughput(loaded_model, batch_size: int, seconds: float = 2.0) -> float:
    """Images per second of loaded_model.logits on one random uint8 batch, repeated."""
    batch = np.random.default_rng(0).integers(0, 256, (batch_size, *loaded_model.input_size, 3),
                                              dtype=np.uint8)
    loaded_model.logits(batch).numpy()  # warm-up (trace)
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        loaded_model.logits(batch).numpy()
        done += batch_size
    return done / (time.perf_counter() - started)


def speed(args: argparse.Namespace) -> None:
    weights = None if args.model != "shapes" else "imagenet"
    loaded = load_model(args.model, weights=weights)
    image = test_images(loaded, 1)[0][0] if args.model == "shapes" else \
        np.random.default_rng(0).integers(0, 256, (*loaded.input_size, 3), dtype=np.uint8)
    batch = args.batch_size or default_batch_size(loaded.input_size, args.popsize)
    print(f"{loaded.name} {loaded.input_size}: population {args.popsize}, {args.maxiter} "
          f"generations, batch {batch}, {args.pixels} pixel(s), no early stop")
    attack(loaded, image, "onepixel", popsize=args.popsize, maxiter=1, batch_size=batch,
           stop_early=False, seed=0)  # warm-up
    forward, attacked = [], []
    for round_ in range(args.rounds):
        forward.append(forward_throughput(loaded, batch))
        result = attack(loaded, image, "onepixel", pixels=args.pixels, popsize=args.popsize,
                        maxiter=args.maxiter, batch_size=batch, stop_early=False, seed=round_)
        attacked.append(result.queries / result.seconds)
        print(f"  round {round_ + 1}: forward {forward[-1]:8.1f} img/s, attack "
              f"{attacked[-1]:8.1f} queries/s, ratio {attacked[-1] / forward[-1]:.3f}")
    # Other processes only ever slow a run down, so the fastest round of each is the least disturbed.
    best = max(attacked) / max(forward)
    median = statistics.median(a / f for a, f in zip(attacked, forward))
    print(f"attack / forward: best rounds {best:.3f}, median of rounds {median:.3f} (required >= 0.9); "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")


def test_images(loaded_model, count: int) -> list[tuple[np.ndarray, int, int]]:
    """(image, label, index) of the first ``count`` correctly classified TEST_SEED samples."""
    images, labels, _ = generate_dataset(CANDIDATE_IMAGES, TEST_SEED)
    predicted = np.argmax(loaded_model.probabilities(images), axis=1)
    keep = np.flatnonzero(predicted == labels)[:count]
    if len(keep) < count:
        raise SystemExit(f"only {len(keep)} of {CANDIDATE_IMAGES} test images are classified correctly")
    return [(images[i], int(labels[i]), int(i)) for i in keep]


def weights_id() -> str:
    """The demo weights' sha256 (first 12 digits): results of other weights are never mixed in."""
    return hashlib.sha256(DEMO_WEIGHTS_PATH.read_bytes()).hexdigest()[:12]


def _done() -> dict[tuple, dict]:
    if not RESULTS.is_file():
        return {}
    rows = [json.loads(line) for line in RESULTS.read_text().splitlines() if line.strip()]
    current = weights_id()
    return {(r["method"], r["setting"], r["preset"], r["index"]): r for r in rows
            if r.get("weights") == current}


def quality(args: argparse.Namespace) -> None:
    loaded = load_model("shapes")
    images = test_images(loaded, args.images)
    done = _done()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + args.max_minutes * 60 if args.max_minutes else None
    with RESULTS.open("a") as log:
        for pixels in args.pixels:
            for image, label, index in images:
                key = ("onepixel", pixels, args.preset, index)
                if key in done:
                    continue
                if deadline and time.monotonic() > deadline:
                    print("time limit reached; rerun to continue")
                    return report(args, len(images))
                result = attack(loaded, image, "onepixel", pixels=pixels, preset=args.preset,
                                true_class=label, seed=index)
                row = {"method": "onepixel", "setting": pixels, "preset": args.preset,
                       "weights": weights_id(), "index": index, "label": label, "success": result.success,
                       "adversarial_class": result.adversarial_class,
                       "confidence": result.confidence, "queries": result.queries,
                       "generations": result.params["generations"], "seconds": result.seconds}
                done[key] = row
                log.write(json.dumps(row) + "\n")
                log.flush()
                print(f"{pixels} px image {index:3d} ({loaded.class_names[label]:>8}): "
                      f"{'fooled' if result.success else 'held  '} {result.queries:6d} queries "
                      f"{result.seconds:6.1f} s", flush=True)
    report(args, len(images))


def gradient(args: argparse.Namespace) -> None:
    loaded = load_model("shapes")
    images = test_images(loaded, args.images)
    for method in ("fgsm", "pgd"):
        for epsilon in args.epsilon:
            settings = {"seed": 0} if method == "pgd" else {}
            results = [attack(loaded, image, method, epsilon=epsilon, true_class=label, **settings)
                       for image, label, _ in images]
            success = [r.success for r in results]
            confidence = [r.confidence for r in results if r.success]
            steps = results[0].params["steps"]
            print(f"{method.upper():4} epsilon {epsilon:g}/255, {steps:2d} step(s): success "
                  f"{100 * np.mean(success):5.1f}% of {len(results)}, mean confidence "
                  f"{100 * np.mean(confidence) if confidence else float('nan'):5.1f}%, largest "
                  f"change {max(r.linf for r in results):g}, mean time "
                  f"{1000 * np.mean([r.seconds for r in results]):.0f} ms", flush=True)


def report(args: argparse.Namespace, count: int) -> None:
    """Success rate and mean confidence per pixel count, from the results file."""
    rows = list(_done().values())
    print(f"demo weights {weights_id()}; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    for pixels in args.pixels:
        mine = [r for r in rows if r["setting"] == pixels and r["preset"] == args.preset]
        if not mine:
            continue
        wins = [r for r in mine if r["success"]]
        confidence = 100 * np.mean([r["confidence"] for r in wins]) if wins else float("nan")
        print(f"{pixels} pixel(s), {args.preset}: {len(mine)}/{count} images attacked, success "
              f"{100 * len(wins) / len(mine):.1f}%, mean confidence {confidence:.1f}%, "
              f"mean queries {np.mean([r['queries'] for r in mine]):.0f}, "
              f"mean time {np.mean([r['seconds'] for r in mine]):.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command")
    p = commands.add_parser("speed")
    p.add_argument("--model", default="shapes")
    p.add_argument("--popsize", type=int, default=400)
    p.add_argument("--maxiter", type=int, default=10)
    p.add_argument("--pixels", type=int, default=1)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--rounds", type=int, default=3)
    p.set_defaults(func=speed)
    p = commands.add_parser("quality")
    p.add_argument("--images", type=int, default=100)
    p.add_argument("--pixels", type=int, nargs="+", default=[1, 3, 5])
    p.add_argument("--preset", default="paper")
    p.add_argument("--max-minutes", type=float, help="stop after this long (rerun to resume)")
    p.set_defaults(func=quality)
    p = commands.add_parser("report")
    p.add_argument("--images", type=int, default=100)
    p.add_argument("--pixels", type=int, nargs="+", default=[1, 3, 5])
    p.add_argument("--preset", default="paper")
    p.set_defaults(func=lambda a: report(a, a.images))
    p = commands.add_parser("gradient")
    p.add_argument("--images", type=int, default=100)
    p.add_argument("--epsilon", type=float, nargs="+", default=[1, 2, 4, 8])
    p.set_defaults(func=gradient)
    args = parser.parse_args()
    if args.command is None:  # everything, with the defaults
        for command in ("speed", "gradient", "quality"):
            print(f"== {command}", flush=True)
            sub = parser.parse_args([command])
            sub.func(sub)
        return
    args.func(args)


if __name__ == "__main__":
    main()
