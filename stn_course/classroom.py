"""Teaching a class from the book: student notebooks, automatic grading, the exercise list.

Exercises are written once, inside the chapters, in one format (see the team brief): an
``{exercise}`` markdown cell, a solution code cell tagged ``exercise-solution`` whose body sits
between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (wrapped in ``{solution-start}`` /
``{solution-end}`` markdown cells for sphinx-exercise), and a check cell tagged
``exercise-check`` whose nbgrader metadata carries its ``points``. Everything here works on
that format, so ``nbgrader generate_assignment`` and this module produce the same stubs.

Command line (``python -m stn_course.classroom <command> --help`` for the options)::

    student   book/04_sampler.ipynb ... --out student/     # notebooks for learners
    grade     submissions/*/*.ipynb --out grades.csv       # execute and score submissions
    exercises book/*.ipynb                                  # the exercise list (Markdown)
    verify    book/04_sampler.ipynb                         # stubs fail, reference passes
    student-book [jupyter-book options]                     # the book without solutions

Loaded as a Sphinx extension (``stn_course.classroom``), the module removes every solution
from the rendered book: that is how ``student-book`` builds the student edition.

An exercise may carry optional metadata ``{"stn_course": {"hint": ..., "goal": ...,
"minutes": ...}}`` on its solution (or exercise) cell; without it the hint comes from a
"Hint:" paragraph of the exercise text, the goal from the text's first sentence and the time
is estimated from the length of the reference solution.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import builtins
import copy
import csv
import math
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

SOLUTION_TAG = "exercise-solution"
CHECK_TAG = "exercise-check"
HIDDEN_TAG = "exercise-hidden"
BEGIN_SOLUTION, END_SOLUTION = "BEGIN SOLUTION", "END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
CODE_STUB_COMMENT = "# YOUR CODE HERE"
TEXT_STUB = "YOUR ANSWER HERE"
DEFAULT_HINT = "replace this line with your code, then run the check cell below."

_DIRECTIVE = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[\w-]+)\}[ \t]*(?P<arg>.*?)\s*$")
_OPTION = re.compile(r"^:(?P<key>[\w-]+):\s*(?P<value>.*)$")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


# --------------------------------------------------------------------------------------
# Reading chapters
# --------------------------------------------------------------------------------------

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


def _solution_regions(source: str) -> list[str]:
    """The lines between BEGIN/END SOLUTION markers."""
    lines, inside, out = source.split("\n"), False, []
    for line in lines:
        if BEGIN_SOLUTION in line:
            inside = True
        elif END_SOLUTION in line:
            inside = False
        elif inside:
            out.append(line)
    return out


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
                    ex.solution_lines += sum(1 for line in _solution_regions(cell.source)
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


# --------------------------------------------------------------------------------------
# Student notebooks
# --------------------------------------------------------------------------------------

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
    cleared. The notebook records its chapter in ``metadata.stn_course.chapter`` for grading.
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


# --------------------------------------------------------------------------------------
# Executing notebooks (a kernel with time limits)
# --------------------------------------------------------------------------------------

@dataclass
class CellResult:
    """What executing one cell gave: status is ok, error, timeout, dead or not-run."""

    status: str = "not-run"
    ename: str = ""
    evalue: str = ""
    stdout: str = ""
    seconds: float = 0.0
    limit: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"


_TIMEOUT_ENAME = "CellTimeLimit"


def kernel_env(quick: bool = True) -> dict[str, str]:
    """Environment for grading/verification kernels: quick mode, no GUI backend."""
    env = dict(os.environ)
    if quick:
        env["STN_COURSE_QUICK"] = "1"
    env.setdefault("MPLBACKEND", "Agg")
    return env


class Kernel:
    """A Python kernel that runs code cell by cell with a time limit per cell.

    Use as ``async with Kernel(cwd) as k: result = await k.run(source, limit)``. A cell that
    runs past its limit is interrupted (and reported as ``timeout``); leaving the block
    kills the kernel process whatever state it is in.
    """

    def __init__(self, cwd: str | os.PathLike, env: dict[str, str] | None = None):
        from nbclient import NotebookClient

        self._replies: dict[int, dict] = {}
        self.client = NotebookClient(
            nbformat.v4.new_notebook(), kernel_name="python3", allow_errors=True,
            interrupt_on_timeout=True, shutdown_kernel="immediate", iopub_timeout=5,
            error_on_timeout={"ename": _TIMEOUT_ENAME, "evalue": "time limit reached", "traceback": []},
            resources={"metadata": {"path": str(cwd)}}, record_timing=False,
            on_cell_executed=self._on_executed,
        )
        self.env = env if env is not None else kernel_env()
        self._cm = None

    def _on_executed(self, cell, cell_index, execute_reply):
        self._replies[cell_index] = execute_reply

    async def __aenter__(self) -> Kernel:
        self._cm = self.client.async_setup_kernel(env=self.env)
        await self._cm.__aenter__()
        return self

    async def __aexit__(self, *exc) -> None:
        km = self.client.km
        try:
            await self._cm.__aexit__(*exc)
        finally:  # whatever happened above, no kernel process outlives the block
            try:
                if km is not None and await _maybe_await(km.is_alive()):
                    await _maybe_await(km.shutdown_kernel(now=True))
            except Exception:  # already gone
                pass

    async def run(self, source: str, limit: float) -> CellResult:
        """Execute ``source``; ``limit`` seconds at most (then the kernel is interrupted)."""
        from nbclient.exceptions import DeadKernelError

        cell = nbformat.v4.new_code_cell(source)
        self.client.nb.cells.append(cell)  # nbclient stores the executed cell at its index
        index = len(self.client.nb.cells) - 1
        self.client.timeout = max(1, math.ceil(limit))
        t0 = time.monotonic()
        try:
            await self.client.async_execute_cell(cell, index)
        except DeadKernelError as err:
            return CellResult("dead", "DeadKernelError", str(err), seconds=time.monotonic() - t0, limit=limit)
        reply = self._replies.pop(index, None) or {"content": {"status": "ok"}}
        content = reply.get("content", {})
        stdout = "".join(o.get("text", "") for o in cell.outputs
                         if o.get("output_type") == "stream" and o.get("name") == "stdout")
        result = CellResult("ok", stdout=stdout, seconds=time.monotonic() - t0, limit=limit)
        if content.get("status") != "ok":
            ename = content.get("ename", "Error")
            result.status = "timeout" if ename == _TIMEOUT_ENAME else "error"
            result.ename, result.evalue = ename, _ANSI.sub("", str(content.get("evalue", "")))
        return result


async def _maybe_await(value):
    if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
        return await value
    return value


# --------------------------------------------------------------------------------------
# Grading
# --------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------
# Verifying a chapter's exercises
# --------------------------------------------------------------------------------------

@dataclass
class Verification:
    """What ``verify`` found for one chapter: ``errors`` is empty when all is well."""

    chapter: str
    errors: list[str] = field(default_factory=list)
    stub_feedback: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    cells_run: int = 0
    cells_skipped: int = 0
    seconds: float = 0.0
    timed_out: bool = False


_BUILTINS = set(dir(builtins)) | {"display", "_"}
_STATE_SETTERS = {"manual_seed", "seed", "set_num_threads", "use_deterministic_algorithms",
                  "set_default_dtype", "set_grad_enabled", "filterwarnings", "chdir"}


class _Names(ast.NodeVisitor):
    """Names a cell binds (``defs``), reads from outside (``uses``) and may mutate (``touches``)."""

    def __init__(self) -> None:
        self.defs: set[str] = set()
        self.uses: set[str] = set()
        self.touches: set[str] = set()
        self.imports: set[str] = set()
        self.sets_state = False
        self.setup_only = True

    def visit_Name(self, node: ast.Name) -> None:
        if not isinstance(node.ctx, ast.Store):  # Load, and Del (which needs the name to exist)
            self.uses.add(node.id)
        if not isinstance(node.ctx, ast.Load):
            self.defs.add(node.id)

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            self.defs.add(alias.asname or alias.name.split(".")[0])
            self.imports.add(alias.asname or alias.name.split(".")[0])

    visit_ImportFrom = visit_Import

    def _function(self, node, body: list[ast.AST]) -> None:
        args = node.args
        params = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg] if a}
        inner = _Names()
        for stmt in body:
            inner.visit(stmt)
        self.uses |= inner.uses - inner.defs - params
        for default in [*args.defaults, *(d for d in args.kw_defaults if d)]:
            self.visit(default)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self.defs.add(node.name)
        for deco in node.decorator_list:
            self.visit(deco)
        self._function(node, node.body)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._function(node, [node.body])

    def _comprehension(self, node) -> None:
        inner = _Names()
        inner.generic_visit(node)
        self.uses |= inner.uses - inner.defs

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.defs.add(node.name)
        inner = _Names()
        for item in [*node.bases, *node.keywords, *node.decorator_list, *node.body]:
            inner.visit(item)
        self.uses |= inner.uses

    def top_level(self, stmt: ast.stmt) -> None:
        """Record what a top-level statement may mutate in place, then visit it."""
        targets = []
        setter = False
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            call = stmt.value
            setter = isinstance(call.func, ast.Attribute) and call.func.attr in _STATE_SETTERS
            pure = isinstance(call.func, ast.Name) and call.func.id in _BUILTINS  # print(x), len(x)
            targets = [] if pure else [call.func, *call.args, *(k.value for k in call.keywords)]
        elif isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = [t for t in (stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target])
                       if isinstance(t, (ast.Attribute, ast.Subscript))]
        for t in targets:
            self.touches |= {n.id for n in ast.walk(t) if isinstance(n, ast.Name)} - _BUILTINS
        # a cell of imports and seeds/thread settings only: cheap, and global state may matter
        self.setup_only = self.setup_only and (setter or isinstance(stmt, (ast.Import, ast.ImportFrom)))
        self.sets_state = self.sets_state or setter
        self.visit(stmt)


def cell_names(source: str) -> _Names | None:
    """Analyse a code cell (IPython syntax allowed); None when it cannot be parsed."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        tree = ast.parse(TransformerManager().transform_cell(source))
    except (SyntaxError, ImportError, ValueError):
        return None
    names = _Names()
    for stmt in tree.body:
        names.top_level(stmt)
    return names


