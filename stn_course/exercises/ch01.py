"""Checks for chapter 1, "Why CNNs are not spatially invariant"."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import Case, check, run_cases


@check
def check_shift_images(fn) -> None:
    """``shift_images(images, dx, dy)``: move (N, C, H, W) images by whole pixels, zeros coming in."""
    small = torch.arange(1.0, 13.0).reshape(1, 1, 3, 4)
    two = torch.stack([small[0], 10 * small[0]])  # (2, 1, 3, 4)
    cases = [
        Case("no shift returns the images unchanged", (small, 0, 0), small.clone()),
        Case("dx=1 moves content one pixel right; column 0 becomes 0", (small, 1, 0),
             torch.tensor([[[[0.0, 1, 2, 3], [0, 5, 6, 7], [0, 9, 10, 11]]]])),
        Case("dy=-1 moves content one pixel up; the last row becomes 0", (small, 0, -1),
             torch.tensor([[[[5.0, 6, 7, 8], [9, 10, 11, 12], [0, 0, 0, 0]]]])),
        Case("a batch of two images, dx=-2, dy=1", (two, -2, 1),
             torch.tensor([[[[0.0, 0, 0, 0], [3, 4, 0, 0], [7, 8, 0, 0]]], [[[0.0, 0, 0, 0], [30, 40, 0, 0], [70, 80, 0, 0]]]])),
        Case("a shift as large as the image leaves only zeros", (small, 4, 0), torch.zeros_like(small)),
    ]
    run_cases("shift_images", fn, cases,
              hint="Content at (row r, column c) must end up at (r + dy, c + dx); nothing wraps around "
                   "(torch.roll wraps: zero what came round, or copy slices into torch.zeros_like).")


@check
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
