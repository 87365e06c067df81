"""Clever Hans story at full size: a tag planted on a class of generated shapes, a model trained from
scratch on the clean and on the tagged images, both scored on the three test versions with their
heatmaps' mass on the tag, then the SpRAy audit of the class on a version where 30 % of it is tagged.

Run: ``.venv/bin/python bench/cleverhans.py [--per-class 200] [--size 48] [--epochs 16]``. Prints a
Markdown table (paste into docs/benchmarks.md). Timing: the audit per image against one compiled
forward pass per image of the same model, interleaved. Nothing here gates the tests (the test-size
version is tests/test_clever_hans.py).
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
sys.path.insert(0, str(ROOT / "tests"))  # the story's settings, shared with the tests
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402

from bench.timing import interleaved_medians  # noqa: E402
from cleverhans_helpers import CLASS  # noqa: E402
from cnnviz.audit import audit, filter_statistics, purity_and_recall  # noqa: E402
from cnnviz.audit.lab import compare, fit_small_cnn  # noqa: E402
from cnnviz.datasets import generated, open_dataset  # noqa: E402
from cnnviz.datasets.cues import TEST_VERSIONS, Cue, Shortcut  # noqa: E402

AUDIT_FRACTION = 0.3
AUDIT_SEEDS = (1, 2, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=200)
    parser.add_argument("--size", type=int, default=48)
    parser.add_argument("--epochs", type=int, default=16)
    parser.add_argument("--strength", type=float, default=0.5)
    args = parser.parse_args()

    dataset = open_dataset(generated(args.per_class, seed=0, size=args.size))
    shortcut = Shortcut(CLASS, Cue("tag", strength=args.strength), 1.0, seed=0)
    cued = shortcut.apply(dataset, "cued")
    started = time.perf_counter()
    models = {"clean": fit_small_cnn(dataset, args.size, args.epochs),
              "tagged": fit_small_cnn(cued, args.size, args.epochs)}
    train_seconds = time.perf_counter() - started
    reports = compare(models, dataset, shortcut)

    print(f"### Clever Hans story: generated shapes, {args.per_class} per class, {args.size} px, "
          f"tag (opacity {args.strength:g}) on every `{CLASS}` image; small CNN from scratch, "
          f"{args.epochs} epochs (both models {train_seconds:.0f} s)\n")
    print(f"| model | " + " | ".join(f"{v}: all / {CLASS}" for v in TEST_VERSIONS)
          + f" | moved: others called {CLASS} | heatmap mass on the tag |")
    print("|---|" + "---|" * (len(TEST_VERSIONS) + 2))
    for report in reports:
        cells = [f"{100 * report.scores[v].accuracy:.0f} / {100 * report.scores[v].class_accuracy:.0f} %"
                 for v in TEST_VERSIONS]
        print(f"| trained on {report.label} images | " + " | ".join(cells)
              + f" | {100 * report.scores['moved'].predicted_as_class:.0f} %"
              + f" | {100 * report.cue_mass:.0f} % |")
    area = shortcut.cue.region(args.size, args.size).mean()
    print(f"\n(the tag's box covers {100 * area:.0f} % of the image)\n")

    print(f"### SpRAy audit of `{CLASS}` with the tag on {100 * AUDIT_FRACTION:.0f} % of its images "
          "(Grad-CAM, clusters from the eigengap)\n")
    print("| images picked with seed | images | clusters | cued cluster: size, purity, recall, rank "
          "| seconds |")
    print("|---|---|---|---|---|")
    model = models["tagged"]
    for seed in AUDIT_SEEDS:
        part = Shortcut(CLASS, shortcut.cue, AUDIT_FRACTION, seed=seed)
        data = part.apply(dataset, "cued")
        result = audit(model, data, CLASS)
        purity, recall, cluster = purity_and_recall(result, part.cued_indices(dataset))
        print(f"| {seed} | {len(result.indices)} | {len(result.clusters)} | {cluster.size}, {purity:.2f}, "
              f"{recall:.2f}, {cluster.id + 1} | {result.seconds:.1f} |")
    clean_audit = audit(models["clean"], data, CLASS)
    purity, recall, _ = purity_and_recall(clean_audit, part.cued_indices(dataset))
    print(f"\nThe clean model's audit of the same images: {len(clean_audit.clusters)} clusters; the cluster "
          f"holding most tagged images: purity {purity:.2f}, recall {recall:.2f} "
          "(the tag means nothing to it).\n")

    indices = np.asarray(data.indices("all"))
    batch = np.stack([data.image(int(i)) for i in indices[:32]])
    heatmap_indices = result.indices
    timings = interleaved_medians({
        "forward": lambda: model.logits(batch).numpy(),
        "audit": lambda: audit(model, data, CLASS, embedding=False),
        "statistics": lambda: filter_statistics(model, data, CLASS),
    }, repeats=3)
    per_image = {name: seconds / (32 if name == "forward" else len(heatmap_indices))
                 for name, seconds in timings.items()}
    print("| per image | ms | x forward pass |\n|---|---|---|")
    for name in ("forward", "audit", "statistics"):
        print(f"| {name} | {1000 * per_image[name]:.2f} | {per_image[name] / per_image['forward']:.1f} |")


if __name__ == "__main__":
    main()
