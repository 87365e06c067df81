"""Inside-the-network measurements: feature-map cost, activation-maximisation speed and quality.

Run: ``.venv/bin/python bench/inside.py`` (add ``--gallery`` to also write docs/gallery/). Ratios are
measured in one process, on this machine; nothing here gates the tests.

1. Feature maps of every spatial layer of MobileNetV2 (one multi-output pass) against one forward
   pass of the same model on the same image.
2. What a step adds to the model's pass, forward and backward: the random warp and the Fourier
   parametrisation, each against the plain TensorFlow way of computing it.
3. Activation-maximisation steps per second (Fourier parametrisation, colour decorrelation, random
   transforms, Adam) against plain forward-plus-backward passes of the same batch, on the demo model
   and on MobileNetV2.
4. The first call of maximize in a fresh process, and a call with a new number of images (tracing
   and XLA compiling), on the demo model and MobileNetV2.
5. On the demo model: each class's image and its probability; activation gains of channels.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import tensorflow as tf

import cnnviz  # noqa: F401  (sets KERAS_HOME before Keras is imported)
import keras  # noqa: E402
from cnnviz.inside import Penalties, feature_maps, maximize
from cnnviz.inside import parametrization as param
from cnnviz.inside.access import activation_function, default_layer, spatial_layers
from cnnviz.inside.maximize import DEFAULT_STEPS
from cnnviz.models import load_model
from cnnviz.render.inside import gallery, png
from timing import interleaved_medians  # bench/timing.py

REPEATS = 20
MAX_STEPS_TIMED = 64
GALLERY_DIR = ROOT / "docs" / "gallery"
GALLERY_STEPS = DEFAULT_STEPS
MOBILENET_GALLERY = ("block_3_expand_relu", (0, 5, 9, 17))


def feature_map_ratio() -> dict[str, float]:
    loaded = load_model("MobileNetV2", weights=None)
    image = np.random.default_rng(0).integers(0, 256, (224, 224, 3), dtype=np.uint8)
    names = spatial_layers(loaded)
    result = feature_maps(loaded, image, names)
    times = interleaved_medians(
        {
            "forward": lambda: loaded.logits(image[None]).numpy(),
            "feature_maps": lambda: feature_maps(loaded, image, names),
            "materialise": lambda: [entry.maps for entry in feature_maps(loaded, image, names).layers],
        },
        repeats=2 * REPEATS,
        warm_ups=2,
    )
    return {
        "layers": len(names),
        "derived": sum(1 for e in result.layers if e.steps),
        "forward_ms": 1000 * times["forward"],
        "feature_maps_ms": 1000 * times["feature_maps"],
        "materialise_ms": 1000 * times["materialise"],
        "ratio": times["feature_maps"] / times["forward"],
        "materialise_ratio": times["materialise"] / times["forward"],
    }


def forward_backward_step(loaded, layer: str | None, targets: list[int], kind: str):
    """A plain compiled forward + backward pass of the same batch (gradient w.r.t. the pixels)."""
    function = activation_function(loaded, [layer] if layer else [])
    onehot = tf.constant(
        np.eye(
            loaded.num_classes
            if kind == "class"
            else int(function(loaded.preprocess(tf.zeros((1, *loaded.input_size, 3))))[0][0].shape[-1]),
            dtype=np.float32,
        )[targets]
    )
    pixels = tf.constant(
        np.random.default_rng(0).uniform(0, 255, (len(targets), *loaded.input_size, 3)), tf.float32
    )

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            activations, logits = function(loaded.preprocess(x))
            values = logits if kind == "class" else tf.reduce_mean(activations[0], axis=[1, 2])
            objective = tf.reduce_sum(values * onehot)
        return tape.gradient(objective, x)

    return lambda: step(pixels).numpy()


ROUNDS = 9


def speed_table() -> list[dict[str, object]]:
    """Maximisation steps against plain forward+backward passes, alternating rounds of 64 steps each.

    The ratio of each round is taken from the two runs next to each other; the table gives the median
    of those ratios and their range, which shows how much a shared machine moved meanwhile.
    """
    rows = []
    demo = load_model("shapes")
    mobilenet = load_model("MobileNetV2", weights=None)
    cases = [
        ("shapes, 8 classes", demo, None, list(range(demo.num_classes)), "class"),
        ("shapes, last_conv x 8 channels", demo, "last_conv", list(range(8)), "channel"),
        (
            "MobileNetV2, block_6_expand_relu x 4 channels",
            mobilenet,
            "block_6_expand_relu",
            [0, 1, 2, 3],
            "channel",
        ),
        ("MobileNetV2, 4 classes", mobilenet, None, [0, 1, 2, 3], "class"),
    ]
    for label, loaded, layer, targets, kind in cases:
        step = forward_backward_step(loaded, layer, targets, kind)
        kwargs = {"class_index": targets} if kind == "class" else {"channels": targets}
        maximize(loaded, layer, steps=16, **kwargs)  # compile
        step()
        baselines, rates = [], []
        for _ in range(ROUNDS):  # alternate, so that load from other processes hits both alike
            started = time.perf_counter()
            for _ in range(MAX_STEPS_TIMED):
                step()
            baselines.append(MAX_STEPS_TIMED / (time.perf_counter() - started))
            result = maximize(loaded, layer, steps=MAX_STEPS_TIMED, **kwargs)
            rates.append(MAX_STEPS_TIMED / result.params["optimising_seconds"])
        ratios = np.array(rates) / np.array(baselines)
        rows.append({
            "case": label,
            "fwd_bwd_per_s": float(np.median(baselines)),
            "steps_per_s": float(np.median(rates)),
            "ratio": float(np.median(ratios)),
            "ratio_range": (float(ratios.min()), float(ratios.max())),
        })
    return rows


def _gradient_function(render, argument: tf.Tensor, upstream: tf.Tensor):
    """A compiled forward and backward pass of ``render`` alone (gradient w.r.t. its argument)."""

    @tf.function
    def forward_backward(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(render(x) * upstream)
        return tape.gradient(loss, x)

    return lambda: forward_backward(argument).numpy()


def component_table(batch: int = 8) -> list[dict[str, object]]:
    """Forward+backward milliseconds of the two costs a step adds to the model's pass, ours against
    the plain TensorFlow way, for 8 images of the demo's 64x64 and of MobileNetV2's 224x224."""
    rows = []
    for side in (64, 224):
        upstream = tf.random.stateless_normal((batch, side, side, 3), [0, 1])
        images = tf.random.stateless_uniform((batch, side, side, 3), [2, 3])
        spectrum = tf.constant(param.initial_spectrum(np.random.default_rng(0), batch, side, side))
        matrices = param.random_transforms(
            tf.constant([4, 5], tf.int64), batch, side, side, param.JITTER_FRACTION * side,
            param.SCALE_RANGE, param.ROTATION_DEGREES,
        )

        def projective_transform(x, m=matrices, s=side):
            return tf.raw_ops.ImageProjectiveTransformV3(
                images=x, transforms=m, output_shape=[s, s], fill_value=param.FILL_VALUE,
                interpolation="BILINEAR", fill_mode="CONSTANT",
            )

        times = interleaved_medians(
            {
                "warp, ImageProjectiveTransformV3": _gradient_function(projective_transform, images, upstream),
                "warp, cnnviz (XLA gathers)": _gradient_function(
                    lambda x, m=matrices: param.apply_transforms(x, m), images, upstream
                ),
                "Fourier image, plain TensorFlow": _gradient_function(
                    lambda s, n=side: param.plain_fourier_image(s, n, n), spectrum, upstream
                ),
                "Fourier image, cnnviz (fused)": _gradient_function(
                    lambda s, n=side: param.fourier_image(s, n, n), spectrum, upstream
                ),
            },
            repeats=4 * REPEATS,
            warm_ups=2,
        )
        rows += [{"side": side, "what": name, "ms": 1000 * seconds} for name, seconds in times.items()]
    return rows


FIRST_CALL_SCRIPT = """
import json, sys, time
sys.path.insert(0, {root!r})
from cnnviz.inside import maximize
from cnnviz.models import load_model
loaded = load_model({name!r}, weights=None) if {name!r} != "shapes" else load_model("shapes")
seconds = []
for classes in ([0, 1, 2], [0, 1, 2], [0, 1, 2, 3]):
    started = time.perf_counter()
    maximize(loaded, class_index=classes, steps=2)
    seconds.append(time.perf_counter() - started)
