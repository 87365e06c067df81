"""``python -m cnnviz embed (--folder DIR | --zip FILE | --generated N) --model NAME --out map.png``:
the dataset as the network sees it: features of a layer, a 2-D map and the kNN accuracy."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    from cnnviz.cli.common import add_data_arguments, add_model_arguments

    # no engine import here: building the parser must not load TensorFlow (every command builds it)
    parser = subparsers.add_parser("embed", help="map a dataset through a layer's features (PCA, t-SNE, UMAP)")
    add_data_arguments(parser)
    parser.set_defaults(split="all")
    add_model_arguments(parser)
    parser.add_argument("--layer", help="layer whose output gives the features (default: the one before "
                                        "the classifier); spatial outputs are averaged over height and width")
    parser.add_argument("--projection", choices=("pca", "tsne", "umap"), default="pca",
                        help="2-D projection (default pca; umap needs requirements-umap.txt)")
    parser.add_argument("--out", default="embedding.png", metavar="PNG",
                        help="PNG of the map to write (default embedding.png)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cnnviz.cli.common import dataset_and_model, print_json, report_skipped, terminal_progress
    from cnnviz.datasets import embed
    from cnnviz.render.datasets import embedding_figure, figure_png

    dataset, loaded = dataset_and_model(args)
    result = embed(loaded, dataset, layer=args.layer, projection=args.projection, split=args.split,
                   seed=args.seed, batch_size=args.batch_size, fit=args.fit,
                   progress=terminal_progress("embed"))
    knn = "n/a (unlabelled)" if result.knn_accuracy is None else f"{100 * result.knn_accuracy:.1f}%"
    title = f"{loaded.name} {result.layer}, {result.projection.upper()} (kNN accuracy {knn})"
    Path(args.out).write_bytes(figure_png(embedding_figure(result.points, result.labels,
                                                           result.class_names, title)))
    if args.json:
        print_json({**result.to_json(), "model": loaded.name, "dataset": dataset.name, "out": args.out})
        return 0
    print(f"{loaded.name} {result.layer} ({result.features.shape[1]} features) on {dataset.name}, "
          f"{len(result.indices)} images: leave-one-out {result.knn_k}-NN accuracy {knn}; "
          f"{result.projection} map -> {args.out}")
    report_skipped(dataset)
    return 0
