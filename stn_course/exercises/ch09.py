"""Checks for chapter 9 (the MNIST benchmark)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..models import CNN, count_parameters
from ..training import lr_factor
from . import Case, check, run_cases


def _cnn_count(in_size: int, c1: int, c2: int, num_classes: int = 10) -> int:
    with torch.random.fork_rng(devices=[]):
        return count_parameters(CNN((1, in_size, in_size), (c1, c2), num_classes=num_classes))


@check
def check_cnn_param_count(fn: Callable) -> None:
    """``cnn_param_count(in_size, c1, c2, num_classes=10)`` = parameters of the chapter's CNN."""
    shapes = [(28, 32, 64, 10), (21, 34, 68, 10), (42, 5, 7, 10), (60, 8, 16, 19), (30, 1, 1, 2)]
    cases = [Case(f"in_size={s}, c1={a}, c2={b}, num_classes={k}", (s, a, b), _cnn_count(s, a, b, k),
                  {"num_classes": k}) for s, a, b, k in shapes]
    run_cases("cnn_param_count", fn, cases,
              hint="Count weights and biases of conv 9×9, conv 7×7 and the linear layer; with 'same' padding "
                   "each max-pool halves the side, rounding down (in_size // 2, then // 2 again).")


@check
def check_step_schedule(fn: Callable) -> None:
    """``step_schedule(step, milestones, gamma)`` = the paper's step-decay multiplier."""
    settings = [((50_000, 100_000), 0.1, s) for s in (0, 49_999, 50_000, 99_999, 100_000, 149_999)]
    settings += [((10, 20, 30), 0.5, s) for s in (9, 10, 25, 30, 1000)] + [((), 0.1, 7)]
    cases = [Case(f"step={s}, milestones={m}, gamma={g}", (s, m, g),
                  float(lr_factor(s, 10**9, "step", milestones=m, gamma=g))) for m, g, s in settings]
    run_cases("step_schedule", fn, cases, atol=1e-12, rtol=1e-9,
              hint="The multiplier is gamma to the power of the number of milestones already reached "
                   "(step >= milestone counts as reached).")
