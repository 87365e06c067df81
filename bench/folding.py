"""Batch norm folded into the convolution before it (cnnviz.methods.core.inference_function) against
the model as Keras runs it: milliseconds per image of a compiled forward pass and of a forward +
backward pass to the input, interleaved, medians of wall clock and of the process's CPU time.

Run: ``.venv/bin/python bench/folding.py --models MobileNetV2 ResNet50 --batch 16 --rounds 6``
(random weights, batch-norm statistics calibrated as in bench/reference.py).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from cnnviz.methods.core import inference_function  # noqa: E402


def passes(loaded) -> dict[str, object]:
    folded = inference_function(loaded)
    plain = {"keras": lambda x: loaded.model(x, training=False), "folded": lambda x: folded(x)[1]}
    height, width = loaded.input_size
    spec = [tf.TensorSpec([None, height, width, 3]), tf.TensorSpec([], tf.int32)]
    functions = {}
    for name, logits_of in plain.items():
        def forward(x, c, logits_of=logits_of):
            return logits_of(x)[:, c]

        def backward(x, c, logits_of=logits_of):
            with tf.GradientTape() as tape:
                tape.watch(x)
                score = tf.reduce_sum(logits_of(x)[:, c])
            return tape.gradient(score, x)

        functions[f"forward {name}"] = tf.function(forward, input_signature=spec, autograph=False)
        functions[f"forward+backward {name}"] = tf.function(backward, input_signature=spec, autograph=False)
    return functions


def main() -> None:
    from reference import models

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["MobileNetV2", "ResNet50"])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    for name, loaded in models(args.models).items():
        functions = passes(loaded)
        x = tf.random.normal([args.batch, *loaded.input_size, 3])
        c = tf.constant(3)
        for function in functions.values():
            function(x, c)
        wall = {k: [] for k in functions}
        cpu = {k: [] for k in functions}
        for _ in range(args.rounds):
            for key, function in functions.items():
                started, cpu_started = time.perf_counter(), time.process_time()
                function(x, c).numpy()
                wall[key].append((time.perf_counter() - started) / args.batch * 1000)
                cpu[key].append((time.process_time() - cpu_started) / args.batch * 1000)
        print(f"{name}, batch {args.batch}, median of {args.rounds} (ms per image)")
        for key in functions:
            print(f"  {key:26s} wall {np.median(wall[key]):7.1f}  cpu {np.median(cpu[key]):7.1f}")


if __name__ == "__main__":
    main()
