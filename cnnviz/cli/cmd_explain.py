"""``python -m cnnviz explain IMAGE --method METHOD``: a heatmap of why the model predicts a class."""

from __future__ import annotations

import argparse
import json
from typing import Any

METHOD_NAMES = ("gradcam", "gradcam++", "cam", "scorecam", "layercam", "occlusion", "saliency", "smoothgrad",
                "integrated_gradients", "guided_gradcam", "xgradcam", "hirescam", "gradcam_elementwise",
                "eigencam", "ablationcam", "fem", "gradient_input", "vargrad", "squaregrad", "guided_backprop",
                "deconvnet", "rise", "sobol", "hsic", "lime", "kernel_shap",
                "lrp")  # kept equal to cnnviz.explanation.METHODS (tested)
COLORMAP_NAMES = ("viridis", "inferno", "magma", "jet", "turbo", "hot")  # = cnnviz.render.COLORMAPS (tested)


def register(subparsers: argparse._SubParsersAction) -> None:
    from cnnviz.cli.common import add_model_arguments, add_precision_argument

    parser = subparsers.add_parser(
        "explain", help="heatmap of what in an image made the model predict a class",
        description="Draw a heatmap (Grad-CAM, CAM, Score-CAM, occlusion, saliency...) over the image. "
                    "Method parameters go in --param NAME=VALUE, e.g. --param patch_size=32 "
                    "--param fill=blur for occlusion, --param top_k=64 for Score-CAM, --param samples=500 "
                    "--param grid_size=7 for RISE, --param designs=32 for Sobol, --param segments=50 for LIME "
                    "and KernelSHAP, --param rule=epsilon_plus_flat for LRP, --param forgrad=15 (FORGrad "
                    "low-pass) on any gradient method; cnnviz.explanation.METHODS[name].defaults lists "
                    "every method's parameters.")
    parser.add_argument("image", metavar="IMAGE", help="image file")
    add_model_arguments(parser)
    parser.add_argument("--method", default="gradcam", metavar="METHOD",
                        help=f"one of {', '.join(METHOD_NAMES)} (default gradcam)")
    parser.add_argument("--class", dest="class_index", metavar="C",
                        help="class index or label to explain (default: the top-1 class)")
    parser.add_argument("--layer", metavar="L", help="target layer (default: the last spatial layer "
                                                     "before global pooling; nested layers as outer/inner)")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="a method parameter (repeatable); VALUE is read as JSON if it can be")
    parser.add_argument("--out", default="overlay.png", help="overlay PNG to write (default overlay.png)")
    parser.add_argument("--npy", metavar="FILE", help="also save the heatmap (float32, 0..1) as .npy")
    parser.add_argument("--original", action="store_true",
                        help="draw (and save) the map at the original image's size, not the model input's")
    parser.add_argument("--colormap", default=COLORMAP_NAMES[0],
                        help=f"colour map: {', '.join(COLORMAP_NAMES)} (default {COLORMAP_NAMES[0]}, "
                             "perceptually uniform; jet as in many papers)")
    parser.add_argument("--opacity", type=float, default=0.5, help="opacity of the map, 0..1 (default 0.5)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    add_precision_argument(parser, "the batched model calls (occlusion, Score-CAM, SmoothGrad, VarGrad, "
                                   "SquareGrad, Integrated Gradients)")
    parser.set_defaults(func=run)


def parse_params(items: list[str]) -> dict[str, Any]:
    """``["patch_size=32", "fill=blur"]`` -> ``{"patch_size": 32, "fill": "blur"}``."""
    from cnnviz.errors import ParameterError

    params: dict[str, Any] = {}
    for item in items:
        name, equals, text = item.partition("=")
        if not equals or not name.strip():
            raise ParameterError(f"--param needs NAME=VALUE, got {item!r}.")
        try:
            params[name.strip()] = json.loads(text)
        except json.JSONDecodeError:
            params[name.strip()] = text
    return params


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import numpy as np

    from cnnviz.cli.common import load_model_from_args, print_json, read_image, terminal_progress
    from cnnviz.explanation import explain, get_method
    from cnnviz.render import heatmap_overlay, png

    method = get_method(args.method)
    params = parse_params(args.param)
    image = read_image(args.image)
    loaded = load_model_from_args(args)
    progress = terminal_progress(method.title) if method.progress else None
    result = explain(loaded, image, method=method.name, class_index=args.class_index, layer=args.layer,
                     fit=args.fit, progress=progress, precision=args.precision, **params)
    original = image if args.original else None
    Path(args.out).write_bytes(png(heatmap_overlay(result, original, args.colormap, args.opacity)))
    heatmap = result.on_original() if args.original else result.heatmap
    if args.npy:
        np.save(args.npy, heatmap)
    peak = np.unravel_index(int(np.argmax(heatmap)), heatmap.shape)
    summary = {
        "model": loaded.name, "method": result.method, "class_index": result.class_index,
        "label": result.label, "probability": result.probability, "layer": result.layer,
        "params": result.params, "seconds": round(result.seconds, 4),
        "raw_shape": list(result.raw.shape), "heatmap_shape": list(heatmap.shape),
        "peak": [int(peak[0]), int(peak[1])], "crop_box": list(result.box),
        "out": args.out, "npy": args.npy, "precision": result.precision,
    }
    if args.json:
        print_json(summary)
        return 0
    where = f" at layer {result.layer}" if result.layer else ""
    print(f"{loaded.name}: {result.title}{where} for class {result.class_index} '{result.label}' "
          f"({100 * result.probability:.1f}%) in {result.seconds:.2f} s; peak at (row, column) "
          f"{summary['peak']} -> {args.out}" + (f", {args.npy}" if args.npy else ""))
    return 0
