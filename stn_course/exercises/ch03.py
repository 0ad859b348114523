"""Checks for chapter 3, "The grid generator"."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..geometry import theta_from
from ..grid import regular_grid
from . import Case, check, run_cases


@check
def check_regular_grid(fn) -> None:
    """``make_regular_grid(H, W)``: (H, W, 3) homogeneous pixel centres (x, y, 1), align_corners=False."""
    cases = [Case(f"H={h}, W={w}", (h, w), regular_grid((h, w))) for h, w in ((1, 1), (2, 2), (3, 4), (5, 2), (28, 28))]
    run_cases("make_regular_grid", fn, cases,
              hint="Entry [j, i] holds (x_i, y_j, 1) with x_i = (2i + 1)/W - 1 and y_j = (2j + 1)/H - 1: "
                   "x varies along the last axis (columns), y along the first (rows).")


@check
def check_affine_grid(fn) -> None:
    """``my_affine_grid(theta, H, W)``: T_θ(G) of shape (N, H, W, 2), like F.affine_grid(..., align_corners=False)."""
    g = torch.Generator().manual_seed(4)
    rand = torch.randn(3, 2, 3, generator=g)
    cases = []
    for desc, theta, h, w in (
        ("the identity on 4 × 4", theta_from(), 4, 4),
        ("a rotation and translation on 5 × 7", theta_from(0.6, 0.9, 0.0, 0.2, -0.1), 5, 7),
        ("a batch of 3 random θ on 6 × 3", rand, 6, 3),
        ("a batch of 3 random θ on 28 × 28", rand, 28, 28),
    ):
        expected = F.affine_grid(theta, [theta.shape[0], 1, h, w], align_corners=False)
        cases.append(Case(desc, (theta.clone(), h, w), expected))
    run_cases("my_affine_grid", fn, cases,
              hint="Build G as (H·W, 3) rows (x, y, 1), multiply by θ transposed for every batch element "
                   "((N, H·W, 3) @ (N, 3, 2)) and reshape to (N, H, W, 2).")
