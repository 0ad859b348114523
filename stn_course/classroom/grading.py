"""Grading submissions: each notebook runs in its own kernel with the instructor's checks; scores go to CSV."""

from __future__ import annotations

import asyncio
import copy
import csv
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from .chapters import Chapter, Exercise, _nbgrader, _shorten, read_chapter
from .kernel import CellResult, Kernel, kernel_env

@dataclass
class Score:
    """One row of the grades table."""

    student: str
    chapter: str
    exercise: str
    points: float
    max: float
    feedback: str


CSV_FIELDS = ["student", "chapter", "exercise", "points", "max", "feedback"]
PRELOAD = "import stn_course.exercises, stn_course.config"  # loads torch before the clock starts


def student_names(paths: Sequence[Path]) -> list[str]:
    """Who submitted each notebook: the first folder below the submissions' common folder.

    ``submissions/alice/04_sampler.ipynb`` → ``alice`` (nbgrader's
    ``submitted/alice/ps1/04_sampler.ipynb`` too); files side by side in one folder are
    named by their file name; a single file by its folder.
    """
    paths = [Path(p).resolve() for p in paths]
    if len(paths) == 1:
        return [paths[0].parent.name]
    root = Path(os.path.commonpath([p.parent for p in paths]))
    names = []
    for p in paths:
        rel = p.relative_to(root)
        names.append(rel.parts[0] if len(rel.parts) >= 2 else p.stem)
    return names


def _assemble(submission: NotebookNode, source: Chapter | None) -> tuple[NotebookNode, Chapter]:
    """The notebook to execute: the submission with its check cells taken from the source.

    Learners may not change what grades them: every locked cell of the source (check cells)
    replaces the submitted cell with the same ``grade_id``, and hidden test cells come back
    right after their exercise's last check.
    """
    nb = copy.deepcopy(submission)
    if source is None:
        return nb, read_chapter(nb)
    locked = {}
    for i, cell in enumerate(source.nb.cells):
        nbg = _nbgrader(cell)
        if nbg.get("locked") and nbg.get("grade_id") and source.roles[i] in ("check", "hidden"):
            locked[nbg["grade_id"]] = cell
    cells = []
    for cell in nb.cells:
        gid = _nbgrader(cell).get("grade_id")
        if gid in locked:
            cell = copy.deepcopy(locked[gid])
            cell.outputs, cell.execution_count = [], None
        cells.append(cell)
    for ex in source.exercises.values():
        if not ex.hidden:
            continue
        hidden_cells = [copy.deepcopy(source.nb.cells[i]) for i in ex.hidden]
        check_ids = {_nbgrader(source.nb.cells[i]).get("grade_id") for i in ex.checks}
        where = max((k for k, c in enumerate(cells) if _nbgrader(c).get("grade_id") in check_ids),
                    default=len(cells) - 1)
        cells[where + 1:where + 1] = hidden_cells
    nb.cells = cells
    return nb, read_chapter(nb)


def _describe_failure(r: CellResult) -> str:
    return "ran past its time limit" if r.status == "timeout" else f"raised {r.ename}: {r.evalue}"


def _feedback(result: CellResult, solution_results: list[CellResult],
              earlier: tuple[int, CellResult] | None = None) -> str:
    broken = next((r for r in solution_results if r.status in ("error", "timeout")), None)
    prefix = ""
    if earlier is not None and result.status != "ok":
        prefix = f"an earlier cell (code cell {earlier[0] + 1}) {_describe_failure(earlier[1])}; "
    if broken is not None and broken.ename != "NotImplementedError":
        prefix += f"your code cell {_describe_failure(broken)}; "
    if result.status == "ok":
        lines = [line.strip() for line in result.stdout.strip().splitlines() if line.strip()]
        return prefix + (_shorten(" ".join(lines), 300) or "passed")
    if result.status == "timeout":
        return (prefix + f"time limit: the check did not finish within {result.limit:.0f} s "
                "(an endless loop?); the kernel was interrupted")
    if result.status == "dead":
        return prefix + "the kernel died while checking (out of memory?)"
    if result.status == "not-run":
        return prefix + "not run: the notebook had used up its time limit before this check"
    if result.ename == "ExerciseFailed":
        return prefix + result.evalue
    if result.ename == "NotImplementedError":
        return prefix + "not attempted yet: the code still raises NotImplementedError"
    if result.ename == "NameError":
        return (prefix + f"NameError: {result.evalue} — define it by running your code cell "
                "of this exercise (without errors) before the check")
    return prefix + f"the check raised {result.ename}: {result.evalue}"


def _earlier_failure(nb: NotebookNode, chapter: Chapter, results: list[CellResult],
                     before: int) -> tuple[int, CellResult] | None:
    """The first failed plain (non-exercise) code cell before cell ``before``, numbered among code cells."""
    code_number = 0
    for i, cell in enumerate(nb.cells[:before]):
        if cell.cell_type != "code":
            continue
        if chapter.roles[i] == "plain" and results[i].status in ("error", "timeout", "dead"):
            return code_number, results[i]
        code_number += 1
    return None


