"""Checks for chapter 11 (several transformers in one network)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ..geometry import rotation_3d
from . import Case, check, run_cases


def _iou_cases() -> list[Case]:
    # Expected values computed by hand: areas of 10 × 10 boxes and of their overlaps.
    square = [0.0, 0.0, 10.0, 10.0]
    specs = [
        ("a box with itself", [square], [square], [1.0]),
        ("boxes that do not meet", [square], [[20.0, 20.0, 30.0, 30.0]], [0.0]),
        ("boxes that only touch along an edge", [square], [[10.0, 0.0, 20.0, 10.0]], [0.0]),
        ("half of each box overlaps: 50 / 150", [square], [[5.0, 0.0, 15.0, 10.0]], [1 / 3]),
        ("a 5 × 5 box inside a 10 × 10 one: 25 / 100", [square], [[2.0, 2.0, 7.0, 7.0]], [0.25]),
        ("a batch of three, non-square, fractional corners", [square, [0.0, 0.0, 4.0, 2.0], [1.5, 1.5, 3.5, 5.5]],
         [[5.0, 5.0, 15.0, 15.0], [2.0, 0.0, 6.0, 2.0], [1.5, 1.5, 3.5, 3.5]], [25 / 175, 4 / 12, 4 / 8]),
    ]
    return [Case(text, (torch.tensor(a), torch.tensor(b)), torch.tensor(expected))
            for text, a, b, expected in specs]


@check
def check_box_iou(fn: Callable) -> None:
    """``box_iou(a, b) -> (N,)`` for boxes ``(N, 4)`` as ``(x0, y0, x1, y1)``."""
    run_cases("box_iou", fn, _iou_cases(), atol=1e-6,
              hint="the intersection's width is min(x1) − max(x0), or 0 when that is negative (likewise its "
                   "height); the union is area(a) + area(b) − intersection.")


def _crop_box_cases() -> list[Case]:
    from ..colocalisation import attention_box

    specs = [
        ("the identity, 84 × 84: the whole image", [[1.0, 0.0, 0.0]], (84, 84)),
        ("a third of the side, centred: 28 … 56", [[1 / 3, 0.0, 0.0]], (84, 84)),
        ("half the side in the top-right quarter", [[0.5, 0.5, -0.5]], (84, 84)),
        ("a batch of three on a 60 × 40 (H × W) image", [[0.25, 0.1, 0.2], [0.5, -0.5, 0.5], [0.3, 0.0, -0.7]],
         (60, 40)),
    ]
    return [Case(text, (torch.tensor(p), size), attention_box(torch.tensor(p), size)) for text, p, size in specs]


@check
def check_crop_box(fn: Callable) -> None:
    """``crop_box(params, size) -> (N, 4)`` for attention parameters ``(N, 3)`` as ``(s, t_x, t_y)``."""
    run_cases("crop_box", fn, _crop_box_cases(), atol=1e-4,
              hint="where do the output's edges (normalised ±1) land in the input under the attention θ? Then "
                   "turn normalised coordinates into pixels: with align_corners=False, −1 is the outer edge of "
                   "the first pixel and +1 that of the last (x along W, y along H).")


def _rotation_cases() -> list[Case]:
    # quarter turns written out by hand, then the package's rotations (checked against them in the tests)
    quarter = math.pi / 2
    zero = torch.zeros(1)
    specs = [
        ("no turn at all", (zero, zero, zero), torch.eye(3)[None]),
        ("a quarter yaw: x goes to -z", (zero + quarter, zero, zero),
         torch.tensor([[[0.0, 0, 1], [0, 1, 0], [-1, 0, 0]]])),
        ("a quarter pitch: y goes to z", (zero, zero + quarter, zero),
         torch.tensor([[[1.0, 0, 0], [0, 0, -1], [0, 1, 0]]])),
        ("a quarter roll: x goes to y", (zero, zero, zero + quarter),
         torch.tensor([[[0.0, -1, 0], [1, 0, 0], [0, 0, 1]]])),
    ]
    cases = [Case(text, args, expected) for text, args, expected in specs]
    angles = torch.tensor([[0.3, -1.2, 2.5], [-0.4, 0.7, 1.4], [1.1, -0.2, -2.9]])
    cases.append(Case("a batch of three turns about all three axes: R_y · R_x · R_z, in that order",
                      tuple(angles), rotation_3d(*angles)))
    return cases


@check
def check_yaw_pitch_roll(fn: Callable) -> None:
    """``yaw_pitch_roll(yaw, pitch, roll) -> (N, 3, 3)`` for (N,) angles: R_y(yaw) · R_x(pitch) · R_z(roll)."""
    run_cases("yaw_pitch_roll", fn, _rotation_cases(), atol=1e-5,
              hint="R_y = [[c, 0, s], [0, 1, 0], [-s, 0, c]], R_x = [[1, 0, 0], [0, c, -s], [0, s, c]], "
                   "R_z = [[c, -s, 0], [s, c, 0], [0, 0, 1]]; stack each as an (N, 3, 3) tensor and multiply "
                   "them in the order R_y @ R_x @ R_z.")
