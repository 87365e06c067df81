"""Heatmap measurements: speed against the model's own forward pass and against tf-keras-vis, map
agreement with tf-keras-vis, and faithfulness on the demo model.

Run: ``.venv/bin/pip install -r bench/requirements.txt && .venv/bin/python bench/heatmaps.py``
(``--write-docs`` replaces the "## Heatmaps" section of docs/benchmarks.md; ``--only speed`` etc.
runs one part). Every ratio is measured in this one process, on the same input, with calls
interleaved so that the machine's load hits both sides alike. Nothing here gates the tests.

1. Speed on MobileNetV2 (224 x 224, random weights, batch-norm statistics calibrated on generated
   images so that the maps are not degenerate): Grad-CAM and CAM against one compiled forward pass;
   occlusion and Score-CAM against pushing the same number of images through the model in batches.
2. tf-keras-vis on the same model, image, class and layer: time ratios and Pearson r of the maps
   (at the model input's size, and of the raw layer-sized maps where both have one).
3. Faithfulness on the demo model: pointing game on 200 unseen generated images, deletion /
   insertion / confidence drop against a random map, and the Adebayo et al. randomisation check.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from cnnviz.explanation import METHODS, explain, explain_batch  # noqa: E402
from cnnviz.faithfulness import (  # noqa: E402
    confidence_change,
    deletion_insertion,
    pointing_rate,
    randomized_model,
    rank_correlation,
)
from cnnviz.graph import _nodes_in_order  # noqa: E402  (bench only: calibrating batch norm)
from cnnviz.models import LoadedModel, load_model, preprocessing_function  # noqa: E402
from cnnviz.demo.shapes import TEST_SEED, generate_dataset, generate_sample  # noqa: E402
from timing import interleaved_medians  # noqa: E402  (bench/timing.py)

REPEATS = 15
SLOW_REPEATS = 3
SCORECAM_TOP_K = 256  # Faster Score-CAM on MobileNetV2 (1280 channels); the demo model uses all 96
POINTING_IMAGES = 200
DELETION_IMAGES = 50
DELETION_STEPS = 32
SANITY_IMAGES = 50
CALIBRATION_IMAGES = 16
DOCS = ROOT / "docs" / "benchmarks.md"
RESULTS = ROOT / "bench" / "results" / "heatmaps.json"
SECTION = "## Heatmaps"


def calibrated_mobilenet() -> LoadedModel:
    """MobileNetV2 with random weights whose batch-norm statistics match generated images.

    With weights=None every batch norm has mean 0 and variance 1, activations blow up and saturate
    ReLU6, and the last layer's maps are flat; calibrating the statistics (one replay of the graph,
    setting each batch norm's moving mean and variance from its input) gives varied maps.
    """
    model = keras.applications.MobileNetV2(weights=None, classifier_activation=None)
    return calibrated(model, "MobileNetV2 (random weights, calibrated)", "tf")


def calibrated(model: keras.Model, name: str, preprocessing: str, size: int = 224) -> LoadedModel:
    """A random-weight keras.applications model whose batch-norm statistics match generated images."""
    loaded = LoadedModel(name=name, model=model, input_size=(size, size),
                         class_names=tuple(f"class {i}" for i in range(model.outputs[0].shape[-1])),
                         preprocess=preprocessing_function(preprocessing), preprocessing=preprocessing,
                         weights=None, labels_known=False)
    images = np.stack([generate_sample(seed, size).image for seed in range(CALIBRATION_IMAGES)])
    values = {id(model.inputs[0]): loaded.preprocess(tf.constant(images, tf.float32))}
    for node in _nodes_in_order(model):
        args, kwargs = node.arguments.fill_in(values)
        operation = node.operation
        if isinstance(operation, keras.layers.BatchNormalization):
            mean, variance = tf.nn.moments(args[0], axes=[0, 1, 2])
            operation.moving_mean.assign(mean)
            operation.moving_variance.assign(variance)
        outputs = operation(*args, **{**kwargs, "training": False} if "training" in getattr(
            operation, "_call_context_args", {}) else kwargs)
        for x, y in zip(node.outputs, tf.nest.flatten(outputs)):
            values[id(x)] = y
    return loaded


# --- 1. speed against the model itself ------------------------------------------------------------
def speed(loaded: LoadedModel, image: np.ndarray) -> dict[str, Any]:
    batch = image[None]
    timing = interleaved_medians({
        "forward": lambda: loaded.logits(batch).numpy(),
        "gradcam": lambda: explain(loaded, image, "gradcam"),
        "cam": lambda: explain(loaded, image, "cam"),
        "gradcam++": lambda: explain(loaded, image, "gradcam++"),
        "layercam": lambda: explain(loaded, image, "layercam"),
    }, REPEATS)
    result = {f"{name}_ms": 1000 * seconds for name, seconds in timing.items()}
    for name in ("gradcam", "cam", "gradcam++", "layercam"):
        result[f"{name}_over_forward"] = timing[name] / timing["forward"]

    counted: dict[str, int] = {}

    def counting(name: str) -> Callable[[int, int, Any], None]:
        def progress(done: int, total: int, info: Any) -> None:
            counted[name] = total
        return progress

    explain(loaded, image, "occlusion", progress=counting("occlusion"))
    explain(loaded, image, "scorecam", top_k=SCORECAM_TOP_K, progress=counting("scorecam"))
    occluded = np.repeat(batch, counted["occlusion"], axis=0)  # uint8, as occlusion's own batches
    masked = np.repeat(batch.astype(np.float32), counted["scorecam"], axis=0)

    def push(images: np.ndarray, batch_size: int = 32) -> None:
        for start in range(0, len(images), batch_size):
            loaded.logits(images[start:start + batch_size]).numpy()

    slow = interleaved_medians({
        "occlusion": lambda: explain(loaded, image, "occlusion"),
        "push_occlusion": lambda: push(occluded),
        "scorecam": lambda: explain(loaded, image, "scorecam", top_k=SCORECAM_TOP_K),
        "push_scorecam": lambda: push(masked),
    }, SLOW_REPEATS)
    result.update({f"{name}_s": seconds for name, seconds in slow.items()})
    result["occlusion_images"] = counted["occlusion"]
    result["scorecam_images"] = counted["scorecam"]
    result["occlusion_over_push"] = slow["occlusion"] / slow["push_occlusion"]
    result["scorecam_over_push"] = slow["scorecam"] / slow["push_scorecam"]
    return result


# --- 2. tf-keras-vis ---------------------------------------------------------------------------------
def pearson(first: np.ndarray, second: np.ndarray) -> float:
    first, second = np.ravel(first).astype(np.float64), np.ravel(second).astype(np.float64)
    if np.ptp(first) == 0 or np.ptp(second) == 0:
        return float("nan")
    return float(np.corrcoef(first, second)[0, 1])


def zoom_like_tf_keras_vis(raw: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Our raw map upsampled the way tf-keras-vis upsamples (``scipy.ndimage.zoom``, order 1), to
    compare the algorithms apart from the resizing."""
    from scipy.ndimage import zoom

    return zoom(raw.astype(np.float32), (size[0] / raw.shape[0], size[1] / raw.shape[1]), order=1)