async def _grade_notebook(path: Path, student: str, source_dir: Path | None, *, timeout: float,
                          cell_timeout: float, quick: bool, preload: str) -> list[Score]:
    try:
        submission = nbformat.read(path, as_version=4)
    except Exception as err:  # unreadable submission: nothing can be scored
        submission, read_error = None, f"could not read the notebook: {type(err).__name__}: {err}"
    else:
        read_error = None
    chapter_name = (submission.metadata.get("stn_course", {}).get("chapter") if submission else None) \
        or path.stem
    source_path = source_dir / f"{chapter_name}.ipynb" if source_dir else None
    source = read_chapter(source_path) if source_path and source_path.exists() else None
    if submission is None:
        exercises = source.exercises.values() if source else [Exercise("(notebook)", points=0)]
        return [Score(student, chapter_name, ex.label, 0, ex.points, read_error) for ex in exercises]
    nb, chapter = _assemble(submission, source)
    reference = source or chapter
    results = [CellResult() for _ in nb.cells]
    deadline = None
    cwd = (source_path.parent if source else path.parent).resolve()
    try:
        async with Kernel(cwd, kernel_env(quick)) as kernel:
            if preload:  # library imports are not the learner's time
                await kernel.run(preload, max(60.0, timeout))
            deadline = time.monotonic() + timeout
            for i, cell in enumerate(nb.cells):
                if cell.cell_type != "code" or not cell.source.strip():
                    results[i].status = "ok"
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                results[i] = await kernel.run(cell.source, min(cell_timeout, left))
                if results[i].status == "dead":
                    break
    except Exception as err:  # the kernel could not start: report it on every exercise
        return [Score(student, chapter_name, ex.label, 0, ex.points,
                      f"grading failed: {type(err).__name__}: {err}") for ex in reference.exercises.values()]
    scores = []
    for ex in reference.exercises.values():
        mine = chapter.exercises.get(ex.label)
        solution_results = [results[i] for i in (mine.solutions if mine else [])]
        got, notes = 0.0, []
        for j in ex.checks + ex.hidden:
            meta = _nbgrader(reference.nb.cells[j])
            worth = float(meta.get("points", 0) or 0)
            where = [k for k, c in enumerate(nb.cells) if _nbgrader(c).get("grade_id") == meta.get("grade_id")]
            if not where:
                notes.append("the check cell of this exercise is missing from the notebook "
                             "(was it deleted?)")
                continue
            result = results[where[0]]
            if result.ok:
                got += worth
            notes.append(_feedback(result, solution_results, _earlier_failure(nb, chapter, results, where[0])))
        scores.append(Score(student, chapter_name, ex.label, got, ex.points, "; ".join(dict.fromkeys(notes))))
    return scores


async def _grade_all(paths, students, source_dir, timeout, cell_timeout, jobs, quick, preload):
    gate = asyncio.Semaphore(max(1, jobs))

    async def one(path, student):
        async with gate:
            # a hard backstop on top of the per-cell limits: a kernel that ignores interrupts
            try:
                return await asyncio.wait_for(
                    _grade_notebook(path, student, source_dir, timeout=timeout,
                                    cell_timeout=cell_timeout, quick=quick, preload=preload),
                    2 * timeout + 120)
            except asyncio.TimeoutError:
                return [Score(student, path.stem, "(notebook)", 0, 0,
                              "grading stopped: the notebook did not finish in its time limit")]

    rows = await asyncio.gather(*(one(p, s) for p, s in zip(paths, students)))
    return [score for chunk in rows for score in chunk]


def grade(submissions: Sequence[str | os.PathLike], *, source_dir: str | os.PathLike | None = "book",
          timeout: float = 600, cell_timeout: float = 120, jobs: int = 1, quick: bool = True,
          preload: str = PRELOAD) -> list[Score]:
    """Execute and score submitted notebooks.

    Each notebook runs in its own kernel, cell by cell: a cell gets ``cell_timeout`` seconds
    (then it is interrupted and the notebook goes on), the whole notebook ``timeout`` seconds
    (then its kernel is killed and the remaining checks score 0); the clock starts after
    ``preload`` (the course's imports) has run. An exercise scores the
    ``points`` of each of its check cells that ran without error. Check cells (and hidden
    tests) are taken from the chapter of the same name in ``source_dir`` when it exists, so
    edits to them do not count. ``jobs`` notebooks are graded at once.
    """
    paths = [Path(p) for p in submissions]
    source = Path(source_dir) if source_dir is not None and Path(source_dir).is_dir() else None
    return asyncio.run(_grade_all(paths, student_names(paths), source, timeout, cell_timeout, jobs, quick,
                                  preload))


def write_csv(scores: Iterable[Score], path: str | os.PathLike) -> None:
    """Write scores as CSV with columns student, chapter, exercise, points, max, feedback."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_FIELDS)
        for s in scores:
            writer.writerow([s.student, s.chapter, s.exercise, f"{s.points:g}", f"{s.max:g}", s.feedback])
