"""``python -m cnnviz evaluate (--folder DIR | --zip FILE | --generated N) --model NAME``: accuracy,
per-class scores, confusion matrix, mistakes and calibration of a model on a dataset."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

SHOWN_MISTAKES = 10


def register(subparsers: argparse._SubParsersAction) -> None:
    from cnnviz.cli.common import add_data_arguments, add_model_arguments, add_precision_argument

    # no engine import here: building the parser must not load TensorFlow (every command builds it)
    parser = subparsers.add_parser("evaluate", help="evaluate a model on a dataset (folder, zip, generated)")
    add_data_arguments(parser)
    add_model_arguments(parser)
    parser.add_argument("--class-map", metavar="FILE",
                        help="dataset class -> model class: a JSON object or 'dataset,model' lines")
    parser.add_argument("--out", metavar="PNG", help="also write the confusion matrix as a PNG")
    parser.add_argument("--json", action="store_true", help="print JSON")
    add_precision_argument(parser, "the model's batches")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cnnviz.cli.common import dataset_and_model, print_json, report_skipped, terminal_progress
    from cnnviz.datasets import evaluate

    dataset, loaded = dataset_and_model(args)
    result = evaluate(loaded, dataset, split=args.split, batch_size=args.batch_size,
                      class_mapping=args.class_map, fit=args.fit, progress=terminal_progress("evaluate"),
                      precision=args.precision)
    if args.out:
        from cnnviz.render.datasets import confusion_matrix_figure, figure_png

        figure = confusion_matrix_figure(result.confusion_matrix, result.classes, result.predicted_classes,
                                         title=f"{loaded.name} on {dataset.name} ({args.split})")
        Path(args.out).write_bytes(figure_png(figure))
    if args.json:
        print_json(result.to_json())
        return 0
    _print_summary(result, args.out)
    report_skipped(dataset)
    return 0


def _print_summary(result: Any, out: str | None) -> None:
    top5 = "n/a" if result.top5_accuracy is None else f"{100 * result.top5_accuracy:.1f}%"
    print(f"{result.model} on {result.dataset} ({result.split} split, {result.images} images): "
          f"accuracy {100 * result.accuracy:.1f}%, top-5 {top5}, ECE {result.calibration.ece:.3f}")
    width = max(len(name) for name in result.classes)
    print(f"{'class':<{width}}  precision  recall     f1  support")
    for name, scores in result.per_class.items():
        print(f"{name:<{width}}  {scores['precision']:9.3f}  {scores['recall']:6.3f}  {scores['f1']:5.3f}"
              f"  {scores['support']:7d}")
    print("confusion matrix (rows: true class; columns: " + ", ".join(result.predicted_classes) + ")")
    for name, row in zip(result.classes, result.confusion_matrix):
        print(f"{name:<{width}}  " + " ".join(f"{int(v):4d}" for v in row))
    if result.mistakes:
        print(f"most confident mistakes ({min(SHOWN_MISTAKES, len(result.mistakes))} of {len(result.mistakes)}):")
        for m in result.mistakes[:SHOWN_MISTAKES]:
            print(f"  {m.file}: {m.true} -> {m.predicted} ({100 * m.probability:.1f}%)")
    if out:
        print(f"confusion matrix -> {out}")
