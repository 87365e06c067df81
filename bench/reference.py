"""cnnviz against Xplique 2.0.2: agreement of the maps and speed, method by method (issue 16).

Run: ``.venv/bin/pip install -r bench/requirements.txt`` (Xplique with ``--no-deps``, see the file),
then ``.venv/bin/python bench/reference.py [--models shapes MobileNetV2 ResNet50] [--write-docs]``.
One process, the same model, image, class, layer and parameters for both libraries; conventions
matched as each cnnviz method's note states (signed methods: channel sum; saliency and guided
backpropagation: largest absolute value over colours; VarGrad / SquareGrad: channel mean; Xplique
works in the model's input space, so IG's baseline and occlusion's value are cnnviz's "model_zero").

- Deterministic methods: Pearson r of the two maps at the input size.
- Stochastic methods: Spearman rank correlation cnnviz vs Xplique, against Xplique seed 0 vs seed 1.
- Speed: seconds per image of each library, median of ``--repeats`` warm calls interleaved with the
  other library's (wall clock and the process's CPU time), and the ratio
  Xplique / cnnviz (above 1: cnnviz is faster). Sample counts are kept small (the machine is shared).
ImageNet networks have random weights (no download here), seeded, with batch-norm statistics
calibrated on generated images (bench/heatmaps.calibrated); the demo model is the bundled one.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from cnnviz.demo.shapes import generate_sample  # noqa: E402
from cnnviz.explanation import explain  # noqa: E402
from cnnviz.graph import default_target_layer  # noqa: E402
from cnnviz.methods.superpixels import segment  # noqa: E402
from cnnviz.models import LoadedModel, load_model  # noqa: E402

DOCS = ROOT / "docs" / "benchmarks.md"
RESULTS = ROOT / "bench" / "results" / "reference.json"
SECTION = "## Against Xplique"
SEED = 0
IMAGE_SEED = 7
NOISE = 0.15  # SmoothGrad & co: share of the pixel range


def models(names: list[str]) -> dict[str, LoadedModel]:
    from heatmaps import calibrated

    result = {}
    for name in names:
        if name == "shapes":
            result[name] = load_model("shapes")
            continue
        keras.utils.set_random_seed(SEED)
        builder = {"MobileNetV2": keras.applications.MobileNetV2, "ResNet50": keras.applications.ResNet50}[name]
        preprocessing = {"MobileNetV2": "tf", "ResNet50": "caffe"}[name]
        result[name] = calibrated(builder(weights=None, classifier_activation=None), f"{name} (random, seeded)",
                                  preprocessing)
    return result


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    return float(np.corrcoef(a, b)[0, 1]) if np.ptp(a) and np.ptp(b) else float("nan")


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    return float(spearmanr(np.ravel(a), np.ravel(b)).statistic)


def _resized(values: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import cv2

    values = np.asarray(values, np.float32)
    if values.shape == size:
        return values
    return cv2.resize(values, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)


def cases(loaded: LoadedModel, small: bool) -> list[tuple[str, bool, dict[str, Any], Callable[..., Any],
                                                           Callable[[np.ndarray], np.ndarray], str]]:
    """(cnnviz method, stochastic, cnnviz params, Xplique explainer factory(seed), reduction of
    Xplique's (h, w[, c]) output to cnnviz's convention, what cnnviz map is compared: raw or heatmap)."""
    from xplique.attributions import (
        DeconvNet,
        GradCAM,
        GradCAMPP,
        GradientInput,
        GuidedBackprop,
        HsicAttributionMethod,
        IntegratedGradients,
        KernelShap,
        Lime,
        Occlusion,
        Rise,
        Saliency,
        SmoothGrad,
        SobolAttributionMethod,
        SquareGrad,
        VarGrad,
    )

    model = loaded.model
    layer = default_target_layer(loaded)
    side = loaded.input_size[0]
    patch, stride = (8, 4) if side <= 64 else (56, 28)
    span = float(np.ptp(np.asarray(loaded.preprocess(np.array([[[[0.0, 0.0, 0.0], [255.0, 255.0, 255.0]]]],
                                                               np.float32)))[0, 0, :, 0]))
    sigma = NOISE * abs(span)  # the same noise, in the model's input space
    samples = {"rise": 128 if small else 1000, "designs": 4 if small else 32, "hsic": 128 if small else 1500,
               "lime": 128 if small else 1000, "grad": 16 if small else 32}
    maxabs = lambda e: np.abs(e).max(-1)  # noqa: E731
    same = lambda e: e  # noqa: E731

    return [
        ("saliency", False, {}, lambda s: Saliency(model, reducer=None), maxabs, "raw"),
        ("gradient_input", False, {}, lambda s: GradientInput(model, reducer="sum"), same, "raw"),
        ("integrated_gradients", False, {"steps": 49, "baseline": "model_zero"},
         lambda s: IntegratedGradients(model, reducer="sum", steps=50, baseline_value=0.0), same, "raw"),
        ("gradcam", False, {}, lambda s: GradCAM(model, conv_layer=layer), same, "heatmap"),
        ("gradcam++", False, {}, lambda s: GradCAMPP(model, conv_layer=layer), same, "heatmap"),
        ("occlusion", False, {"patch_size": patch, "stride": stride, "fill": "model_zero", "score": "logit",
                              "aggregate": "sum"},
         lambda s: Occlusion(model, patch_size=patch, patch_stride=stride, occlusion_value=0.0), same, "full"),
        ("guided_backprop", False, {}, lambda s: GuidedBackprop(model, reducer=None), maxabs, "raw"),
        ("deconvnet", False, {}, lambda s: DeconvNet(model, reducer="sum"), same, "raw"),
        ("smoothgrad", True, {"samples": samples["grad"], "noise": NOISE},
         lambda s: SmoothGrad(model, nb_samples=samples["grad"], noise=sigma, reducer=None), maxabs, "raw"),
        ("vargrad", True, {"samples": samples["grad"], "noise": NOISE},
         lambda s: VarGrad(model, nb_samples=samples["grad"], noise=sigma, reducer="mean"), same, "raw"),
        ("squaregrad", True, {"samples": samples["grad"], "noise": NOISE},
         lambda s: SquareGrad(model, nb_samples=samples["grad"], noise=sigma, reducer="mean"), same, "raw"),
        ("rise", True, {"samples": samples["rise"], "grid_size": 7, "score": "logit", "normalise": "masks"},
         lambda s: Rise(model, nb_samples=samples["rise"], grid_size=7, preservation_probability=0.5), same, "raw"),
        ("sobol", True, {"grid_size": 8, "designs": samples["designs"], "score": "logit"},
         lambda s: SobolAttributionMethod(model, grid_size=8, nb_design=samples["designs"]), same, "raw"),
        ("hsic", True, {"grid_size": 8, "designs": samples["hsic"], "score": "logit"},
         lambda s: HsicAttributionMethod(model, grid_size=8, nb_design=samples["hsic"]), same, "raw"),
        ("lime", True, {"samples": samples["lime"], "segments": 50, "fill": "model_zero", "score": "logit"},
         lambda s: Lime(model, nb_samples=samples["lime"], map_to_interpret_space=SEGMENTS.get), same, "raw"),
        ("kernel_shap", True, {"samples": samples["lime"], "segments": 50, "fill": "model_zero", "score": "logit"},
         lambda s: KernelShap(model, nb_samples=samples["lime"], map_to_interpret_space=SEGMENTS.get), same, "raw"),
    ]


class _Segments:
    """Xplique's map_to_interpret_space: cnnviz's SLIC superpixels of the image being explained."""

    labels: np.ndarray | None = None

    def get(self, inputs: Any) -> Any:
        return tf.constant(self.labels, tf.int32)


SEGMENTS = _Segments()


def timed_pair(ours: Callable[[], Any], theirs: Callable[[], Any], repeats: int) -> tuple[Any, Any, dict[str, float]]:
    """Both functions warmed up, then ``repeats`` rounds, each timing ours then theirs (interleaved, so
    that load from other jobs hits both alike): the last results and the median wall-clock and CPU
    seconds of each (CPU seconds: all of the process's threads; less sensitive to a shared machine)."""
    result, reference = ours(), theirs()
    times: dict[str, list[float]] = {"cnnviz_s": [], "xplique_s": [], "cnnviz_cpu_s": [], "xplique_cpu_s": []}
    for _ in range(repeats):
        for side, function in (("cnnviz", ours), ("xplique", theirs)):
            wall, cpu = time.perf_counter(), time.process_time()
            value = function()
            times[f"{side}_s"].append(time.perf_counter() - wall)
            times[f"{side}_cpu_s"].append(time.process_time() - cpu)
            result, reference = (value, reference) if side == "cnnviz" else (result, value)
    return result, reference, {key: float(np.median(values)) for key, values in times.items()}


def agreement(loaded: LoadedModel, repeats: int, small: bool,
              only: list[str] | None = None) -> dict[str, dict[str, float]]:
    image = generate_sample(IMAGE_SEED, loaded.input_size[0]).image
    inputs = np.asarray(loaded.preprocess(image[None].astype(np.float32)), np.float32)
    class_index = int(np.argmax(loaded.logits(image[None]).numpy()[0]))
    targets = tf.one_hot([class_index], loaded.num_classes).numpy()
    SEGMENTS.labels = segment(image, 50)
    rows = {}
    for name, stochastic, params, factory, reduce, which in cases(loaded, small):
        if only and name not in only:
            continue

        def ours(seed: int = 0) -> Any:
            return explain(loaded, image, name, class_index=class_index, **params,
                           **({"seed": seed} if stochastic else {}))

        try:
            tf.random.set_seed(SEED)
            explainer = factory(SEED)  # built once, as a user would; its first call traces it

            def theirs() -> np.ndarray:
                return np.asarray(explainer.explain(inputs, targets))[0]

            result, reference, seconds = timed_pair(ours, theirs, repeats)
        except Exception as error:  # noqa: BLE001 (a reference that fails is reported, not fatal)
            rows[name] = {"error": f"{type(error).__name__}: {str(error).splitlines()[0][:120]}"}
            print(name, rows[name], flush=True)
            continue
        mine = {"raw": result.raw, "heatmap": result.heatmap}.get(which)
        if which == "full":
            from cnnviz.methods.occlusion import over_patches, positions

            tops = positions(loaded.input_size[0], params["patch_size"], params["stride"])
            mine = over_patches(result.raw, tops, tops, params["patch_size"], loaded.input_size, "sum")
        size = loaded.input_size
        mine, reference_map = _resized(mine, size), _resized(reduce(reference), size)
        row = {**seconds, "speedup": seconds["xplique_s"] / seconds["cnnviz_s"],
               "cpu_speedup": seconds["xplique_cpu_s"] / seconds["cnnviz_cpu_s"]}
        if stochastic:  # Xplique's random draws continue from call to call: the next call is another draw
            other = _resized(reduce(theirs()), size)
            again = ours(1)
            mine_again = _resized({"raw": again.raw, "heatmap": again.heatmap}[which], size)
            row.update(rank_vs_xplique=spearman(mine, reference_map), xplique_seed_spread=spearman(reference_map, other),
                       cnnviz_seed_spread=spearman(mine, mine_again))
        else:
            row.update(pearson=pearson(mine, reference_map))
        rows[name] = row
        print(name, {k: round(v, 3) for k, v in row.items()}, flush=True)
    return rows


METRICS_SECTION = "## Against Xplique: metrics"


def shared_subsets(samples: int, cells: int, subset_percent: float, seed: int) -> np.ndarray:
    """The cells MuFidelity removes, (samples, cells) bool: cnnviz's own seeded Bernoulli draw
    (``mu_fidelity(subsets="bernoulli", seed=seed)``), handed to Xplique too."""
    return np.random.default_rng(seed).random((samples, cells)) < subset_percent


def xplique_mu_fidelity(removed_cells: np.ndarray) -> Any:
    """Xplique's MuFidelity drawing no subsets of its own: it takes ``removed_cells`` in order.

    Xplique draws each subset in ``_perturb_samples`` with the global ``tf.random.uniform`` (a cell is
    kept where the draw exceeds ``subset_percent``), so two libraries with their own generators agree
    only up to sampling noise (and Xplique differs from itself between evaluations). With the same
    subsets everything else (nearest upsampling, baseline, score drop, attribution sum, Spearman) is
    Xplique's own code.
    """
    from xplique.metrics import MuFidelity

    class SharedSubsets(MuFidelity):
        def evaluate(self, explanations: Any) -> float:
            self._next = 0
            return super().evaluate(explanations)

        def _perturb_samples(self, inputs: tf.Tensor, nb_perturbations: int) -> tuple[tf.Tensor, tf.Tensor]:
            kept = ~removed_cells[self._next:self._next + nb_perturbations]
            self._next += nb_perturbations
            masks = tf.reshape(tf.constant(kept, tf.float32), (nb_perturbations, self.grid_size, self.grid_size, 1))
            masks = tf.image.resize(masks, self.inputs.shape[1:-1], method="nearest")
            masks = tf.repeat(masks[tf.newaxis], repeats=inputs.shape[0], axis=0)
            perturbed = tf.repeat(inputs[:, tf.newaxis], repeats=nb_perturbations, axis=1)
            perturbed = perturbed * masks + (1.0 - masks) * self.baseline_mode
            return tf.reshape(perturbed, (-1, *self.inputs.shape[1:])), masks

    return SharedSubsets


def metrics_agreement(images: int = 4) -> dict[str, Any]:
    """Deletion, insertion, MuFidelity, average drop / increase of cnnviz and Xplique on the demo model
    (which takes raw pixels, so Xplique's baseline 0 is black for both), on random continuous maps
    scaled to [0, 1] (no ties in the ranking, the same mask for the average drop)."""
    from xplique.metrics import AverageDropMetric, AverageIncreaseMetric, Deletion, Insertion, MuFidelity

    from cnnviz.faithfulness import confidence_change, deletion_insertion, mu_fidelity

    shapes = load_model("shapes")
    rows: dict[str, list[tuple[float, float]]] = {k: [] for k in (
        "deletion", "insertion", "mu_fidelity", "mu_fidelity_xplique_twice", "mu_fidelity_shared_subsets",
        "average_drop", "average_increase")}
    for index in range(images):
        image = generate_sample(IMAGE_SEED + index, 64).image
        inputs = image[None].astype(np.float32)
        class_index = int(np.argmax(shapes.logits(image[None]).numpy()[0]))
        targets = tf.one_hot([class_index], shapes.num_classes).numpy()
        noise = np.random.default_rng(index).random((64, 64))
        heatmap = ((noise - noise.min()) / np.ptp(noise)).astype(np.float32)
        ours = deletion_insertion(shapes, image, heatmap, class_index, steps=10, deletion_fill="black",
                                  insertion_start="black")
        rows["deletion"].append((ours.deletion, float(Deletion(shapes.model, inputs, targets, steps=10,
                                                               activation="softmax").evaluate(heatmap[None]))))
        rows["insertion"].append((ours.insertion, float(Insertion(shapes.model, inputs, targets, steps=10,
                                                                  activation="softmax").evaluate(heatmap[None]))))
        fidelity = MuFidelity(shapes.model, inputs, targets, nb_samples=512, activation="softmax")
        rows["mu_fidelity"].append((
            mu_fidelity(shapes, image, heatmap, class_index, samples=512, subsets="bernoulli",
                        correlation="spearman"), float(fidelity.evaluate(heatmap[None]))))
        rows["mu_fidelity_xplique_twice"].append((float(fidelity.evaluate(heatmap[None])), rows["mu_fidelity"][-1][1]))
        removed_cells = shared_subsets(512, 81, 0.2, seed=index)
        shared = xplique_mu_fidelity(removed_cells)(shapes.model, inputs, targets, nb_samples=512,
                                                    activation="softmax")
        rows["mu_fidelity_shared_subsets"].append((
            mu_fidelity(shapes, image, heatmap, class_index, samples=512, subsets="bernoulli",
                        correlation="spearman", seed=index), float(shared.evaluate(heatmap[None]))))
        change = confidence_change(shapes, image, heatmap, class_index)
        rows["average_drop"].append((change.drop, float(AverageDropMetric(
            shapes.model, inputs, targets, activation="softmax").evaluate(heatmap[None]))))
        rows["average_increase"].append((float(change.increase), float(AverageIncreaseMetric(
            shapes.model, inputs, targets, activation="softmax").evaluate(heatmap[None]))))
    return {name: {"cnnviz": [a for a, _ in pairs], "xplique": [b for _, b in pairs],
                   "max_abs_difference": float(max(abs(a - b) for a, b in pairs))} for name, pairs in rows.items()}


def metrics_markdown(results: dict[str, Any], command: str) -> str:
    lines = [METRICS_SECTION, "", f"Command: `{command}`. Demo model, {len(results['deletion']['cnnviz'])} "
             "generated images, random continuous maps in [0, 1]; Deletion / Insertion with 10 steps and a black "
             "baseline (Xplique's 0; cnnviz `deletion_fill=\"black\", insertion_start=\"black\"`), softmax scores. "
             "MuFidelity (Xplique's protocol: each of the 9 x 9 cells removed with probability 0.2, Spearman "
             "correlation; cnnviz `subsets=bernoulli, correlation=spearman`, 512 subsets): Xplique draws its "
             "subsets with the global `tf.random.uniform` inside `_perturb_samples` (a new draw on every "
             "evaluation), cnnviz with NumPy's generator seeded by `seed`, so the row mu_fidelity (each its own "
             "draws) agrees up to sampling noise only, as Xplique with itself (mu_fidelity_xplique_twice, first "
             "column: its second run). mu_fidelity_shared_subsets hands cnnviz's seeded subsets to Xplique "
             "(its `_perturb_samples` overridden to take them; the rest is Xplique's code): then the two are "
             "equal.", "", "| metric | largest difference cnnviz - Xplique | cnnviz | Xplique |",
             "|---|---|---|---|"]
    for name, row in results.items():
        ours = ", ".join(f"{v:.4f}" for v in row["cnnviz"])
        theirs = ", ".join(f"{v:.4f}" for v in row["xplique"])
        lines.append(f"| {name} | {row['max_abs_difference']:.2e} | {ours} | {theirs} |")
    return "\n".join(lines) + "\n"


def markdown(results: dict[str, Any], command: str) -> str:
    lines = [SECTION, "", f"Command: `{command}` (one process per run; the machine was shared with other "
             "jobs, so the seconds are noisy, the ratios less so: both sides ran interleaved on the same input).",
             "", "Deterministic methods: Pearson r of the maps after matching conventions (target >= 0.99). "
             "Stochastic methods: Spearman rank correlation cnnviz vs Xplique, beside Xplique's own seed-to-seed "
             "spread (target: within it). Speed-up = Xplique seconds / cnnviz seconds (target >= 1; geometric "
             "mean >= 1.5). Sample counts: demo model RISE 1000 masks, Sobol 32 designs, HSIC 1500, LIME and "
             "KernelSHAP 1000 coalitions, SmoothGrad & co 32 copies; ImageNet networks (`--small`) 128 / 4 / 128 / "
             "128 and 16, to keep the shared machine's load down.", "",
             "Notes. Xplique's Sobol and HSIC draw the same designs on every call (their 'draw vs draw' is 1), "
             "so their spread is cnnviz's seed-to-seed one. Guided backpropagation differs slightly on "
             "MobileNetV2 (r 0.986): cnnviz keeps ReLU6's own gradient gate (0 < x < 6) under the guided rule, "
             "Xplique's guided ReLU gates at x > 0 only. LIME and KernelSHAP with few coalitions for ~50 "
             "superpixels are noisy in both libraries (compare the two spreads). Seconds are medians of `--repeats` "
             "warm calls, each library's interleaved with the other's, under load from other jobs on the same "
             "2 cores; the CPU-time ratio (all threads of the process) is the steadier one under that load.", ""]
    for model, rows in results["models"].items():
        lines += [f"### {model}", "", "| method | agreement | Xplique draw vs draw | cnnviz seed vs seed | "
                  "cnnviz s | Xplique s | speed-up | speed-up (CPU time) |", "|---|---|---|---|---|---|---|---|"]
        ratios, cpu_ratios = [], []
        for name, row in rows.items():
            if "error" in row:
                lines.append(f"| {name} | Xplique failed: {row['error']} | | | | | | |")
                continue
            ratios.append(row["speedup"])
            cpu_ratios.append(row.get("cpu_speedup", float("nan")))
            cpu = f"{row['cpu_speedup']:.2f}x" if "cpu_speedup" in row else ""
            agree = (f"r = {row['pearson']:.3f}" if "pearson" in row else f"rank {row['rank_vs_xplique']:.3f}")
            spread = f"{row['xplique_seed_spread']:.3f}" if "xplique_seed_spread" in row else ""
            own = f"{row['cnnviz_seed_spread']:.3f}" if "cnnviz_seed_spread" in row else ""
            lines.append(f"| {name} | {agree} | {spread} | {own} | {row['cnnviz_s']:.3f} | {row['xplique_s']:.3f} | "
                         f"{row['speedup']:.2f}x | {cpu} |")
        if ratios:
            lines += ["", f"Geometric mean speed-up: {float(np.exp(np.mean(np.log(ratios)))):.2f}x over "
                          f"{len(ratios)} methods (CPU time: {float(np.exp(np.mean(np.log(cpu_ratios)))):.2f}x)."]
        lines.append("")
    return "\n".join(lines)


def write_docs(section: str, title: str = SECTION) -> None:
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    if title in text:
        start = text.index(title)
        end = text.find("\n## ", start + len(title))
        text = text[:start] + section + ("\n" + text[end + 1:] if end != -1 else "\n")
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    DOCS.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["shapes", "MobileNetV2", "ResNet50"])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--small", nargs="*", default=[], metavar="MODEL",
                        help="models on which the black-box methods use fewer samples (ImageNet networks here)")
    parser.add_argument("--methods", nargs="*", default=None, help="only these methods")
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--results", type=Path, default=RESULTS,
                        help="the JSON file of the run (one per process when models run in parallel)")
    parser.add_argument("--merge", type=Path, nargs="*", default=None,
                        help="only merge these results files (later ones win) into --results and write the table")
    parser.add_argument("--metrics", action="store_true", help="compare the metrics instead of the methods")
    args = parser.parse_args()
    import xplique

    command = "python bench/reference.py " + " ".join(sys.argv[1:])
    if args.metrics:
        figures = metrics_agreement()
        section = metrics_markdown(figures, command.strip())
        print(section)
        if args.write_docs:
            write_docs(section, METRICS_SECTION)
        return

    results: dict[str, Any] = {"xplique": xplique.__version__, "tensorflow": tf.__version__, "models": {},
                               "commands": []}
    if args.merge is not None:
        for path in args.merge:
            part = json.loads(path.read_text())
            results["commands"] += [c for c in part.get("commands", []) if c not in results["commands"]]
            for model, rows in part["models"].items():
                results["models"].setdefault(model, {}).update(rows)
        args.results.write_text(json.dumps(results, indent=2))
        section = markdown(results, "; ".join(results["commands"]))
        print(section)
        if args.write_docs:
            write_docs(section)
        return
    if args.methods and args.results.exists():  # a partial run updates those rows of the last full run
        results = json.loads(args.results.read_text())
    results.setdefault("commands", []).append(command.strip())
    for name, loaded in models(args.models).items():
        print(f"== {name}", flush=True)
        rows = agreement(loaded, args.repeats, name in args.small, args.methods)
        results["models"].setdefault(loaded.name, {}).update(rows)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(results, indent=2))
    section = markdown(results, "; then ".join(results["commands"]))
    print(section)
    if args.write_docs:
        write_docs(section)


if __name__ == "__main__":
    main()
