"""The command line: ``python -m stn_course.classroom student|grade|exercises|verify|student-book``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .chapters import chapter_paths
from .grading import PRELOAD, grade, write_csv
from .sphinx import build_student_book
from .student import write_student_notebooks
from .table import exercise_table
from .verification import verify

def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m stn_course.classroom",
                                description=sys.modules[__package__].__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("student", help="write student notebooks (solutions replaced by stubs)")
    s.add_argument("chapters", nargs="+", type=Path)
    s.add_argument("--out", type=Path, required=True, help="folder for the student notebooks")
    g = sub.add_parser("grade", help="execute submitted notebooks and write a grades CSV")
    g.add_argument("submissions", nargs="+", type=Path,
                   help="notebooks, e.g. submissions/<student>/<chapter>.ipynb")
    g.add_argument("--out", type=Path, required=True, help="CSV file to write")
    g.add_argument("--source", type=Path, default=Path("book"),
                   help="folder with the instructor's chapters (check cells come from there)")
    g.add_argument("--timeout", type=float, default=600, help="seconds per notebook (default 600)")
    g.add_argument("--cell-timeout", type=float, default=120, help="seconds per cell (default 120)")
    g.add_argument("--jobs", type=int, default=1, help="notebooks graded at once (default 1)")
    g.add_argument("--full", action="store_true", help="do not force quick mode in the kernels")
    g.add_argument("--preload", default=PRELOAD,
                   help="code run in each kernel before its clock starts (default: the course's imports)")
    e = sub.add_parser("exercises", help="print the exercise list as a Markdown table")
    e.add_argument("chapters", nargs="*", type=Path)
    v = sub.add_parser("verify", help="check a chapter's exercises: stubs fail, reference passes")
    v.add_argument("chapters", nargs="+", type=Path)
    v.add_argument("--prune", action="store_true", help="run only the cells the exercises depend on")
    b = sub.add_parser("student-book", help="build the book without solutions")
    b.add_argument("--root", type=Path, default=Path("."))
    b.add_argument("--out", type=Path, default=Path("_build/student"))
    b.add_argument("jb_args", nargs=argparse.REMAINDER, help="passed to jupyter-book build (e.g. -W)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "student":
        for target in write_student_notebooks(args.chapters, args.out):
            print(f"wrote {target}")
        return 0
    if args.command == "grade":
        missing = [str(p) for p in args.submissions if not p.is_file()]
        if missing:
            print(f"error: no such file: {', '.join(missing)}", file=sys.stderr)
            return 2
        scores = grade(args.submissions, source_dir=args.source, timeout=args.timeout,
                       cell_timeout=args.cell_timeout, jobs=args.jobs, quick=not args.full,
                       preload=args.preload)
        write_csv(scores, args.out)
        totals: dict[tuple[str, str], list[float]] = {}
        for s in scores:
            t = totals.setdefault((s.student, s.chapter), [0.0, 0.0])
            t[0] += s.points
            t[1] += s.max
        for (student, chapter), (got, most) in sorted(totals.items()):
            print(f"{student:20s} {chapter:28s} {got:g}/{most:g}")
        print(f"wrote {args.out}")
        return 0
    if args.command == "exercises":
        print(exercise_table(args.chapters or chapter_paths("book")))
        return 0
    if args.command == "verify":
        failed = 0
        for path in args.chapters:
            report = verify(path, prune=args.prune)
            status = "ok" if not report.errors else "FAILED"
            print(f"{path}: {status} ({report.cells_run} cells run, {report.cells_skipped} skipped, "
                  f"{report.seconds:.1f} s)")
            for note in report.notes:
                print(f"  note: {note}")
            for label, msg in report.stub_feedback.items():
                print(f"  stub feedback {label}: {msg}")
            for err in report.errors:
                print(f"  error: {err}")
            failed += bool(report.errors)
        return 1 if failed else 0
    if args.command == "student-book":
        extra = [a for a in args.jb_args if a != "--"]
        return build_student_book(args.root, args.out, extra)
    return 2
