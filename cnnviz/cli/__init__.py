"""The ``python -m cnnviz`` command line: a thin front end over the engine.

Each subcommand lives in its own module ``cnnviz/cli/cmd_<name>.py`` exposing
``register(subparsers)``, which adds a parser whose ``func(args) -> int`` runs it. Any
:class:`cnnviz.errors.CnnvizError` (bad input) becomes a one-line message on stderr and exit code 2,
never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import pkgutil
import sys
from collections.abc import Iterator, Sequence

EXIT_OK = 0
EXIT_BAD_INPUT = 2


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every ``cmd_*`` module's subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="python -m cnnviz",
        description="See what a convolutional neural network sees: predictions, heatmaps, "
                    "feature maps and adversarial attacks on Keras models.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    package = importlib.import_module(__name__)
    for module in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if module.name.startswith("cmd_"):
            importlib.import_module(f"{__name__}.{module.name}").register(subparsers)
    return parser


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null: TensorFlow's C++ start-up log ignores log levels."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 success, 2 bad input)."""
    from cnnviz.errors import CnnvizError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    with _native_stderr_silenced():
        import tensorflow  # noqa: F401  (its start-up chatter would bury our one-line messages)
    try:
        return int(args.func(args) or EXIT_OK)
    except CnnvizError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # output piped into `head` and closed early
        sys.stderr.close()
        return EXIT_OK
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