def needed_cells(chapter: Chapter) -> set[int]:
    """The code cells that the exercise cells depend on (a conservative static analysis).

    Walking back from the last check: every exercise cell is needed, and so is any earlier
    cell that binds or may mutate in place (method call, argument of a bare call, item or
    attribute assignment; imported modules excepted) a name that a needed cell reads, only
    imports and sets global state (seeds, threads), or cannot be parsed.
    """
    cells = chapter.nb.cells
    last = max(i for i, r in enumerate(chapter.roles) if r in ("check", "hidden"))
    infos = {i: cell_names(c.source) for i, c in enumerate(cells[:last + 1])
             if c.cell_type == "code" and c.source.strip()}
    modules = set().union(*(info.imports for info in infos.values() if info is not None))
    needed, names = set(), set()
    for i in sorted(infos, reverse=True):
        info = infos[i]
        if (info is None or chapter.roles[i] in ("solution", "check", "hidden", "inside")
                or (info.sets_state and info.setup_only) or (info.defs | (info.touches - modules)) & names):
            needed.add(i)
            names |= info.uses if info is not None else set()
    return needed


async def _verify(chapter: Chapter, cell_timeout: float, quick: bool, prune: bool) -> Verification:
    t0 = time.monotonic()
    report = Verification(chapter.name)
    cells = chapter.nb.cells
    solutions = [i for i, r in enumerate(chapter.roles) if r == "solution" and cells[i].cell_type == "code"]
    checks = [i for i, r in enumerate(chapter.roles) if r in ("check", "hidden")]
    if not solutions or not checks:
        report.errors.append("no exercise with a solution and a check")
        return report
    first, last = solutions[0], max(checks)
    student = student_notebook(chapter)
    stub_at = next(k for k, c in enumerate(student.cells) if is_solution_cell(c))
    student_prefix = [c.source for c in student.cells[:stub_at] if c.cell_type == "code"]
    original_prefix = [c.source for c in cells[:first] if c.cell_type == "code"]
    if student_prefix != original_prefix:
        report.errors.append("the student notebook's cells before the first stub differ from the chapter's")
        return report
    keep = needed_cells(chapter) if prune else set(range(last + 1))
    cwd = chapter.path.parent.resolve() if chapter.path else Path.cwd()

    async def run(kernel, source):
        report.cells_run += 1
        result = await kernel.run(source, cell_timeout)
        report.timed_out |= result.status == "timeout"
        return result

    async with Kernel(cwd, kernel_env(quick)) as kernel:
        for i in range(last + 1):
            cell, role = cells[i], chapter.roles[i]
            if cell.cell_type != "code" or not cell.source.strip():
                continue
            if i not in keep:
                report.cells_skipped += 1
                continue
            if role == "solution":
                ex = chapter.exercise_of(i)
                stub = await run(kernel, stub_source(cell.source, stub_message(ex)))
                if not stub.ok and stub.ename != "NotImplementedError":
                    report.errors.append(f"cell {i} ({ex.label}): the stub raised {stub.ename}: {stub.evalue}")
                for j in ex.checks + ex.hidden:
                    r = await run(kernel, cells[j].source)
                    if r.ok:
                        report.errors.append(f"cell {j} ({ex.label}): the check passes with the stub")
                    else:
                        report.stub_feedback[ex.label] = _feedback(r, [stub])
            r = await run(kernel, cell.source)
            if not r.ok:
                where = f"student notebook, cell {i} before the first stub" if i < first else f"cell {i} ({role})"
                report.errors.append(f"{where}: {r.status} {r.ename}: {r.evalue}")
                if role not in ("check", "hidden"):
                    break
    report.seconds = time.monotonic() - t0
    return report


