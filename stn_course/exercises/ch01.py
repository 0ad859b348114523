"""Checks for chapter 1, "Why CNNs are not spatially invariant"."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import Case, run_cases


def _reference_shift(images: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    n, c, h, w = images.shape
    out = torch.zeros_like(images)
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[..., yd, xd] = images[..., ys, xs]
    return out


def check_shift_images(fn) -> None:
    """``shift_images(images, dx, dy)``: move (N, C, H, W) images by whole pixels, zeros coming in."""
    g = torch.Generator().manual_seed(1)
    small = torch.arange(1.0, 13.0).reshape(1, 1, 3, 4)
    batch = torch.rand(2, 3, 5, 7, generator=g)
    cases = [
        Case("no shift returns the images unchanged", (small, 0, 0), small.clone()),
        Case("dx=1 moves content one pixel right; column 0 becomes 0", (small, 1, 0), _reference_shift(small, 1, 0)),
        Case("dy=-1 moves content one pixel up; the last row becomes 0", (small, 0, -1), _reference_shift(small, 0, -1)),
        Case("a batch of 3-channel 5x7 images, dx=-2, dy=3", (batch, -2, 3), _reference_shift(batch, -2, 3)),
        Case("a shift as large as the image leaves only zeros", (small, 4, 0), torch.zeros_like(small)),
    ]
    run_cases("shift_images", fn, cases,
              hint="Content at (row r, column c) must end up at (r + dy, c + dx); nothing wraps around "
                   "(torch.roll wraps: zero what came round, or copy slices into torch.zeros_like).")


def check_max_pool(fn) -> None:
    """``max_pool(x, k)``: non-overlapping k×k max pooling of (N, C, H, W), like F.max_pool2d(x, k)."""
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 3, 8, 6, generator=g)
    odd = torch.randn(1, 2, 7, 9, generator=g)
    cases = [
        Case("2x2 pooling of a 1x1x2x2 input is its maximum",
             (torch.tensor([[[[1.0, 5.0], [-2.0, 3.0]]]]), 2), torch.tensor([[[[5.0]]]])),
        Case("2x2 pooling of (2, 3, 8, 6)", (x, 2), F.max_pool2d(x, 2)),
        Case("3x3 pooling of (2, 3, 8, 6) drops the leftover rows/columns", (x, 3), F.max_pool2d(x, 3)),
        Case("2x2 pooling of an odd-sized (1, 2, 7, 9) input", (odd, 2), F.max_pool2d(odd, 2)),
    ]
    run_cases("max_pool", fn, cases,
              hint="Crop to a multiple of k, reshape (N, C, H//k, k, W//k, k) and take the max over the two k axes.")
