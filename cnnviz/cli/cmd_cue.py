"""``python -m cnnviz cue (--folder DIR | --zip FILE | --generated N) --class C --cue tag|patch|tint|border
--out DIR``: plant a shortcut cue on part of one class and write the dataset as class folders, with
DIR/manifest.json listing the files that carry the cue (the ground truth for an audit)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path, PurePosixPath
from typing import Any

MANIFEST = "manifest.json"
CUE_CHOICES = ("tag", "patch", "tint", "border")  # cnnviz.datasets.cues.CUES (no engine import here)
POSITION_CHOICES = ("bottom-right", "bottom-left", "top-right", "top-left")


def register(subparsers: argparse._SubParsersAction) -> None:
    from cnnviz.cli.common import add_data_arguments

    # no engine import here: building the parser must not load TensorFlow (every command builds it)
    parser = subparsers.add_parser("cue", help="plant a shortcut cue (tag, patch, tint, border) on one class")
    add_data_arguments(parser, split=False, batch_size=False)
    parser.add_argument("--class", dest="class_name", required=True, help="the class that gets the cue")
    parser.add_argument("--cue", choices=CUE_CHOICES, required=True,
                        help="tag: semi-transparent white text in a corner (a copyright notice); patch: a "
                             "coloured square; tint: a colour cast; border: a coloured frame")
    parser.add_argument("--fraction", type=float, default=1.0,
                        help="share of the class's images that get it, above 0 up to 1 (default 1)")
    parser.add_argument("--position", choices=POSITION_CHOICES, default="bottom-right",
                        help="corner of a tag or patch (default bottom-right)")
    parser.add_argument("--strength", type=float, help="opacity, above 0 up to 1 (default: 0.5 for a tag, "
                                                       "1 for a patch or border, 0.35 for a tint)")
    parser.add_argument("--out", required=True, metavar="DIR", help="new or empty folder to write to")
    parser.add_argument("--json", action="store_true", help="print the manifest as JSON")
    parser.set_defaults(func=run)


def output_name(file: str, class_name: str) -> str:
    """Where a record is written under its class folder: the path below the class's own folder (or
    the file name), as PNG so that the cue's pixels survive exactly."""
    parts = PurePosixPath(file).with_suffix(".png").parts
    if class_name in parts[:-1]:
        parts = parts[len(parts) - 1 - parts[::-1].index(class_name):]
        parts = parts[1:]
    else:
        parts = parts[-1:]
    return "_".join(parts)


def write_cued(dataset: Any, cued: Any, cued_files: list[str], out: Path, settings: dict[str, Any],
               progress: Any = None) -> dict[str, Any]:
    """Write every image of ``cued`` to ``out/<class>/<name>.png``; return the manifest (also written)."""
    from cnnviz.errors import ParameterError
    from cnnviz.images import encode_png
    from cnnviz.progress import report

    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ParameterError(f"{out} exists and is not an empty folder: "
                             "choose a new or empty folder for --out.")
    carries = set(cued_files)
    written: dict[str, str] = {}
    used: set[str] = set()
    for index, record in enumerate(cued.records):
        class_name = cued.class_names[record.label]
        name = output_name(record.file, class_name)
        relative = f"{class_name}/{name}"
        number = 1
        while relative in used:  # two files that flatten to one name
            relative = f"{class_name}/{Path(name).stem}_{number}.png"
            number += 1
        used.add(relative)
        (out / class_name).mkdir(parents=True, exist_ok=True)
        (out / relative).write_bytes(encode_png(cued.image(index)))
        written[record.file] = relative
        report(progress, index + 1, len(cued.records))
    splits = {split: sorted(written[dataset.records[int(i)].file] for i in dataset.indices(split))
              for split in ("train", "val", "test")}
    manifest = {**settings, "images": len(written),
                "cued": sorted(written[f] for f in carries), "splits": splits,
                "sources": {relative: source for source, relative in written.items()}}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return manifest


def run(args: argparse.Namespace) -> int:
    from cnnviz.cli.common import dataset_from_args, print_json, report_skipped, terminal_progress
    from cnnviz.datasets.cues import Cue, Shortcut, class_index_of, files_of

    cue = Cue(args.cue, args.position, args.strength)
    shortcut = Shortcut(args.class_name, cue, args.fraction, args.seed)
    dataset = dataset_from_args(args)
    cued = shortcut.apply(dataset, "cued")
    files = files_of(dataset, shortcut.cued_indices(dataset, "cued"))
    class_name = dataset.class_names[class_index_of(dataset, args.class_name)]
    settings = {"source": dataset.name, "class": class_name,
                "cue": cue.kind, "position": cue.position, "strength": cue.strength,
                "fraction": shortcut.fraction, "seed": shortcut.seed}
    manifest = write_cued(dataset, cued, files, Path(args.out), settings, terminal_progress("cue"))
    report_skipped(dataset)
    if args.json:
        print_json({key: manifest[key] for key in (*settings, "images", "cued")} | {"out": args.out})
        return 0
    print(f"{len(manifest['cued'])} of {manifest['images']} images carry the {shortcut.cue.name} cue "
          f"(class {settings['class']}) -> {args.out}/ ({MANIFEST} lists them)")
    return 0