def versus_tf_keras_vis(loaded: LoadedModel, image: np.ndarray, repeats: int = REPEATS) -> dict[str, Any]:
    """Time and agreement with tf-keras-vis, given the same model, preprocessed image, class, layer."""
    from tf_keras_vis.gradcam import Gradcam
    from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus
    from tf_keras_vis.saliency import Saliency
    from tf_keras_vis.scorecam import Scorecam
    from tf_keras_vis.utils.scores import CategoricalScore

    reference = explain(loaded, image, "gradcam")
    layer, class_index = reference.layer, reference.class_index
    if "/" in str(layer):
        raise SystemExit("tf-keras-vis cannot reach a layer inside a nested model; use a flat model here.")
    seed = np.asarray(loaded.preprocess(image[None].astype(np.float32)))  # tf-keras-vis takes model input
    score = CategoricalScore([class_index])
    top_k = SCORECAM_TOP_K if loaded.model.get_layer(layer).output.shape[-1] > SCORECAM_TOP_K else None
    ours_params = {"scorecam": {"top_k": top_k}}
    theirs_kwargs = {"scorecam": {"max_N": top_k or -1}}
    visualisers = {"gradcam": Gradcam, "gradcam++": GradcamPlusPlus, "scorecam": Scorecam,
                   "saliency": Saliency}
    rows = {}
    for name, visualiser_class in visualisers.items():
        visualiser = visualiser_class(loaded.model, clone=False)
        kwargs = dict(theirs_kwargs.get(name, {}))
        if name != "saliency":  # exactly this layer: do not seek back to the last Conv2D
            kwargs.update(penultimate_layer=layer, seek_penultimate_conv_layer=False)

        def theirs(expand: bool = True) -> np.ndarray:
            extra = {} if name == "saliency" else {"expand_cam": expand}
            return np.asarray(visualiser(score, seed, **kwargs, **extra))[0]

        def ours() -> Any:
            return explain(loaded, image, name, class_index=class_index, **ours_params.get(name, {}))

        count = SLOW_REPEATS if name == "scorecam" else repeats
        timing = interleaved_medians({"cnnviz": ours, "tf_keras_vis": theirs}, count)
        mine = ours()
        row = {"cnnviz_ms": 1000 * timing["cnnviz"], "tf_keras_vis_ms": 1000 * timing["tf_keras_vis"],
               "speedup": timing["tf_keras_vis"] / timing["cnnviz"],
               "pearson_full": pearson(mine.heatmap, theirs())}
        if name != "saliency":
            row["pearson_raw"] = pearson(mine.raw, theirs(expand=False))
            row["pearson_same_resize"] = pearson(zoom_like_tf_keras_vis(mine.raw, mine.heatmap.shape), theirs())
        rows[name] = row
    return {"model": loaded.name, "layer": layer, "class_index": class_index, "methods": rows,
            "scorecam_top_k": top_k}


