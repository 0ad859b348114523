"""Grading a class: each submission runs in its own sandboxed kernel; its functions are judged by trusted checks.

For one learner and chapter: the submitted notebook (read before any learner's code runs) is
copied into a throwaway workspace; its code cells, without the check cells, run top to bottom
in a fresh kernel inside the sandbox, under a limit per cell and per notebook; then, for each
exercise, the kernel calls the learner's function on inputs drawn in the grader and the
grader compares what came back with its own reference answers (:mod:`.trusted`). A cell that
ignores its interrupt or kills the kernel costs only itself: the kernel is restarted, the cells
that ran before are run again, and grading goes on.
"""

from __future__ import annotations

import asyncio
import os
import re
import stat
import secrets
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .assignments import Submission
from .chapters import Chapter, is_check_cell, is_hidden_cell
from .kernel import CellResult, Kernel, sandbox_env
from .markers import remove_hidden_tests
from .reports import Score
from .sandbox import Sandbox, Workspace, find_sandbox
from .supervisor import Supervisor
from .trusted import Hidden, Verdict, draw, harness, judge, read_outputs, write_inputs

__all__ = ["PRELOAD", "Setup", "grade_submission", "grade_class"]

PRELOAD = "import stn_course.exercises, stn_course.config"  # loads torch before the clock starts
_START_UP = 120.0  # seconds a kernel may take to start and run the preload


@dataclass
class Setup:
    """Everything a grading run shares: the instructor's chapters and references, the sandbox, the limits."""

    chapters: dict[str, Chapter]
    references: dict[str, dict[str, Hidden]]
    sandbox: Sandbox = field(default_factory=find_sandbox)
    timeout: float = 600
    cell_timeout: float = 120
    output_limit: int = 1_000_000
    quick: bool = True
    preload: str = PRELOAD
    seed: int = field(default_factory=lambda: secrets.randbits(62))
    show_inputs: bool = True  # False with a fixed seed: its hidden inputs repeat, so feedback must not show them
    wall: float | None = None  # seconds for one submission, all in (None: see :meth:`wall_limit`)
    _drawn: dict = field(default_factory=dict, repr=False)

    def hidden(self, chapter: str) -> list[tuple[str, float, Hidden]]:
        """(label, points, trusted check) of each graded exercise of a chapter."""
        source = self.chapters[chapter]
        out = []
        for label, ex in source.exercises.items():
            if not (ex.checks or ex.hidden):
                continue  # an open question
            spec = self.references.get(chapter, {}).get(label)
            if spec is None:
                raise ValueError(f"references: chapter {chapter} has no trusted check for exercise {label!r}")
            out.append((label, ex.points, spec))
        return out

    def wall_limit(self, chapter: str) -> float:
        """The wall clock of one submission, start to end, kept by the :class:`Supervisor`:
        ``wall``, or the notebook's limit plus a start-up allowance and one cell limit per exercise."""
        if self.wall is not None:
            return self.wall
        return _START_UP + self.timeout + self.cell_timeout * len(self.hidden(chapter))

    def cases(self, chapter: str, label: str, spec: Hidden):
        """The hidden inputs and reference answers of an exercise, drawn once per run."""
        key = (chapter, label)
        if key not in self._drawn:
            self._drawn[key] = draw(spec, (self.seed + zlib.crc32(f"{chapter}/{label}".encode())) % 2**62)
        return self._drawn[key]


def _code_cells(nb, source: Chapter) -> list[tuple[int, str]]:
    """The submission's code cells to run, numbered as the learner sees them: all but the check cells."""
    visible_checks = {remove_hidden_tests(source.nb.cells[i].source).strip()
                      for ex in source.exercises.values() for i in ex.checks}
    code = [c for c in nb.cells if c.cell_type == "code"]
    return [(n, c.source) for n, c in enumerate(code, 1) if c.source.strip()
            and not (is_check_cell(c) or is_hidden_cell(c) or c.source.strip() in visible_checks)]


