"""Differentiable image samplers, written from scratch (the paper's section 3.3).

Each output pixel i reads the input U at its source point (x_i^s, y_i^s) through a sampling
kernel k (eq. 3): ``V_i = Σ_n Σ_m U_nm k(x_i^s − m) k(y_i^s − n)``. The nearest kernel
(eq. 4) picks one pixel; the bilinear kernel ``max(0, 1 − |d|)`` (eq. 5) blends four.
:func:`bilinear` carries a hand-written backward pass, the paper's eqs. (6)–(7).

All functions take the same arguments as ``torch.nn.functional.grid_sample`` and return
the same values: ``input`` (N, C, H, W) or (N, C, D, H, W), ``grid`` (N, H_out, W_out, 2)
or (N, D_out, H_out, W_out, 3) in normalised coordinates, ``padding_mode`` "zeros" or
"border".
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from ._checks import check_choice, check_tensor

PADDING_MODES = ("zeros", "border")
MODES = ("bilinear", "nearest")


def unnormalize(coord: torch.Tensor, size: int, align_corners: bool) -> torch.Tensor:
    """Normalised coordinate → pixel coordinate (centres at integers)."""
    if align_corners:
        return (coord + 1) * ((size - 1) / 2)
    return ((coord + 1) * size - 1) / 2


def _unnormalize_scale(size: int, align_corners: bool) -> float:
    """d(pixel)/d(normalised coordinate) for :func:`unnormalize`."""
    return (size - 1) / 2 if align_corners else size / 2


def _source_coords(grid: torch.Tensor, sizes: tuple[int, ...], padding_mode: str,
                   align_corners: bool) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Pixel coordinates of each grid point per axis (x, y[, z]), and d(pixel)/d(grid) per axis."""
    coords, slopes = [], []
    for axis, size in enumerate(reversed(sizes)):  # grid holds x (W), y (H), z (D)
        c = unnormalize(grid[..., axis], size, align_corners)
        slope = torch.full_like(c, _unnormalize_scale(size, align_corners))
        if padding_mode == "border":
            # like PyTorch, the clip's gradient is zero where it clips *and on the borders*
            inside = (c > 0) & (c < size - 1)
            c = torch.where(inside, c, c.detach().clamp(0, size - 1))
            slope = slope * inside
        coords.append(c)
        slopes.append(slope)
    return coords, slopes


def _check_inputs(input: torch.Tensor, grid: torch.Tensor, padding_mode: str, dims: int) -> None:
    check_tensor("input", input, floating=True)
    check_tensor("grid", grid, floating=True)
    check_choice("padding_mode", padding_mode, PADDING_MODES)
    axes = "(N, C, H, W)" if dims == 2 else "(N, C, D, H, W)"
    gaxes = "(N, H_out, W_out, 2)" if dims == 2 else "(N, D_out, H_out, W_out, 3)"
    if input.dim() != dims + 2:
        raise ValueError(f"input must have shape {axes}, got {tuple(input.shape)}")
    if grid.dim() != dims + 2 or grid.shape[-1] != dims:
        raise ValueError(f"grid must have shape {gaxes}, got {tuple(grid.shape)}")
    if grid.shape[0] != input.shape[0]:
        raise ValueError(f"grid's batch size {grid.shape[0]} must equal input's {input.shape[0]}")
    if grid.dtype != input.dtype or grid.device != input.device:
        raise TypeError(f"grid ({grid.dtype}, {grid.device}) must match input ({input.dtype}, {input.device})")


def _corner_table(coords: list[torch.Tensor], sizes: tuple[int, ...]):
    """Flat indices, in-bounds masks and bilinear weights of the 2^d neighbours of each point.

    Returns ``idx`` (N, 2^d, L) long, ``mask`` (N, 2^d, L) bool, ``w`` (N, 2^d, L) and the
    fractional parts per axis. Corner j uses the upper neighbour on axis a when bit a of j is set.
    """
    n = coords[0].shape[0]
    lows = [c.floor() for c in coords]
    fracs = [c - lo for c, lo in zip(coords, lows)]
    dims = len(coords)
    strides = [1]
    for size in reversed(sizes[1:]):  # x stride 1, y stride W, z stride H*W
        strides.append(strides[-1] * size)
    idx, mask, w = [], [], []
    for corner in range(2 ** dims):
        flat, ok, weight = 0, True, 1
        for a in range(dims):
            up = (corner >> a) & 1
            pos = lows[a].long() + up
            size = sizes[dims - 1 - a]
            ok = ok & (pos >= 0) & (pos < size)
            flat = flat + pos.clamp(0, size - 1) * strides[a]
            weight = weight * (fracs[a] if up else 1 - fracs[a])
        idx.append(flat.reshape(n, -1))
        mask.append(ok.reshape(n, -1))
        w.append(weight.reshape(n, -1))
    return torch.stack(idx, 1), torch.stack(mask, 1), torch.stack(w, 1), fracs


