"""``python -m cnnviz audit (--folder DIR | --zip FILE | --generated N) --model M --class C``: SpRAy
audit of one class (Lapuschkin et al. 2019): the heatmaps of all its images, clustered; the most
suspicious cluster first. Writes an HTML report (--out) and prints the clusters (or --json)."""

from __future__ import annotations

import argparse
from pathlib import Path

SPLITS = ("all", "train", "val", "test")


def register(subparsers: argparse._SubParsersAction) -> None:
    from cnnviz.cli.common import add_data_arguments, add_model_arguments

    # no engine import here: building the parser must not load TensorFlow (every command builds it)
    parser = subparsers.add_parser("audit", help="cluster the heatmaps of a class to find shortcuts (SpRAy)")
    add_data_arguments(parser, split=False)
    parser.add_argument("--split", choices=SPLITS, default="all",
                        help="which images of the class (default all)")
    add_model_arguments(parser)
    parser.add_argument("--class", dest="class_name", required=True, help="the class to audit")
    parser.add_argument("--method", default="gradcam",
                        help="heatmap method (see `python -m cnnviz explain -h`)")
    parser.add_argument("--clusters", default="auto",
                        help="number of clusters, or 'auto' (eigengap; default)")
    parser.add_argument("--layer", help="target layer of CAM methods (default: the last convolutional one)")
    parser.add_argument("--out", default="audit.html", help="HTML report to write (default audit.html)")
    parser.add_argument("--json", action="store_true", help="print the clusters as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cnnviz.audit import audit, member_images
    from cnnviz.audit.report import EXAMPLES, audit_report_html
    from cnnviz.cli.common import dataset_and_model, print_json, report_skipped, terminal_progress
    from cnnviz.explanation import get_method

    get_method(args.method)  # bad settings fail before any loading
    dataset, loaded = dataset_and_model(args)
    result = audit(loaded, dataset, args.class_name, args.method, args.clusters, split=args.split,
                   layer=args.layer, batch_size=args.batch_size, progress=terminal_progress("audit"))
    images = member_images(result, dataset, loaded.input_size, EXAMPLES, batch_size=args.batch_size)
    page = audit_report_html(result, images, dataset_name=dataset.name, model_name=loaded.name)
    Path(args.out).write_text(page, encoding="utf-8")
    report_skipped(dataset)
    if args.json:
        print_json({**result.to_json(), "model": loaded.name, "out": args.out})
        return 0
    print(f"{loaded.name}, class {result.class_name}: {len(result.indices)} images, {len(result.clusters)} "
          f"clusters ({result.chosen_by}), {result.method} -> {args.out}")
    print(f"{'cluster':>7}  {'images':>6}  {'outlier':>7}  typical members")
    for cluster in result.clusters:
        typical = [result.files[result.position_of(int(i))] for i in result.typical_members(cluster, 3)]
        print(f"{cluster.id:>7}  {cluster.size:>6}  {cluster.outlier_score:>7.3f}  {', '.join(typical)}")
    return 0
