"""``python -m cnnviz predict IMAGE... --model NAME``: top classes for each image."""

from __future__ import annotations

import argparse

from cnnviz.cli.common import add_model_arguments


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("predict", help="classify images")
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
    add_model_arguments(parser)
    parser.add_argument("--top", type=int, default=5, help="how many classes to show (default 5)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cnnviz.cli.common import load_model_from_args, print_json, read_image
    from cnnviz.prediction import predict_batch

    images = [read_image(path) for path in args.images]  # fail before loading a model
    loaded = load_model_from_args(args)
    results = predict_batch(loaded, images, top=args.top, fit=args.fit)
    if args.json:
        print_json([{"image": path, "model": loaded.name, "multilabel": loaded.multilabel,
                     "predictions": [vars(p) for p in predictions]}
                    for path, predictions in zip(args.images, results)])
        return 0
    if loaded.multilabel:
        print("multi-label model: each probability is independent (they need not add up to 100%)")
    for path, predictions in zip(args.images, results):
        print(f"{path} ({loaded.name}):")
        for rank, p in enumerate(predictions, 1):
            print(f"  {rank}. {p.label:<30} {100 * p.probability:6.2f}%  (class {p.class_index})")
    return 0
