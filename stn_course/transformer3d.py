"""The 3D spatial transformer and its projection to 2D (the paper's appendix A.3).

Localisation net on the volume → 3×4 θ → 3D grid T_θ(G) → trilinear sampler, exactly the
three steps of Fig. 2 one dimension up; then the warped volume V (N, C, D, H, W) is flattened
to an image by summing along its depth, ``I(y, x) = Σ_z V(z, y, x)``, so that an ordinary 2D
network reads it. The transformer can turn the volume into whatever pose makes that
projection easiest to read. :class:`ProjectionClassifier` is the whole model: an optional
:class:`SpatialTransformer3D`, the projection, a 2D classifier.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from . import sampler as _sampler
from ._checks import check_choice, check_tensor
from .transforms import BACKENDS, Affine3DTransform

__all__ = ["REDUCTIONS", "project", "Projection", "SpatialTransformer3D", "ProjectionClassifier"]

REDUCTIONS = ("sum", "mean", "max")


def _volumes(name: str, x: object) -> torch.Tensor:
    check_tensor(name, x, floating=True)
    if x.dim() != 5:
        raise ValueError(f"{name} must have shape (N, C, D, H, W), got {tuple(x.shape)}")
    return x


def project(volume: torch.Tensor, reduce: str = "sum") -> torch.Tensor:
    """Project volumes along depth: (N, C, D, H, W) → (N, C, H, W).

    ``reduce="sum"`` is the paper's flattening (the integral along each line of sight);
    "mean" is the same divided by D; "max" is a maximum-intensity projection (its gradient
    reaches one voxel per line of sight only).
    """
    _volumes("volume", volume)
    check_choice("reduce", reduce, REDUCTIONS)
    if reduce == "sum":
        return volume.sum(dim=2)
    if reduce == "mean":
        return volume.mean(dim=2)
    return volume.amax(dim=2)


class Projection(nn.Module):
    """:func:`project` as a module (no parameters)."""

    def __init__(self, reduce: str = "sum"):
        super().__init__()
        check_choice("reduce", reduce, REDUCTIONS)
        self.reduce = reduce

    def forward(self, volume: torch.Tensor) -> torch.Tensor:
        """(N, C, D, H, W) → (N, C, H, W)."""
        return project(volume, self.reduce)

    def extra_repr(self) -> str:
        return f"reduce={self.reduce!r}"


class SpatialTransformer3D(nn.Module):
    """A spatial transformer for volumes: ``V = trilinear(U, T_θ(G))`` with ``θ = f_loc(U)`` (3×4).

    Args:
        localization: module mapping (N, C, D, H, W) to (N, 12), θ row-major (for instance
            :class:`~stn_course.localization.CNN3DLocalization`, which starts at the identity).
        out_size: (D_out, H_out, W_out); defaults to the input's size.
        backend: "torch" (``affine_grid``/``grid_sample``) or "scratch" (this package's
            :func:`~stn_course.grid.affine_grid` and :func:`~stn_course.sampler.trilinear`).
        padding_mode: "zeros", "border" or "reflection".
        align_corners: see :mod:`stn_course.geometry`.

    It runs in float32 under mixed precision (``torch.autocast``), like
    :class:`~stn_course.transformer.SpatialTransformer`. After each forward pass ``last_theta`` (N, 3, 4) and ``last_grid`` (N, D_out, H_out, W_out, 3)
    hold detached copies of what it used.
    """

    def __init__(self, localization: nn.Module, out_size: Sequence[int] | None = None, backend: str = "torch",
                 padding_mode: str = "zeros", align_corners: bool = False):
        super().__init__()
        check_choice("backend", backend, BACKENDS)
        check_choice("padding_mode", padding_mode, _sampler.PADDING_MODES)
        if out_size is not None and (not isinstance(out_size, (tuple, list)) or len(out_size) != 3 or not all(
                isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in out_size)):
            raise ValueError(f"out_size must be (D_out, H_out, W_out) of positive ints or None, got {out_size!r}")
        self.localization = localization
        self.transform = Affine3DTransform()
        self.out_size = None if out_size is None else tuple(out_size)
        self.backend = backend
        self.padding_mode = padding_mode
        self.align_corners = align_corners
        self.last_theta: torch.Tensor | None = None
        self.last_grid: torch.Tensor | None = None

    def forward(self, x: torch.Tensor, theta: torch.Tensor | None = None) -> torch.Tensor:
        """Transform ``x`` (N, C, D, H, W) → (N, C, D_out, H_out, W_out).

        ``theta`` (N, 3, 4) overrides the localisation net (to apply a known transform).
        """
        _volumes("x", x)
        if torch.is_autocast_enabled(x.device.type):  # grid coordinates need float32, as in SpatialTransformer
            with torch.autocast(x.device.type, enabled=False):
                return self.forward(x.float(), None if theta is None else theta.float())
        if theta is None:
            params = self.localization(x)
        else:
            check_tensor("theta", theta, floating=True)
            if theta.shape != (x.shape[0], 3, 4):
                raise ValueError(f"theta must have shape (N, 3, 4) with N={x.shape[0]}, got {tuple(theta.shape)}")
            params = theta.reshape(-1, 12)
        if params.device != x.device:
            raise TypeError(f"theta must be on x's device {x.device}, got {params.device}")
        n, c, d, h, w = x.shape
        size = (n, c, *(self.out_size or (d, h, w)))
        grid = self.transform(params, size, align_corners=self.align_corners, backend=self.backend)
        self.last_theta, self.last_grid = params.detach().view(-1, 3, 4), grid.detach()
        if self.backend == "torch":
            return nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode=self.padding_mode,
                                             align_corners=self.align_corners)
        return _sampler.trilinear(x, grid, self.padding_mode, self.align_corners)

    def extra_repr(self) -> str:
        return (f"out_size={self.out_size}, backend={self.backend!r}, padding_mode={self.padding_mode!r}, "
                f"align_corners={self.align_corners}")


class ProjectionClassifier(nn.Module):
    """``classifier(project(transformer(x)))``: a volume (N, C, D, H, W) → logits (N, classes).

    With ``transformer=None`` the classifier reads the projection of the volume as it is (the
    baseline). The localisation net lives at ``transformer.localization``, so
    :func:`stn_course.training.fit`'s ``loc_lr_scale`` finds it by name.
    """

    def __init__(self, classifier: nn.Module, transformer: SpatialTransformer3D | None = None,
                 reduce: str = "sum"):
        super().__init__()
        self.transformer = transformer
        self.projection = Projection(reduce)
        self.classifier = classifier

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """What the classifier sees: (N, C, D, H, W) → (N, C, H_out, W_out)."""
        _volumes("x", x)
        return self.projection(x if self.transformer is None else self.transformer(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, D, H, W) → logits (N, classes)."""
        return self.classifier(self.project(x))
