"""Coordinates and the affine matrix θ.

Normalised coordinates put the image in the square [-1, 1] × [-1, 1], x to the right and
y down, whatever its size in pixels. With ``align_corners=True`` the centres of the corner
pixels sit at ±1; with ``align_corners=False`` (PyTorch's default) the outer *edges* of the
corner pixels do, so a pixel centre is at ``(2i + 1) / size - 1``.

θ is a 2×3 matrix ``[A | t]`` that maps a target (output) point to a source (input) point,
``(x_s, y_s) = A (x_t, y_t) + t`` (the paper's eq. 1). :func:`theta_from` composes it as

    A = R(angle) · Shear(shear) · Scale(scale_x, scale_y)

and :func:`decompose_theta` undoes that composition.
"""

from __future__ import annotations

import math
from typing import Union

import torch

from ._checks import check_int, check_real, check_shape, check_tensor

Number = Union[float, int, torch.Tensor]


def pixel_to_norm(p: Number, size: int, align_corners: bool = False) -> Number:
    """Pixel index (0 … size-1, centres at integers) → normalised coordinate in [-1, 1]."""
    check_int("size", size, 1)
    if align_corners:
        return p * 2.0 / max(size - 1, 1) - 1.0
    return (2.0 * p + 1.0) / size - 1.0


def norm_to_pixel(u: Number, size: int, align_corners: bool = False) -> Number:
    """Normalised coordinate → pixel index (inverse of :func:`pixel_to_norm`)."""
    check_int("size", size, 1)
    if align_corners:
        return (u + 1.0) * (size - 1) / 2.0
    return ((u + 1.0) * size - 1.0) / 2.0


def _batched(name: str, value: Number, n: int | None, like: torch.Tensor | None) -> torch.Tensor:
    t = torch.as_tensor(value, dtype=torch.get_default_dtype() if like is None else like.dtype,
                        device=None if like is None else like.device)
    if t.dim() > 1:
        raise ValueError(f"{name} must be a scalar or a 1-D tensor (N,), got shape {tuple(t.shape)}")
    return t.reshape(-1)


def theta_from(
    angle: Number = 0.0,
    scale: Number = 1.0,
    shear: Number = 0.0,
    tx: Number = 0.0,
    ty: Number = 0.0,
    *,
    scale_y: Number | None = None,
    aspect: float = 1.0,
) -> torch.Tensor:
    """Build θ of shape (N, 2, 3) from interpretable parameters.

    Args:
        angle: rotation in radians; a scalar or (N,). A positive angle turns the image
            *content* counter-clockwise on screen (θ maps target to source, and y points
            down, so the two sign flips cancel).
        scale: scale along x (and along y unless ``scale_y`` is given). θ maps target to
            source, so ``scale=0.5`` *zooms in* by 2.
        shear: horizontal shear factor.
        tx, ty: translation in normalised units (the source point that the output centre
            samples).
        scale_y: scale along y; defaults to ``scale``.
        aspect: image width / height. Normalised coordinates stretch a non-square image into
            a square, so a rotation built for a square would shear it; with ``aspect`` the
            rotation and shear act in pixel space: ``A = D⁻¹ R Sh S D``, ``D = diag(aspect, 1)``.

    Every argument broadcasts to the batch size N (the longest 1-D argument; 1 if all are
    scalars).
    """
    like = next((v for v in (angle, scale, shear, tx, ty, scale_y) if isinstance(v, torch.Tensor)), None)
    if like is not None and not like.is_floating_point():
        like = like.to(torch.get_default_dtype())
    parts = {
        "angle": angle, "scale": scale, "shear": shear, "tx": tx, "ty": ty,
        "scale_y": scale if scale_y is None else scale_y,
    }
    vals = {k: _batched(k, v, None, like) for k, v in parts.items()}
    n = max(v.numel() for v in vals.values())
    for k, v in vals.items():
        if v.numel() not in (1, n):
            raise ValueError(f"{k} must have 1 or N={n} elements, got {v.numel()}")
    a, sx, sh, x, y, sy = (vals[k].expand(n) for k in ("angle", "scale", "shear", "tx", "ty", "scale_y"))
    check_real("aspect", aspect, above=0)  # width / height
    c, s = torch.cos(a), torch.sin(a)
    # R · Sh · S with R = [[c, -s], [s, c]], Sh = [[1, sh], [0, 1]], S = diag(sx, sy)
    a00, a01 = c * sx, (c * sh - s) * sy
    a10, a11 = s * sx, (s * sh + c) * sy
    # D⁻¹ (·) D with D = diag(aspect, 1)
    a01 = a01 / aspect
    a10 = a10 * aspect
    row0 = torch.stack([a00, a01, x], dim=-1)
    row1 = torch.stack([a10, a11, y], dim=-1)
    return torch.stack([row0, row1], dim=-2)


def decompose_theta(theta: torch.Tensor, *, aspect: float = 1.0) -> dict[str, torch.Tensor]:
    """Inverse of :func:`theta_from` for θ of shape (N, 2, 3) with det(A) > 0.

    Returns a dict of (N,) tensors ``angle, scale_x, scale_y, shear, tx, ty``. The
    decomposition is the QR factorisation ``A = R · U`` with ``U = [[sx, sh·sy], [0, sy]]``.
    """
    check_tensor("theta", theta, floating=True)
    check_shape("theta", theta, (None, 2, 3), "(N, 2, 3)")
    check_real("aspect", aspect, above=0)  # width / height
    a00, a01 = theta[:, 0, 0], theta[:, 0, 1] * aspect
    a10, a11 = theta[:, 1, 0] / aspect, theta[:, 1, 1]
    sx = torch.hypot(a00, a10)
    angle = torch.atan2(a10, a00)
    c, s = torch.cos(angle), torch.sin(angle)
    u01 = c * a01 + s * a11  # = sh * sy
    sy = -s * a01 + c * a11
    return {
        "angle": angle, "scale_x": sx, "scale_y": sy, "shear": u01 / sy,
        "tx": theta[:, 0, 2], "ty": theta[:, 1, 2],
    }


def attention_theta(s: Number, tx: Number, ty: Number) -> torch.Tensor:
    """The paper's 3-parameter attention transform (eq. 2 context): θ = [[s, 0, tx], [0, s, ty]].

    Returns (N, 2, 3): isotropic scale ``s`` (a crop of relative size s) at centre (tx, ty).
    """
    return theta_from(0.0, s, 0.0, tx, ty)


def identity_theta(n: int = 1, *, dtype: torch.dtype | None = None,
                   device: torch.device | str | None = None) -> torch.Tensor:
    """The identity θ repeated ``n`` times: (n, 2, 3)."""
    eye = torch.eye(2, 3, dtype=dtype or torch.get_default_dtype(), device=device)
    return eye.expand(n, 2, 3).clone()


def degrees(x: Number) -> Number:
    """Radians → degrees (for labels)."""
    return x * 180.0 / math.pi
