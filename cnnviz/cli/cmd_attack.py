"""``python -m cnnviz attack IMAGE --method onepixel|fgsm|pgd --out adv.png``: adversarial examples.

The attack runs on the image resized to the model's input; ``--out`` gets that adversarial image
as PNG (lossless: JPEG would destroy the attack). Pixel positions are printed as (row, column).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cnnviz.cli.common import add_model_arguments, add_precision_argument

METHOD_NAMES = ("onepixel", "fgsm", "pgd")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "attack", help="craft an adversarial image (one-pixel, FGSM or PGD)",
        description="Craft an adversarial example at the model's input resolution and save it as PNG.")
    parser.add_argument("image", metavar="IMAGE", help="image file")
    add_model_arguments(parser)
    parser.add_argument("--method", choices=METHOD_NAMES, default="onepixel",
                        help="onepixel (Su et al. 2019), fgsm (Goodfellow et al. 2015) or pgd "
                             "(Madry et al. 2018); default onepixel")
    parser.add_argument("--target", help="class index or label to reach (default: untargeted)")
    parser.add_argument("--true-class", help="class to push away from (default: the prediction)")
    parser.add_argument("--seed", type=int, help="random seed (same seed, same run)")
    one_pixel = parser.add_argument_group("one-pixel attack")
    one_pixel.add_argument("--pixels", type=int, help="pixels to change (default 1)")
    one_pixel.add_argument("--preset", choices=("paper", "quick"),
                           help="population x generations: paper 400x100 (default), quick 100x20")
    one_pixel.add_argument("--popsize", type=int, help="population size (overrides the preset)")
    one_pixel.add_argument("--maxiter", type=int, help="generations (overrides the preset)")
    gradient = parser.add_argument_group("gradient attacks")
    gradient.add_argument("--epsilon", type=float,
                          help="largest change per channel in pixel levels, 0..255 scale (default 8)")
    gradient.add_argument("--steps", type=int, help="PGD steps (default 10)")
    parser.add_argument("--out", required=True, help="where to write the adversarial image (.png)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    add_precision_argument(one_pixel, "the candidates' scoring (the reported result is float32)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cnnviz.attacks import attack
    from cnnviz.cli.common import load_model_from_args, print_json, read_image, terminal_progress
    from cnnviz.errors import ParameterError
    from cnnviz.render.attack import adversarial_png

    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise ParameterError(f"--out must end in .png (lossless); {out.name} would lose the attack.")
    image = read_image(args.image)  # fail before loading a model
    loaded = load_model_from_args(args)
    settings = {"pixels": args.pixels, "preset": args.preset, "popsize": args.popsize,
                "maxiter": args.maxiter, "epsilon": args.epsilon, "steps": args.steps,
                "target": args.target, "true_class": args.true_class, "seed": args.seed}
    params = {name: value for name, value in settings.items() if value is not None}
    if args.method == "onepixel" and args.precision is not None:
        params["precision"] = args.precision
    if args.method == "fgsm":
        params.pop("seed", None)  # FGSM is deterministic
    result = attack(loaded, image, args.method, fit=args.fit,
                    progress=terminal_progress(args.method), **params)
    out.write_bytes(adversarial_png(result))
    if args.json:
        print_json({"image": args.image, "model": loaded.name, "out": str(out), **result.summary()})
        return 0
    before = 100 * float(result.probabilities_before[result.original_class])
    verdict = "fooled" if result.success else "not fooled"
    print(f"{args.image} ({loaded.name}, {args.method}): {verdict}")
    print(f"  before: {result.original_label} {before:.2f}%")
    print(f"  after:  {result.adversarial_label} {100 * result.confidence:.2f}%"
          f"  (true class {result.class_names[result.true_class]} "
          f"{100 * float(result.probabilities_after[result.true_class]):.2f}%)")
    print(f"  {result.queries} queries in {result.seconds:.2f} s; changed {result.l0} pixels, "
          f"L2 {result.l2:.1f}, Linf {result.linf:.0f} (pixel units)")
    for pixel in result.changed_pixels[:10]:
        print(f"  (row {pixel.row}, column {pixel.column}): {pixel.old} -> {pixel.new}")
    print(f"  wrote {out}")
    return 0
