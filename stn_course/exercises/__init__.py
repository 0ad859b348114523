"""Checks that grade the book's exercises.

Each chapter with exercises has a module here (``ch04``, …) with one ``check_<name>``
function per exercise, decorated with :func:`check`. A check runs the learner's code on a few
cases and either prints a short success line, or prints "not attempted yet" while the
function is still the stub (so that Run All goes on to the later cells), or raises
:class:`ExerciseFailed` saying which case failed, what was expected against what came back,
and a hint. It never prints the solution.
"""

from __future__ import annotations

import ast
import functools
import inspect
import math
import numbers
import os
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch


def _is_stub(fn: Callable) -> bool:
    """Whether ``fn``'s body still raises NotImplementedError (the stub of a student notebook)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):  # no source to read: a compiled or built-in function
        return False
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.FunctionDef) else []
    for stmt in body:
        if isinstance(stmt, ast.Raise) and stmt.exc is not None:
            target = stmt.exc.func if isinstance(stmt.exc, ast.Call) else stmt.exc
            if isinstance(target, ast.Name) and target.id == "NotImplementedError":
                return True
    return False


def finished(*functions: Callable) -> bool:
    """Whether the exercises that define ``functions`` are done; when not, say that the cell is skipped.

    Cells that use a learner's function guard themselves with ``if finished(f):``, so that
    running a student notebook top to bottom skips them, with a message, until the exercise
    is done, instead of failing on the stub's ``NotImplementedError``.
    """
    waiting = [getattr(fn, "__name__", repr(fn)) for fn in functions if _is_stub(fn)]
    if waiting:
        names = ", ".join(f"`{name}`" for name in waiting)
        print(f"⏭ skipped: this cell uses {names}, whose exercise is not finished yet (it still raises "
              "NotImplementedError). Run this cell again once the exercise's check passes.")
    return not waiting


#: Width to which feedback is wrapped, so that it reads without scrolling sideways.
FEEDBACK_WIDTH = 88


def wrap_feedback(text: str, indent: str = "") -> str:
    """``text`` wrapped to :data:`FEEDBACK_WIDTH` columns, later lines indented by ``indent``."""
    return textwrap.fill(text, FEEDBACK_WIDTH, subsequent_indent=indent, break_long_words=False,
                         break_on_hyphens=False)


class ExerciseFailed(AssertionError):
    """An exercise's check did not pass; the message is feedback for the learner."""

    def _render_traceback_(self) -> list[str]:
        """What IPython shows in place of a traceback: the feedback alone, wrapped.

        The frames of the checker would teach the learner nothing and bury the message.
        """
        return [wrap_feedback(f"\x1b[1;31m✗ {type(self).__name__}\x1b[0m: {self}", "  ")]


class ExerciseNotAttempted(ExerciseFailed):
    """The learner's function is still the stub: there is nothing to check yet."""


def check(check_fn: Callable[..., None]) -> Callable[..., bool]:
    """Decorate a ``check_<name>`` function: True when it passes; False, with a printed
    "not attempted yet", while the exercise is a stub (no exception, so Run All goes on);
    :class:`ExerciseFailed` for a wrong answer."""

    @functools.wraps(check_fn)
    def checked(*args: Any, **kwargs: Any) -> bool:
        try:
            check_fn(*args, **kwargs)
        except ExerciseNotAttempted as err:
            print(wrap_feedback(f"○ {err}", "  "))
            return False
        return True

    return checked


#: Set by the book's build (``scripts/stn_book_reading.py``): the page is read by someone who has
#: written nothing yet, although the notebook ran with the reference solution.
IN_BOOK = "STN_COURSE_BOOK"
NOT_ATTEMPTED = "not attempted yet — replace the `raise NotImplementedError` with your code."


def not_attempted(exercise: str, hint: str = "") -> ExerciseNotAttempted:
    """The outcome of a check whose function is still the stub (see :func:`check`)."""
    return ExerciseNotAttempted(f"{exercise}: {NOT_ATTEMPTED} {hint}".strip())


def report_pass(exercise: str, detail: str) -> None:
    """Say that a check passed (``✓ exercise: detail``).

    In the rendered book the reader has not written the function yet (the page ran the hidden
    reference solution), so there the check says "not attempted yet" and what it will do.
    """
    if os.environ.get(IN_BOOK) == "1":
        print(f"○ {exercise}: not attempted yet. Run this chapter's notebook, write `{exercise}` in the cell above "
              "and run this check: it names the first case your code gets wrong, or says ✓ when it passes. "
              f"(This page ran the reference solution: {detail}.)")
    else:
        print(wrap_feedback(f"✓ {exercise}: {detail}", "  "))


@dataclass
class Case:
    """One test case: call the learner's function with ``args``/``kwargs``, compare to ``expected``."""

    description: str
    args: tuple = ()
    expected: Any = None
    kwargs: dict = field(default_factory=dict)


def _describe(x: Any) -> str:
    if isinstance(x, torch.Tensor):
        return f"tensor of shape {tuple(x.shape)}, dtype {x.dtype}"
    return repr(x) if len(repr(x)) < 80 else type(x).__name__