def verify(path: str | os.PathLike, *, cell_timeout: float = 600, quick: bool = True,
           prune: bool = False) -> Verification:
    """Run a chapter once, checking its exercises both ways.

    The student notebook's cells before its first stub (the same code as the chapter's) must
    run without error; then, going through the chapter up to its last check, each solution
    cell is first run as its stub (its checks must fail) and then as the reference (the
    chapter's checks must pass). Cells after the last check are not run.

    With ``prune``, only the cells the exercises depend on run (see :func:`needed_cells`):
    much cheaper where a chapter trains a model before its exercises, and sound when the
    chapter itself is executed in full elsewhere (nbval). Should a pruned run fail (other than
    by a time limit), the chapter is run again in full and the pruned failure kept in ``notes``.
    """
    chapter = read_chapter(path)
    report = asyncio.run(_verify(chapter, cell_timeout, quick, prune))
    if prune and report.errors and not report.timed_out:  # pruning cannot make a cell slower
        full = asyncio.run(_verify(chapter, cell_timeout, quick, False))
        full.notes.append("the pruned run failed, so the chapter ran in full: " + "; ".join(report.errors))
        full.seconds += report.seconds
        return full
    return report


# --------------------------------------------------------------------------------------
# The exercise list (instructor guide)
# --------------------------------------------------------------------------------------

