"""Reading the exercise format (:mod:`.markers`): a chapter's exercises and the role of each cell."""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from .markers import (BEGIN_SOLUTION, CHECK_TAG, DEFAULT_HINT, END_SOLUTION, HIDDEN_TAG, SOLUTION_TAG,
                      solution_regions, stub_source)

_DIRECTIVE = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[\w-]+)\}[ \t]*(?P<arg>.*?)\s*$")
_OPTION = re.compile(r"^:(?P<key>[\w-]+):\s*(?P<value>.*)$")


@dataclass
class Directive:
    """A fenced MyST directive found in a markdown cell (lines ``start``..``end`` inclusive)."""

    name: str
    arg: str
    options: dict[str, str]
    body: str
    start: int
    end: int


def directives(markdown: str) -> list[Directive]:
    """Top-level fenced directives (```` ```{name} ```` or ``:::{name}``) of a markdown text."""
    lines = markdown.split("\n")
    found, i = [], 0
    while i < len(lines):
        m = _DIRECTIVE.match(lines[i].strip())
        if not m:
            i += 1
            continue
        fence = m["fence"]
        j = i + 1
        while j < len(lines):
            closing = lines[j].strip()
            if closing and set(closing) == {fence[0]} and len(closing) >= len(fence):
                break
            j += 1
        body_lines, options = lines[i + 1:j], {}
        while body_lines and _OPTION.match(body_lines[0].strip()):
            opt = _OPTION.match(body_lines.pop(0).strip())
            options[opt["key"]] = opt["value"].strip()
        found.append(Directive(m["name"], m["arg"], options, "\n".join(body_lines).strip(),
                               i, min(j, len(lines) - 1)))
        i = j + 1
    return found


def _tags(cell: NotebookNode) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _nbgrader(cell: NotebookNode) -> dict:
    return dict(cell.get("metadata", {}).get("nbgrader", {}))


def is_solution_cell(cell: NotebookNode) -> bool:
    """A cell whose marked region (or whole source) learners write themselves."""
    return SOLUTION_TAG in _tags(cell) or bool(_nbgrader(cell).get("solution"))


def is_hidden_cell(cell: NotebookNode) -> bool:
    """A grading cell that learners never see (kept out of student notebooks)."""
    return cell.cell_type == "code" and HIDDEN_TAG in _tags(cell)


def is_check_cell(cell: NotebookNode) -> bool:
    """A visible check cell that scores an exercise."""
    if cell.cell_type != "code" or is_solution_cell(cell) or is_hidden_cell(cell):
        return False
    return CHECK_TAG in _tags(cell) or bool(_nbgrader(cell).get("grade"))


@dataclass
class Exercise:
    """One exercise of a chapter: where its cells are and what it is worth."""

    label: str
    title: str = ""
    text: str = ""
    cell: int | None = None
    solutions: list[int] = field(default_factory=list)
    checks: list[int] = field(default_factory=list)
    hidden: list[int] = field(default_factory=list)
    points: float = 0.0
    meta: dict = field(default_factory=dict)
    solution_lines: int = 0

    @property
    def hint(self) -> str:
        """The hint shown in the stub: metadata, else a "Hint:" paragraph, else a default."""
        if self.meta.get("hint"):
            return _one_line(str(self.meta["hint"]))
        m = re.search(r"(?ims)^\W{0,3}hint\W{0,3}\s*(.+?)(?:\n\s*\n|\Z)", self.text)
        return _one_line(m[1].strip("*_ ")) if m else DEFAULT_HINT

    @property
    def goal(self) -> str:
        """What the exercise teaches: metadata, else the first sentence of its text."""
        if self.meta.get("goal"):
            return _one_line(str(self.meta["goal"]))
        text = _one_line(self.text)
        m = re.match(r"(.+?)(?:[.!?](?=\s+[A-Z])|:(?=\s)|$)", text)
        sentence = (m[1] if m else text).strip()
        return _shorten(sentence, 200) or self.title

    @property
    def minutes(self) -> int:
        """Rough working time: metadata, else 5 min + 2 min per line of the reference solution
        (15 min for an open question, which has none)."""
        if self.meta.get("minutes"):
            return int(self.meta["minutes"])
        if not self.solutions:
            return 15
        return min(60, 5 * math.ceil((5 + 2 * self.solution_lines) / 5))

    @property
    def minutes_estimated(self) -> bool:
        return not self.meta.get("minutes")


@dataclass
class Chapter:
    """A chapter notebook, its exercises and the role of every cell."""

    path: Path | None
    nb: NotebookNode
    exercises: dict[str, Exercise]
    roles: list[str]

    @property
    def name(self) -> str:
        meta = self.nb.metadata.get("stn_course", {})
        return meta.get("chapter") or (self.path.stem if self.path else "notebook")

    @property
    def title(self) -> str:
        for cell in self.nb.cells:
            if cell.cell_type == "markdown":
                m = re.search(r"(?m)^#\s+(.+)$", cell.source)
                if m:
                    return m[1].strip()
        return self.name

    def exercise_of(self, index: int) -> Exercise | None:
        for ex in self.exercises.values():
            if index in ex.solutions or index in ex.checks or index in ex.hidden:
                return ex
        return None


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _shorten(text: str, limit: int) -> str:
    """Cut ``text`` at a space before ``limit`` characters, never inside `code` or $math$."""
    if len(text) <= limit:
        return text
    for cut in range(limit, 0, -1):
        head = text[:cut]
        if text[cut] == " " and head.count("`") % 2 == 0 and head.count("$") % 2 == 0:
            return head.rstrip(" ,;") + " …"
    return ""


