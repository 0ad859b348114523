"""Trusted checks: the learner's function on inputs the learner never sees, judged in the grader's process.

The instructor's reference module for a chapter (see ``instructor/`` in the course
repository, never part of the package learners install) gives, for each exercise, a
:class:`Hidden`: the name of the learner's function, the reference solution and a recipe for
fresh inputs. The grader draws the inputs and computes the expected values itself; the
learner's kernel only receives the inputs (in a file it may read but not change), calls the
learner's function on them and writes back what it returned, as plain data (tensors, numbers,
strings, lists, dicts), which the grader loads with ``torch.load(weights_only=True)`` and
compares. Nothing the learner's code does inside its kernel (patching the checks, rewriting
cells) can change the expected values or the comparison.
"""

from __future__ import annotations

import copy
import importlib.util
import inspect
import os
import stat
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

import stn_course

from ..exercises import Case, compare_plain

__all__ = ["Hidden", "Verdict", "load_references", "draw", "write_inputs", "harness", "read_outputs", "judge"]

_MAX_OUTPUT_FILE = 64 * 2**20
_MAX_DEPTH, _MAX_ITEMS, _MAX_ELEMENTS = 32, 100_000, 2**24  # of a result, before anything compares or prints it


@dataclass
class Hidden:
    """How one exercise is graded.

    Args:
        function: the name the learner's function has in the notebook (``"shift_images"``).
        reference: the reference solution, called in the grader's process.
        cases: ``cases(generator) -> list[Case]``: fresh inputs (``Case.args``/``kwargs``; the
            ``expected`` field is ignored, the reference computes it).
        probe: optional ``probe(fn, *args, **kwargs) -> plain data``, for functions that return
            something richer than tensors and numbers (a module, optimiser groups). It runs in
            the learner's kernel on their function and here on the reference, so it must be
            self-contained (imports inside) and defined at the top level of its module.
        allow: functions (``"stn_course.grid.regular_grid"``) or whole modules of the course
            package that the learner's function may call: the ones the exercise builds on. While
            the learner's function runs, every call it makes (directly, through a lambda, a
            ``partial`` or any helper outside the package) into any other function defined at the
            top level of a package module is recorded, and the exercise fails: it delegated to
            the package. Name functions rather than modules where a module also holds the
            exercise's answer (``python -m stn_course.classroom audit --references`` finds them).
    """

    function: str
    reference: Callable
    cases: Callable[[torch.Generator], list[Case]]
    probe: Callable | None = None
    atol: float = 1e-5
    rtol: float = 1e-5
    allow: tuple[str, ...] = ()


# modules of the package a learner's function may call: the exercise helpers, not solutions
ALWAYS_ALLOWED = ("stn_course.exercises", "stn_course._checks", "stn_course.config")


def load_references(folder: str | os.PathLike) -> dict[str, dict[str, Hidden]]:
    """The instructor's reference modules in ``folder``: chapter name → exercise label → :class:`Hidden`.

    Each ``*.py`` file that defines ``CHAPTER`` (the chapter's file stem) and ``EXERCISES``
    counts; it is loaded from its path, so the folder need not be importable.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"references: no folder {folder} (the instructor's reference solutions)")
    found: dict[str, dict[str, Hidden]] = {}
    for path in sorted(folder.glob("*.py")):
        module = _load(path)
        chapter, exercises = getattr(module, "CHAPTER", None), getattr(module, "EXERCISES", None)
        if chapter is None or exercises is None:
            continue
        if chapter in found:
            raise ValueError(f"references: two modules for chapter {chapter!r} ({path.name} is the second)")
        found[chapter] = dict(exercises)
    return found


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_stn_reference_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def draw(hidden: Hidden, seed: int) -> tuple[list[Case], list[Any]]:
    """Fresh inputs for one exercise and the reference's answers to them (computed here)."""
    cases = hidden.cases(torch.Generator().manual_seed(seed))
    expected = []
    for case in cases:
        args, kwargs = copy.deepcopy(case.args), copy.deepcopy(case.kwargs)
        got = hidden.probe(hidden.reference, *args, **kwargs) if hidden.probe else hidden.reference(*args, **kwargs)
        expected.append(_plain(got))
    return cases, expected


def write_inputs(cases: list[Case], path: Path) -> None:
    """The inputs, for the kernel (the grader writes them where the sandbox can only read)."""
    torch.save([(list(c.args), dict(c.kwargs)) for c in cases], path)


_HARNESS = '''
def __stn_grade(name, inputs, outputs, helpers, probe_name, where):
    import sys as _sys
    import torch as _torch
    package, *allowed = bytes.fromhex(where).decode().split(",")
    allowed = tuple(allowed)
    space = {{}}
    exec(helpers, space)
    plain, probe = space["_plain"], space.get(probe_name)
    fn = globals().get(name)
    if not callable(fn):
        _torch.save([("missing", type(fn).__name__ if name in globals() else "")], outputs)
        return
    calls = []

    def tracer(frame, event, arg):  # a call into a top-level function of the package, from outside it
        code = frame.f_code
        if event != "call" or not code.co_filename.startswith(package):
            return
        caller = frame.f_back
        if caller is not None and caller.f_code.co_filename.startswith(package):
            return
        qualified = frame.f_globals.get("__name__", "") + "." + code.co_name
        top = getattr(frame.f_globals.get(code.co_name), "__code__", None) is code
        if top and not any(qualified == a or qualified.startswith(a + ".") for a in allowed) and len(calls) < 5:
            calls.append(qualified)

    def traced(*args, **kwargs):
        _sys.setprofile(tracer)
        try:
            return fn(*args, **kwargs)
        finally:
            if _sys.getprofile() is not tracer:
                calls.append("sys.setprofile (the call tracer was switched off)")
            _sys.setprofile(None)

    results = []
    for args, kwargs in _torch.load(inputs, weights_only=True):
        try:
            got = probe(traced, *args, **kwargs) if probe else traced(*args, **kwargs)
            results.append(("ok", plain(got)))
        except NotImplementedError as err:
            results.append(("unfinished", str(err)[:300]))
        except Exception as err:
            results.append(("error", (type(err).__name__ + ": " + str(err))[:500]))
        if calls:
            _torch.save([("package", ", ".join(dict.fromkeys(calls)))], outputs)
            return
    _torch.save(results, outputs)
__stn_grade({name!r}, {inputs!r}, {outputs!r}, {helpers!r}, {probe_name!r}, {where!r})
del __stn_grade
'''


