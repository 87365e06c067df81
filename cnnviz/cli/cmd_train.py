"""``python -m cnnviz train (--folder DIR | --zip FILE | --generated N) --backbone NAME --strategy S
--out model.keras``: transfer learning on your own images; writes model.keras and model.labels.txt."""

from __future__ import annotations

import argparse
import sys
from typing import Any

STRATEGY_CHOICES = ("features", "head", "finetune", "scratch")  # cnnviz.training.STRATEGIES (no import)
BAR_WIDTH = 30


def register(subparsers: argparse._SubParsersAction) -> None:
    # no engine import here: building the parser must not load TensorFlow (every command builds it)
    parser = subparsers.add_parser(
        "train", help="train a classifier on your images on a pretrained backbone (transfer learning)")
    from cnnviz.cli.common import add_data_arguments

    add_data_arguments(parser, split=False)  # --folder | --zip | --generated, --seed, --batch-size
    parser.add_argument("--backbone", required=True,
                        help="zoo model name, 'shapes' (the bundled demo model) or a .keras/.h5 file")
    parser.add_argument("--weights", choices=("imagenet", "none"), default="imagenet",
                        help="backbone weights: ImageNet (random, with a warning, when they cannot be "
                             "had) or 'none' (random: nothing is transferred)")
    parser.add_argument("--cut", metavar="LAYER", help="layer to cut the backbone at (default: its last "
                                                       "spatial layer)")
    parser.add_argument("--strategy", required=True, choices=STRATEGY_CHOICES,
                        help="features: frozen features + logistic regression; head: a new head on the "
                             "frozen backbone; finetune: head, then the top layers at a lower rate; "
                             "scratch: the architecture from random weights")
    parser.add_argument("--epochs", type=int, help="epochs (default 10; 50 for features)")
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="learning rate (default 0.001)")
    parser.add_argument("--augment", metavar="LIST", default="",
                        help="comma-separated: flip,rotation,zoom,translation,contrast,brightness")
    parser.add_argument("--out", required=True, metavar="FILE.keras",
                        help="model file to write; the labels go beside it (model.labels.txt)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=run)


def epoch_progress(epochs: int, stream: Any = None) -> Any:
    """A progress callback for training: a bar through each epoch's batches on a terminal, and one
    line per finished epoch with its figures (also when stderr is not a terminal)."""
    stream = stream or sys.stderr
    interactive = stream.isatty()

    def progress(done: int, total: int, info: dict[str, Any]) -> None:
        if "val_loss" in info:
            figures = "  ".join(f"{name} {info[name]:.4f}" for name in ("loss", "accuracy", "val_loss",
                                                                       "val_accuracy")
                                if isinstance(info.get(name), float))
            stream.write(f"\r{info['phase']} epoch {info['epoch']}: {figures}  ({info['seconds']:.1f}s)"
                         f"{' ' * 10}\n")
        elif interactive and "batch" in info:
            filled = int(BAR_WIDTH * info["batch"] / max(info["batches"], 1))
            stream.write(f"\r{info['phase']} epoch {info['epoch']} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}]"
                         f" loss {info['loss'] or 0:.4f}")
        elif interactive and info.get("phase") == "features":
            stream.write(f"\rcomputing features: {done}/{total} images")
        stream.flush()

    return progress


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from cnnviz.cli.common import dataset_from_args, print_json, report_skipped
    from cnnviz.errors import ParameterError
    from cnnviz.training import Augmentation, train

    out = Path(args.out)
    if out.suffix.lower() != ".keras":
        raise ParameterError(f"--out must name a .keras file, not {args.out!r}.")
    if not out.parent.is_dir():
        raise ParameterError(f"The folder of --out ({out.parent}) does not exist.")
    augmentation = Augmentation.from_names(args.augment)
    dataset = dataset_from_args(args)  # the seed also seeds training
    epochs = args.epochs if args.epochs is not None else (50 if args.strategy == "features" else 10)
    result = train(args.backbone, dataset, args.strategy, weights=None if args.weights == "none" else "imagenet",
                   cut=args.cut, epochs=epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
                   augmentation=augmentation, seed=args.seed, progress=epoch_progress(epochs))
    model_path, labels_path = result.save(out)
    report_skipped(dataset)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    history = [{key: row[key] for key in ("epoch", "loss", "accuracy", "val_loss", "val_accuracy")}
               for row in result.history]
    if args.json:
        summary = result.to_json()
        print_json({"strategy": result.strategy, "classes": list(result.class_names), "history": history,
                    "test_accuracy": result.test_accuracy, "model": str(model_path),
                    "labels": str(labels_path), "backbone": result.backbone, "cut": result.cut,
                    "backbone_weights": result.backbone_weights, "best_epoch": result.best_epoch,
                    "images": result.images, "seconds": summary["seconds"],
                    "seconds_per_epoch": summary["seconds_per_epoch"], "warnings": list(result.warnings)})
        return 0
    test = "n/a" if result.test_accuracy is None else f"{result.test_accuracy:.3f}"
    print(f"{result.strategy} on {result.backbone} (cut at {result.cut}), {len(result.class_names)} classes "
          f"({', '.join(result.class_names)}): best epoch {result.best_epoch}, test accuracy {test} on "
          f"{result.images['test']} images")
    print(f"wrote {model_path} and {labels_path}")
    return 0
