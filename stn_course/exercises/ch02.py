"""Checks for chapter 2, "Coordinates and θ"."""

from __future__ import annotations

import math

import torch

from ..geometry import pixel_to_norm, theta_from
from . import Case, check, run_cases


@check
def check_pixel_to_norm(fn) -> None:
    """``to_norm(i, size, align_corners)``: pixel index → normalised coordinate."""
    idx = torch.arange(7, dtype=torch.float64)
    cases = [
        Case("centre of pixel 0 of 4, align_corners=False", (0, 4, False), pixel_to_norm(0, 4, False)),
        Case("centre of pixel 3 of 4, align_corners=False", (3, 4, False), pixel_to_norm(3, 4, False)),
        Case("centre of pixel 0 of 4, align_corners=True", (0, 4, True), pixel_to_norm(0, 4, True)),
        Case("centre of pixel 3 of 4, align_corners=True", (3, 4, True), pixel_to_norm(3, 4, True)),
        Case("a half-pixel position, 2.5 of 6, align_corners=False", (2.5, 6, False), pixel_to_norm(2.5, 6, False)),
        Case("a tensor of indices 0..6 of 7, align_corners=False", (idx, 7, False), pixel_to_norm(idx, 7, False)),
        Case("a tensor of indices 0..6 of 7, align_corners=True", (idx, 7, True), pixel_to_norm(idx, 7, True)),
    ]
    run_cases("to_norm", fn, cases,
              hint="With align_corners=False the image's outer edges (pixel positions -0.5 and size - 0.5) are at ±1; "
                   "with True the first and last pixel centres are. Each is a straight line through two points.")


@check
def check_rotation_theta(fn) -> None:
    """``rotation_theta(angle)``: θ (1, 2, 3) that turns a square image's content counter-clockwise by ``angle``."""
    cases = [Case(f"angle {a:.4g} rad", (a,), theta_from(a)) for a in (0.0, math.pi / 6, -math.pi / 4, math.pi / 2, 2.5)]
    run_cases("rotation_theta", fn, cases, atol=1e-6,
              hint="Return a (1, 2, 3) float tensor; θ maps output points to input points and y points down, "
                   "so check the sense of rotation against torch.rot90.")


@check
def check_compose(fn) -> None:
    """``compose(first, second)``: one θ that warps like ``first`` followed by ``second``."""
    a = theta_from(0.3, 0.8, 0.1, 0.2, -0.1)
    ident = theta_from()
    angles, scales = torch.tensor([0.4, -1.2]), torch.tensor([0.5, 1.5])
    cases = [
        Case("identity then θ is θ", (ident, a), a.clone()),
        Case("θ then identity is θ", (a, ident), a.clone()),
        Case("two translations add", (theta_from(tx=0.2), theta_from(tx=0.3, ty=-0.1)), theta_from(tx=0.5, ty=-0.1)),
        Case("two batches of N = 2 rotation-scalings: the angles add, the scales multiply",
             (theta_from(angles, scales), theta_from(torch.full((2,), 0.3), torch.full((2,), 2.0))),
             theta_from(angles + 0.3, scales * 2.0)),
        Case("a zoom, then a shift: the shift is zoomed too", (theta_from(scale=0.5), theta_from(tx=0.4, ty=-0.2)),
             theta_from(scale=0.5, tx=0.2, ty=-0.1)),
    ]
    run_cases("compose", fn, cases,
              hint="θ maps output to input. After warping with `first` and then `second`, output point p reads "
                   "the first output at θ_second(p), which read the input at θ_first(θ_second(p)). Work in "
                   "homogeneous 3×3 matrices (append the row [0, 0, 1]) and mind which one acts on p first.")