def read_chapter(source: str | os.PathLike | NotebookNode) -> Chapter:
    """Parse a chapter notebook (path or notebook) into its exercises and cell roles.

    Roles: ``exercise`` (the task), ``solution`` (stubbed for learners), ``solution-start`` /
    ``solution-end`` (sphinx-exercise wrappers), ``inside`` (other cells inside a solution
    wrapper: part of the solution), ``solution-text`` (a markdown ``{solution}``), ``check``,
    ``hidden`` and ``plain``.
    """
    path = None
    if isinstance(source, NotebookNode):
        nb = source
    else:
        path = Path(source)
        nb = nbformat.read(path, as_version=4)
    exercises: dict[str, Exercise] = {}
    roles: list[str] = []
    current: str | None = None       # the last exercise seen
    open_solution: str | None = None  # inside {solution-start} ... {solution-end}
    for i, cell in enumerate(nb.cells):
        role = "plain"
        if cell.cell_type == "markdown":
            for d in directives(cell.source):
                if d.name in ("exercise", "exercise-start"):
                    label = d.options.get("label") or f"exercise-{len(exercises) + 1}"
                    exercises[label] = Exercise(label, d.arg, d.body, i, meta=_stn_meta(cell))
                    current, role = label, "exercise"
                elif d.name == "solution-start":
                    open_solution, role = d.arg or current, "solution-start"
                elif d.name == "solution-end":
                    open_solution, role = None, "solution-end"
                elif d.name == "solution" and role == "plain":
                    role = "solution-text"
        if role == "plain":
            nbg = _nbgrader(cell)
            grade_id = str(nbg.get("grade_id", ""))
            if is_solution_cell(cell):
                role = "solution"
                label = grade_id if grade_id in exercises else (open_solution or current)
            elif is_hidden_cell(cell) or is_check_cell(cell):
                role = "hidden" if is_hidden_cell(cell) else "check"
                stripped = grade_id.removeprefix("check-").removeprefix("hidden-")
                label = stripped if stripped in exercises else current
            elif open_solution is not None:
                role, label = "inside", None
            else:
                label = None
            if role in ("solution", "check", "hidden"):
                if label is None:
                    label = grade_id or f"cell-{i}"
                ex = exercises.setdefault(label, Exercise(label, title=label))
                getattr(ex, {"solution": "solutions", "check": "checks", "hidden": "hidden"}[role]).append(i)
                if role == "solution":
                    ex.meta = {**ex.meta, **_stn_meta(cell)}
                    ex.solution_lines += sum(1 for line in solution_regions(cell.source)
                                             if line.strip() and not line.strip().startswith("#"))
                else:
                    ex.points += float(_nbgrader(cell).get("points", 0) or 0)
        roles.append(role)
    return Chapter(path, nb, exercises, roles)


def _stn_meta(cell: NotebookNode) -> dict:
    meta = cell.get("metadata", {}).get("stn_course", {})
    return dict(meta) if isinstance(meta, dict) else {}


def has_exercises(path: str | os.PathLike) -> bool:
    """Whether a notebook holds at least one exercise with a solution cell."""
    return any(ex.solutions for ex in read_chapter(path).exercises.values())


def chapter_paths(book_dir: str | os.PathLike = "book") -> list[Path]:
    """The chapter notebooks (``NN_name.ipynb``) of a book folder that have exercises."""
    return [p for p in sorted(Path(book_dir).glob("[0-9][0-9]_*.ipynb")) if has_exercises(p)]


def problems(chapter: Chapter) -> list[str]:
    """Everything in a chapter that breaks the exercise format (empty list: all good)."""
    out: list[str] = []
    seen_ids: dict[str, int] = {}
    for i, cell in enumerate(chapter.nb.cells):
        nbg = _nbgrader(cell)
        role = chapter.roles[i]
        has_markers = BEGIN_SOLUTION in cell.source or END_SOLUTION in cell.source
        if has_markers and role != "solution":
            out.append(f"cell {i}: solution markers in a cell that is not a solution cell")
        if role in ("solution", "check", "hidden"):
            for key in ("grade_id", "schema_version"):
                if key not in nbg:
                    out.append(f"cell {i} ({role}): nbgrader metadata lacks {key!r}")
            if nbg.get("grade_id") in seen_ids:
                out.append(f"cell {i}: grade_id {nbg['grade_id']!r} already used by cell "
                           f"{seen_ids[nbg['grade_id']]}")
            seen_ids.setdefault(nbg.get("grade_id"), i)
        if role == "solution":
            if not nbg.get("solution"):
                out.append(f"cell {i}: tagged {SOLUTION_TAG!r} but nbgrader 'solution' is not true")
            try:
                stub_source(cell.source, "x")
            except ValueError as err:
                out.append(f"cell {i}: {err}")
        if role in ("check", "hidden"):
            if not (nbg.get("grade") and nbg.get("locked")):
                out.append(f"cell {i}: a check cell needs nbgrader grade=true and locked=true")
            if not nbg.get("points"):
                out.append(f"cell {i}: check cell without nbgrader 'points'")
    for ex in chapter.exercises.values():
        if not ex.solutions and not ex.checks:
            continue  # an open question: text only, nothing to grade
        if not ex.solutions:
            out.append(f"exercise {ex.label!r}: a check cell but no solution cell")
        if not ex.checks:
            out.append(f"exercise {ex.label!r}: a solution cell but no check cell")
        elif ex.solutions and min(ex.checks) < min(ex.solutions):
            out.append(f"exercise {ex.label!r}: its check comes before its solution")
    if chapter.roles.count("solution-start") != chapter.roles.count("solution-end"):
        out.append("unbalanced {solution-start} / {solution-end} cells")
    return out
