"""The spatial transformer module: localisation net → grid generator → sampler (Fig. 2)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from . import sampler as _sampler
from ._checks import check_choice, check_tensor
from .transforms import BACKENDS, Transform, make_transform


class SpatialTransformer(nn.Module):
    """A spatial transformer: ``V = sample(U, T_θ(G))`` with ``θ = f_loc(U)``.

    Args:
        localization: module mapping (N, C, H, W) to parameters (N, transform.num_params).
        transform: a :class:`~stn_course.transforms.Transform` or its name.
        out_size: (H_out, W_out) of the output; defaults to the input's size. A smaller
            size makes the transformer downsample (the paper does this for RTS and TC).
        sampler: "bilinear", "nearest" or "bicubic".
        backend: "torch" uses PyTorch's fast kernels (``affine_grid``/``grid_sample``);
            "scratch" uses this package's own grid generator and sampler. They agree.
        padding_mode: "zeros", "border" or "reflection".
        align_corners: see :mod:`stn_course.geometry`.
        autocast: let mixed precision (``torch.autocast``) run the transformer in its reduced
            type. By default the transformer runs in float32 under autocast (its input is cast
            up and its output stays float32): grid coordinates in bfloat16 would be off by up
            to a tenth of a pixel.

    After each forward pass, ``last_params`` (N, P) and ``last_grid`` (N, H_out, W_out, 2)
    hold detached copies of what it used, for plotting.
    """

    def __init__(self, localization: nn.Module, transform: Transform | str = "affine",
                 out_size: Sequence[int] | None = None, sampler: str = "bilinear", backend: str = "torch",
                 padding_mode: str = "zeros", align_corners: bool = False, autocast: bool = False):
        super().__init__()
        check_choice("sampler", sampler, _sampler.MODES)
        check_choice("backend", backend, BACKENDS)
        check_choice("padding_mode", padding_mode, _sampler.PADDING_MODES)
        if out_size is not None and (len(out_size) != 2 or not all(isinstance(s, int) and s > 0 for s in out_size)):
            raise ValueError(f"out_size must be (H_out, W_out) of positive ints or None, got {out_size!r}")
        self.localization = localization
        self.transform = make_transform(transform)
        self.out_size = None if out_size is None else tuple(out_size)
        self.sampler = sampler
        self.backend = backend
        self.padding_mode = padding_mode
        self.align_corners = align_corners
        self.autocast = autocast
        self.last_params: torch.Tensor | None = None
        self.last_grid: torch.Tensor | None = None

    def sample(self, x: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
        """Sample ``x`` (N, C, H, W) at ``grid`` (N, H_out, W_out, 2) with this module's settings."""
        if self.backend == "torch":
            return nn.functional.grid_sample(x, grid, mode=self.sampler, padding_mode=self.padding_mode,
                                             align_corners=self.align_corners)
        return _sampler.grid_sample(x, grid, self.sampler, self.padding_mode, self.align_corners)

    def forward(self, x: torch.Tensor, params: torch.Tensor | None = None) -> torch.Tensor:
        """Transform ``x`` (N, C, H, W) → (N, C, H_out, W_out).

        ``params`` (N, P) overrides the localisation net (to apply a known transform).
        """
        check_tensor("x", x, floating=True)
        if x.dim() != 4:
            raise ValueError(f"x must have shape (N, C, H, W), got {tuple(x.shape)}")
        if params is not None:
            check_tensor("params", params, floating=True)
        if not self.autocast and torch.is_autocast_enabled(x.device.type):
            with torch.autocast(x.device.type, enabled=False):  # the float32 policy
                return self._transform(x.float(), None if params is None else params.float())
        return self._transform(x, params)

    def _transform(self, x: torch.Tensor, params: torch.Tensor | None) -> torch.Tensor:
        """The three steps of Fig. 2: localisation net, grid generator, sampler."""
        if params is None:
            params = self.localization(x)
        if params.device != x.device:
            raise TypeError(f"params must be on x's device {x.device}, got {params.device}")
        n, c, h, w = x.shape
        size = (n, c, *(self.out_size or (h, w)))
        grid = self.transform(params, size, align_corners=self.align_corners, backend=self.backend)
        self.last_params, self.last_grid = params.detach(), grid.detach()
        return self.sample(x, grid)

    def extra_repr(self) -> str:
        """The settings, so that ``repr(model)`` (and a training run's fingerprint) shows them."""
        return (f"out_size={self.out_size}, sampler={self.sampler!r}, backend={self.backend!r}, "
                f"padding_mode={self.padding_mode!r}, align_corners={self.align_corners}, autocast={self.autocast}")