# --- 3. faithfulness on the demo model ----------------------------------------------------------------
FAITHFULNESS_PARAMS: dict[str, dict[str, Any]] = {
    "cam": {}, "gradcam": {}, "gradcam++": {}, "layercam": {}, "scorecam": {},
    "scorecam top_k=12": {"top_k": 12}, "occlusion": {"batch_size": 128},
    "occlusion patch 6 stride 6": {"patch_size": 6, "stride": 6, "batch_size": 128},
    "saliency": {}, "smoothgrad": {}, "integrated_gradients": {}, "guided_gradcam": {},
}


def faithfulness_figures(shapes: LoadedModel) -> dict[str, Any]:
    images, labels, masks = generate_dataset(POINTING_IMAGES, TEST_SEED)
    rng = np.random.default_rng(0)
    random_maps = rng.random((DELETION_IMAGES, *shapes.input_size), dtype=np.float32)
    rows: dict[str, dict[str, float]] = {}

    def scores(heatmaps: list[np.ndarray], classes: list[int]) -> dict[str, float]:
        values = []
        for image, heatmap, class_index in zip(images[:DELETION_IMAGES], heatmaps, classes):
            curves = deletion_insertion(shapes, image, heatmap, class_index, steps=DELETION_STEPS)
            change = confidence_change(shapes, image, heatmap, class_index)
            values.append((curves.deletion, curves.insertion, change.drop, float(change.increase)))
        deletion, insertion, drop, increase = np.mean(values, axis=0)
        return {"deletion": deletion, "insertion": insertion, "confidence_drop": drop,
                "confidence_increase": increase}

    for label, params in FAITHFULNESS_PARAMS.items():
        method = label.split(" ")[0]
        started = time.perf_counter()
        heatmaps = explain_batch(shapes, list(images), method, class_index=list(labels), **params)
        seconds = time.perf_counter() - started
        maps = np.stack([h.heatmap for h in heatmaps])
        row = {"pointing": pointing_rate(maps, masks), "seconds_per_image": seconds / len(images)}
        row.update(scores(list(maps[:DELETION_IMAGES]), list(labels[:DELETION_IMAGES])))
        rows[label] = row
        print(f"  {label}: {row}", flush=True)
    rows["random map"] = {"pointing": pointing_rate(rng.random(masks.shape, dtype=np.float32), masks),
                          **scores(list(random_maps), list(labels[:DELETION_IMAGES]))}
    original = explain_batch(shapes, list(images[:SANITY_IMAGES]), "gradcam",
                             class_index=list(labels[:SANITY_IMAGES]))
    sanity = {}
    for layers in (["logits"], ["logits", "head_bn", "head_conv"]):
        randomised = randomized_model(shapes, layers, seed=0)
        changed = explain_batch(randomised, list(images[:SANITY_IMAGES]), "gradcam",
                                class_index=list(labels[:SANITY_IMAGES]))
        sanity[", ".join(layers)] = float(np.mean([rank_correlation(a.heatmap, b.heatmap)
                                                   for a, b in zip(original, changed)]))
    return {"methods": rows, "sanity_rank_correlation": sanity}