print(json.dumps(seconds))
"""


def first_call_seconds(name: str) -> list[float]:
    """Seconds of maximize (2 steps) in a fresh process: first call, the same again, a new batch size.

    What tracing and XLA compiling cost a user before the first step, and when the number of images
    changes (a new batch size compiles the XLA kernels again).
    """
    import json
    import subprocess

    code = FIRST_CALL_SCRIPT.format(root=str(ROOT), name=name)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def demo_quality(steps: int = GALLERY_STEPS) -> tuple[object, object]:
    demo = load_model("shapes")
    classes = maximize(demo, class_index=list(range(demo.num_classes)), steps=steps, seed=0)
    channels = maximize(demo, default_layer(demo), channels=list(range(8)), steps=steps, seed=0)
    return classes, channels


def _objective_captions(result) -> list[str]:
    return [
        f"{label}: {start:.2g} -> {final:.3g}"
        for label, start, final in zip(result.labels, result.start_objective, result.final_objective)
    ]


def _class_captions(result) -> list[str]:
    return [f"{label} p={p:.2f}" for label, p in zip(result.labels, result.probabilities)]


def _save(name: str, result, captions: list[str], cell: int | None = None) -> None:
    """docs/gallery/<name>.png: the result's images in rows of 4, each under its caption."""
    sizing = {} if cell is None else {"cell": cell}
    (GALLERY_DIR / f"{name}.png").write_bytes(png(gallery(list(result.images), captions, columns=4, **sizing)))


