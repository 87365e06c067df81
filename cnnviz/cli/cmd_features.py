"""``python -m cnnviz features IMAGE --layer L``: feature maps of a layer as a PNG grid, with statistics."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    from cnnviz.cli.common import add_model_arguments

    parser = subparsers.add_parser("features", help="draw the feature maps of a layer for an image")
    parser.add_argument("image", metavar="IMAGE", help="image file")
    add_model_arguments(parser)
    parser.add_argument("--layer", help="layer with a spatial output (default: the last convolutional one)")
    parser.add_argument(
        "--sort",
        default="mean",
        choices=("index", "mean", "max", "std", "active"),
        help="channel order (default: strongest mean first)",
    )
    parser.add_argument("--page", type=int, default=0, help="page of the sorted channels (default 0)")
    parser.add_argument("--page-size", type=int, default=64, help="channels per page (default 64)")
    parser.add_argument("--out", default="features.png", help="PNG file to write (default features.png)")
    parser.add_argument("--json", action="store_true", help="print per-channel statistics as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from cnnviz.cli.common import load_model_from_args, print_json, read_image
    from cnnviz.inside import feature_maps
    from cnnviz.inside.access import default_layer
    from cnnviz.render.inside import feature_map_grid, png

    image = read_image(args.image)
    loaded = load_model_from_args(args)
    layer = args.layer or default_layer(loaded)
    result = feature_maps(loaded, image, [layer], fit=args.fit)
    maps = result[layer]
    channels = maps.page(args.page, args.page_size, args.sort)
    Path(args.out).write_bytes(png(feature_map_grid(maps.maps, channels)))
    stats = [
        {
            "channel": int(c),
            "mean": float(maps.mean[c]),
            "max": float(maps.max[c]),
            "min": float(maps.min[c]),
            "std": float(maps.std[c]),
            "active": float(maps.active[c]),
        }
        for c in channels
    ]
    if args.json:
        print_json(
            {
                "model": loaded.name,
                "layer": layer,
                "shape": list(maps.maps.shape),
                "page": args.page,
                "pages": maps.num_pages(args.page_size),
                "sort": args.sort,
                "channels": stats,
                "out": args.out,
            }
        )
        return 0
    print(
        f"{loaded.name} {layer}: {maps.maps.shape[0]}x{maps.maps.shape[1]}, {maps.channels} channels; "
        f"page {args.page + 1}/{maps.num_pages(args.page_size)} sorted by {args.sort} -> {args.out}"
    )
    print(f"{'channel':>8} {'mean':>9} {'max':>9} {'active':>7}")
    for row in stats[:16]:
        print(f"{row['channel']:>8} {row['mean']:>9.4f} {row['max']:>9.4f} {100 * row['active']:>6.1f}%")
    if len(stats) > 16:
        print(f"... {len(stats) - 16} more on this page (see --json)")
    return 0
