"""Small volumes made in code, for the 3D transformer of chapter 11 (the paper's appendix A.3).

An MNIST digit becomes a volume by *extrusion*: the image is copied into a slab of a few
slices around the middle of the depth axis, like a digit cut from a board. A random 3D pose
(yaw, pitch, roll) then turns the slab so that, seen along the depth axis, the digit is
foreshortened and smeared: :func:`random_pose` draws the poses, :func:`pose` applies them
with the 3D affine grid and the trilinear sampler. All of it is deterministic: the same
images and the same generator give the same volumes.

Volumes are (N, C, D, H, W), z along D, as ``torch.nn.functional.grid_sample`` reads them.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ._checks import check_int, check_real, check_tensor
from .geometry import theta3d_from

__all__ = ["extrude", "random_pose", "pose", "posed_digits"]


def extrude(images: torch.Tensor, depth: int | None = None, thickness: int = 4) -> torch.Tensor:
    """Extrude images into volumes: (N, C, H, W) → (N, C, D, H, W).

    The slices ``(D - thickness) // 2`` … ``+ thickness - 1`` hold the image, the others are
    zero, so a projection along depth (the sum over D) gives ``thickness ·`` the image back.

    Args:
        images: (N, C, H, W), floating point.
        depth: D, the number of slices; defaults to W, so a square image makes a cube.
        thickness: how many slices hold the image, 1 … D.
    """
    check_tensor("images", images, floating=True)
    if images.dim() != 4:
        raise ValueError(f"images must have shape (N, C, H, W), got {tuple(images.shape)}")
    depth = images.shape[-1] if depth is None else check_int("depth", depth, 1)
    check_int("thickness", thickness, 1)
    if thickness > depth:
        raise ValueError(f"thickness must be at most depth ({depth}), got {thickness}")
    n, c, h, w = images.shape
    out = images.new_zeros(n, c, depth, h, w)
    start = (depth - thickness) // 2
    out[:, :, start:start + thickness] = images[:, :, None]
    return out


def random_pose(n: int, generator: torch.Generator, *, max_yaw: float = math.radians(50),
                max_pitch: float = math.radians(50), max_roll: float = math.radians(30),
                dtype: torch.dtype | None = None) -> torch.Tensor:
    """θ of ``n`` random rigid poses: (n, 3, 4), yaw, pitch and roll uniform in ±their maximum.

    Angles in radians, each maximum in [0, π/2] for yaw and pitch (beyond, the digit would be
    seen from behind) and [0, π] for roll. The draws come from ``generator`` only (yaw, pitch,
    roll, in that order), so they repeat exactly.
    """
    check_int("n", n, 0)
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    check_real("max_yaw", max_yaw, minimum=0)
    check_real("max_pitch", max_pitch, minimum=0)
    check_real("max_roll", max_roll, minimum=0)
    for name, value, top in (("max_yaw", max_yaw, math.pi / 2), ("max_pitch", max_pitch, math.pi / 2),
                             ("max_roll", max_roll, math.pi)):
        if value > top + 1e-12:
            raise ValueError(f"{name} must be at most {top:.4f} rad, got {value}")
    dtype = dtype or torch.get_default_dtype()
    u = torch.rand(3, n, generator=generator, dtype=torch.float64) * 2 - 1
    angles = (u * torch.tensor([max_yaw, max_pitch, max_roll], dtype=torch.float64)[:, None]).to(dtype)
    return theta3d_from(angles[0], angles[1], angles[2]) if n else torch.zeros(0, 3, 4, dtype=dtype)


def pose(volumes: torch.Tensor, theta: torch.Tensor, align_corners: bool = False) -> torch.Tensor:
    """Sample ``volumes`` (N, C, D, H, W) with ``theta`` (N, 3, 4): trilinear, zero padding.

    PyTorch's fast kernels (this package's own :func:`~stn_course.sampler.trilinear` gives the
    same numbers; the tests check it).
    """
    check_tensor("volumes", volumes, floating=True)
    check_tensor("theta", theta, floating=True)
    if volumes.dim() != 5:
        raise ValueError(f"volumes must have shape (N, C, D, H, W), got {tuple(volumes.shape)}")
    if theta.shape != (volumes.shape[0], 3, 4):
        raise ValueError(f"theta must have shape (N, 3, 4) with N={volumes.shape[0]}, got {tuple(theta.shape)}")
    if len(volumes) == 0:
        return volumes.clone()
    grid = F.affine_grid(theta.to(volumes), list(volumes.shape), align_corners=align_corners)
    return F.grid_sample(volumes, grid, mode="bilinear", padding_mode="zeros", align_corners=align_corners)


def posed_digits(images: torch.Tensor, generator: torch.Generator, *, depth: int | None = None,
                 thickness: int = 4, **limits: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Extrude ``images`` (N, 1, H, W) and turn each into a random pose.

    Returns the volumes (N, 1, D, H, W) and the θ (N, 3, 4) that posed them; ``limits`` are
    :func:`random_pose`'s ``max_yaw``, ``max_pitch``, ``max_roll``.
    """
    volumes = extrude(images, depth, thickness)
    theta = random_pose(len(images), generator, dtype=images.dtype, **limits)
    return pose(volumes, theta), theta
