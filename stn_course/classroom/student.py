"""Student notebooks: solutions become stubs raising ``NotImplementedError`` with a hint, hidden tests go."""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterable
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from .chapters import (BEGIN_HIDDEN, BEGIN_SOLUTION, CODE_STUB_COMMENT, END_HIDDEN, END_SOLUTION, TEXT_STUB,
                       Chapter, Exercise, _solution_regions, directives, problems, read_chapter)

def stub_source(source: str, message: str) -> str:
    """Replace each BEGIN/END SOLUTION region by a stub raising ``NotImplementedError(message)``.

    The stub keeps the indentation of its BEGIN line (as nbgrader does); a solution cell
    without markers is replaced whole.
    """
    out, inside, replaced = [], False, False
    for line in source.split("\n"):
        if BEGIN_SOLUTION in line:
            if inside:
                raise ValueError("nested '### BEGIN SOLUTION' markers")
            indent = re.match(r"\s*", line)[0]
            out += [indent + CODE_STUB_COMMENT, f"{indent}raise NotImplementedError({message!r})"]
            inside = replaced = True
        elif END_SOLUTION in line:
            if not inside:
                raise ValueError("'### END SOLUTION' without a matching BEGIN")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError("'### BEGIN SOLUTION' without a matching END")
    if not replaced:
        return f"{CODE_STUB_COMMENT}\nraise NotImplementedError({message!r})"
    return "\n".join(out)


def _text_stub(source: str) -> str:
    out, inside, replaced = [], False, False
    for line in source.split("\n"):
        if BEGIN_SOLUTION in line:
            out.append(re.match(r"\s*", line)[0] + TEXT_STUB)
            inside = replaced = True
        elif END_SOLUTION in line:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out) if replaced else TEXT_STUB


def remove_hidden_tests(source: str) -> str:
    """Drop ``### BEGIN HIDDEN TESTS`` … ``### END HIDDEN TESTS`` regions of a check cell."""
    out, inside = [], False
    for line in source.split("\n"):
        if BEGIN_HIDDEN in line:
            inside = True
        elif END_HIDDEN in line:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


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
                cell.source = _text_stub(cell.source)
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
        for line in _solution_regions(cell.source):
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