# --- report -------------------------------------------------------------------------------------------
def _versus_table(rows: dict[str, dict[str, float]], size: str) -> list[str]:
    lines = [f"| method | cnnviz | tf-keras-vis | speed-up | r ({size}) | r (raw) | r ({size}, same resize) |",
             "|---|---|---|---|---|---|---|"]
    for name, row in rows.items():
        raw = f"{row['pearson_raw']:.4f}" if "pearson_raw" in row else "-"
        same = f"{row['pearson_same_resize']:.4f}" if "pearson_same_resize" in row else "-"
        lines.append(f"| {METHODS[name].title} | {row['cnnviz_ms']:.1f} ms | {row['tf_keras_vis_ms']:.1f} ms "
                     f"| {row['speedup']:.1f} x | {row['pearson_full']:.4f} | {raw} | {same} |")
    return lines


def markdown(results: dict[str, Any]) -> str:
    lines = [SECTION, "",
             f"Measured by `bench/heatmaps.py` on {results['machine']} (TensorFlow {tf.__version__}, "
             f"Keras {keras.__version__}), all figures from one run; reproduce with", "", "```",
             ".venv/bin/pip install -r bench/requirements.txt",
             ".venv/bin/python bench/heatmaps.py --write-docs", "```", ""]
    if "speed" in results:
        s = results["speed"]
        push = "x pushing {} images in batches of 32"
        lines += ["### Speed on MobileNetV2 (224 x 224, one image)", "",
                  "| measurement | time | ratio | floor |", "|---|---|---|---|",
                  f"| compiled forward pass (`loaded_model.logits`) | {s['forward_ms']:.1f} ms | 1 | |"]
        rows = (("gradcam", "Grad-CAM (`explain`, whole call)", "1.5"), ("cam", "CAM", "1.5"),
                ("gradcam++", "Grad-CAM++", ""), ("layercam", "Layer-CAM", ""))
        for name, title, floor in rows:
            lines.append(f"| {title} | {s[name + '_ms']:.1f} ms | {s[name + '_over_forward']:.2f} x forward "
                         f"| {floor} |")
        lines += [f"| occlusion, {s['occlusion_images']} images (defaults: the image and its patches) "
                  f"| {s['occlusion_s']:.2f} s | {s['occlusion_over_push']:.2f} "
                  f"{push.format(s['occlusion_images'])} | 1.25 |",
                  f"| Score-CAM, top {s['scorecam_images']} channels | {s['scorecam_s']:.2f} s "
                  f"| {s['scorecam_over_push']:.2f} {push.format(s['scorecam_images'])} | 1.25 |", "",
                  "Random weights (no download here) with batch-norm statistics calibrated on generated "
                  "images, so that the maps are not flat; speed does not depend on the weights.", ""]
    if "tf_keras_vis" in results:
        t = results["tf_keras_vis"]
        lines += [f"### Against tf-keras-vis {results.get('tf_keras_vis_version', '')}", "",
                  f"Same model ({t['model']}), image, class ({t['class_index']}) and layer ({t['layer']}, "
                  "`seek_penultimate_conv_layer=False`); Score-CAM on the top "
                  f"{t['scorecam_top_k']} channels by spatial standard deviation in both (tf-keras-vis "
                  "`max_N`). Speed-up = tf-keras-vis time / cnnviz time. Pearson r of the maps at the input "
                  "size and of the raw layer-sized maps: the raw maps agree; the upsampling differs "
                  "(tf-keras-vis uses corner-aligned `scipy.ndimage.zoom`, cnnviz pixel-centre bilinear "
                  "resizing, which puts each cell of the layer's grid over the centre of the pixels it "
                  "covers), which is what lowers r at full size on the coarse 7 x 7 grid; the last column "
                  "resizes the cnnviz raw map with tf-keras-vis's own `zoom(order=1)`, which compares the "
                  "algorithms alone at full size.", ""]
        lines += _versus_table(t["methods"], "224 x 224")
        if "demo" in results:
            lines += ["", "The same comparison on the trained demo model (64 x 64, layer last_conv, "
                      "16 x 16 maps, Score-CAM on all 96 channels):", ""]
            lines += _versus_table(results["demo"]["methods"], "64 x 64")
        lines.append("")
    if "faithfulness" in results:
        f = results["faithfulness"]
        lines += ["### Faithfulness on the demo model", "",
                  f"Pointing game: share of {POINTING_IMAGES} unseen generated images (TEST_SEED) whose "
                  "heatmap maximum lies on the shape's mask (the tests require at least 0.90 for CAM, "
                  "Grad-CAM, Score-CAM and occlusion). Deletion / insertion (Petsiuk et al. 2018): area "
                  f"under the class-probability curve, {DELETION_STEPS} steps, blurred substrate, on the "
                  f"first {DELETION_IMAGES} images; confidence drop / increase (Chattopadhay et al. 2018) "
                  "for the image multiplied by the map.", "",
                  "| method | pointing | deletion (lower is better) | insertion (higher is better) "
                  "| confidence drop | confidence increase | seconds per image |",
                  "|---|---|---|---|---|---|---|"]
        for name, row in f["methods"].items():
            per_image = f"{row['seconds_per_image']:.3f}" if "seconds_per_image" in row else "-"
            lines.append(f"| {name} | {row['pointing']:.3f} | {row['deletion']:.3f} | {row['insertion']:.3f} "
                         f"| {row['confidence_drop']:.3f} | {row['confidence_increase']:.2f} | {per_image} |")
        lines += ["", "Sanity check (Adebayo et al. 2018): mean Spearman rank correlation between the "
                  "Grad-CAM maps of the trained model and of a copy with the named layers re-drawn at "
                  f"random, over {SANITY_IMAGES} images (the tests require below 0.5):", ""]
        lines += [f"- {layers}: {value:.3f}" for layers, value in f["sanity_rank_correlation"].items()]
        lines += ["", "Notes. CAM and Grad-CAM give the same map on a GAP -> Dense head (the gradient of "
                  "each channel is its Dense weight over the grid size), and so do Grad-CAM++ and Layer-CAM "
                  "(constant gradients); the table shows it. Deletion fills with a blurred copy of the "
                  "image: with RISE's black pixels, deleting 6 % of the pixels at random already drops the "
                  "demo model's probability from 0.96 to 0.1, and a random map scored as well as Grad-CAM. "
                  "Occlusion fills with the image's mean colour by default: a grey or black square is a "
                  "shape of its own to this model (pointing game 0.54 with grey at the same patch and "
                  "stride, measured while choosing the default)."]
        lines.append("")
    return "\n".join(lines) + "\n"


