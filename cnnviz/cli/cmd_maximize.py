"""``python -m cnnviz maximize --layer L --channels 0 1 | --class NAME``: activation maximisation images."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    from cnnviz.cli.common import add_model_arguments, add_precision_argument

    parser = subparsers.add_parser("maximize", help="optimise images that excite channels or classes")
    add_model_arguments(parser)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--channels", type=int, nargs="+", metavar="C", help="channels of --layer")
    target.add_argument(
        "--class",
        dest="classes",
        nargs="+",
        metavar="CLASS",
        help="class indices or labels (the logit is maximised)",
    )
    parser.add_argument("--layer", help="layer of --channels (default: the last convolutional one)")
    parser.add_argument("--steps", type=int, default=256, help="optimisation steps (default 256)")
    parser.add_argument(
        "--method",
        choices=("fourier", "pixel"),
        default="fourier",
        help="Feature Visualization recipe (default) or plain pixel-space ascent",
    )
    parser.add_argument("--learning-rate", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="maximize.png", help="PNG gallery to write (default maximize.png)")
    parser.add_argument("--json", action="store_true", help="print a JSON summary")
    add_precision_argument(parser, "the optimisation steps (the reported objectives are float32)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from cnnviz.cli.common import load_model_from_args, print_json, terminal_progress
    from cnnviz.inside import maximize
    from cnnviz.render.inside import gallery, png

    loaded = load_model_from_args(args)
    result = maximize(
        loaded,
        args.layer,
        channels=args.channels,
        class_index=args.classes,
        steps=args.steps,
        method=args.method,
        learning_rate=args.learning_rate,
        seed=args.seed,
        progress=terminal_progress("maximize"),
        precision=args.precision,
    )
    captions = [
        label if result.target_kind == "class" else f"channel {t}"
        for label, t in zip(result.labels, result.targets)
    ]
    Path(args.out).write_bytes(png(gallery(list(result.images), captions)))
    rows = [
        {
            "target": t,
            "label": label,
            "start": float(s),
            "final": float(f),
            "probability": float(p),
            "predicted": loaded.class_names[int(c)],
        }
        for t, label, s, f, p, c in zip(
            result.targets,
            result.labels,
            result.start_objective,
            result.final_objective,
            result.probabilities,
            result.predicted,
        )
    ]
    if args.json:
        print_json(
            {
                "model": loaded.name,
                "layer": result.layer,
                "kind": result.target_kind,
                "method": result.method,
                "steps": result.steps,
                "seconds": result.seconds,
                "targets": rows,
                "out": args.out,
            }
        )
        return 0
    what = "class" if result.target_kind == "class" else f"{result.layer} channel"
    print(f"{loaded.name}: {result.steps} {result.method} steps in {result.seconds:.1f} s -> {args.out}")
    for row in rows:
        extra = (
            f"p={row['probability']:.3f}"
            if result.target_kind == "class"
            else f"predicted {row['predicted']}"
        )
        print(
            f"  {what} {row['label'] if result.target_kind == 'class' else row['target']}: objective "
            f"{row['start']:.4g} -> {row['final']:.4g}  {extra}"
        )
    return 0