def exercise_table(paths: Iterable[str | os.PathLike]) -> str:
    """A Markdown table of every exercise: chapter, exercise, learning goal, points, time.

    Open questions (an exercise with neither solution nor check) are listed too.
    """
    rows = ["| Chapter | Exercise | Learning goal | Points | Time |",
            "|---|---|---|---|---|"]
    total_min = 0
    for path in paths:
        chapter = read_chapter(path)
        for ex in chapter.exercises.values():
            total_min += ex.minutes
            time_txt = f"≈ {ex.minutes} min" if ex.minutes_estimated else f"{ex.minutes} min"
            points = f"{ex.points:g}" if ex.checks else "open question"
            cells = [chapter.title, f"{ex.title} (`{ex.label}`)", ex.goal, points, time_txt]
            rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    rows.append(f"\nTotal working time ≈ {total_min / 60:.1f} h.")
    return "\n".join(rows)


# --------------------------------------------------------------------------------------
# The student edition of the book (Sphinx extension + build command)
# --------------------------------------------------------------------------------------

def setup(app) -> dict[str, Any]:
    """Sphinx extension: render the book without solutions (the student edition).

    sphinx-exercise's own ``hide_solutions`` drops a gated ``{solution-start}`` but leaves
    its content and crashes on the orphaned ``{solution-end}`` (sphinx-exercise issue 89);
    this removes the whole solution after sphinx-exercise has merged the gated parts into
    one node, and drops hidden tests as the student notebooks do.
    """
    from docutils import nodes
    from sphinx.transforms import SphinxTransform
    from sphinx_exercise.nodes import solution_node

    class RemoveSolutions(SphinxTransform):
        default_priority = 20  # after sphinx-exercise's MergeGatedSolutions (10)

        def apply(self, **kwargs: Any) -> None:
            for node in list(self.document.findall(solution_node)):
                node.parent.remove(node)
            for cell in list(self.document.findall(nodes.container)):
                if cell.get("nb_element") != "cell_code":
                    continue
                tags = (cell.get("cell_metadata") or {}).get("tags", [])
                if HIDDEN_TAG in tags:
                    cell.parent.remove(cell)
                    continue
                for block in list(cell.findall(nodes.literal_block)):
                    if BEGIN_HIDDEN in block.astext():
                        text = remove_hidden_tests(block.astext())
                        block.replace_self(nodes.literal_block(text, text, **block.attributes))

    app.setup_extension("sphinx_exercise")
    app.add_transform(RemoveSolutions)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def student_book_config(root: str | os.PathLike = ".") -> dict:
    """The book's ``_config.yml`` turned into the student edition's configuration."""
    import yaml

    root = Path(root).resolve()
    cfg = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8")) or {}
    cfg["title"] = f"{cfg.get('title', 'Book')} — student edition"
    sphinx = cfg.setdefault("sphinx", {})
    sphinx["extra_extensions"] = [*(sphinx.get("extra_extensions") or []), "stn_course.classroom"]
    # local extension folders are relative to the config file, which will live elsewhere
    sphinx["local_extensions"] = {name: str((root / rel).resolve())
                                  for name, rel in (sphinx.get("local_extensions") or {}).items()}
    if not sphinx["local_extensions"]:
        del sphinx["local_extensions"]
    execute = cfg.setdefault("execute", {})
    if not execute.get("cache"):
        execute["cache"] = str(root / "_build" / ".jupyter_cache")  # share the main build's outputs
    return cfg


def build_student_book(root: str | os.PathLike = ".", out: str | os.PathLike = "_build/student",
                       jb_args: Sequence[str] = ()) -> int:
    """Build the student edition with jupyter-book into ``out`` (HTML in ``out/_build/html``)."""
    import yaml

    root, out = Path(root).resolve(), Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    config = out / "_config_student.yml"
    config.write_text(yaml.safe_dump(student_book_config(root), sort_keys=False, allow_unicode=True),
                      encoding="utf-8")
    jb = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(jb) if jb.exists() else "jupyter-book", "build", str(root), "--config", str(config),
           "--path-output", str(out), *jb_args]
    print("$", " ".join(cmd), flush=True)
    return subprocess.call(cmd)


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m stn_course.classroom", description=__doc__.split("\n")[0])
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


if __name__ == "__main__":
    sys.exit(main())
