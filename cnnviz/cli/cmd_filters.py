"""``python -m cnnviz filters --model NAME [--layer L]``: a convolution's kernels as a PNG."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    from cnnviz.cli.common import add_model_arguments

    parser = subparsers.add_parser("filters", help="draw the kernels of a convolution layer")
    add_model_arguments(parser)
    parser.add_argument("--layer", help="convolution layer (default: the first convolution)")
    parser.add_argument(
        "--filter",
        type=int,
        default=0,
        help="for deeper layers: the output filter whose per-input-channel kernels are drawn",
    )
    parser.add_argument("--out", default="filters.png", help="PNG file to write (default filters.png)")
    parser.add_argument("--json", action="store_true", help="print a JSON summary")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from cnnviz.cli.common import load_model_from_args, print_json
    from cnnviz.errors import ParameterError
    from cnnviz.inside import filters
    from cnnviz.render.inside import filter_input_grid, kernel_slices, png, pointwise_matrix, rgb_kernel_tiles

    loaded = load_model_from_args(args)
    view = filters(loaded, args.layer)
    if view.rgb:
        image = rgb_kernel_tiles(view.pixel_kernel)  # type: ignore[arg-type]
    elif view.kind == "convolution":
        if not 0 <= args.filter < view.num_filters:
            raise ParameterError(
                f"--filter {args.filter} is out of range: {view.layer} has filters 0 to "
                f"{view.num_filters - 1}."
            )
        image = filter_input_grid(view.kernel, args.filter)
    else:
        image = kernel_slices(view.kernel.reshape(*view.kernel.shape[:2], -1))
    Path(args.out).write_bytes(png(image))
    if view.pointwise is not None:
        Path(args.out).with_name(Path(args.out).stem + "_pointwise.png").write_bytes(
            png(pointwise_matrix(view.pointwise))
        )
    summary = {
        "model": loaded.name,
        "layer": view.layer,
        "kind": view.kind,
        "kernel_shape": list(view.kernel.shape),
        "filters": view.num_filters,
        "rgb": view.rgb,
        "strides": list(view.strides),
        "padding": view.padding,
        "out": args.out,
    }
    if args.json:
        print_json(summary)
    else:
        print(
            f"{loaded.name} {view.layer}: {view.kind}, kernel {'x'.join(map(str, view.kernel.shape))}, "
            f"{view.description}{' (drawn in RGB pixel space)' if view.rgb else ''} -> {args.out}"
        )
    return 0
