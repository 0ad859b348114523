"""Parameterised transformations T_θ as modules.

Each transform knows how many parameters it takes (``num_params``), which parameters leave
the image unchanged (``identity_params()``), and turns a batch of parameters (N, P) into a
sampling grid (N, H, W, 2) for an output of ``size`` (N, C, H, W). The localisation network
regresses the parameters; the sampler reads the grid.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from . import grid as _grid
from ._checks import check_choice, check_shape, check_size, check_tensor

BACKENDS = ("torch", "scratch")


class Transform(nn.Module):
    """Base class: subclasses set ``num_params`` and implement ``identity_params`` and ``grid``."""

    num_params: int

    def identity_params(self) -> torch.Tensor:
        """The parameters of the identity transform: (num_params,)."""
        raise NotImplementedError

    def grid(self, params: torch.Tensor, size: Sequence[int], align_corners: bool,
             backend: str) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, params: torch.Tensor, size: Sequence[int], *, align_corners: bool = False,
                backend: str = "torch") -> torch.Tensor:
        """Parameters (N, num_params) → sampling grid (N, H, W, 2) for ``size`` (N, C, H, W)."""
        check_tensor("params", params, floating=True)
        check_shape("params", params, (None, self.num_params), f"(N, {self.num_params})")
        check_choice("backend", backend, BACKENDS)
        n = check_size("size", size, 2)[0]
        if params.shape[0] != n:
            raise ValueError(f"params must have one row per image: batch {params.shape[0]}, but size[0] is {n}")
        return self.grid(params, size, align_corners, backend)

    def matrix(self, params: torch.Tensor) -> torch.Tensor:
        """The transform as a homogeneous 3×3 matrix (N, 3, 3), for transforms that have one."""
        raise NotImplementedError(f"{type(self).__name__} is not a matrix transform")


def _affine_grid(theta: torch.Tensor, size: Sequence[int], align_corners: bool, backend: str) -> torch.Tensor:
    if backend == "torch" and min(size[:2]) > 0:  # PyTorch refuses N = 0 and C = 0; ours takes them
        return nn.functional.affine_grid(theta, list(size), align_corners=align_corners)
    return _grid.affine_grid(theta, size, align_corners)


def _homogeneous(theta: torch.Tensor) -> torch.Tensor:
    """(N, 2, 3) → (N, 3, 3) by appending the row (0, 0, 1)."""
    last = torch.zeros_like(theta[:, :1])
    last[:, 0, 2] = 1
    return torch.cat([theta, last], dim=1)


class AttentionTransform(Transform):
    """Isotropic scale and translation, θ = [[s, 0, tx], [0, s, ty]]: params (s, tx, ty)."""

    num_params = 3

    def identity_params(self) -> torch.Tensor:
        return torch.tensor([1.0, 0.0, 0.0])

    def theta(self, params: torch.Tensor) -> torch.Tensor:
        s, tx, ty = params.unbind(1)
        zero = torch.zeros_like(s)
        return torch.stack([torch.stack([s, zero, tx], 1), torch.stack([zero, s, ty], 1)], 1)

    def grid(self, params, size, align_corners, backend):
        return _affine_grid(self.theta(params), size, align_corners, backend)

    def matrix(self, params):
        return _homogeneous(self.theta(params))


class AffineTransform(Transform):
    """The full 2×3 affine θ (6 parameters, row-major)."""

    num_params = 6

    def identity_params(self) -> torch.Tensor:
        return torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0])

    def grid(self, params, size, align_corners, backend):
        return _affine_grid(params.view(-1, 2, 3), size, align_corners, backend)

    def matrix(self, params):
        return _homogeneous(params.view(-1, 2, 3))


class ProjectiveTransform(Transform):
    """A homography with its bottom-right entry fixed to 1 (8 parameters, row-major)."""

    num_params = 8

    def identity_params(self) -> torch.Tensor:
        return torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0])

    def matrix(self, params):
        return torch.cat([params, torch.ones_like(params[:, :1])], dim=1).view(-1, 3, 3)

    def grid(self, params, size, align_corners, backend):
        return _grid.projective_grid(self.matrix(params), size, align_corners)


class TPSTransform(Transform):
    """Thin-plate spline with K control points on a regular √K × √K grid (2K parameters).

    The parameters are the control points' displacements (x₁, y₁, x₂, y₂, …) in normalised
    units; zero displacements are the identity.
    """

    def __init__(self, num_control_points: int = 16):
        super().__init__()
        self.register_buffer("control_points", _grid.tps_control_points(num_control_points), persistent=False)
        self.num_params = 2 * num_control_points

    def identity_params(self) -> torch.Tensor:
        return torch.zeros(self.num_params)

    def grid(self, params, size, align_corners, backend):
        offsets = params.view(params.shape[0], self.num_params // 2, 2)
        return _grid.tps_grid(offsets, size, align_corners, self.control_points.to(params.device))


class Affine3DTransform(Transform):
    """The full 3×4 affine θ of a volume (12 parameters, row-major; the paper's appendix A.3).

    Parameters (N, 12) → sampling grid (N, D, H, W, 3) for an output of ``size`` (N, C, D, H, W).
    """

    num_params = 12

    def identity_params(self) -> torch.Tensor:
        return torch.eye(3, 4).reshape(12)

    def forward(self, params: torch.Tensor, size: Sequence[int], *, align_corners: bool = False,
                backend: str = "torch") -> torch.Tensor:
        """Parameters (N, 12) → sampling grid (N, D, H, W, 3) for ``size`` (N, C, D, H, W)."""
        check_tensor("params", params, floating=True)
        check_shape("params", params, (None, 12), "(N, 12)")
        check_choice("backend", backend, BACKENDS)
        n = check_size("size", size, 3)[0]
        if params.shape[0] != n:
            raise ValueError(f"params must have one row per volume: batch {params.shape[0]}, but size[0] is {n}")
        return self.grid(params, size, align_corners, backend)

    def grid(self, params, size, align_corners, backend):
        return _affine_grid(params.view(-1, 3, 4), size, align_corners, backend)

    def matrix(self, params):
        """The transform as a homogeneous 4×4 matrix (N, 4, 4)."""
        last = torch.zeros_like(params[:, :4])
        last[:, 3] = 1
        return torch.cat([params, last], dim=1).view(-1, 4, 4)


TRANSFORMS = {"attention": AttentionTransform, "affine": AffineTransform,
              "projective": ProjectiveTransform, "tps": TPSTransform}


def make_transform(name: str | Transform) -> Transform:
    """A transform by name ("attention", "affine", "projective", "tps"), or pass one through."""
    if isinstance(name, Transform):
        return name
    check_choice("transform", name, tuple(TRANSFORMS))
    return TRANSFORMS[name]()
