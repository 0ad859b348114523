"""Checks for chapter 10, SVHN multi-digit recognition."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from . import Case, check, run_cases

B = 10  # the blank class (no digit at this position)


@check
def check_sequence_error(fn: Callable) -> None:
    """Exercise: ``sequence_error(predictions, targets)`` — percent of numbers with any position wrong."""
    targets = torch.tensor([[1, 0, 7, B, B], [5, B, B, B, B], [2, 3, B, B, B], [9, 9, 9, 9, 9]])
    one_digit = targets.clone()
    one_digit[0, 1] = 8
    extra = targets.clone()
    extra[2, 2] = 4
    short = targets.clone()
    short[3, 4] = B
    cases = [
        Case("every number right", (targets.clone(), targets.clone()), 0.0),
        Case("one wrong digit in the first of four numbers", (one_digit, targets.clone()), 25.0),
        Case("a digit predicted where a blank belongs", (extra, targets.clone()), 25.0),
        Case("a five-digit number read as four digits", (short, targets.clone()), 25.0),
        Case("every number wrong somewhere", (torch.full((4, 5), 3), targets.clone()), 100.0),
        Case("eight numbers, two of them wrong", (torch.cat([one_digit, extra]), torch.cat([targets, targets])), 25.0),
    ]
    run_cases("sequence_error", fn, cases,
              hint="Compare predictions and targets position by position, call a number wrong when ANY of its "
                   "five positions differs (blanks included), and return the percentage of wrong numbers as a float.")


@check
def check_crop_window(fn: Callable) -> None:
    """Exercise: ``crop_window(boxes, image_size)`` — Goodfellow et al.'s box, grown 30% and clipped."""
    three = np.array([[30, 10, 12, 20], [44, 11, 13, 21], [59, 9, 12, 22]], float)
    near_edge = np.array([[2, 3, 10, 20], [13, 4, 9, 19]], float)
    cases = [
        Case("one digit in the middle of a 100×80 photo", (np.array([[40.0, 30, 10, 20]]), (100, 80)),
             torch.tensor([38.5, 27.0, 51.5, 53.0], dtype=torch.float64)),
        Case("three digits", (three.copy(), (200, 100)), torch.tensor([23.85, 5.55, 77.15, 35.45], dtype=torch.float64)),
        Case("digits at the top-left corner (the window is clipped)", (near_edge.copy(), (60, 40)),
             torch.tensor([0.0, 0.0, 25.0, 26.0], dtype=torch.float64)),
        Case("a tight 75×35 photo (clipped on the right and at the bottom)", (three.copy(), (75, 35)),
             torch.tensor([23.85, 5.55, 75.0, 35.0], dtype=torch.float64)),
    ]

    def wrapped(boxes, size):
        return torch.as_tensor(np.asarray(fn(boxes, size), dtype=np.float64))

    run_cases("crop_window", wrapped, cases, atol=1e-6,
              hint="Take the smallest box (x0, y0, x1, y1) around all digit boxes (right = left + width), grow its "
                   "width and height by 30% about its centre, then clip to 0 ≤ x ≤ W and 0 ≤ y ≤ H.")


@check
def check_compose_thetas(fn: Callable) -> None:
    """Exercise: ``compose_thetas(thetas)`` — the single θ that does what a chain of transformers does."""
    identity = torch.tensor([[[1.0, 0, 0], [0, 1, 0]]])
    shift = torch.tensor([[[1.0, 0, 0.5], [0, 1, 0]]])
    zoom = torch.tensor([[[0.5, 0, 0], [0, 0.5, 0]]])
    cases = [
        Case("a single θ", ([shift.clone()],), shift.clone()),
        Case("identity then a shift", ([identity.clone(), shift.clone()],), shift.clone()),
        Case("zoom (first transformer) then shift (second)", ([zoom.clone(), shift.clone()],),
             torch.tensor([[[0.5, 0, 0.25], [0, 0.5, 0]]])),
        Case("shift then zoom (order matters)", ([shift.clone(), zoom.clone()],), torch.tensor([[[0.5, 0, 0.5], [0, 0.5, 0]]])),
        Case("three: zoom, shift, zoom", ([zoom.clone(), shift.clone(), zoom.clone()],),
             torch.tensor([[[0.25, 0, 0.25], [0, 0.25, 0]]])),
    ]
    run_cases("compose_thetas", fn, cases,
              hint="Each θ maps output coordinates of its transformer to its input coordinates. Follow a point p "
                   "of the last transformer's output back to the image, one transformer at a time: that gives the "
                   "order of the product. Extend each θ to 3×3 with the row (0, 0, 1), multiply (torch.bmm or @) "
                   "and keep the first two rows.")
