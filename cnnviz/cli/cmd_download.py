"""``python -m cnnviz download MODEL...``: fetch ImageNet weights into the cache (KERAS_HOME)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("download", help="download ImageNet weights into models_cache/")
    parser.add_argument("models", nargs="+", metavar="MODEL", help="zoo model names")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cnnviz.models import keras_models_dir, load_model
    from cnnviz.zoo import get_spec

    specs = [get_spec(name) for name in args.models]  # unknown names fail before any download
    for spec in specs:
        load_model(spec.name, weights="imagenet")
        print(f"{spec.name}: weights cached in {keras_models_dir()}")
    return 0