def _gather_corners(input: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Values of the corners: input (N, C, *S), idx (N, K, L) → (N, C, K, L)."""
    n, c = input.shape[:2]
    k, l = idx.shape[1:]
    flat = input.reshape(n, c, -1)
    return flat.gather(2, idx.reshape(n, 1, k * l).expand(n, c, k * l)).view(n, c, k, l)


class _Bilinear(torch.autograd.Function):
    """Bilinear sampling with the paper's gradients (eqs. 6–7) written out by hand.

    Zero padding is made explicit: the input gets a frame of zeros (one pixel before, two
    after each axis) and source coordinates are clamped into that frame, so every one of
    the four neighbours is a valid index and no per-corner bounds masks are needed. A point
    whose coordinate had to be clamped lies wholly outside the image: its value is zero
    there, and its gradient to the grid is zeroed through ``slope``.

    Speed on a CPU is bounded by passes over memory, so the code keeps them few: one flat
    index per point (the top-left neighbour); the other three neighbours are read through
    shifted views of the flat image instead of shifted index tensors, and arithmetic on
    tensors this function created happens in place.
    """

    @staticmethod
    def forward(ctx, input: torch.Tensor, grid: torch.Tensor, padding_mode: str, align_corners: bool):
        n, c, h, w = input.shape
        padded = torch.nn.functional.pad(input, (1, 2, 1, 2))
        wp = w + 3
        frac, slope, low = [], [], []
        for size, g in ((w, grid[..., 0]), (h, grid[..., 1])):
            p = unnormalize(g.reshape(n, -1), size, align_corners)
            lo, hi = (0, size - 1) if padding_mode == "border" else (-1, size)
            # border: PyTorch counts the borders themselves as clipped (zero gradient)
            inside = (p > lo) & (p < hi) if padding_mode == "border" else (p >= lo) & (p <= hi)
            slope.append(inside.to(p.dtype).mul_(_unnormalize_scale(size, align_corners)))
            p = p.clamp_(lo, hi)
            low.append(p.floor())
            frac.append(p.sub_(low[-1]))  # fractional part, in [0, 1)
        fx, fy = frac
        # flat index of the top-left neighbour in the padded image; float arithmetic is exact
        # below 2**24, past that it runs in float64
        exact = low[0].dtype if padded[0, 0].numel() < 2 ** 24 else torch.float64
        idx = low[1].to(exact).add_(1).mul_(wp).add_(low[0]).add_(1).long().unsqueeze(1)  # (N, 1, L)
        flat = padded.reshape(n, c, -1)
        index = idx.expand(n, c, -1)
        v00, v10, v01, v11 = (flat[:, :, k:].gather(2, index) for k in (0, 1, wp, wp + 1))
        fx_, fy_ = fx.unsqueeze(1), fy.unsqueeze(1)
        dx_top = v10.sub_(v00)
        top = v00.addcmul_(fx_, dx_top)
        dx_bottom = v11.sub_(v01)
        dy = v01.addcmul_(fx_, dx_bottom).sub_(top)  # bottom row minus top row
        out = torch.addcmul(top, fy_, dy)
        ctx.save_for_backward(idx, fx, fy, slope[0], slope[1], dx_top, dx_bottom, dy)
        ctx.shapes = (input.shape, padded.shape)
        return out.view(n, c, *grid.shape[1:3])

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: torch.Tensor):
        idx, fx, fy, sx, sy, dx_top, dx_bottom, dy = ctx.saved_tensors
        (n, c, h, w), padded_shape = ctx.shapes
        wp = w + 3
        g = grad_out.reshape(n, c, -1)
        fx_, fy_ = fx.unsqueeze(1), fy.unsqueeze(1)
        grad_input = grad_grid = None
        if ctx.needs_input_grad[0]:
            # eq. (6): ∂V/∂U_nm = max(0, 1-|x-m|) max(0, 1-|y-n|), non-zero at the 4 corners only
            g_bottom = g * fy_
            g_top = g - g_bottom
            g11 = g_bottom * fx_
            g10 = g_top * fx_
            grad = grad_out.new_zeros(n, c, padded_shape[2] * padded_shape[3])
            index = idx.expand(n, c, -1)
            for k, contrib in ((0, g_top.sub_(g10)), (1, g10), (wp, g_bottom.sub_(g11)), (wp + 1, g11)):
                grad[:, :, k:].scatter_add_(2, index, contrib)
            grad_input = grad.view(padded_shape)[:, :, 1:h + 1, 1:w + 1]
        if ctx.needs_input_grad[1]:
            # eq. (7): ∂V/∂x = Σ_nm U_nm max(0, 1-|y-n|) · (+1 if m ≥ x else −1); likewise for y
            out = grad_out.new_empty(n, 2, fx.shape[1])
            dvdx = torch.lerp(dx_top, dx_bottom, fy_.expand_as(dx_top))
            torch.mul(torch.linalg.vecdot(g, dvdx, dim=1), sx, out=out[:, 0])
            torch.mul(torch.linalg.vecdot(g, dy, dim=1), sy, out=out[:, 1])
            grad_grid = out.view(n, 2, *grad_out.shape[2:]).permute(0, 2, 3, 1)
        return grad_input, grad_grid, None, None


def bilinear(input: torch.Tensor, grid: torch.Tensor, padding_mode: str = "zeros",
             align_corners: bool = False) -> torch.Tensor:
    """Bilinear sampling (eq. 5) with a hand-written backward (eqs. 6–7).

    Args:
        input: (N, C, H, W) floating point.
        grid: (N, H_out, W_out, 2) source coordinates (x, y), normalised.
    Returns:
        (N, C, H_out, W_out).
    """
    _check_inputs(input, grid, padding_mode, 2)
    return _Bilinear.apply(input, grid, padding_mode, align_corners)


def nearest(input: torch.Tensor, grid: torch.Tensor, padding_mode: str = "zeros",
            align_corners: bool = False) -> torch.Tensor:
    """Nearest-neighbour sampling (eq. 4): (N, C, H, W) → (N, C, H_out, W_out).

    Rounds half to even, like PyTorch. The gradient to the grid is zero almost everywhere,
    so a network cannot learn θ through this kernel; the input still gets its gradient.
    """
    _check_inputs(input, grid, padding_mode, 2)
    n, c, h, w = input.shape
    (ix, iy), _ = _source_coords(grid.detach(), (h, w), padding_mode, align_corners)
    xr, yr = torch.round(ix).long(), torch.round(iy).long()
    ok = ((xr >= 0) & (xr < w) & (yr >= 0) & (yr < h)).reshape(n, 1, -1)
    idx = (yr.clamp(0, h - 1) * w + xr.clamp(0, w - 1)).reshape(n, 1, -1)
    out = _gather_corners(input, idx)[:, :, 0] * ok
    return out.view(n, c, *grid.shape[1:3])


def trilinear(input: torch.Tensor, grid: torch.Tensor, padding_mode: str = "zeros",
              align_corners: bool = False) -> torch.Tensor:
    """Trilinear sampling of volumes: (N, C, D, H, W) with grid (N, D_o, H_o, W_o, 3) → (N, C, D_o, H_o, W_o).

    The same kernel as :func:`bilinear` along three axes; its gradients come from autograd.
    """
    _check_inputs(input, grid, padding_mode, 3)
    n, c, d, h, w = input.shape
    coords, _ = _source_coords(grid, (d, h, w), padding_mode, align_corners)
    idx, mask, weight, _ = _corner_table(coords, (d, h, w))
    values = _gather_corners(input, idx) * mask.unsqueeze(1)
    out = (values * weight.unsqueeze(1)).sum(2)
    return out.view(n, c, *grid.shape[1:4])


def grid_sample(input: torch.Tensor, grid: torch.Tensor, mode: str = "bilinear",
                padding_mode: str = "zeros", align_corners: bool = False) -> torch.Tensor:
    """Drop-in for ``torch.nn.functional.grid_sample`` built on this module's kernels.

    ``mode="bilinear"`` on a 5-D input is trilinear, as in PyTorch.
    """
    check_choice("mode", mode, MODES)
    check_tensor("input", input, floating=True)
    if input.dim() == 5:
        if mode != "bilinear":
            raise ValueError(f"mode must be 'bilinear' for 5-D input, got {mode!r}")
        return trilinear(input, grid, padding_mode, align_corners)
    kernel = bilinear if mode == "bilinear" else nearest
    return kernel(input, grid, padding_mode, align_corners)
