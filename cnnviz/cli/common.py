"""Helpers shared by CLI subcommands: model options, image reading, JSON and progress output."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np


DEFAULT_MODEL = "shapes"


def add_model_arguments(parser: argparse.ArgumentParser, several: bool = False) -> None:
    """--model NAME (or a .keras/.h5 file; repeatable with ``several``: a list, None when not
    given), --weights, --labels, --fit."""
    model_help = ("zoo model name (see `python -m cnnviz models`) or a .keras/.h5 file "
                  f"(default: the bundled demo model '{DEFAULT_MODEL}')")
    if several:
        parser.add_argument("--model", action="append", metavar="NAME",
                            help=model_help + "; repeat for several")
    else:
        parser.add_argument("--model", default=DEFAULT_MODEL, help=model_help)
    parser.add_argument("--weights", choices=("imagenet", "none"), default="imagenet",
                        help="'none' builds the architecture with random weights (no download)")
    parser.add_argument("--labels", help="labels file for a model file: one label per line or JSON "
                                         '(a JSON object may add "preprocessing", "mean", "std", "head")')
    parser.add_argument("--preprocessing", metavar="NAME",
                        help="what a model file expects: none (0..255), scale01, tf, caffe, torch or "
                             "standardize (default: none if it starts with Rescaling, else scale01)")
    parser.add_argument("--fit", choices=("crop", "stretch"), default="crop",
                        help="how the image is resized to the model input (default: centre crop)")


def load_model_from_args(args: argparse.Namespace) -> Any:
    """The LoadedModel named by --model: a zoo name, or a path to a user's model file."""
    from cnnviz.models import USER_MODEL_SUFFIXES, load_model, load_model_file

    if Path(args.model).suffix.lower() in USER_MODEL_SUFFIXES:
        return load_model_file(args.model, labels=args.labels,
                               preprocessing=getattr(args, "preprocessing", None))
    return load_model(args.model, weights=None if args.weights == "none" else "imagenet")


def read_image(path: str) -> np.ndarray:
    """An RGB uint8 image from a path (typed errors for anything that is not a usable image)."""
    from cnnviz.images import load_image

    return load_image(path)


def print_json(data: Any) -> None:
    """Print data as indented JSON (NumPy scalars converted)."""
    print(json.dumps(data, indent=2, default=_to_builtin))


def _to_builtin(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def terminal_progress(label: str) -> Any:
    """A progress callback that draws a one-line bar on stderr (only when stderr is a terminal)."""
    interactive = sys.stderr.isatty()

    def progress(done: int, total: int, info: Mapping[str, Any]) -> None:
        if not interactive:
            return
        width = 30
        filled = int(width * done / max(total, 1))
        extra = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                         for k, v in info.items())
        sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} {extra}")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return progress
