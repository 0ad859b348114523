"""Coordinates and the affine matrix θ.

Normalised coordinates put the image in the square [-1, 1] × [-1, 1], x to the right and
y down, whatever its size in pixels. With ``align_corners=True`` the centres of the corner
pixels sit at ±1; with ``align_corners=False`` (PyTorch's default) the outer *edges* of the
corner pixels do, so a pixel centre is at ``(2i + 1) / size - 1``.

θ is a 2×3 matrix ``[A | t]`` that maps a target (output) point to a source (input) point,
``(x_s, y_s) = A (x_t, y_t) + t`` (the paper's eq. 1). :func:`theta_from` composes it as

    A = R(angle) · Shear(shear) · Scale(scale_x, scale_y)

and :func:`decompose_theta` undoes that composition.

For volumes (the paper's appendix A.3) θ is 3×4, ``(x_s, y_s, z_s) = A (x_t, y_t, z_t) + t`` with
z along the depth axis D of an (N, C, D, H, W) volume. :func:`theta3d_from` composes

    A = scale · R_y(yaw) · R_x(pitch) · R_z(roll)

(yaw turns about the screen's vertical axis y, pitch about its horizontal axis x, roll about
the viewing axis z, so roll is the 2D angle of :func:`theta_from` seen from the front) and
:func:`decompose_theta3d` undoes it. :func:`chain_theta` composes two warps applied one after
the other.
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


def rotation_3d(yaw: Number = 0.0, pitch: Number = 0.0, roll: Number = 0.0) -> torch.Tensor:
    """The rotation R = R_y(yaw) · R_x(pitch) · R_z(roll): (N, 3, 3), angles in radians.

    ``R_y = [[c, 0, s], [0, 1, 0], [-s, 0, c]]``, ``R_x = [[1, 0, 0], [0, c, -s], [0, s, c]]``,
    ``R_z = [[c, -s, 0], [s, c, 0], [0, 0, 1]]`` in (x, y, z) = (right, down, depth). Each
    argument is a scalar or (N,) and broadcasts to the batch.
    """
    like = next((v for v in (yaw, pitch, roll) if isinstance(v, torch.Tensor)), None)
    if like is not None and not like.is_floating_point():
        like = like.to(torch.get_default_dtype())
    vals = {k: _batched(k, v, None, like) for k, v in (("yaw", yaw), ("pitch", pitch), ("roll", roll))}
    n = max(v.numel() for v in vals.values())
    for k, v in vals.items():
        if v.numel() not in (1, n):
            raise ValueError(f"{k} must have 1 or N={n} elements, got {v.numel()}")
    a, b, c = (vals[k].expand(n) for k in ("yaw", "pitch", "roll"))
    ca, sa, cb, sb, cc, sc = torch.cos(a), torch.sin(a), torch.cos(b), torch.sin(b), torch.cos(c), torch.sin(c)
    # the product R_y R_x R_z written out
    rows = [
        [ca * cc + sa * sb * sc, -ca * sc + sa * sb * cc, sa * cb],
        [cb * sc, cb * cc, -sb],
        [-sa * cc + ca * sb * sc, sa * sc + ca * sb * cc, ca * cb],
    ]
    return torch.stack([torch.stack(r, dim=-1) for r in rows], dim=-2)


def theta3d_from(yaw: Number = 0.0, pitch: Number = 0.0, roll: Number = 0.0, scale: Number = 1.0,
                 tx: Number = 0.0, ty: Number = 0.0, tz: Number = 0.0) -> torch.Tensor:
    """Build a 3D θ of shape (N, 3, 4) = ``[scale · R | t]``, with R from :func:`rotation_3d`.

    Args:
        yaw, pitch, roll: radians, scalars or (N,).
        scale: isotropic; θ maps target to source, so ``scale=0.5`` zooms in by 2.
        tx, ty, tz: the source point that the output's centre samples, normalised.

    Every argument broadcasts to the batch size N (1 if all are scalars).
    """
    rot = rotation_3d(yaw, pitch, roll)
    vals = {k: _batched(k, v, None, rot) for k, v in (("scale", scale), ("tx", tx), ("ty", ty), ("tz", tz))}
    n = max([rot.shape[0], *(v.numel() for v in vals.values())])
    for k, v in [("angles", rot), *vals.items()]:
        if len(v) not in (1, n):
            raise ValueError(f"{k} must have 1 or N={n} elements, got {len(v)}")
    s, x, y, z = (vals[k].expand(n) for k in ("scale", "tx", "ty", "tz"))
    t = torch.stack([x, y, z], dim=-1)[:, :, None]  # (N, 3, 1)
    return torch.cat([s[:, None, None] * rot.expand(n, 3, 3), t], dim=-1)


def decompose_theta3d(theta: torch.Tensor) -> dict[str, torch.Tensor]:
    """Inverse of :func:`theta3d_from` for θ of shape (N, 3, 4) with det(A) > 0.

    Returns a dict of (N,) tensors ``yaw, pitch, roll, scale, tx, ty, tz`` with yaw and roll
    in (-π, π] and pitch in [-π/2, π/2] (at pitch = ±π/2 only yaw ± roll is defined; yaw is
    then 0). For A = scale · R exactly, this is the inverse; for any other A it reads the
    rotation of A's polar decomposition (the rotation nearest to A) and the scale
    det(A)^(1/3).
    """
    check_tensor("theta", theta, floating=True)
    check_shape("theta", theta, (None, 3, 4), "(N, 3, 4)")
    a = theta[:, :, :3]
    det = torch.linalg.det(a)
    if bool((det <= 0).any()):
        raise ValueError(f"theta's 3×3 part must have a positive determinant (a rotation times a positive "
                         f"scale), got determinants {det.tolist()}")
    u, _, vh = torch.linalg.svd(a)
    r = u @ vh  # the polar decomposition's rotation (det(A) > 0, so det(R) = +1)
    pitch = torch.asin((-r[:, 1, 2]).clamp(-1.0, 1.0))
    locked = r[:, 1, 2].abs() > 1 - 1e-9
    yaw = torch.where(locked, torch.zeros_like(pitch), torch.atan2(r[:, 0, 2], r[:, 2, 2]))
    roll = torch.where(locked, torch.atan2(-r[:, 0, 1], r[:, 0, 0]), torch.atan2(r[:, 1, 0], r[:, 1, 1]))
    return {"yaw": yaw, "pitch": pitch, "roll": roll, "scale": det.pow(1.0 / 3.0),
            "tx": theta[:, 0, 3], "ty": theta[:, 1, 3], "tz": theta[:, 2, 3]}


def identity_theta3d(n: int = 1, *, dtype: torch.dtype | None = None,
                     device: torch.device | str | None = None) -> torch.Tensor:
    """The identity 3D θ repeated ``n`` times: (n, 3, 4)."""
    eye = torch.eye(3, 4, dtype=dtype or torch.get_default_dtype(), device=device)
    return eye.expand(n, 3, 4).clone()


def chain_theta(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """θ of two warps in a row: sample P with ``first`` to get U, then U with ``second`` to get V.

    V samples P at ``first(second(p))`` (θ maps target to source, so the warp applied last
    acts on the point first), so the returned θ is the homogeneous product
    ``[first] · [second]``. Both (N, 2, 3), or both (N, 3, 4); N may be 1 in either.
    Interpolation aside, sampling P once with the result gives V.
    """
    check_tensor("first", first, floating=True)
    check_tensor("second", second, floating=True)
    if first.dim() != 3 or first.shape[1:] not in ((2, 3), (3, 4)):
        raise ValueError(f"first must have shape (N, 2, 3) or (N, 3, 4), got {tuple(first.shape)}")
    if second.shape[1:] != first.shape[1:] or second.dim() != 3:
        raise ValueError(f"second must have the shape of first, (N, {first.shape[1]}, {first.shape[2]}), "
                         f"got {tuple(second.shape)}")
    a1, t1 = first[:, :, :-1], first[:, :, -1:]
    a2, t2 = second[:, :, :-1], second[:, :, -1:]
    return torch.cat([a1 @ a2, a1 @ t2 + t1], dim=-1)


def view_angle(theta: torch.Tensor) -> torch.Tensor:
    """The angle between the line of sight of a depth projection and the source's z axis: (N,) radians.

    Summing the warped volume V along its depth sums the source U along the lines
    ``A (x, y, z) + t``, z varying: their direction is the third column of A. This returns the
    angle between that direction and U's z axis, in [0, π/2]: 0 when the projection looks at
    a flat object lying in U's plane z = 0 (an extruded digit) straight from the front, so
    that it is sharp; π/2 when it sees the object edge-on. ``theta`` is (N, 3, 4).
    """
    check_tensor("theta", theta, floating=True)
    check_shape("theta", theta, (None, 3, 4), "(N, 3, 4)")
    sight = theta[:, :, 2]
    cos = sight[:, 2].abs() / sight.norm(dim=1).clamp_min(torch.finfo(theta.dtype).tiny)
    return torch.acos(cos.clamp(0.0, 1.0))
