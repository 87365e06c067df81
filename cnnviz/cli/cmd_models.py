"""``python -m cnnviz models``: list the model zoo."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("models", help="list the models cnnviz can load")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cnnviz.cli.common import print_json
    from cnnviz.models import is_cached
    from cnnviz.zoo import available_models, get_spec

    rows = []
    for name in available_models():
        spec = get_spec(name)
        rows.append({"name": name, "input_size": list(spec.input_size),
                     "params_m": spec.params_m, "top1": spec.top1,
                     "preprocessing": spec.preprocessing, "cached": is_cached(spec)})
    if args.json:
        print_json(rows)
        return 0
    print(f"{'model':<20} {'input':>9} {'params':>9} {'top-1':>6}  {'preprocessing':<13} cached")
    for row in rows:
        size = "x".join(map(str, row["input_size"]))
        params = "-" if row["params_m"] is None else f"{row['params_m']:.1f}M"
        top1 = "-" if row["top1"] is None else f"{row['top1']:.1f}%"
        print(f"{row['name']:<20} {size:>9} {params:>9} {top1:>6}  {row['preprocessing']:<13} "
              f"{'yes' if row['cached'] else 'no'}")
    return 0