def _tensor_problem(got: torch.Tensor, expected: torch.Tensor, atol: float, rtol: float,
                    hide: bool = False) -> str | None:
    """How a tensor differs from the expected one: shape, then dtype kind, then finiteness, then values."""
    if got.shape != expected.shape:
        return f"expected shape {tuple(expected.shape)}, got {tuple(got.shape)}"
    if got.dtype == torch.bool and expected.dtype != torch.bool or got.is_complex() and not expected.is_complex():
        return f"expected a tensor of dtype {expected.dtype}, got dtype {got.dtype}"
    got_, exp_ = got.detach().to(torch.float64).cpu(), expected.detach().to(torch.float64).cpu()
    bad = ~torch.isfinite(got_) & torch.isfinite(exp_)
    if bad.any():
        where = tuple(int(i) for i in torch.unravel_index(bad.flatten().nonzero()[0, 0], bad.shape)) if bad.dim() else ()
        return f"expected finite values, got {got_[where].item()} at index {where}"
    if not torch.allclose(got_, exp_, atol=atol, rtol=rtol, equal_nan=True):
        diff = (got_ - exp_).abs().nan_to_num(nan=math.inf)
        where = tuple(int(i) for i in torch.unravel_index(diff.argmax(), diff.shape)) if diff.dim() else ()
        if hide:
            return f"values differ, most at index {where} (got {got_[where].item():.6g})"
        return (f"values differ: largest difference {diff.max().item():.3g} at index {where} "
                f"(expected {exp_[where].item():.6g}, got {got_[where].item():.6g})")
    return None


def _number_problem(got: Any, expected: float, atol: float, rtol: float, hide: bool = False) -> str | None:
    """How a number differs from the expected float: type, then finiteness, then value."""
    if isinstance(got, bool) or not isinstance(got, numbers.Real) and not (
            isinstance(got, torch.Tensor) and got.numel() == 1 and not got.is_complex() and got.dtype != torch.bool):
        return f"expected a number, got {_describe(got)}"
    value = float(got)
    if math.isfinite(expected) and not math.isfinite(value):
        return f"expected a finite number, got {value}"
    if not (value == expected or abs(value - expected) <= atol + rtol * abs(expected)):
        return f"wrong value: got {value:.6g}" if hide else f"expected {expected:.6g}, got {value:.6g}"
    return None


def compare(got: Any, expected: Any, atol: float = 1e-5, rtol: float = 1e-5, hide: bool = False) -> str | None:
    """Return None when ``got`` matches ``expected``, else a sentence saying how it differs.

    Types and shapes are checked before values, and a NaN or infinity never matches a finite
    expected value (``abs(nan - x) > tol`` is False, so a bare tolerance test would pass it).
    With ``hide`` (a hidden case), the sentence never states an expected value, only what came back.
    """
    if isinstance(expected, torch.Tensor):
        if not isinstance(got, torch.Tensor):
            return f"expected a torch.Tensor, got {_describe(got)}"
        return _tensor_problem(got, expected, atol, rtol, hide)
    if isinstance(expected, float):
        return _number_problem(got, expected, atol, rtol, hide)
    if isinstance(expected, bool) and not isinstance(got, bool):
        return f"expected a bool, got {_describe(got)}"
    if isinstance(expected, int) and not isinstance(expected, bool) and (
            isinstance(got, bool) or not isinstance(got, numbers.Integral)):
        return f"expected an int, got {_describe(got)}"
    if got != expected:
        return f"wrong value: got {_describe(got)}" if hide else f"expected {_describe(expected)}, got {_describe(got)}"
    return None


def compare_plain(got: Any, expected: Any, atol: float = 1e-5, rtol: float = 1e-5, where: str = "",
                  hide: bool = False) -> str | None:
    """:func:`compare` into lists and dicts: None when all matches, else the first difference and where it is."""
    if isinstance(expected, (list, tuple)):
        if not isinstance(got, (list, tuple)):
            return f"{where}expected a list of {len(expected)} items, got {_describe(got)}"
        if len(got) != len(expected):
            return f"{where}expected {len(expected)} items, got {len(got)}"
        for i, (g, e) in enumerate(zip(got, expected)):
            problem = compare_plain(g, e, atol, rtol, f"{where}item {i}: ", hide)
            if problem:
                return problem
        return None
    if isinstance(expected, dict):
        if not isinstance(got, dict) or set(got) != set(expected):
            return f"{where}expected a dict with keys {sorted(expected)}, got {_describe(got)}"
        for key in expected:
            problem = compare_plain(got[key], expected[key], atol, rtol, f"{where}{key!r}: ", hide)
            if problem:
                return problem
        return None
    try:
        problem = compare(got, expected, atol, rtol, hide)
    except Exception:  # e.g. a tensor where a number was expected
        problem = f"expected a {type(expected).__name__}, got {_describe(got)}" if hide else \
            f"expected {_describe(expected)}, got {_describe(got)}"
    return where + problem if problem else None


def run_cases(exercise: str, fn: Callable, cases: Sequence[Case], *, hint: str = "",
              atol: float = 1e-5, rtol: float = 1e-5) -> None:
    """Run ``fn`` on every case; raise :class:`ExerciseFailed` at the first that fails."""
    if not callable(fn):
        raise ExerciseFailed(f"{exercise}: expected a function, got {_describe(fn)}")
    if _is_stub(fn):
        raise not_attempted(exercise, hint)
    for i, case in enumerate(cases, 1):
        label = f"{exercise}, case {i}/{len(cases)} ({case.description})"
        try:
            got = fn(*case.args, **case.kwargs)
        except NotImplementedError:
            raise not_attempted(exercise, hint) from None
        except Exception as err:  # the learner's code failed: report it as feedback
            raise ExerciseFailed(f"{label}: your code raised {type(err).__name__}: {str(err).rstrip('. ')}. {hint}".strip()) from err
        problem = compare(got, case.expected, atol, rtol)
        if problem:
            raise ExerciseFailed(f"{label}: {problem}. {hint}".strip())
    report_pass(exercise, f"all {len(cases)} cases pass")
