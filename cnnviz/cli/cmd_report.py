"""``python -m cnnviz report IMAGE --model A --model B --method gradcam --out report.html``."""

from __future__ import annotations

import argparse

from cnnviz.cli.cmd_explain import COLORMAP_NAMES, METHOD_NAMES

DEFAULT_METHODS = ("gradcam", "gradcam++", "scorecam")


def register(subparsers: argparse._SubParsersAction) -> None:
    from cnnviz.cli.common import add_model_arguments

    parser = subparsers.add_parser(
        "report", help="one self-contained HTML report: predictions and heatmaps of several models",
        description="Predict the image with each model and explain its top class with each method; "
                    "write one HTML file with every picture inside (open it in a browser, print it "
                    "to PDF from there).")
    parser.add_argument("image", metavar="IMAGE", help="image file")
    add_model_arguments(parser, several=True)
    parser.add_argument("--method", action="append", metavar="METHOD",
                        help=f"one of {', '.join(METHOD_NAMES)}; repeat for several "
                             f"(default: {', '.join(DEFAULT_METHODS)})")
    parser.add_argument("--colormap", default=COLORMAP_NAMES[0], help=f"one of {', '.join(COLORMAP_NAMES)}")
    parser.add_argument("--opacity", type=float, default=0.5, help="opacity of the maps, 0..1 (default 0.5)")
    parser.add_argument("--out", default="report.html", help="HTML file to write (default report.html)")
    parser.add_argument("--json", action="store_true", help="print a summary as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from cnnviz.cli.common import DEFAULT_MODEL, load_model_from_args, print_json, read_image, terminal_progress
    from cnnviz.errors import ParameterError
    from cnnviz.explanation import get_method
    from cnnviz.progress import ProgressCallback
    from cnnviz.render import check_style
    from cnnviz.report import build_section, report_html

    methods = [get_method(name).name for name in (args.method or DEFAULT_METHODS)]
    check_style(args.colormap, args.opacity)  # typed errors before any work
    if not Path(args.out).resolve().parent.is_dir():
        raise ParameterError(f"The folder of --out {args.out} does not exist: create it first.")
    image = read_image(args.image)
    models = [load_model_from_args(argparse.Namespace(**{**vars(args), "model": name}))
              for name in (args.model or [DEFAULT_MODEL])]
    sections = []
    for loaded in models:
        def bar(name: str, model_name: str = loaded.name) -> ProgressCallback:
            return terminal_progress(f"{model_name}: {get_method(name).title}")

        sections.append(build_section(loaded, image, methods, fit=args.fit, progress=bar))
    Path(args.out).write_text(report_html(image, Path(args.image).name, sections, args.colormap,
                                          args.opacity), encoding="utf-8")
    summary = {
        "out": args.out, "methods": methods,
        "models": [{"model": s.model_label, "top": s.predictions[0].label,
                    "probability": s.predictions[0].probability,
                    "heatmaps": [{"method": h.method, "label": h.label, "layer": h.layer,
                                  "seconds": round(h.seconds, 4)} for h in s.heatmaps]}
                   for s in sections],
    }
    if args.json:
        print_json(summary)
        return 0
    for part in summary["models"]:
        print(f"{part['model']}: {part['top']} ({100 * part['probability']:.1f}%), "
              f"{len(part['heatmaps'])} heatmaps")
    print(f"-> {args.out}")
    return 0
