"""Checks for chapter 7, projective and thin-plate-spline transformers."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..geometry import theta_from
from ..grid import projective_grid, tps_control_points, tps_grid
from . import Case, ExerciseFailed, check, report_pass, run_cases


def _homographies() -> torch.Tensor:
    g = torch.Generator().manual_seed(7)
    h = torch.eye(3).repeat(3, 1, 1) + 0.2 * torch.randn(3, 3, 3, generator=g)
    h[:, 2, 2] = 1.0
    h[0] = torch.eye(3)
    return h


@check
def check_homography_grid(fn: Callable) -> None:
    """Exercise: ``homography_grid(H, size)`` — the projective grid generator, from scratch."""
    h = _homographies()
    cases = [
        Case("the identity, 1×1×4×4", (h[:1].clone(), (1, 1, 4, 4)), projective_grid(h[:1], (1, 1, 4, 4))),
        Case("three homographies, 3×1×5×7 (non-square)", (h.clone(), (3, 1, 5, 7)), projective_grid(h, (3, 1, 5, 7))),
        Case("an affine H (bottom row 0, 0, 1) equals F.affine_grid", (torch.cat([theta_from(0.5, 0.8), torch.tensor([[[0.0, 0.0, 1.0]]])], 1), (1, 1, 6, 6)),
             F.affine_grid(theta_from(0.5, 0.8), [1, 1, 6, 6], align_corners=False)),
    ]
    run_cases("homography_grid", fn, cases, atol=1e-5,
              hint="Take the pixel centres of the output in normalised coordinates (align_corners=False: "
                   "(2i + 1)/size − 1), as homogeneous points (x, y, 1); multiply by Hᵀ; divide the first two "
                   "coordinates by the third. Return (N, H, W, 2) holding (x, y).")


@check
def check_affine_as_tps(fn: Callable) -> None:
    """Exercise: ``affine_as_tps(theta, control_points)`` — the TPS offsets that reproduce an affine θ."""
    ctrl = tps_control_points(16)
    thetas = torch.cat([theta_from(0.0), theta_from(0.6, 0.8, 0.2, 0.1, -0.3), theta_from(-1.2, 1.1, 0.0, 0.0, 0.2)])
    corners = torch.tensor([[-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0], [1.0, 1.0]])
    cases = [
        Case("the identity θ gives zero offsets", (thetas[:1].clone(), ctrl.clone()), torch.zeros(1, 16, 2)),
        Case("a shift by (0.2, -0.1) moves every control point by it", (theta_from(tx=0.2, ty=-0.1), ctrl.clone()),
             torch.tensor([0.2, -0.1]).expand(1, 16, 2)),
        Case("a zoom by 0.5 pulls the 2×2 corners halfway to the centre", (theta_from(scale=0.5), corners.clone()),
             -0.5 * corners[None]),
    ]
    hint = ("A TPS moves each control point c_k by its offset: where must it send c_k to agree with θ there? "
            "Shapes: theta (N, 2, 3), control_points (K, 2) → offsets (N, K, 2).")
    run_cases("affine_as_tps", fn, cases, atol=1e-5, hint=hint)
    offsets = fn(thetas.clone(), ctrl.clone())
    if not isinstance(offsets, torch.Tensor) or offsets.shape != (3, 16, 2):
        raise ExerciseFailed(f"affine_as_tps: three θ and 16 control points should give offsets (3, 16, 2). {hint}")
    got = tps_grid(offsets, (3, 1, 9, 11))
    want = F.affine_grid(thetas, [3, 1, 9, 11], align_corners=False)
    if not torch.allclose(got, want, atol=1e-4):
        raise ExerciseFailed("affine_as_tps: for three rotations, scalings and shifts, the TPS grid your offsets make "
                             f"differs from F.affine_grid. {hint}")
    report_pass("affine_as_tps", "the TPS grid of the offsets equals F.affine_grid everywhere")
