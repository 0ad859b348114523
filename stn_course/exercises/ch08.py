"""Checks for chapter 8 (the distorted MNIST suite)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .. import distortions as D
from . import Case, check, run_cases


def _rts_cases() -> list[Case]:
    cases = []
    specs = [
        ("no rotation, no scale, no shift, 28 → 42 canvas", [0.0], [1.0], [[0.0, 0.0]], 28, 42),
        ("90° rotation only, 28 → 28", [math.pi / 2], [1.0], [[0.0, 0.0]], 28, 28),
        ("scale 1.2, shifted 5 px right and 3 px up, 28 → 42", [0.0], [1.2], [[5.0, -3.0]], 28, 42),
        ("a batch of three mixed transforms, 28 → 42", [0.3, -0.7, 0.785], [0.7, 1.0, 1.2],
         [[-4.0, 2.5], [0.0, 9.0], [3.0, 3.0]], 28, 42),
        ("-30°, scale 0.8, shift (2, 2) px, 28 → 60", [-math.pi / 6], [0.8], [[2.0, 2.0]], 28, 60),
    ]
    for text, angle, scale, shift, n_in, n_out in specs:
        a, s, t = torch.tensor(angle), torch.tensor(scale), torch.tensor(shift)
        expected = D.placement_theta(a, s, t, (n_in, n_in), (n_out, n_out))
        cases.append(Case(text, (a, s, t, n_in, n_out), expected))
    return cases


@check
def check_rts_theta(fn: Callable) -> None:
    """``rts_theta(angle, scale, shift, in_size, out_size) -> θ (N, 2, 3)``."""
    run_cases("rts_theta", fn, _rts_cases(), atol=1e-5,
              hint="θ maps output (target) to input (source): undo the shift, then the rotation, then the "
                   "scale. A pixel offset d from the centre of a `size`-pixel image is d·2/size in "
                   "normalised units, and the two images have different sizes.")


def _mask_cases() -> list[Case]:
    cases = []
    for seed, n in ((0, 1), (1, 4), (2, 8)):
        g = torch.Generator().manual_seed(seed)
        params = D.sample_cluttered(n, g, pool_size=5)
        black = torch.zeros(n, 1, 28, 28)
        white = torch.ones(5, 1, 28, 28)
        rendered, _ = D.cluttered(black, pool=white, pool_index=torch.zeros(n, dtype=torch.long), params=params)
        cases.append(Case(f"{n} canvas(es) drawn with seed {seed}", (params,), rendered[:, 0] > 0))
    return cases


@check
def check_clutter_mask(fn: Callable) -> None:
    """``clutter_mask(params) -> bool (N, 60, 60)``."""
    run_cases("clutter_mask", fn, _mask_cases(),
              hint="`params['clutter_position'][i, j]` is the (x, y) of crop j's top-left pixel in canvas i; "
                   "each crop covers 6 × 6 pixels: rows y … y+5 and columns x … x+5.")
