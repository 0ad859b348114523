"""Verifying a chapter's exercises: each stub fails its checks and each reference solution passes them."""

from __future__ import annotations

import ast
import asyncio
import builtins
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from .chapters import Chapter, is_solution_cell, read_chapter
from .kernel import CellResult, Kernel, kernel_env
from .markers import stub_source
from .student import stub_message, student_notebook

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


def _check_feedback(r: CellResult) -> str:
    """What a check cell told the learner when it ran against a stub."""
    if r.ok:  # the check said "not attempted yet" and let the notebook go on
        return " ".join(line.strip() for line in r.stdout.splitlines() if line.strip()).lstrip("○ ")
    if r.ename in ("ExerciseFailed", "ExerciseNotAttempted"):
        return r.evalue
    if r.ename == "NotImplementedError":
        return "not attempted yet: the code still raises NotImplementedError"
    if r.status in ("timeout", "stuck"):
        return f"time limit: the check did not finish within {r.limit:g} s"
    if r.status == "dead":
        return f"the kernel died while checking ({r.evalue})"
    return f"the check raised {r.ename}: {r.evalue}"


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
                    if r.ok and "not attempted yet" not in " ".join(r.stdout.split()):
                        report.errors.append(f"cell {j} ({ex.label}): the check passes with the stub")
                    else:
                        report.stub_feedback[ex.label] = _check_feedback(r)
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
