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


# --- datasets (evaluate, embed, and the commands that train or audit on a dataset) ---------------
SPLIT_CHOICES = ("test", "val", "train", "all")


def add_data_arguments(parser: argparse.ArgumentParser, split: bool = True, seed: bool = True,
                       batch_size: bool = True) -> None:
    """--folder DIR | --zip FILE | --generated N, and --split, --seed, --batch-size (cnnviz.datasets);
    a command with its own meaning for one of the last three turns it off."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--folder", metavar="DIR",
                        help="a folder with one subfolder of images per class (or a flat folder: unlabelled)")
    source.add_argument("--zip", metavar="FILE", help="a .zip archive with the same layout")
    source.add_argument("--generated", type=int, metavar="N",
                        help="a generated demo shapes set: N images per class, with masks")
    if split:
        parser.add_argument("--split", choices=SPLIT_CHOICES, default="test",
                            help="which part of the seeded 70/15/15 split to use (default: test)")
    if seed:
        parser.add_argument("--seed", type=int, default=0,
                            help="seed of the split (and of the generated set) (default 0)")
    if batch_size:
        parser.add_argument("--batch-size", type=int, default=32, help="images per batch (default 32)")


def dataset_from_args(args: argparse.Namespace, progress: Any = None) -> Any:
    """The cnnviz.datasets.Dataset named by --folder / --zip / --generated."""
    from cnnviz.datasets import generated, open_dataset

    seed = getattr(args, "seed", 0) or 0
    if args.generated is not None:
        source: Any = generated(args.generated, seed=seed)
    else:
        source = args.folder if args.folder is not None else args.zip
        if args.zip is not None and not Path(args.zip).is_file():
            from cnnviz.errors import DatasetError

            raise DatasetError(f"No zip file at {args.zip!r}: check the path.")
    return open_dataset(source, seed=seed, progress=progress)


def dataset_and_model(args: argparse.Namespace) -> tuple[Any, Any]:
    """The dataset (read first, so bad data fails before a model loads) and the LoadedModel."""
    dataset = dataset_from_args(args, progress=terminal_progress("reading"))
    return dataset, load_model_from_args(args)


def report_skipped(dataset: Any) -> None:
    """The dataset's skipped files and warnings on stderr, one line each (after the results)."""
    for skipped in dataset.skipped:
        print(f"skipped: {skipped.file}: {skipped.reason}", file=sys.stderr)
    for warning in dataset.warnings:
        print(f"warning: {warning}", file=sys.stderr)


def add_precision_argument(parser: argparse.ArgumentParser, what: str) -> None:
    """``--precision auto|float32|bfloat16`` (cnnviz.precision) for commands with batched model calls."""
    parser.add_argument("--precision", choices=("auto", "float32", "bfloat16"), default=None,
                        help=f"precision of {what}: auto (default: mixed bfloat16 where a short "
                             "measurement finds it faster), float32, or bfloat16")
