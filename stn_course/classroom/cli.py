"""The command line: ``python -m stn_course.classroom start|student|grade|merge|audit|exercises|verify|student-book``."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .assignments import check_chapters, find_submissions, read_manifest, read_roster, unlisted
from .audit import package_leaks, student_notebook_leaks
from .equivalents import functional_equivalents
from .chapters import chapter_paths, read_chapter
from .grading import PRELOAD, Setup, grade_class
from .reports import merge_csv, totals, write_csv, write_feedback
from .sandbox import Limits, Sandbox, find_sandbox
from .sphinx import build_student_book
from .student import start_edition, write_student_notebooks
from .table import exercise_table
from .trusted import load_references
from .verification import verify

def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m stn_course.classroom",
                                description=sys.modules[__package__].__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    w = sub.add_parser("start", help="a learner's start: your student edition of every chapter, opened in JupyterLab")
    w.add_argument("--book", type=Path, default=Path("book"), help="the chapters (default book/)")
    w.add_argument("--out", type=Path, default=Path("student"), help="your student edition (default student/)")
    w.add_argument("--chapter", default="01_invariance", help="the chapter to open first (default 01_invariance)")
    w.add_argument("--no-lab", action="store_true", help="only write the student edition")
    w.add_argument("lab_args", nargs=argparse.REMAINDER, help="passed to jupyter lab after -- (e.g. --port 8890)")
    s = sub.add_parser("student", help="write student notebooks (solutions replaced by stubs)")
    s.add_argument("chapters", nargs="+", type=Path)
    s.add_argument("--out", type=Path, required=True, help="folder for the student notebooks")
    s.add_argument("--force", action="store_true", help="overwrite student notebooks that hold a learner's work")
    g = sub.add_parser("grade", help="grade a class's submissions in sandboxed kernels; write a CSV and feedback files")
    g.add_argument("--submissions", type=Path, required=True,
                   help="folder of <learner>/<chapter>.ipynb (or nbgrader's <learner>/<assignment>/<chapter>.ipynb)")
    g.add_argument("--roster", type=Path, help="CSV of learners (column id, student, username or login); "
                   "without it, the folders in --submissions")
    g.add_argument("--chapter", action="append", default=[], help="a chapter to grade, e.g. 04_sampler (repeatable)")
    g.add_argument("--manifest", type=Path, help='class manifest (JSON/YAML): {"assignments": {"ps1": [chapters]}}')
    g.add_argument("--assignment", help="grade only this assignment of the manifest")
    g.add_argument("--out", type=Path, required=True, help="the class CSV to write")
    g.add_argument("--feedback", type=Path, help="folder for one feedback file per learner (default: feedback/ "
                   "beside --out)")
    g.add_argument("--source", type=Path, default=Path("book"), help="the instructor's chapters (default book/)")
    g.add_argument("--references", type=Path, default=Path("instructor"),
                   help="the instructor's reference solutions (default instructor/)")
    g.add_argument("--timeout", type=float, default=600, help="seconds per notebook (default 600)")
    g.add_argument("--cell-timeout", type=float, default=120, help="seconds per cell (default 120)")
    g.add_argument("--output-limit", type=int, default=1_000_000, help="bytes of output per cell (default 1e6)")
    g.add_argument("--memory", type=float, default=6, help="GiB of memory per submission, all its processes "
                   "together, and per process (default 6; 0: no limit)")
    g.add_argument("--tree-memory", type=float, help="GiB of resident memory of a submission's processes together, "
                   "kept from outside the sandbox (default: --memory)")
    g.add_argument("--wall", type=float, help="seconds per submission, start to end, kept from outside the sandbox "
                   "(default: --timeout + 120 + --cell-timeout per exercise)")
    g.add_argument("--disk", type=float, default=256, help="MiB a submission may write to its folders (default 256)")
    g.add_argument("--tmp", type=float, default=256, help="MiB of the sandbox's /tmp and /dev/shm (default 256)")
    g.add_argument("--processes", type=int, default=256, help="processes and threads per submission (default 256)")
    g.add_argument("--jobs", type=int, default=1, help="notebooks graded at once (default 1)")
    g.add_argument("--shard", type=_shard, default=(0, 1), metavar="I/N",
                   help="grade only the I-th of N slices of the roster (0-based), to merge later")
    g.add_argument("--seed", type=int, help="seed of the hidden inputs (default: fresh each run; with a seed, "
                   "feedback does not show the hidden inputs)")
    g.add_argument("--require-sandbox", action="store_true", help="refuse to grade without bubblewrap")
    g.add_argument("--no-sandbox", action="store_true", help="grade without isolation (the grades say so)")
    g.add_argument("--full", action="store_true", help="do not force quick mode in the kernels")
    g.add_argument("--preload", default=PRELOAD,
                   help="code run in each kernel before its clock starts (default: the course's imports)")
    a = sub.add_parser("audit", help="check that the package and the student notebooks hold no reference solution")
    a.add_argument("chapters", nargs="+", type=Path)
    a.add_argument("--student", type=Path, help="folder of the student notebooks to check too")
    a.add_argument("--references", type=Path, help="the instructor's reference solutions (e.g. instructor/): also "
                   "list the package functions that compute an exercise's answer")
    m = sub.add_parser("merge", help="merge the CSVs of grading shards")
    m.add_argument("parts", nargs="+", type=Path)
    m.add_argument("--out", type=Path, required=True)
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


def _shard(text: str) -> tuple[int, int]:
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected I/N such as 0/2, got {text!r}") from None
    if not 0 <= i < n:
        raise argparse.ArgumentTypeError(f"expected 0 <= I < N, got {text!r}")
    return i, n


def _chapters(args) -> list[str]:
    chapters = list(args.chapter)
    if args.manifest:
        assignments = read_manifest(args.manifest)
        if args.assignment and args.assignment not in assignments:
            raise ValueError(f"assignment {args.assignment!r} is not in {args.manifest} "
                             f"(it has {', '.join(assignments)})")
        for name, listed in assignments.items():
            if args.assignment in (None, name):
                chapters += listed
    return list(dict.fromkeys(chapters))


def _grade(args) -> int:
    """``grade``: the roster × the chapters, graded in sandboxes; the CSV, feedback files and a summary."""
    try:
        references = load_references(args.references)
        known = [c for c in references if (args.source / f"{c}.ipynb").is_file()]
        chapters = _chapters(args)
        check_chapters(chapters, known)
        if args.roster:
            students, notes = read_roster(args.roster)
        else:
            students = unlisted(args.submissions, [])
            notes = ["no roster: only learners with a folder in the submissions are graded"]
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        limits = Limits(memory=int(args.memory * 2**30) or None, total_memory=int((args.tree_memory or 0) * 2**30) or None,
                        disk=int(args.disk * 2**20) or None,
                        tmp_size=int(args.tmp * 2**20), processes=args.processes or None)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    sandbox = Sandbox(None, reason="--no-sandbox was given", limits=limits) if args.no_sandbox else find_sandbox(limits)
    if not sandbox.isolated:
        print(f"WARNING: grading WITHOUT a sandbox: {sandbox.reason}. The learners' code can read and change "
              "everything you can.", file=sys.stderr)
        if args.require_sandbox:
            return 2
    for note in [*notes, *(f"not on the roster (not graded): {s}" for s in unlisted(args.submissions, students))]:
        print(f"note: {note}", file=sys.stderr)
    i, n = args.shard
    mine = students[i::n]
    setup = Setup({c: read_chapter(args.source / f"{c}.ipynb") for c in chapters}, references, sandbox,
                  timeout=args.timeout, cell_timeout=args.cell_timeout, output_limit=args.output_limit,
                  quick=not args.full, preload=args.preload, wall=args.wall)
    if args.seed is not None:
        setup.seed, setup.show_inputs = args.seed, False
    subs = find_submissions(args.submissions, mine, chapters)
    t0 = time.monotonic()
    scores = grade_class(subs, setup, jobs=args.jobs)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_csv(scores, args.out)
    folder = write_feedback(scores, args.feedback or args.out.parent / "feedback")
    for (student, chapter), (got, most) in totals(scores).items():
        print(f"{student:20s} {chapter:28s} {got:g}/{most:g}")
    print(f"sandbox: {sandbox.description}")
    print(f"graded {len(subs)} notebooks of {len(mine)} learners in {time.monotonic() - t0:.0f} s; wrote {args.out} "
          f"and {len(folder)} feedback files in {folder[0].parent if folder else '-'}")
    return 0


def _start(args) -> int:
    """``start``: write the student edition (keeping a learner's work), then open JupyterLab here."""
    try:
        written, kept = start_edition(args.book, args.out)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"student edition in {args.out}/: {len(written)} chapters written"
          + (f", {len(kept)} kept as you left them ({', '.join(k.name for k in kept)})" if kept else ""))
    first = args.out / f"{args.chapter.removesuffix('.ipynb')}.ipynb"
    if not first.is_file():
        print(f"error: --chapter {args.chapter}: expected a chapter of {args.book}/, such as 01_invariance",
              file=sys.stderr)
        return 2
    # the root is set explicitly: given a file alone, JupyterLab would serve only its folder, not book/
    lab = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={Path.cwd()}", first.as_posix(),
           *[a for a in args.lab_args if a != "--"]]
    if args.no_lab:
        print(f"to open it: jupyter lab {first.as_posix()} --ServerApp.root_dir=.")
        return 0
    print(f"opening JupyterLab on {Path.cwd()}: your notebooks in {args.out}/, the chapters with solutions "
          f"in {args.book}/", flush=True)
    os.execv(sys.executable, lab)
    return 0  # not reached


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "start":
        return _start(args)
    if args.command == "student":
        try:
            targets = write_student_notebooks(args.chapters, args.out, force=args.force)
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        for target in targets:
            print(f"wrote {target}")
        return 0
    if args.command == "grade":
        return _grade(args)
    if args.command == "audit":
        found = package_leaks(args.chapters) + (student_notebook_leaks(args.chapters, args.student) if args.student else [])
        if args.references:
            names = {read_chapter(c).name for c in args.chapters}
            references = {c: ex for c, ex in load_references(args.references).items() if c in names}
            for equivalent in functional_equivalents(references):
                if equivalent.allowed:
                    found.append(str(equivalent))
                else:
                    print(f"equivalent: {equivalent}")
        for line in found:
            print(f"leak: {line}")
        print("no reference solution found" if not found else f"{len(found)} leak(s)")
        return 1 if found else 0
    if args.command == "merge":
        scores = merge_csv(args.parts, args.out)
        print(f"wrote {args.out} ({len(scores)} rows from {len(args.parts)} files)")
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