def _plain(x):
    """``x`` as data ``torch.load(weights_only=True)`` accepts: tensors, numbers, strings, lists, dicts."""
    import numpy as np
    import torch

    if isinstance(x, torch.Tensor):
        return x.detach().cpu().clone()
    if isinstance(x, np.ndarray):
        return torch.from_numpy(np.array(x))
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, (bool, int, float, str)) or x is None:
        return x
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    return f"<an object of type {type(x).__name__}>"


def harness(hidden: Hidden, inputs: Path, outputs: Path) -> str:
    """The code the kernel runs: call the learner's function on the inputs, write back plain data.

    ``_plain`` and the probe travel as source (they are self-contained) and run in a namespace
    of their own, so the learner's globals cannot shadow them.
    """
    helpers = inspect.getsource(_plain)
    if hidden.probe:
        helpers += "\n\n" + textwrap.dedent(inspect.getsource(hidden.probe))
    package = os.path.dirname(os.path.abspath(stn_course.__file__)) + os.sep
    # the package's folder and the allowed modules travel as hex: the harness's text passes through
    # the learner's input transformers, and names like "_checks" are what a cheat's filter looks for
    where = ",".join([package, *ALWAYS_ALLOWED, *hidden.allow]).encode().hex()
    return _HARNESS.format(name=hidden.function, inputs=str(inputs), outputs=str(outputs), helpers=helpers,
                           probe_name=hidden.probe.__name__ if hidden.probe else "", where=where)


def read_outputs(path: Path) -> list | None:
    """What the kernel wrote back (None when nothing usable came): a regular file, loaded safely."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > _MAX_OUTPUT_FILE:
            return None
        try:
            data = torch.load(f, weights_only=True)
        except Exception:
            return None
    if not isinstance(data, list):
        return None
    problem = _too_big(data)
    return [("refused", problem)] if problem else data


def _too_big(data: Any) -> str:
    """Why a loaded result is too big to compare or print (nesting, items, tensor elements), else "".

    Items are counted as visited, not as distinct objects, so a structure that shares one list
    many times (tiny on disk, exponential to walk) stops the walk early; a tensor counts with its
    number of elements, whatever its storage (a stride-0 expanded tensor is as big as it looks).
    """
    budget = {"items": _MAX_ITEMS, "elements": _MAX_ELEMENTS}
    stack = [(data, 0)]
    while stack:
        x, depth = stack.pop()
        budget["items"] -= 1
        if depth > _MAX_DEPTH:
            return f"the result is nested more than {_MAX_DEPTH} levels deep"
        if budget["items"] < 0:
            return f"the result holds more than {_MAX_ITEMS:,} items"
        if isinstance(x, torch.Tensor):
            budget["elements"] -= x.numel()
            if budget["elements"] < 0:
                return f"the result holds more than {_MAX_ELEMENTS:,} tensor elements"
        elif isinstance(x, (list, tuple)):
            stack += [(v, depth + 1) for v in x]
        elif isinstance(x, dict):
            stack += [(v, depth + 1) for v in [*x.keys(), *x.values()]]
    return ""


@dataclass
class Verdict:
    """An exercise's result: ``passed`` and a sentence for the learner."""

    passed: bool
    feedback: str


def judge(hidden: Hidden, cases: list[Case], expected: list, outputs: list | None,
          show_inputs: bool = True) -> Verdict:
    """Compare what the learner's function returned with the reference's answers.

    The feedback says which hidden case failed and how, never the expected value; with
    ``show_inputs`` False (a fixed seed, whose inputs repeat from run to run) not the case's inputs either.
    """
    name = f"`{hidden.function}`"
    if outputs is None:
        return Verdict(False, f"no result came back from the kernel for {name}")
    if outputs and outputs[0][0] == "missing":
        kind = outputs[0][1]
        what = f"is a {kind}, not a function" if kind else "is not defined after the notebook ran"
        return Verdict(False, f"{name} {what}: write it in the exercise's code cell and run that cell "
                              "without errors")
    if outputs and outputs[0][0] == "refused":
        return Verdict(False, f"the result of {name} was refused unread: {outputs[0][1]}")
    if outputs and outputs[0][0] == "package":
        return Verdict(False, f"{name} calls the course package's {outputs[0][1]}: that is the "
                              "package's solution, not your own code")
    if len(outputs) != len(cases):
        return Verdict(False, f"no complete result came back from the kernel for {name}")
    for i, (case, want, (status, got)) in enumerate(zip(cases, expected, outputs), 1):
        label = f"hidden case {i}/{len(cases)}" + (f" ({case.description})" if show_inputs else "")
        if status == "unfinished":
            return Verdict(False, f"not attempted yet: {name} still raises NotImplementedError")
        if status == "error":
            return Verdict(False, f"{label}: your code raised {got}")
        problem = compare_plain(got, want, hidden.atol, hidden.rtol, hide=True)
        if problem:
            return Verdict(False, f"{label}: {problem}")
    return Verdict(True, f"✓ {hidden.function}: all {len(cases)} hidden cases pass")
