"""The command line: a registry of subcommands (one per table) and ``main``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

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


def add_training_options(p: argparse.ArgumentParser, folder: str, *, weights: bool = False,
                         threads_help: str = "torch CPU threads (default: torch's)") -> None:
    """Declare the options every training subcommand shares; ``folder``: its records' folder under results/."""
    p.add_argument("--quick", action="store_true", help="a few steps on small subsets (pipeline check)")
    p.add_argument("--steps", type=positive_int, default=None, help="override the schedule's number of steps")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 … (default: CUDA if available)")
    p.add_argument("--threads", type=positive_int, default=None, help=threads_help)
    p.add_argument("--out", type=Path, default=None,
                   help=f"results folder (default results/{folder}, or results/{folder}/quick with --quick)")
    if weights:
        p.add_argument("--save-weights", action="store_true", help="keep the trained ST models' weights (float16)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--report", action="store_true", help="only aggregate the existing records into the tables")


def records_folder(args: argparse.Namespace, default: Path) -> Path:
    """``--out``, else ``default`` (``default/quick`` with ``--quick``)."""
    return args.out or Path(default) / ("quick" if args.quick else "")


def chosen_schedule(args: argparse.Namespace, schedules: Mapping[str, Any]) -> Any:
    """The schedule that ``--quick``, ``--schedule`` and ``--steps`` name; a ``--steps`` run is
    renamed (``efficient500``), so that its records never pass for full-length ones."""
    schedule = schedules["quick" if args.quick else args.schedule]
    if args.steps:
        schedule = replace(schedule, name=f"{schedule.name}{args.steps}", steps=args.steps,
                           eval_every=min(schedule.eval_every, args.steps))
    return schedule


def report_only(out_dir: Path, write: Callable[[Path], tuple[Path, Path] | None]) -> int:
    """``--report``: aggregate the records in ``out_dir`` with ``write`` and say what it wrote."""
    written = write(out_dir)
    print(f"wrote {written[0]} and {written[1]}" if written else f"no run records in {out_dir}")
    return 0


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
