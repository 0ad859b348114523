"""Student notebooks: solutions become stubs raising ``NotImplementedError`` with a hint, hidden tests go."""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterable
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from .chapters import Chapter, Exercise, directives, problems, read_chapter
from .markers import BEGIN_SOLUTION, remove_hidden_tests, solution_regions, stub_source, text_stub

def _remove_solution_directives(markdown: str) -> str:
    lines = markdown.split("\n")
    for d in reversed(directives(markdown)):
        if d.name == "solution":
            del lines[d.start:d.end + 1]
    return "\n".join(lines).strip()


def stub_message(ex: Exercise) -> str:
    """The message of the ``NotImplementedError`` a stub raises."""
    title = ex.title or ex.label
    return f"Exercise '{title}': {ex.hint}"


def student_notebook(chapter: Chapter) -> NotebookNode:
    """The learner's version of a chapter.

    Solution regions become stubs raising ``NotImplementedError`` with a hint; the
    sphinx-exercise solution wrappers, any other cell inside them, ``{solution}`` blocks,
    hidden test cells and hidden-test regions are removed; outputs and execution counts are
    cleared. The notebook records its chapter in ``metadata.stn_course.chapter`` (for the learner's
    tools: grading takes the chapter from the instructor, never from a submission).
    """
    nb = copy.deepcopy(chapter.nb)
    cells = []
    for i, cell in enumerate(nb.cells):
        role = chapter.roles[i]
        if role in ("solution-start", "solution-end", "inside", "hidden"):
            continue
        if role == "solution":
            ex = chapter.exercise_of(i)
            if cell.cell_type == "code":
                cell.source = stub_source(cell.source, stub_message(ex))
            else:
                cell.source = text_stub(cell.source)
        elif role == "check":
            cell.source = remove_hidden_tests(cell.source)
        elif cell.cell_type == "markdown":
            cell.source = _remove_solution_directives(cell.source)
            if not cell.source:
                continue
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)
        cells.append(cell)
    nb.cells = cells
    nb.metadata["stn_course"] = {"chapter": chapter.name, "edition": "student"}
    return nb


def leaks(chapter: Chapter, student: NotebookNode | None = None, min_chars: int = 30) -> list[str]:
    """Lines of reference solutions (≥ ``min_chars`` characters) that a student notebook still shows."""
    student = student if student is not None else student_notebook(chapter)
    shown = "\n".join(re.sub(r"\s+", "", c.source) for c in student.cells)
    out = []
    for i, cell in enumerate(chapter.nb.cells):
        if chapter.roles[i] != "solution":
            continue
        for line in solution_regions(cell.source):
            squeezed = re.sub(r"\s+", "", line)
            if len(squeezed) >= min_chars and not line.strip().startswith("#") and squeezed in shown:
                out.append(f"cell {i}: {line.strip()!r}")
    return out


def _refusal(target: Path, fresh: NotebookNode, force: bool) -> str:
    """Why ``target`` must not be overwritten by ``fresh`` ("" when it may be)."""
    if not target.exists():
        return ""
    try:
        existing = nbformat.read(target, as_version=4)
    except Exception as err:  # not a notebook we can read: never overwrite blindly
        return f"{target} exists and is not a readable notebook ({type(err).__name__}); pass another --out"
    if existing.metadata.get("stn_course", {}).get("edition") != "student" or any(
            BEGIN_SOLUTION in c.source for c in existing.cells):
        return (f"--out {target.parent}: {target.name} there holds reference solutions (it is not a student "
                "edition); expected a folder for the student notebooks, such as --out student/")
    if not force and [c.source for c in existing.cells] != [c.source for c in fresh.cells]:
        return (f"{target} holds a learner's work (it differs from a fresh student edition); "
                "pass --force to overwrite it, or another --out")
    return ""


def write_student_notebooks(paths: Iterable[str | os.PathLike], out_dir: str | os.PathLike,
                            force: bool = False) -> list[Path]:
    """Write the student version of each chapter to ``out_dir`` (same file names).

    Never writes over a notebook that holds reference solutions; never over a learner's work
    (a student edition that differs from a fresh one) unless ``force``. Nothing is written when
    any target is refused.
    """
    out_dir = Path(out_dir)
    plan = []
    for path in paths:
        chapter = read_chapter(path)
        bad = problems(chapter)
        if bad:
            raise ValueError(f"{path}: the exercise format is broken:\n  " + "\n  ".join(bad))
        target = out_dir / Path(path).name
        fresh = student_notebook(chapter)
        why = _refusal(target, fresh, force)
        if why:
            raise ValueError(why)
        plan.append((target, fresh))
    out_dir.mkdir(parents=True, exist_ok=True)
    for target, fresh in plan:
        nbformat.write(fresh, target)
    return [target for target, _ in plan]
