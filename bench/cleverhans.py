"""Clever Hans story over classes x cues x seeds: a cue planted on every image of a class of generated
shapes, the lab's recipe (cnnviz.audit.lab.train_from_scratch: cnnviz.training.train, strategy
"scratch") trained on the clean and on the cued images, both scored on the three test versions with
their heatmaps' mass on the cue, then the SpRAy audit of the class on a version where 30 % of it
carries the cue.

Run: ``.venv/bin/python bench/cleverhans.py [--classes circle,arrow] [--cues tag,patch] [--seeds 0,1]
[--per-class 120] [--size 40] [--epochs 10] [--timing]``. Prints Markdown tables (paste into
docs/benchmarks.md). The audit is scored two ways: the one cluster holding most cued images (the
tests' and the issue's measure: purity and recall of that cluster), and the union of the clusters
that are at least 90 % cued. ``--timing``: the audit per image against one compiled forward pass per
image of the same model, interleaved. Nothing here gates the tests (the test-size story is
tests/test_clever_hans.py).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402

from bench.timing import interleaved_medians  # noqa: E402
from cnnviz.audit import audit, filter_statistics, purity_and_recall  # noqa: E402
from cnnviz.audit.lab import compare, train_from_scratch  # noqa: E402
from cnnviz.datasets import generated, open_dataset  # noqa: E402
from cnnviz.datasets.cues import DEFAULT_STRENGTH, Cue, Shortcut  # noqa: E402

AUDIT_FRACTION = 0.3
AUDIT_SEED = 1  # which 30 % of the class carry the cue in the audit
PURE = 0.9  # a cluster at least this cued counts as cue-dominated


def cue_dominated(result: object, truth: np.ndarray) -> tuple[float, float, int]:
    """Purity and recall of the union of the clusters that are at least PURE cued, and their number."""
    pure = [c for c in result.clusters if np.isin(c.members, truth).mean() >= PURE]
    members = np.concatenate([c.members for c in pure]) if pure else np.zeros(0, np.int64)
    hits = int(np.isin(members, truth).sum())
    return (hits / len(members) if len(members) else 0.0), hits / len(truth), len(pure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", default="circle,arrow,star")
    parser.add_argument("--cues", default="tag,patch,tint,border")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--per-class", type=int, default=120)
    parser.add_argument("--size", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--timing", action="store_true")
    args = parser.parse_args()
    classes, cues = args.classes.split(","), args.cues.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]

    print(f"### Clever Hans story: generated shapes, {args.per_class} per class, {args.size} px; the cue on "
          f"every image of the class; small CNN from scratch (cnnviz.training.train, 'scratch'), "
          f"{args.epochs} epochs\n")
    print("| class | cue | seed | cued model: class cued / clean (drop) | moved: others called the class "
          "| mass on the cue (area) | clean model: class cued / clean, mass | audit at 30 %: clusters, "
          "best cluster purity / recall (rank) | cue-dominated clusters: n, purity / recall | seconds |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    for seed in seeds:
        dataset = open_dataset(generated(args.per_class, seed=seed, size=args.size))
        started = time.perf_counter()
        clean_model = train_from_scratch(dataset, args.size, args.epochs, seed).loaded
        clean_seconds = time.perf_counter() - started
        for class_name in classes:
            for cue_name in cues:
                cue = Cue(cue_name, strength=DEFAULT_STRENGTH[cue_name])
                shortcut = Shortcut(class_name, cue, 1.0, seed=seed)
                started = time.perf_counter()
                cued_model = train_from_scratch(shortcut.apply(dataset, "cued"), args.size, args.epochs,
                                                seed).loaded
                seconds = time.perf_counter() - started
                clean, cued = compare({"clean": clean_model, "cued": cued_model}, dataset, shortcut)
                part = Shortcut(class_name, cue, AUDIT_FRACTION, seed=AUDIT_SEED)
                truth = part.cued_indices(dataset)
                result = audit(cued_model, part.apply(dataset, "cued"), class_name, embedding=False)
                purity, recall, cluster = purity_and_recall(result, truth)
                union_purity, union_recall, pure = cue_dominated(result, truth)
                s, c = cued.scores, clean.scores
                drop = s["cued"].class_accuracy - s["clean"].class_accuracy
                area = cue.region(args.size, args.size).mean()
                rows.append((drop, cued.cue_mass, purity, recall, union_recall))
                print(f"| {class_name} | {cue_name} | {seed} | {100 * s['cued'].class_accuracy:.0f} / "
                      f"{100 * s['clean'].class_accuracy:.0f} % ({100 * drop:.0f}) | "
                      f"{100 * s['moved'].predicted_as_class:.0f} % | {100 * cued.cue_mass:.0f} % "
                      f"({100 * area:.0f} %) | {100 * c['cued'].class_accuracy:.0f} / "
                      f"{100 * c['clean'].class_accuracy:.0f} %, {100 * clean.cue_mass:.0f} % | "
                      f"{len(result.clusters)}, {purity:.2f} / {recall:.2f} ({cluster.id + 1}) | "
                      f"{pure}, {union_purity:.2f} / {union_recall:.2f} | {seconds:.0f} |", flush=True)
        print(f"\n(seed {seed}: the clean model took {clean_seconds:.0f} s; its accuracy on the clean test "
              f"split {100 * clean.scores['clean'].accuracy:.0f} %)\n", flush=True)
    table = np.array(rows)
    print(f"\n{len(rows)} runs: drop >= 25 points in {int((table[:, 0] >= 0.25).sum())}, mass >= 50 % in "
          f"{int((table[:, 1] >= 0.5).sum())}, best cluster purity and recall >= 0.9 in "
          f"{int(((table[:, 2] >= 0.9) & (table[:, 3] >= 0.9)).sum())}, cue-dominated recall >= 0.9 in "
          f"{int((table[:, 4] >= 0.9).sum())}.\n")
    if args.timing:
        timing(cued_model, part.apply(dataset, "cued"), class_name)


def timing(model: object, data: object, class_name: str) -> None:
    """Audit and filter statistics per image against the model's forward pass (interleaved medians)."""
    indices = np.asarray(data.indices("all"))
    batch = np.stack([data.image(int(i)) for i in indices[:32]])
    audited = len(audit(model, data, class_name, embedding=False).indices)
    timings = interleaved_medians({
        "forward": lambda: model.logits(batch).numpy(),
        "audit": lambda: audit(model, data, class_name, embedding=False),
        "statistics": lambda: filter_statistics(model, data, class_name),
    }, repeats=3)
    per_image = {name: seconds / (32 if name == "forward" else audited) for name, seconds in timings.items()}
    print("| per image | ms | x forward pass |\n|---|---|---|")
    for name in ("forward", "audit", "statistics"):
        print(f"| {name} | {1000 * per_image[name]:.2f} | {per_image[name] / per_image['forward']:.1f} |")


if __name__ == "__main__":
    main()
