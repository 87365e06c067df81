"""``python -m cnnviz top-examples (IMAGE... | --folder DIR | --generated N) --channel C``: the images
of a set that excite one channel the most, with the receptive field of the strongest unit marked."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

GALLERY_CELL = 160  # side of one image in the PNG, pixels (as on the page)


def register(subparsers: argparse._SubParsersAction) -> None:
    from cnnviz.cli.common import add_model_arguments

    # no engine import here: building the parser must not load TensorFlow (every command builds it)
    parser = subparsers.add_parser(
        "top-examples", help="find the images of a set that most activate a channel"
    )
    parser.add_argument("images", nargs="*", metavar="IMAGE", help="image files (or --folder, --generated)")
    parser.add_argument("--folder", metavar="DIR", help="every readable image in a folder (by name)")
    parser.add_argument(
        "--generated", type=int, metavar="N", help="N generated demo shapes images"
    )
    parser.add_argument("--seed", type=int, help="seed of the generated set (default: the held-out test set)")
    add_model_arguments(parser)
    parser.add_argument("--layer", help="layer with a spatial output (default: the last convolutional one)")
    parser.add_argument("--channel", type=int, required=True, help="channel of --layer")
    parser.add_argument(
        "--top", type=int, help="how many images (default: cnnviz.inside.top_examples.DEFAULT_TOP, 9)"
    )
    parser.add_argument("--out", default="top-examples.png", help="PNG to write (default top-examples.png)")
    parser.add_argument("--json", action="store_true", help="print a JSON summary")
    parser.set_defaults(func=run)


def _read_named(path: str) -> np.ndarray:
    """read_image, with the file named in the message (several files are given at once)."""
    from cnnviz.cli.common import read_image
    from cnnviz.errors import ImageError

    try:
        return read_image(path)
    except ImageError as error:
        if path in str(error):
            raise
        raise type(error)(f"{path}: {error}") from None


def _image_set(args: argparse.Namespace) -> tuple[list[np.ndarray], list[str], list[str]]:
    """The images asked for, a name for each (file or generated index) and the folder files skipped."""
    from cnnviz.errors import ParameterError
    from cnnviz.inside.top_examples import MAX_IMAGES, demo_images, folder_images

    given = [bool(args.images), args.folder is not None, args.generated is not None]
    if sum(given) != 1:
        raise ParameterError("Give one image set: image files, --folder DIR or --generated N.")
    if args.images:
        return [_read_named(path) for path in args.images], list(args.images), []
    if args.folder is not None:
        return folder_images(args.folder)
    if not 1 <= args.generated <= MAX_IMAGES:
        raise ParameterError(f"--generated takes 1 to {MAX_IMAGES} images, not {args.generated}.")
    return demo_images(args.generated, seed=args.seed), [f"generated #{i}" for i in range(args.generated)], []


def run(args: argparse.Namespace) -> int:
    from cnnviz.cli.common import load_model_from_args, print_json, terminal_progress
    from cnnviz.inside import top_activating
    from cnnviz.inside.access import default_layer
    from cnnviz.inside.top_examples import DEFAULT_TOP
    from cnnviz.render.inside import boxed_examples, png

    images, names, skipped = _image_set(args)  # fail before loading a model
    loaded = load_model_from_args(args)
    layer = args.layer or default_layer(loaded)
    result = top_activating(
        loaded,
        images,
        layer,
        args.channel,
        top=DEFAULT_TOP if args.top is None else args.top,
        fit=args.fit,
        progress=terminal_progress("top-examples"),
    )
    Path(args.out).write_bytes(png(boxed_examples(
        [e.image for e in result.examples],
        [e.box for e in result.examples],
        [f"{names[e.index]}: {e.score:.3g}" for e in result.examples],
        cell=GALLERY_CELL,
    )))
    if skipped:  # after the run, so that an error stays the only line on stderr
        print(
            f"warning: {len(skipped)} file(s) in {args.folder} skipped (unreadable, or over the limit): "
            + ", ".join(skipped),
            file=sys.stderr,
        )
    rows = [
        {
            "rank": rank,
            "file": names[e.index],
            "index": e.index,
            "activation": e.score,
            "position": list(e.position),
            "box": list(e.box),
        }
        for rank, e in enumerate(result.examples, 1)
    ]
    field = [float(v) for v in result.geometry.size]
    if args.json:
        print_json(
            {
                "model": loaded.name,
                "layer": result.layer,
                "channel": result.channel,
                "images": len(images),
                "skipped": skipped,
                "receptive_field": field,
                "seconds": result.seconds,
                "examples": rows,
                "out": args.out,
            }
        )
        return 0
    print(
        f"{loaded.name} {result.layer} channel {result.channel}: top {len(rows)} of {len(images)} images "
        f"(receptive field {field[0]:g}x{field[1]:g} px) -> {args.out}"
    )
    width = max(len("file"), *(len(row["file"]) for row in rows))
    print(f"{'rank':>4}  {'file':<{width}}  {'activation':>10}  box (top, left, bottom, right)")
    for row in rows:
        print(f"{row['rank']:>4}  {row['file']:<{width}}  {row['activation']:>10.4g}  {tuple(row['box'])}")
    return 0
