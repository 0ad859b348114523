"""Grid generators, written from scratch (the paper's section 3.2).

A grid generator takes the transform's parameters and returns, for every pixel of the
*output*, the point of the *input* it samples: a tensor of shape (N, H_out, W_out, 2)
holding (x, y) in normalised coordinates, exactly what ``torch.nn.functional.grid_sample``
reads. :func:`affine_grid` has the same signature and results as
``torch.nn.functional.affine_grid``, in every dtype (float16 and bfloat16 too, rounding as
PyTorch does), and also takes N = 0 or C = 0, which PyTorch refuses. The projective and TPS
generators, which PyTorch lacks, compute float16/bfloat16 in float32 and round once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from ._checks import check_shape, check_size, check_tensor

_REDUCED = (torch.float16, torch.bfloat16)


def linspace_norm(steps: int, align_corners: bool = False, *, dtype: torch.dtype | None = None,
                  device: torch.device | str | None = None) -> torch.Tensor:
    """Normalised coordinates of the centres of ``steps`` pixels along one axis: (steps,).

    ``align_corners=True`` puts the first and last centres at -1 and +1; ``False`` puts the
    outer pixel *edges* there, so the centres sit half a pixel inside.
    """
    dtype = dtype or torch.get_default_dtype()
    if steps <= 1:
        return torch.zeros(steps, dtype=dtype, device=device)
    line = torch.linspace(-1.0, 1.0, steps, dtype=dtype, device=device)
    return line if align_corners else line * (steps - 1) / steps  # PyTorch's order of roundings


def regular_grid(size: Sequence[int], align_corners: bool = False, *, dtype: torch.dtype | None = None,
                 device: torch.device | str | None = None) -> torch.Tensor:
    """The regular grid G in homogeneous coordinates.

    ``size`` is (H, W) or (D, H, W). Returns (H, W, 3) holding (x, y, 1), or (D, H, W, 4)
    holding (x, y, z, 1).
    """
    axes = [linspace_norm(s, align_corners, dtype=dtype, device=device) for s in size]
    mesh = torch.meshgrid(*axes, indexing="ij")  # (z,) y, x order
    coords = list(reversed(mesh))  # x, y(, z)
    coords.append(torch.ones_like(coords[0]))
    return torch.stack(coords, dim=-1)


def affine_grid(theta: torch.Tensor, size: Sequence[int], align_corners: bool = False) -> torch.Tensor:
    """Affine grid generator T_θ(G) (the paper's eq. 1).

    Args:
        theta: (N, 2, 3) for images or (N, 3, 4) for volumes; maps target to source.
        size: the output size, (N, C, H, W) or (N, C, D, H, W).
        align_corners: see :func:`linspace_norm`.

    Returns:
        (N, H, W, 2) or (N, D, H, W, 3) source coordinates (x, y[, z]).
    """
    check_tensor("theta", theta, floating=True)
    if theta.dim() == 3 and theta.shape[1:] == (3, 4):
        n, _, d, h, w = check_size("size", size, 3)
        spatial = (d, h, w)
    else:
        check_shape("theta", theta, (None, 2, 3), "(N, 2, 3) for 2-D or (N, 3, 4) for 3-D")
        n, _, h, w = check_size("size", size, 2)
        spatial = (h, w)
    if theta.shape[0] != n:
        raise ValueError(f"size[0] (batch {n}) must equal theta's batch size {theta.shape[0]}")
    base = regular_grid(spatial, align_corners, dtype=theta.dtype, device=theta.device)
    k = base.shape[-1]
    out = base.reshape(1, -1, k) @ theta.transpose(1, 2)  # (N, H*W, 2) or (N, D*H*W, 3)
    return out.reshape(n, *spatial, k - 1)


def projective_grid(homography: torch.Tensor, size: Sequence[int], align_corners: bool = False,
                    eps: float = 1e-6) -> torch.Tensor:
    """Projective grid generator: (x_s, y_s) = (h₁·p / h₃·p, h₂·p / h₃·p) with p = (x_t, y_t, 1).

    Args:
        homography: (N, 3, 3), target → source.
        size: the output size (N, C, H, W).
        eps: denominators closer to zero than this are pushed away from it (keeping their
            sign), so a point near the horizon maps far away instead of to infinity.

    Returns:
        (N, H, W, 2).
    """
    check_tensor("homography", homography, floating=True)
    check_shape("homography", homography, (None, 3, 3), "(N, 3, 3)")
    n, _, h, w = check_size("size", size, 2)
    if homography.shape[0] != n:
        raise ValueError(f"size[0] (batch {n}) must equal homography's batch size {homography.shape[0]}")
    dtype, hom = homography.dtype, _widened(homography)
    base = regular_grid((h, w), align_corners, dtype=hom.dtype, device=hom.device)
    uvw = base.reshape(1, -1, 3) @ hom.transpose(1, 2)  # (N, H*W, 3)
    den = uvw[..., 2:]
    den = torch.where(den.abs() < eps, torch.where(den < 0, -eps, eps).to(den.dtype), den)
    return (uvw[..., :2] / den).reshape(n, h, w, 2).to(dtype)


def _widened(t: torch.Tensor) -> torch.Tensor:
    """float16/bfloat16 → float32 (too coarse for the arithmetic of a grid); others unchanged."""
    return t.float() if t.dtype in _REDUCED else t


def tps_control_points(k: int = 16, *, dtype: torch.dtype | None = None,
                       device: torch.device | str | None = None) -> torch.Tensor:
    """K control points on a regular √K × √K grid spanning [-1, 1]²: (K, 2) as (x, y)."""
    side = math.isqrt(k)
    if k < 4 or side * side != k:
        raise ValueError(f"k must be a perfect square >= 4 (a √K × √K grid), got {k}")
    line = torch.linspace(-1.0, 1.0, side, dtype=dtype or torch.get_default_dtype(), device=device)
    y, x = torch.meshgrid(line, line, indexing="ij")
    return torch.stack([x.reshape(-1), y.reshape(-1)], dim=-1)


def tps_kernel(r2: torch.Tensor) -> torch.Tensor:
    """The thin-plate radial basis U(r) = r² log r², written in terms of r², with U(0) = 0."""
    return r2 * torch.log(r2.clamp_min(torch.finfo(r2.dtype).tiny))


def _tps_system_inverse(ctrl: torch.Tensor) -> torch.Tensor:
    """Inverse of the (K+3)×(K+3) TPS system [[U(|c_i - c_j|), P], [Pᵀ, 0]], P = [1, x, y]."""
    k = ctrl.shape[0]
    r2 = ((ctrl[:, None, :] - ctrl[None, :, :]) ** 2).sum(-1)
    p = torch.cat([torch.ones(k, 1, dtype=ctrl.dtype, device=ctrl.device), ctrl], dim=1)
    top = torch.cat([tps_kernel(r2), p], dim=1)
    bottom = torch.cat([p.T, torch.zeros(3, 3, dtype=ctrl.dtype, device=ctrl.device)], dim=1)
    return torch.linalg.inv(torch.cat([top, bottom], dim=0))


def tps_grid(offsets: torch.Tensor, size: Sequence[int], align_corners: bool = False,
             control_points: torch.Tensor | None = None) -> torch.Tensor:
    """Thin-plate-spline grid generator.

    The source point of each output point p is ``p + f(p)``, where f is the thin-plate
    spline that moves each control point c_k by ``offsets[:, k]``:
    ``f(p) = a₀ + a₁ x + a₂ y + Σ_k w_k U(|p − c_k|)``, with the coefficients solving the
    TPS interpolation system. Zero offsets give exactly the identity grid.

    Args:
        offsets: (N, K, 2) displacements of the control points, in normalised units.
        size: the output size (N, C, H, W).
        control_points: (K, 2) target positions of the control points; defaults to a
            regular √K × √K grid over [-1, 1]² (:func:`tps_control_points`).

    Returns:
        (N, H, W, 2).
    """
    check_tensor("offsets", offsets, floating=True)
    check_shape("offsets", offsets, (None, None, 2), "(N, K, 2)")
    n, _, h, w = check_size("size", size, 2)
    k = offsets.shape[1]
    if offsets.shape[0] != n:
        raise ValueError(f"size[0] (batch {n}) must equal offsets' batch size {offsets.shape[0]}")
    dtype, offsets = offsets.dtype, _widened(offsets)
    if control_points is None:
        ctrl = tps_control_points(k, dtype=offsets.dtype, device=offsets.device)
    else:
        check_tensor("control_points", control_points, floating=True)
        check_shape("control_points", control_points, (k, 2), f"(K, 2) with K={k} as in offsets")
        ctrl = control_points.to(offsets)
    coef = _tps_system_inverse(ctrl)[:, :k] @ offsets  # (K+3, K) @ (N, K, 2) -> (N, K+3, 2)
    base = regular_grid((h, w), align_corners, dtype=offsets.dtype, device=offsets.device).reshape(-1, 3)
    r2 = ((base[:, None, :2] - ctrl[None]) ** 2).sum(-1)  # (H*W, K)
    basis = torch.cat([tps_kernel(r2), base[:, 2:], base[:, :2]], dim=1)  # (H*W, K+3): U, 1, x, y
    return (base[:, :2] + basis @ coef).reshape(n, h, w, 2).to(dtype)