def write_gallery(classes, channels) -> None:
    """docs/gallery/*.png: every demo class, channels, plain pixel ascent, diversity, MobileNetV2 plumbing."""
    GALLERY_DIR.mkdir(parents=True, exist_ok=True)
    demo = load_model("shapes")
    _save("shapes_classes", classes, _class_captions(classes))
    _save("shapes_last_conv", channels, [
        f"channel {t}: {s:.2g} -> {f:.3g}"
        for t, s, f in zip(channels.targets, channels.start_objective, channels.final_objective)
    ])
    pixel = maximize(
        demo, class_index=list(range(demo.num_classes)), steps=GALLERY_STEPS, method="pixel", seed=0
    )
    _save("shapes_classes_pixel", pixel, _class_captions(pixel))
    varied = maximize(
        demo,
        class_index=["circle", "star"],
        images_per_target=4,
        steps=GALLERY_STEPS,
        seed=0,
        penalties=Penalties(diversity=2.0),
    )
    _save("shapes_diversity", varied, _class_captions(varied))
    mobilenet = load_model("MobileNetV2", weights=None)
    layer, picked = MOBILENET_GALLERY
    random_weights = maximize(mobilenet, layer, channels=list(picked), steps=GALLERY_STEPS, seed=0)
    _save("mobilenetv2_random_weights", random_weights, [f"{layer} ch {t}" for t in random_weights.targets],
          cell=224)
    print("MobileNetV2 (random weights) channels: " + ", ".join(_objective_captions(random_weights)))
    print("pixel ascent classes: " + ", ".join(_class_captions(pixel)))
    print("diversity: " + ", ".join(_class_captions(varied)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gallery", action="store_true", help="also write docs/gallery/*.png")
    args = parser.parse_args()
    keras.utils.set_random_seed(0)  # the same random weights of MobileNetV2 (and gallery) every run
    features = feature_map_ratio()
    print(
        f"feature maps of all {features['layers']} spatial layers of MobileNetV2 "
        f"({features['derived']} recomputed elementwise when read): "
        f"{features['feature_maps_ms']:.1f} ms vs one forward pass {features['forward_ms']:.1f} ms "
        f"-> {features['ratio']:.2f}x; reading every layer's maps "
        f"too: {features['materialise_ms']:.1f} ms -> {features['materialise_ratio']:.2f}x"
    )
    for row in component_table():
        print(f"{row['side']}x{row['side']}, 8 images, forward+backward of the {row['what']}: {row['ms']:.2f} ms")
    for row in speed_table():
        low, high = row["ratio_range"]
        print(
            f"{row['case']}: {row['steps_per_s']:.1f} maximisation steps/s vs {row['fwd_bwd_per_s']:.1f} "
            f"plain forward+backward/s -> {row['ratio']:.2f}x (rounds {low:.2f} to {high:.2f})"
        )
    for name in ("shapes", "MobileNetV2"):
        first, again, new_batch = first_call_seconds(name)
        print(
            f"{name}: first maximize in a fresh process {first:.2f} s, the same again {again:.2f} s, "
            f"a new number of images {new_batch:.2f} s"
        )
    classes, channels = demo_quality()
    print(f"demo classes after {classes.steps} steps ({classes.seconds:.1f} s):")
    for label, p, predicted in zip(classes.labels, classes.probabilities, classes.predicted):
        print(f"  {label:<10} p={p:.3f} (classified as {classes.labels[int(predicted)]})")
    print(
        f"demo {channels.layer} channels, mean activation of the starting noise -> final image: "
        + ", ".join(
            f"{t}: {s:.2g} -> {f:.3g}"
            for t, s, f in zip(channels.targets, channels.start_objective, channels.final_objective)
        )
    )
    if args.gallery:
        write_gallery(classes, channels)
        print(f"gallery written to {GALLERY_DIR}")


if __name__ == "__main__":
    main()
