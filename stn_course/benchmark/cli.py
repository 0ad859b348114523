"""The command line: a registry of subcommands (one per table) and ``main``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

Handler = Callable[[argparse.Namespace], int]
SUBCOMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Handler]] = {}
#: Modules that register more subcommands when imported (e.g. ``table2`` for SVHN).
EXTERNAL_SUBCOMMANDS = ("stn_course.svhn.table2",)


def register(name: str, help: str, add_arguments: Callable[[argparse.ArgumentParser], None], run: Handler) -> None:
    """Add a subcommand: ``add_arguments(parser)`` declares its options, ``run(args)`` returns an exit code."""
    SUBCOMMANDS[name] = (help, add_arguments, run)


def _load_external() -> None:
    for module in EXTERNAL_SUBCOMMANDS:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name != module:
                raise


def positive_int(text: str) -> int:
    """An argparse type: a positive integer, else a clear error naming what it got."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m stn_course.benchmark <table> [options]``: run one subcommand; return its exit code."""
    _load_external()
    description = sys.modules[__package__].__doc__.split("\n\n")[0]
    parser = argparse.ArgumentParser(prog="python -m stn_course.benchmark", description=description)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_, add_arguments, _) in SUBCOMMANDS.items():
        add_arguments(sub.add_parser(name, help=help_, description=help_))
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.command_line = "python -m stn_course.benchmark " + " ".join(argv)
    return SUBCOMMANDS[args.command][2](args)