def write_docs(section: str) -> None:
    """Replace (or add) the "## Heatmaps" section of docs/benchmarks.md, leaving other sections alone."""
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n\n"
    start = text.find(SECTION + "\n")
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + len(SECTION))
        text = text[:start] + section + (text[end + 1:] if end != -1 else "")
    DOCS.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("speed", "tf_keras_vis", "faithfulness"), action="append")
    parser.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    parser.add_argument("--from-results", action="store_true",
                        help=f"measure nothing: rewrite the section from {RESULTS.relative_to(ROOT)}")
    args = parser.parse_args()
    if args.from_results:
        section = markdown(json.loads(RESULTS.read_text()))
        print(section)
        if args.write_docs:
            write_docs(section)
        return
    parts = args.only or ["speed", "tf_keras_vis", "faithfulness"]
    results: dict[str, Any] = {"machine": f"{platform.machine()}, {os.cpu_count()} CPU cores"}
    if {"speed", "tf_keras_vis"} & set(parts):
        mobilenet = calibrated_mobilenet()
        image = generate_sample(TEST_SEED, 224).image
    if "speed" in parts:
        print("speed ...", flush=True)
        results["speed"] = speed(mobilenet, image)
        print(json.dumps(results["speed"], indent=1), flush=True)
    if "tf_keras_vis" in parts:
        import tf_keras_vis

        results["tf_keras_vis_version"] = tf_keras_vis.__version__
        print("tf-keras-vis ...", flush=True)
        results["tf_keras_vis"] = versus_tf_keras_vis(mobilenet, image)
        print(json.dumps(results["tf_keras_vis"], indent=1), flush=True)
        results["demo"] = versus_tf_keras_vis(load_model("shapes"), generate_sample(TEST_SEED, 64).image)
        print(json.dumps(results["demo"], indent=1), flush=True)
    if "faithfulness" in parts:
        print("faithfulness ...", flush=True)
        results["faithfulness"] = faithfulness_figures(load_model("shapes"))
        print(json.dumps(results["faithfulness"]["sanity_rank_correlation"], indent=1), flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1, default=float))
    section = markdown(results)
    print(section)
    if args.write_docs:
        write_docs(section)
        print(f"wrote {DOCS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
