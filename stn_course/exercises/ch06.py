"""Checks for chapter 6, the whole spatial transformer."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..geometry import theta_from
from . import Case, check, run_cases


@check
def check_rotation_angle(fn: Callable) -> None:
    """Exercise: ``rotation_angle(theta)`` — the rotation (degrees) of a batch of θ (N, 2, 3)."""
    angles = torch.tensor([0.0, 30.0, -75.0, 120.0, -170.0])
    rad = angles * math.pi / 180
    cases = [
        Case("pure rotations by 0°, 30°, −75°, 120°, −170°", (theta_from(rad),), angles),
        Case("rotations with scale 0.7 and a translation", (theta_from(rad, 0.7, 0.0, 0.3, -0.2),), angles),
        Case("rotations with different x and y scales", (theta_from(rad, 0.5, 0.0, 0.0, 0.0, scale_y=1.5),), angles),
    ]
    run_cases("rotation_angle", fn, cases, atol=1e-3,
              hint="θ's 2 × 2 part is R(a)·S(s_x, s_y), the scaling applied first (chapter 2): find two entries "
                   "whose ratio the scales cannot change. torch.atan2 turns a direction into an angle in "
                   "radians; the answer is in degrees.")


@check
def check_compose_theta(fn: Callable) -> None:
    """Exercise: ``compose_theta(theta1, theta2)`` — one θ that does what sampling with θ1, then θ2 does."""
    t1 = theta_from(torch.tensor([0.3, -1.0]), torch.tensor([0.8, 1.2]), 0.1, torch.tensor([0.1, 0.0]), -0.2)
    t2 = theta_from(torch.tensor([0.7, 0.4]), 1.1, torch.tensor([0.0, -0.3]), 0.05, torch.tensor([0.2, 0.1]))
    ident = torch.eye(2, 3).expand(2, 2, 3).contiguous()
    cases = [
        Case("θ2 = identity leaves θ1", (t1, ident), t1.clone()),
        Case("θ1 = identity leaves θ2", (ident, t2), t2.clone()),
        Case("two rotation-scalings: the angles add, the scales multiply",
             (theta_from(torch.tensor([0.3, -1.0]), torch.tensor([0.8, 1.2])), theta_from(torch.tensor([0.7, 0.4]), 1.1)),
             theta_from(torch.tensor([1.0, -0.6]), torch.tensor([0.88, 1.32]))),
        Case("a shift, then a zoom: the zoom happens about the shifted centre",
             (theta_from(tx=0.2, ty=0.1).expand(2, 2, 3), theta_from(scale=0.5).expand(2, 2, 3)),
             theta_from(scale=0.5, tx=0.2, ty=0.1).expand(2, 2, 3)),
    ]
    run_cases("compose_theta", fn, cases, atol=1e-5,
              hint="Substitute V1(p) = U(A1 p + t1) into V2(p) = V1(A2 p + t2) and bring the result into the form "
                   "U(A p + t): that A and t make the single θ. Shapes: (N, 2, 3) in, (N, 2, 3) out.")
    # the point of the exercise: one resampling instead of two
    g = torch.Generator().manual_seed(6)
    u = torch.rand(2, 1, 40, 40, generator=g)
    twice = F.grid_sample(F.grid_sample(u, F.affine_grid(t1, [2, 1, 40, 40], align_corners=False),
                                        align_corners=False),
                          F.affine_grid(t2, [2, 1, 40, 40], align_corners=False), align_corners=False)
    once = F.grid_sample(u, F.affine_grid(fn(t1, t2), [2, 1, 40, 40], align_corners=False), align_corners=False)
    inner = (slice(None), slice(None), slice(12, 28), slice(12, 28))  # away from the zero padding
    err = (twice - once)[inner].abs().mean().item()
    print(f"  sampling once with the composed θ differs from sampling twice by {err:.3f} on average "
          "(the blur of the second interpolation), not by a misplacement")
