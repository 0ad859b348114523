"""Where the Table 1 models go wrong: test errors by how strongly each digit was distorted.

For P (the projective recipe: scale in [0.75, 1], each corner moved by a normal of 5 px) the
test split knows every digit's drawn corners, so each test digit has a strength: how far its
corners moved on average (:func:`corner_displacement`), and how much of its ink the warp
pushed out of the 28 × 28 frame (:func:`ink_outside`). :func:`errors_by_bins` splits a
model's test errors by either.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from .. import distortions
from .._checks import check_shape, check_tensor


def corner_displacement(corner_shift: torch.Tensor) -> torch.Tensor:
    """How far P moved each digit's corners: ``corner_shift`` (N, 4, 2) pixels → (N,) mean distance."""
    check_tensor("corner_shift", corner_shift, floating=True)
    check_shape("corner_shift", corner_shift, (None, 4, 2), "(N, 4, 2) pixels")
    return corner_shift.norm(dim=-1).mean(dim=1)


def ink_outside(clean: torch.Tensor, corners: torch.Tensor) -> torch.Tensor:
    """The share of each clean digit's ink that its P warp sends outside the output frame.

    ``clean`` (N, 1, S, S) the undistorted digits, ``corners`` (N, 4, 2) where P put the
    input's corners, in pixels from the centre (``DistortedMNIST("P").params["corners"]``).
    Every input pixel centre is mapped forward (input → output, the inverse of the sampling
    homography); the ink of those that land outside [-1, 1]² is lost. Returns (N,) in [0, 1].
    """
    check_tensor("clean", clean, floating=True)
    if clean.dim() != 4 or clean.shape[-1] != clean.shape[-2]:
        raise ValueError(f"clean must have shape (N, C, S, S), got {tuple(clean.shape)}")
    check_shape("corners", corners, (clean.shape[0], 4, 2), "(N, 4, 2) pixels, one set per digit")
    n, size = clean.shape[0], clean.shape[-1]
    target = corners.double() * (2.0 / size)
    forward = torch.linalg.inv(distortions.homography_from_corners(target, distortions.CORNERS.double().expand(n, 4, 2)))
    centres = (torch.arange(size, dtype=torch.float64) + 0.5) * (2.0 / size) - 1
    ys, xs = torch.meshgrid(centres, centres, indexing="ij")
    points = torch.stack([xs, ys, torch.ones_like(xs)], -1).reshape(1, -1, 3)  # (1, S·S, 3)
    mapped = points @ forward.transpose(1, 2)  # (N, S·S, 3)
    outside = ((mapped[..., :2] / mapped[..., 2:]).abs() > 1).any(-1) | (mapped[..., 2] <= 0)
    ink = clean.double().sum(1).reshape(n, -1)
    return ((ink * outside).sum(1) / ink.sum(1).clamp(min=1e-12)).float()


def fold_share(n: int = 100_000, seed: int = 0) -> float:
    """The share of raw P draws whose moved corners would fold the image (not convex, or turned
    over); the recipe draws those again (``require_convex``)."""
    params = distortions.sample_projective(n, torch.Generator().manual_seed(seed), require_convex=False)
    return float((~distortions._convex_same_orientation(params["corners"])).float().mean())


@torch.no_grad()
def predictions(model: torch.nn.Module, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """``model``'s predicted classes (N,) for ``images`` (N, C, H, W), in eval mode, on the CPU."""
    was = model.training
    model.eval()
    try:
        return torch.cat([model(images[i:i + batch_size]).argmax(1) for i in range(0, len(images), batch_size)])
    finally:
        model.train(was)


def errors_by_bins(wrong: torch.Tensor, value: torch.Tensor, edges: Sequence[float]) -> list[dict[str, Any]]:
    """Split test errors by ``value``: one ``{"low", "high", "n", "error" (%), "share_of_errors" (%)}``
    per bin ``[edges[i], edges[i + 1])``; ``wrong`` (N,) bool, ``value`` (N,)."""
    check_tensor("wrong", wrong)
    check_tensor("value", value, floating=True)
    if wrong.shape != value.shape or wrong.dim() != 1:
        raise ValueError(f"wrong and value must both be (N,), got {tuple(wrong.shape)} and {tuple(value.shape)}")
    if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:])):
        raise ValueError(f"edges must be at least two increasing numbers, got {list(edges)!r}")
    total = max(int(wrong.sum()), 1)
    out = []
    for low, high in zip(edges, edges[1:]):
        sel = (value >= low) & (value < high)
        k = int(sel.sum())
        errors = int(wrong[sel].sum())
        out.append({"low": low, "high": high, "n": k, "error": 100.0 * errors / k if k else float("nan"),
                    "share_of_errors": 100.0 * errors / total})
    return out