class _Run:
    """One submission's kernel: runs cells, recovers from stuck and dead kernels, keeps notes."""

    def __init__(self, kernel: Kernel, setup: Setup, supervisor: Supervisor | None = None):
        self.kernel, self.setup, self.supervisor = kernel, setup, supervisor
        self.ran_ok: list[str] = []
        self.results: list[CellResult] = []
        self.notes: list[str] = []
        self.wall = setup.wall

    async def start(self) -> None:
        await self.kernel.start()
        if self.setup.preload:  # library imports are not the learner's time
            await self.kernel.run(self.setup.preload, max(120.0, self.setup.timeout))

    @property
    def over(self) -> bool:
        """Whether the supervisor stopped the submission (its wall clock, memory or disk)."""
        return self.supervisor is not None and self.supervisor.tripped

    async def recover(self) -> float:
        """A fresh kernel in the state the cells that ran well left; returns the seconds it took."""
        t0 = time.monotonic()
        if self.over:
            return 0.0
        await self.kernel.stop()
        await self.start()
        for source in self.ran_ok:
            await self.kernel.run(source, self.setup.cell_timeout)
        return time.monotonic() - t0

    async def cells(self, sources: list[tuple[int, str]]) -> None:
        deadline = time.monotonic() + self.setup.timeout
        for n, source in sources:
            left = deadline - time.monotonic()
            if left <= 0:
                self.notes.append(f"the notebook reached its {self.setup.timeout:g} s limit before code cell {n}: "
                                  "the cells from there on did not run")
                break
            result = await self.kernel.run(source, min(self.setup.cell_timeout, left))
            self.results.append(result)
            if self.over:
                self.notes.append(f"code cell {n} was stopped: {self.stopped()}")
                break
            note = _cell_note(n, result, self.setup)
            if note:
                self.notes.append(note)
            if result.ok:
                self.ran_ok.append(source)
            elif result.status in ("stuck", "dead"):
                await self.recover()  # the replay counts against the notebook's limit: a restart cannot extend it

    def stopped(self) -> str:
        """Why the supervisor ended the submission, as a sentence."""
        reason = self.supervisor.reason if self.supervisor else ""
        if reason == "wall clock":
            return (f"the submission ran past its {self.wall:g} s wall clock and all its processes "
                    "were killed")
        return f"the submission went over its limit of {reason} and all its processes were killed"

    async def probe(self, spec: Hidden, cases, space: Workspace, label: str) -> tuple[list | None, CellResult]:
        if self.over:
            return None, CellResult("stopped", "Stopped", self.stopped())
        inputs, outputs = space.inbox / f"{label}.pt", space.work / f".{label}.result.pt"
        write_inputs(cases, inputs)
        outputs.unlink(missing_ok=True)
        result = await self.kernel.run(harness(spec, inputs, outputs), self.setup.cell_timeout)
        got = read_outputs(outputs) if result.ok else None
        if result.status in ("stuck", "dead"):
            await self.recover()
        return got, result


def _what_happened(r: CellResult, output_limit: int) -> str:
    """What a cell that did not end well did, as the end of a sentence."""
    return {"error": f"raised {r.ename}: {r.evalue}",
            "timeout": f"ran past its {r.limit:g} s limit and was interrupted",
            "stuck": f"ran past its {r.limit:g} s limit and ignored the interrupt",
            "dead": f"killed the kernel ({r.evalue})",
            "output": f"printed more than {output_limit:,} bytes (the rest was dropped and the cell stopped)",
            "stopped": f"did not run: {r.evalue}",
            }.get(r.status, r.status)


def _cell_note(n: int, r: CellResult, setup: Setup) -> str:
    """A note on a cell that raised, ran out of time or output, or lost its kernel.

    Errors in ordinary cells are reported too (a kernel that cannot ``import stn_course`` must
    not pass unnoticed); only an unfinished exercise's ``NotImplementedError`` is not.
    """
    if r.status == "error" and r.ename != "NotImplementedError":
        return f"code cell {n} {_what_happened(r, setup.output_limit)}"[:300]
    if r.status not in ("timeout", "stuck", "dead", "output"):
        return ""
    note = f"code cell {n} {_what_happened(r, setup.output_limit)}"
    if r.status in ("stuck", "dead"):
        note += ": its kernel was killed and restarted, the cells before it ran again, and the notebook went on"
    return note


def _probe_failure(spec: Hidden, r: CellResult, setup: Setup) -> str:
    if r.status == "stopped":
        return r.evalue
    endless = " (an endless loop?)" if r.status in ("timeout", "stuck") else ""
    return f"`{spec.function}` {_what_happened(r, setup.output_limit)} on the hidden cases{endless}"


def _defining_cell_problem(spec: Hidden, sources: list[tuple[int, str]], results: list[CellResult],
                           setup: Setup) -> str:
    """What went wrong in the cell that defines the learner's function, if anything."""
    pattern = re.compile(rf"(?m)^\s*def\s+{re.escape(spec.function)}\s*\(")
    for (n, source), r in zip(sources, results):
        if pattern.search(source) and not r.ok and r.ename != "NotImplementedError":
            return f"your code cell (code cell {n}) {_what_happened(r, setup.output_limit)}; "
    return ""


def _rows(sub: Submission, setup: Setup, verdicts: list[tuple[str, float, Verdict]], notes: list[str]) -> list[Score]:
    note = "; ".join([*sub.notes, *notes])
    return [Score(sub.student, sub.chapter, label, worth if v.passed else 0.0, worth, v.feedback, note,
                  setup.sandbox.description) for label, worth, v in verdicts]


