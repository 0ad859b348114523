"""Student notebooks: solutions become stubs raising ``NotImplementedError`` with a hint, hidden tests go."""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from .chapters import Chapter, Exercise, directives, problems, read_chapter
from .markers import BEGIN_SOLUTION, remove_hidden_tests, solution_regions, stub_source, text_stub

#: A Markdown link's target that is a relative path, with an optional anchor: ``](notation.md)``.
_LINK = re.compile(r"\]\((?P<path>[\w./-]+?)(?P<anchor>#[\w.-]*)?\)")


def relink(markdown: str, move: Callable[[str], str | None]) -> str:
    """``markdown`` with each relative link's path replaced by ``move(path)`` (kept where it is None)."""
    def sub(m: re.Match) -> str:
        moved = move(m["path"])
        return m[0] if moved is None else f"]({moved}{m['anchor'] or ''})"
    return _LINK.sub(sub, markdown)


def link_mover(source_dir: Path, out_dir: Path, edition: Iterable[str]) -> Callable[[str], str | None]:
    """Where a link of a chapter in ``source_dir`` points from the student edition in ``out_dir``.

    A link to a chapter of the edition (``edition``: its file names) stays, so that it opens the
    learner's copy; a link to any other file of the book (``notation.md``, a chapter not in the
    edition) points back into ``source_dir``. Links to nothing that exists stay as they are.
    """
    names = set(edition)

    def move(path: str) -> str | None:
        if path in names or not (source_dir / path).exists():
            return None
        return Path(os.path.relpath((source_dir / path).resolve(), out_dir.resolve())).as_posix()
    return move


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


def student_notebook(chapter: Chapter, move_link: Callable[[str], str | None] | None = None) -> NotebookNode:
    """The learner's version of a chapter.

    Solution regions become stubs raising ``NotImplementedError`` with a hint; the
    sphinx-exercise solution wrappers, any other cell inside them, ``{solution}`` blocks,
    hidden test cells and hidden-test regions are removed; outputs and execution counts are
    cleared. The notebook records its chapter in ``metadata.stn_course.chapter`` (for the learner's
    tools: grading takes the chapter from the instructor, never from a submission). With
    ``move_link`` (see :func:`link_mover`), relative links are rewritten to resolve from where
    the student edition lies.
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
        if cell.cell_type == "markdown" and move_link is not None:
            cell.source = relink(cell.source, move_link)
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


def _state(target: Path, fresh: NotebookNode) -> str:
    """What lies at ``target``: "" (nothing, or a fresh student edition), "unreadable",
    "reference" (a notebook with solutions) or "work" (a student edition a learner changed)."""
    if not target.exists():
        return ""
    try:
        existing = nbformat.read(target, as_version=4)
    except Exception:  # not a notebook we can read: never overwrite blindly
        return "unreadable"
    if existing.metadata.get("stn_course", {}).get("edition") != "student" or any(
            BEGIN_SOLUTION in c.source for c in existing.cells):
        return "reference"
    return "work" if [c.source for c in existing.cells] != [c.source for c in fresh.cells] else ""


def _refusal(target: Path, state: str) -> str:
    """Why a target in ``state`` (see :func:`_state`) must not be overwritten."""
    return {
        "unreadable": f"{target} exists and is not a readable notebook; pass another --out",
        "reference": (f"--out {target.parent}: {target.name} there holds reference solutions (it is not a student "
                      "edition); expected a folder for the student notebooks, such as --out student/"),
        "work": (f"{target} holds a learner's work (it differs from a fresh student edition); "
                 "pass --force to overwrite it, or another --out"),
    }.get(state, "")


def write_student_notebooks(paths: Iterable[str | os.PathLike], out_dir: str | os.PathLike,
                            force: bool = False) -> list[Path]:
    """Write the student version of each chapter to ``out_dir`` (same file names).

    Never writes over a notebook that holds reference solutions; never over a learner's work
    (a student edition that differs from a fresh one) unless ``force``. Nothing is written when
    any target is refused.
    """
    plan = _plan(paths, Path(out_dir))
    for target, fresh in plan:
        state = _state(target, fresh)
        if state and not (force and state == "work"):
            raise ValueError(_refusal(target, state))
    _write(plan)
    return [target for target, _ in plan]


def _plan(paths: Iterable[str | os.PathLike], out_dir: Path) -> list[tuple[Path, NotebookNode]]:
    """(target, student notebook) for each chapter; links resolve from ``out_dir``."""
    paths = [Path(p) for p in paths]
    edition = {p.name for p in paths} | ({p.name for p in out_dir.glob("*.ipynb")} if out_dir.is_dir() else set())
    plan = []
    for path in paths:
        chapter = read_chapter(path)
        bad = problems(chapter)
        if bad:
            raise ValueError(f"{path}: the exercise format is broken:\n  " + "\n  ".join(bad))
        plan.append((out_dir / path.name, student_notebook(chapter, link_mover(path.parent, out_dir, edition))))
    return plan


def _write(plan: list[tuple[Path, NotebookNode]]) -> None:
    for target, fresh in plan:
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(fresh, target)


def start_edition(book_dir: str | os.PathLike = "book", out_dir: str | os.PathLike = "student"
                  ) -> tuple[list[Path], list[Path]]:
    """The learner's student edition of every chapter in ``book_dir``, in ``out_dir``.

    Writes each chapter's student notebook, except where ``out_dir`` already holds the
    learner's work on it, which is kept as it is. Returns (written, kept). Raises
    ``ValueError``, writing nothing, when ``out_dir`` holds reference solutions.
    """
    paths = sorted(Path(book_dir).glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        raise ValueError(f"--book {book_dir}: expected a folder of chapter notebooks (NN_name.ipynb), found none")
    plan = _plan(paths, Path(out_dir))
    written, kept = [], []
    for target, fresh in plan:
        state = _state(target, fresh)
        if state in ("unreadable", "reference"):
            raise ValueError(_refusal(target, state))
        (kept if state == "work" else written).append((target, fresh))
    _write(written)
    return [t for t, _ in written], [t for t, _ in kept]
