"""Judging answers as a careful examiner would (issue 24): finite values, types and shapes before values."""

from __future__ import annotations

import math

import pytest
import torch

from stn_course.classroom import Hidden
from stn_course.classroom.trusted import judge
from stn_course.exercises import Case, compare_plain


def _hidden() -> Hidden:
    return Hidden("f", lambda x: x, lambda g: [])


@pytest.mark.parametrize("bad", [float("nan"), math.inf, -math.inf, torch.tensor(float("nan"))])
def test_a_non_finite_number_never_matches_a_finite_answer(bad):
    problem = compare_plain(bad, 0.5)
    assert problem is not None and "finite" in problem
    verdict = judge(_hidden(), [Case("one")], [0.5], [("ok", bad)])
    assert not verdict.passed and "expected a finite number" in verdict.feedback


def test_a_tensor_with_nan_or_inf_never_matches_finite_values():
    want = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    for bad in (float("nan"), math.inf):
        got = want.clone()
        got[1, 0] = bad
        assert compare_plain(got, want).startswith("expected finite values, got ")
        assert "(1, 0)" in compare_plain(got, want)
    assert compare_plain(torch.tensor([float("nan")]), torch.tensor([float("nan")])) is None  # NaN where NaN is due


def test_types_are_checked_before_values():
    assert compare_plain(True, 1.0) == "expected a number, got True"
    assert compare_plain(4.0, 4) == "expected an int, got 4.0"
    assert compare_plain(True, 1) == "expected an int, got True"
    assert compare_plain(1, True).startswith("expected True (a bool)")
    assert compare_plain(torch.tensor([True, False]), torch.tensor([1.0, 0.0])).startswith("expected a tensor of dtype")
    assert compare_plain(torch.zeros(2, 3), torch.zeros(3, 2)) == "expected shape (3, 2), got (2, 3)"
    assert compare_plain(0.5, 0.5) is None and compare_plain(3, 3) is None
    assert compare_plain(torch.tensor(0.25), 0.25) is None
