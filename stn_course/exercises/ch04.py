"""Checks for chapter 4, the sampler."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from . import Case, check, run_cases


def _pixel_grid(x: float, y: float, h: int, w: int, dtype: torch.dtype) -> torch.Tensor:
    """A (1, 1, 1, 2) grid for ``grid_sample(align_corners=True)`` that samples pixel point (x, y)."""
    gx = 2.0 * x / (w - 1) - 1.0
    gy = 2.0 * y / (h - 1) - 1.0
    return torch.tensor([[[[gx, gy]]]], dtype=dtype)


def _grid_sample_value_and_dx(u: torch.Tensor, x: float, y: float) -> tuple[float, float]:
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


@check
def check_bilinear_point(fn: Callable) -> None:
    """Exercise: ``bilinear_point(U, x, y)`` — eq. (5) at one point, zero outside the image."""
    u = _image()
    cases = [Case(d, (u.clone(), x, y), _grid_sample_value_and_dx(u, x, y)[0]) for d, x, y in _POINTS]
    cases.append(Case("a non-square 2×3 image at (1.5, 0.5)", (torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]), 1.5, 0.5),
                      3.0))
    run_cases("bilinear_point", fn, cases,
              hint="Pixel (m, n) has centre (x, y) = (m, n); U[n, m] is row n, column m. Only the four pixels "
                   "around (x, y) have non-zero weight max(0, 1-|x-m|)·max(0, 1-|y-n|); pixels outside the "
                   "image count as 0.")


@check
def check_bilinear_dx(fn: Callable) -> None:
    """Exercise: ``bilinear_dx(U, x, y)`` — ∂V/∂x of eq. (7) at a non-integer x."""
    u = _image()
    points = [p for p in _POINTS if p[1] != int(p[1])]
    cases = [Case(d, (u.clone(), x, y), _grid_sample_value_and_dx(u, x, y)[1]) for d, x, y in points]
    cases.append(Case("a horizontal ramp U[n, m] = m has slope 1 inside", (torch.arange(6.0).repeat(4, 1), 2.3, 1.6), 1.0))
    run_cases("bilinear_dx", fn, cases,
              hint="Eq. (7): sum U[n, m]·max(0, 1-|y-n|)·s over the four neighbours, where s = +1 for the "
                   "right column (m ≥ x) and -1 for the left one (m < x). Pixels outside the image are 0.")


@check
def check_supersample_factor(fn: Callable) -> None:
    """Exercise: ``supersample_factor(theta, in_size, out_size)`` — the factor that keeps samples ≤ 1 px apart."""
    identity = torch.eye(2, 3).unsqueeze(0)
    zoom_out = 1.3 * identity
    zoom_out[:, :, 2] = 0.0
    ang = torch.tensor([0.3, -1.1])
    rot = torch.stack([torch.stack([1.5 * ang.cos(), -1.5 * ang.sin(), torch.zeros(2)], 1),
                       torch.stack([1.5 * ang.sin(), 1.5 * ang.cos(), torch.zeros(2)], 1)], 1)
    stretch = torch.tensor([[[1.0, 0.0, 0.3], [0.0, 3.0, 0.0]]])
    cases = [
        Case("identity, same size: samples already 1 px apart", (identity, (28, 28), (28, 28)), 1),
        Case("identity, 256×256 → 64×64", (identity, (256, 256), (64, 64)), 4),
        Case("zoom out 1.3, 256×256 → 64×64", (zoom_out, (256, 256), (64, 64)), 6),
        Case("identity, 32×40 → 8×10 (non-square)", (identity, (32, 40), (8, 10)), 4),
        Case("a batch: the worst θ decides (rotations zooming out 1.5, 60×60 → 20×20)", (rot, (60, 60), (20, 20)), 5),
        Case("stretched along y only, 30×30 → 30×30", (stretch, (30, 30), (30, 30)), 3),
        Case("zoom in (θ scale 0.5): no supersampling needed", (0.5 * identity, (28, 28), (28, 28)), 1),
    ]
    run_cases("supersample_factor", fn, cases,
              hint="Moving one output pixel right moves the source point by θ[:, :, 0]·(2/W_out) in normalised "
                   "units; turn that step into source pixels (x and y each by their own image size), do the same "
                   "for a step down, and find the smallest whole factor that brings every step of the batch "
                   "down to at most one pixel.")
