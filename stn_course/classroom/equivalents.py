"""Functions of the course package that compute an exercise's answer: what a learner could call instead.

The package ships the code the book teaches, so for many exercises it holds a function that does
what the exercise asks (``stn_course.geometry.pixel_to_norm`` for chapter 2's ``to_norm``).
Grading refuses a learner's function that calls one (the call tracer of
:mod:`~stn_course.classroom.trusted`), except in the modules an exercise names in
``Hidden.allow``. :func:`functional_equivalents` finds these functions by what they compute,
not by their text: each public function of the package's concept modules is called on the
exercise's hidden cases, and one that gives the reference's answer on every case is an
equivalent. An equivalent in an allowed module is a hole in the grading: a learner who calls it
scores full marks.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import signal
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..exercises import compare_plain
from .trusted import Hidden, _plain, draw

__all__ = ["Equivalent", "functional_equivalents", "CONCEPT_MODULES"]

#: The modules searched: the concepts the book teaches, which compute and touch no files, data
#: or network (the data, training, benchmark and classroom code is left out on purpose: calling
#: its functions on arbitrary inputs could read datasets, train or write files).
CONCEPT_MODULES = ("stn_course.geometry", "stn_course.grid", "stn_course.sampler", "stn_course.transforms",
                   "stn_course.localization", "stn_course.transformer", "stn_course.transformer3d",
                   "stn_course.models", "stn_course.distortions", "stn_course.volumes",
                   "stn_course.colocalisation.boxes", "stn_course.svhn.crops", "stn_course.svhn.models")
_SECONDS_PER_CALL = 2


@dataclass(frozen=True)
class Equivalent:
    """A package function that gives an exercise's reference answers on all its hidden cases."""

    chapter: str
    label: str
    function: str  #: dotted name, "stn_course.geometry.pixel_to_norm"
    allowed: bool  #: in a module the exercise's ``Hidden.allow`` lets the learner call

    def __str__(self) -> str:
        if self.allowed:
            return (f"{self.chapter} {self.label}: {self.function} computes the answer and its module is in "
                    "Hidden.allow: a learner who calls it scores full marks")
        return (f"{self.chapter} {self.label}: {self.function} computes the answer (a learner who calls it scores "
                "nothing: grading refuses calls into the package)")


def _candidates(modules: tuple[str, ...]) -> Iterator[tuple[str, Callable]]:
    """(dotted name, function) of every public function defined in ``modules``."""
    for name in modules:
        module = importlib.import_module(name)
        for attr, fn in vars(module).items():
            if not attr.startswith("_") and inspect.isfunction(fn) and fn.__module__ == name:
                yield f"{name}.{attr}", fn


class _TimeLimit(Exception):
    pass


def _call(fn: Callable, args: tuple, kwargs: dict) -> Any:
    """``fn(*args, **kwargs)`` on copies of the inputs, within a time limit (main thread only)."""
    def stop(*_):
        raise _TimeLimit
    old = signal.signal(signal.SIGALRM, stop)
    signal.alarm(_SECONDS_PER_CALL)
    try:
        return fn(*copy.deepcopy(args), **copy.deepcopy(kwargs))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _computes(fn: Callable, hidden: Hidden, cases: list, expected: list) -> bool:
    """Whether ``fn`` gives the reference's answers on every case (any error, a wrong answer: no)."""
    for case, want in zip(cases, expected):
        try:
            inspect.signature(fn).bind(*case.args, **case.kwargs)
        except (TypeError, ValueError):
            return False
        try:
            got = _call(hidden.probe, (fn, *case.args), case.kwargs) if hidden.probe else \
                _call(fn, case.args, case.kwargs)
        except (Exception, _TimeLimit):
            return False
        if compare_plain(_plain(got), want, hidden.atol, hidden.rtol) is not None:
            return False
    return True


def functional_equivalents(references: Mapping[str, Mapping[str, Hidden]], seed: int = 0,
                           modules: tuple[str, ...] = CONCEPT_MODULES) -> list[Equivalent]:
    """For every exercise of ``references`` (chapter → label → :class:`Hidden`, as
    :func:`~stn_course.classroom.trusted.load_references` gives), the public functions of
    ``modules`` that return the reference's answers on all of the exercise's hidden cases
    (drawn with ``seed``)."""
    candidates = list(_candidates(modules))
    found = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for chapter, exercises in references.items():
            for label, hidden in exercises.items():
                cases, expected = draw(hidden, seed)
                for name, fn in candidates:
                    if _computes(fn, hidden, cases, expected):
                        allowed = any(name == a or name.startswith(a + ".") for a in hidden.allow)
                        found.append(Equivalent(chapter, label, name, allowed))
    return found
