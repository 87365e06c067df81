"""``python -m cnnviz download MODEL...``: fetch ImageNet weights into the cache (KERAS_HOME)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("download", help="download ImageNet weights into models_cache/")
    parser.add_argument("models", nargs="+", metavar="MODEL", help="zoo model names")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cnnviz.errors import WeightsDownloadError
    from cnnviz.models import keras_models_dir, load_model
    from cnnviz.zoo import get_spec

    specs = [get_spec(name) for name in args.models]  # unknown names fail before any download
    for spec in specs:
        loaded = load_model(spec.name, weights="imagenet")
        if not loaded.labels_known:  # an offline image would otherwise ship with "class N" labels
            raise WeightsDownloadError(
                f"{spec.name}: weights are cached but the ImageNet class names could not be "
                "downloaded (imagenet_class_index.json). Check the connection and retry."
            )
        print(f"{spec.name}: weights cached in {keras_models_dir()}")
    return 0