def _read_notebook(text: str):
    """The notebook in ``text``, or the reason it cannot be graded (read as data: it must be a valid notebook)."""
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
        if not all(isinstance(c.get("source"), str) for c in nb.cells):
            raise ValueError("a cell's source is not text")
    except Exception as err:  # unreadable or malformed: nothing can be scored
        return None, f"could not read the notebook: {type(err).__name__}: {err}"[:300]
    return nb, ""


def _failed_rows(sub: Submission, setup: Setup, why: str) -> list[Score]:
    """Every exercise of a submission at 0 points, with the reason."""
    return _rows(sub, setup, [(label, worth, Verdict(False, why)) for label, worth, _ in setup.hidden(sub.chapter)], [])


async def grade_submission(sub: Submission, text: str | None, setup: Setup) -> list[Score]:
    """Grade one learner's notebook for one chapter (``text``: the file as read before grading began)."""
    exercises = setup.hidden(sub.chapter)
    if sub.refused:
        return _failed_rows(sub, setup, sub.refused)
    if sub.path is None or text is None:
        return _rows(sub, setup, [(label, worth, Verdict(False, "no submission")) for label, worth, _ in exercises], [])
    nb, why = _read_notebook(text)
    if nb is None:
        return _failed_rows(sub, setup, why)
    sources = _code_cells(nb, setup.chapters[sub.chapter])
    space = Workspace.create()
    wall = setup.wall_limit(sub.chapter)
    limits = setup.sandbox.limits
    supervisor = Supervisor(time.monotonic() + wall, limits.tree_memory, limits.disk, [space.work, space.home])
    kernel = Kernel(space.work, sandbox_env(space, setup.quick), sandbox=setup.sandbox,
                    space=space, output_limit=setup.output_limit, supervisor=supervisor)
    run = _Run(kernel, setup, supervisor)
    run.wall = wall
    verdicts = []
    try:
        await run.start()
        await run.cells(sources)
        for label, worth, spec in exercises:
            cases, expected = setup.cases(sub.chapter, label, spec)
            got, result = await run.probe(spec, cases, space, label)
            if run.over and not result.ok:
                result = CellResult("stopped", "Stopped", run.stopped())
            verdict = judge(spec, cases, expected, got, setup.show_inputs) if result.ok else Verdict(False, _probe_failure(spec, result, setup))
            if not verdict.passed:
                verdict.feedback = _defining_cell_problem(spec, sources, run.results, setup) + verdict.feedback
            verdicts.append((label, worth, verdict))
    except Exception as err:  # the kernel could not start: report it on every exercise
        why = run.stopped() if run.over else f"grading failed: {type(err).__name__}: {err}"[:300]
        done = {label for label, _, _ in verdicts}
        verdicts += [(label, worth, Verdict(False, why)) for label, worth, _ in exercises if label not in done]
    finally:
        if run.over and not any("processes were killed" in n for n in run.notes):
            run.notes.append(run.stopped())
        supervisor.close()
        supervisor.kill()  # whatever the kernel left behind
        await kernel.stop()
        space.remove()
    return _rows(sub, setup, verdicts, run.notes)


def _read_all(subs: Sequence[Submission]) -> list[str | None]:
    """Every submitted file, read before any learner's code runs (a snapshot no learner can change)."""
    return [_read_one(sub) if sub.path and not sub.refused else None for sub in subs]


def _read_one(sub: Submission) -> str | None:
    """A submitted file's text, opened without following a link; a link refuses the submission."""
    try:
        fd = os.open(sub.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as err:
        sub.refused = f"refused: could not open {sub.path.name} as a plain file ({err.strerror})"
        return None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_nlink > 1:
            sub.refused = f"refused: {sub.path.name} is not a plain file with one name (a link?)"
            return None
        try:
            return f.read().decode("utf-8")
        except (OSError, UnicodeDecodeError) as err:
            return f"<unreadable: {err}>"


def grade_class(subs: Sequence[Submission], setup: Setup, jobs: int = 1) -> list[Score]:
    """Grade every submission, ``jobs`` at a time; rows in the order of ``subs``."""
    texts = _read_all(subs)
    for sub in subs:  # refuse a chapter without trusted checks before any kernel starts
        setup.hidden(sub.chapter)

    async def all_of_them():
        gate = asyncio.Semaphore(max(1, jobs))

        async def one(sub, text):
            async with gate:
                try:
                    return await grade_submission(sub, text, setup)
                except Exception as err:  # one bad submission spoils only its own rows
                    return _failed_rows(sub, setup, f"grading failed: {type(err).__name__}: {err}"[:300])

        return await asyncio.gather(*(one(s, t) for s, t in zip(subs, texts)))

    return [row for rows in asyncio.run(all_of_them()) for row in rows]
