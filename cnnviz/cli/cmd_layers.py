"""``python -m cnnviz layers --model NAME``: the layer table (shape, parameters, receptive field, FLOPs)."""

from __future__ import annotations

import argparse

from cnnviz.cli.common import add_model_arguments


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("layers", help="list a model's layers with receptive fields and FLOPs")
    add_model_arguments(parser)
    parser.add_argument("--spatial", action="store_true", help="only layers with a spatial output")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run)


def _field(value: tuple[float, float] | None) -> str:
    if value is None:
        return "-"
    return f"{value[0]:g}" if value[0] == value[1] else f"{value[0]:g}x{value[1]:g}"


def run(args: argparse.Namespace) -> int:
    from cnnviz.cli.common import load_model_from_args, print_json
    from cnnviz.inside import layers

    loaded = load_model_from_args(args)
    table = layers(loaded)
    rows = [row for row in table if row.spatial or not args.spatial]
    if args.json:
        print_json(
            {
                "model": table.model,
                "input_size": list(table.input_size),
                "total_params": table.total_params,
                "total_macs": table.total_macs,
                "total_flops": table.total_flops,
                "layers": [
                    {
                        "name": r.name,
                        "type": r.type,
                        "output_shape": list(r.output_shape),
                        "params": r.params,
                        "inputs": list(r.inputs),
                        "macs": r.macs,
                        "flops": r.flops,
                        "receptive_field": None if r.geometry is None else list(r.geometry.size),
                        "jump": None if r.geometry is None else list(r.geometry.jump),
                        "start": None if r.geometry is None else list(r.geometry.start),
                        "whole_image": None if r.geometry is None else r.geometry.whole_image,
                    }
                    for r in rows
                ],
            }
        )
        return 0
    print(
        f"{'layer':<40} {'type':<22} {'output':<16} {'params':>10} {'RF':>6} {'jump':>5} "
        f"{'start':>6} {'MFLOPs':>9}"
    )
    for r in rows:
        shape = "x".join("?" if d is None else str(d) for d in r.output_shape)
        g = r.geometry
        size = "-" if g is None else ("image" if g.whole_image else _field(g.size))
        print(
            f"{r.name[:40]:<40} {r.type[:22]:<22} {shape:<16} {r.params:>10,} {size:>6} "
            f"{_field(None if g is None else g.jump):>5} {_field(None if g is None else g.start):>6} "
            f"{r.flops / 1e6:>9.2f}"
        )
    print(
        f"{len(table)} layers, {table.total_params:,} parameters, {table.total_macs / 1e6:,.1f} M "
        f"multiply-adds ({table.total_flops / 1e6:,.1f} MFLOPs) per image of {table.input_size[0]}x"
        f"{table.input_size[1]}"
    )
    return 0
