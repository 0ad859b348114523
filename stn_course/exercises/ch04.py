"""Checks for chapter 4, the sampler."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from . import Case, run_cases


def _pixel_grid(x: float, y: float, h: int, w: int, dtype: torch.dtype) -> torch.Tensor:
    """A (1, 1, 1, 2) grid for ``grid_sample(align_corners=True)`` that samples pixel point (x, y)."""
    gx = 2.0 * x / (w - 1) - 1.0
    gy = 2.0 * y / (h - 1) - 1.0
    return torch.tensor([[[[gx, gy]]]], dtype=dtype)


def _reference_value_and_dx(u: torch.Tensor, x: float, y: float) -> tuple[float, float]:
    """V(x, y) of eq. (5) with zero padding, and ∂V/∂x (eq. 7), via PyTorch's grid_sample."""
    h, w = u.shape
    grid = _pixel_grid(x, y, h, w, torch.float64).requires_grad_(True)
    v = F.grid_sample(u.to(torch.float64)[None, None], grid, mode="bilinear", padding_mode="zeros",
                      align_corners=True)
    (dgrid,) = torch.autograd.grad(v.sum(), grid)
    return v.item(), dgrid[0, 0, 0, 0].item() * 2.0 / (w - 1)


def _image() -> torch.Tensor:
    g = torch.Generator().manual_seed(4)
    return torch.rand(5, 7, generator=g, dtype=torch.float64)


_POINTS = [
    ("a pixel centre, (x, y) = (2, 1)", 2.0, 1.0),
    ("between four pixels, (x, y) = (3.25, 2.5)", 3.25, 2.5),
    ("near the right edge, (x, y) = (5.9, 0.3)", 5.9, 0.3),
    ("half outside on the left, (x, y) = (-0.4, 3.7)", -0.4, 3.7),
    ("past the bottom-right corner, (x, y) = (6.5, 4.25)", 6.5, 4.25),
    ("wholly outside, (x, y) = (-3.5, 1.5)", -3.5, 1.5),
]


def check_bilinear_point(fn: Callable) -> None:
    """Exercise: ``bilinear_point(U, x, y)`` — eq. (5) at one point, zero outside the image."""
    u = _image()
    cases = [Case(d, (u.clone(), x, y), _reference_value_and_dx(u, x, y)[0]) for d, x, y in _POINTS]
    cases.append(Case("a non-square 2×3 image at (1.5, 0.5)", (torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]), 1.5, 0.5),
                      3.0))
    run_cases("bilinear_point", fn, cases,
              hint="Pixel (m, n) has centre (x, y) = (m, n); U[n, m] is row n, column m. Only the four pixels "
                   "around (x, y) have non-zero weight max(0, 1-|x-m|)·max(0, 1-|y-n|); pixels outside the "
                   "image count as 0.")


def check_bilinear_dx(fn: Callable) -> None:
    """Exercise: ``bilinear_dx(U, x, y)`` — ∂V/∂x of eq. (7) at a non-integer x."""
    u = _image()
    points = [p for p in _POINTS if p[1] != int(p[1])]
    cases = [Case(d, (u.clone(), x, y), _reference_value_and_dx(u, x, y)[1]) for d, x, y in points]
    cases.append(Case("a horizontal ramp U[n, m] = m has slope 1 inside", (torch.arange(6.0).repeat(4, 1), 2.3, 1.6), 1.0))
    run_cases("bilinear_dx", fn, cases,
              hint="Eq. (7): sum U[n, m]·max(0, 1-|y-n|)·s over the four neighbours, where s = +1 for the "
                   "right column (m ≥ x) and -1 for the left one (m < x). Pixels outside the image are 0.")


def _reference_antialiased(u: torch.Tensor, theta: torch.Tensor, out_size: Sequence[int], factor: int) -> torch.Tensor:
    n, c = u.shape[:2]
    h, w = out_size
    grid = F.affine_grid(theta, [n, c, h * factor, w * factor], align_corners=False)
    fine = F.grid_sample(u, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return F.avg_pool2d(fine, factor)


def check_antialiased_sample(fn: Callable) -> None:
    """Exercise: ``antialiased_sample(U, theta, out_size, factor)`` — supersample, then average-pool."""
    g = torch.Generator().manual_seed(44)
    u = torch.rand(2, 3, 32, 40, generator=g)
    ang = torch.tensor([0.3, -1.1])
    theta = torch.stack([torch.stack([1.5 * ang.cos(), -1.5 * ang.sin(), torch.tensor([0.1, -0.2])], 1),
                         torch.stack([1.5 * ang.sin(), 1.5 * ang.cos(), torch.tensor([0.0, 0.05])], 1)], 1)
    identity = torch.eye(2, 3).expand(2, 2, 3).contiguous()
    cases = [
        Case("factor 1 is plain sampling", (u, theta, (8, 10), 1), _reference_antialiased(u, theta, (8, 10), 1)),
        Case("identity θ, 32×40 → 8×10 with factor 4 (a 4×4 box average)", (u, identity, (8, 10), 4),
             F.avg_pool2d(u, 4)),
        Case("rotation and zoom-out, 32×40 → 8×10 with factor 4", (u, theta, (8, 10), 4),
             _reference_antialiased(u, theta, (8, 10), 4)),
        Case("non-square output 5×7 with factor 3", (u, theta, (5, 7), 3), _reference_antialiased(u, theta, (5, 7), 3)),
    ]
    run_cases("antialiased_sample", fn, cases, atol=1e-5,
              hint="Build the grid for an output factor× larger in each direction (affine_grid with size "
                   "(N, C, H_out·factor, W_out·factor), align_corners=False), sample with grid_sample, then "
                   "average each factor×factor block (F.avg_pool2d).")
