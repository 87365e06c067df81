"""Dataset measurements: evaluation's peak memory and its throughput against plain forward passes.

Run: ``.venv/bin/python bench/datasets.py`` (``--images`` and ``--repeats`` make it shorter).
Nothing here gates the tests.

1. Peak resident memory of evaluating 5,000 generated 256 x 256 images with the demo model, above
   the process with the model loaded and warmed up, in a fresh subprocess (resource.getrusage's
   ru_maxrss is the process's peak). For scale: the images alone would take 983 MB as uint8.
2. Throughput of ``evaluate`` on a folder of PNG files (generated 256 x 256 images written to
   disk, so decoding is real PNG decoding) against (a) the plain loop a user would write, which
   decodes and resizes a batch with cnnviz.images and then runs the compiled forward pass
   (LoadedModel.probabilities), and (b) the compiled forward pass alone on images decoded
   beforehand. The three are interleaved (bench/timing.py); medians.
3. Leave-one-out 5-NN accuracy of the demo model's features layer by layer (96 generated images):
   how far into the network the classes separate.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from timing import interleaved_medians  # noqa: E402  (bench/timing.py)

BATCH = 32
MEMORY_IMAGES_PER_CLASS = 625  # x 8 classes = 5,000 images
MEMORY_SIZE = 256
MEMORY_LIMIT_MB = 1500
THROUGHPUT_FLOOR = 0.9


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status (Linux only)")


def memory_child(images_per_class: int, size: int) -> None:
    """In a fresh process: RSS with the model loaded, then the peak while evaluating."""
    from cnnviz.datasets import evaluate, generated, open_dataset
    from cnnviz.models import load_model

    loaded = load_model("shapes")
    loaded.probabilities(np.zeros((BATCH, *loaded.input_size, 3), np.uint8))  # compile
    baseline = _rss_mb()
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    dataset = open_dataset(generated(images_per_class, seed=0, size=size))
    result = evaluate(loaded, dataset, split="all", batch_size=BATCH)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"images": result.images, "baseline_mb": baseline, "peak_before_mb": peak_before,
                      "peak_mb": peak, "above_model_mb": peak - baseline, "seconds": seconds,
                      "accuracy": result.accuracy, "timing": result.timing}))


def measure_memory(images_per_class: int, size: int) -> dict[str, float]:
    command = [sys.executable, __file__, "--memory-child", str(images_per_class), str(size)]
    output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=3600).stdout
    return json.loads(output.strip().splitlines()[-1])


def _write_pngs(folder: Path, images_per_class: int, size: int) -> None:
    from PIL import Image

    from cnnviz.datasets import generated, open_dataset

    source = open_dataset(generated(images_per_class, seed=1, size=size))
    for index, file in enumerate(source.files()):
        path = folder / file.split("/", 1)[1]
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(source.image(index)).save(path)


def measure_throughput(images_per_class: int, size: int, repeats: int, model: str) -> dict[str, float]:
    from cnnviz.datasets import evaluate, open_dataset
    from cnnviz.demo.shapes import SHAPE_CLASSES
    from cnnviz.images import load_image, prepare_image
    from cnnviz.models import load_model

    loaded = load_model(model, weights=None)  # an ImageNet model gets random weights: speed only
    # the shapes are not ImageNet classes: map them onto the first outputs (speed, not accuracy)
    mapping = None if model == "shapes" else {name: str(i) for i, name in enumerate(SHAPE_CLASSES)}
    with tempfile.TemporaryDirectory() as folder:
        _write_pngs(Path(folder), images_per_class, size)
        started = time.perf_counter()
        dataset = open_dataset(folder)
        scan_seconds = time.perf_counter() - started
        paths = [Path(folder) / file for file in dataset.files()]
        n = len(paths)

        def decode(chunk: list[Path]) -> np.ndarray:
            return np.stack([prepare_image(load_image(p), loaded.input_size) for p in chunk])

        started = time.perf_counter()
        decoded = decode(paths)
        decode_seconds = time.perf_counter() - started

        def forward_only() -> None:
            for start in range(0, n, BATCH):
                loaded.probabilities(decoded[start : start + BATCH])

        def plain_loop() -> None:
            for start in range(0, n, BATCH):
                loaded.probabilities(decode(paths[start : start + BATCH]))

        def evaluation() -> None:
            evaluate(loaded, dataset, split="all", batch_size=BATCH, class_mapping=mapping)

        loaded.probabilities(decoded[:BATCH])  # compile
        times = interleaved_medians({"forward_only": forward_only, "plain_loop": plain_loop,
                                     "evaluate": evaluation}, repeats=repeats, warm_ups=0)
        timing = evaluate(loaded, dataset, split="all", batch_size=BATCH, class_mapping=mapping).timing
    return {"images": n, "scan_seconds": scan_seconds, "decode_seconds": decode_seconds, **times,
            "evaluate_model_seconds": timing["model"], "evaluate_waiting_seconds": timing["waiting_for_images"]}


KNN_LAYERS = ("stem1_relu", "stem2_relu", "fine_relu", "coarse2_relu", "last_conv", "gap")


def knn_by_layer(images_per_class: int = 12) -> dict[str, float]:
    from cnnviz.datasets import embed, generated, open_dataset
    from cnnviz.models import load_model

    loaded = load_model("shapes")
    dataset = open_dataset(generated(images_per_class, seed=5))
    return {layer: embed(loaded, dataset, layer=layer).knn_accuracy for layer in KNN_LAYERS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory-child", nargs=2, type=int, help=argparse.SUPPRESS)
    parser.add_argument("--images", type=int, default=1000, help="PNG files for the throughput part")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--model", default="shapes", help="model of the throughput part (ImageNet models: "
                                                           "random weights)")
    args = parser.parse_args()
    if args.memory_child:
        memory_child(*args.memory_child)
        return
    if not args.skip_memory:
        memory = measure_memory(MEMORY_IMAGES_PER_CLASS, MEMORY_SIZE)
        verdict = "within" if memory["above_model_mb"] < MEMORY_LIMIT_MB else "OVER"
        print(f"memory: {memory['images']} generated {MEMORY_SIZE}x{MEMORY_SIZE} images evaluated in "
              f"{memory['seconds']:.1f} s; RSS with the model loaded {memory['baseline_mb']:.0f} MB, peak "
              f"{memory['peak_mb']:.0f} MB: {memory['above_model_mb']:.0f} MB above the model ({verdict} "
              f"the {MEMORY_LIMIT_MB} MB limit); accuracy {memory['accuracy']:.3f}")
    knn = knn_by_layer()
    print("leave-one-out 5-NN accuracy of the demo model's features (96 generated images, chance 0.125): "
          + ", ".join(f"{layer} {accuracy:.2f}" for layer, accuracy in knn.items()))
    per_class = max(1, args.images // 8)
    speed = measure_throughput(per_class, MEMORY_SIZE, args.repeats, args.model)
    n = speed["images"]
    ms = {key: 1000 * speed[key] / n for key in ("forward_only", "plain_loop", "evaluate", "decode_seconds",
                                                 "scan_seconds")}
    print(f"throughput of {args.model} on {n} PNG files ({MEMORY_SIZE}x{MEMORY_SIZE}), ms per image (medians of "
          f"{args.repeats}): forward pass alone {ms['forward_only']:.2f}, plain decode+forward loop "
          f"{ms['plain_loop']:.2f}, evaluate {ms['evaluate']:.2f}; decoding + resizing alone "
          f"{ms['decode_seconds']:.2f} (serial), scan at open_dataset {ms['scan_seconds']:.2f}")
    versus_plain = speed["plain_loop"] / speed["evaluate"]
    versus_forward = speed["forward_only"] / speed["evaluate"]
    share = speed["decode_seconds"] / speed["plain_loop"]
    print(f"evaluate throughput = {versus_plain:.2f}x the plain loop (floor {THROUGHPUT_FLOOR}x), "
          f"{versus_forward:.2f}x the forward pass alone on pre-decoded images; decoding is "
          f"{100 * share:.0f}% of the plain loop's time; in evaluate the model ran "
          f"{speed['evaluate_model_seconds']:.2f} s and waited {speed['evaluate_waiting_seconds']:.2f} s "
          "for decoded batches")


if __name__ == "__main__":
    main()
