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
from .markers import remove_hidden_tests, solution_regions, stub_source, text_stub

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


def write_student_notebooks(paths: Iterable[str | os.PathLike], out_dir: str | os.PathLike) -> list[Path]:
    """Write the student version of each chapter to ``out_dir`` (same file names)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in paths:
        chapter = read_chapter(path)
        bad = problems(chapter)
        if bad:
            raise ValueError(f"{path}: the exercise format is broken:\n  " + "\n  ".join(bad))
        target = out_dir / Path(path).name
        nbformat.write(student_notebook(chapter), target)
        written.append(target)
    return written
