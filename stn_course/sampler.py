"""Differentiable image samplers, written from scratch (the paper's section 3.3).

Each output pixel i reads the input U at its source point (x_i^s, y_i^s) through a sampling
kernel k (eq. 3): ``V_i = Σ_n Σ_m U_nm k(x_i^s − m) k(y_i^s − n)``. The nearest kernel
(eq. 4) picks one pixel; the bilinear kernel ``max(0, 1 − |d|)`` (eq. 5) blends four; the
bicubic kernel (Keys' cubic convolution with a = −0.75, as PyTorch) blends sixteen.
:func:`bilinear` carries a hand-written backward pass, the paper's eqs. (6)–(7); the other
kernels are differentiated by autograd through the same sum.

:func:`grid_sample` is a drop-in for ``torch.nn.functional.grid_sample``: ``input`` (N, C, H, W)
or (N, C, D, H, W), ``grid`` (N, H_out, W_out, 2) or (N, D_out, H_out, W_out, 3) in normalised
coordinates, ``mode`` "bilinear", "nearest" or "bicubic" (2-D only), ``padding_mode`` "zeros",
"border" or "reflection", ``align_corners``; same values and gradients, double backward
(``create_graph=True``) included, for every size, N = 0 and C = 0, any memory layout. Where
we differ, on purpose:

* float16 and bfloat16 are computed in float32 and rounded once at the end (PyTorch's CUDA
  kernels do the same; its CPU kernels compute in the reduced type itself and are off by up
  to 0.15 in bfloat16 on a 28 × 28 warp);
* a grid point whose coordinate is undefined after padding (NaN anywhere; ±inf unless border
  padding clamps it, as PyTorch does for bilinear and nearest) gives NaN at its output pixel,
  in every mode, and no gradient. PyTorch agrees for bilinear and bicubic with zero padding;
  with nearest it returns 0 or an arbitrary pixel, and bilinear with border or reflection
  padding crashes on NaN.
"""

from __future__ import annotations

import itertools
import math

import torch

from ._checks import check_choice, check_tensor

PADDING_MODES = ("zeros", "border", "reflection")
MODES = ("bilinear", "nearest", "bicubic")
CUBIC_A = -0.75  # PyTorch's (and OpenCV's) bicubic convolution constant
_REDUCED = (torch.float16, torch.bfloat16)


# ----------------------------------------------------------------------------- coordinates

def unnormalize(coord: torch.Tensor, size: int, align_corners: bool) -> torch.Tensor:
    """Normalised coordinate → pixel coordinate (centres at integers)."""
    if align_corners:
        return (coord + 1) * ((size - 1) / 2)
    return ((coord + 1) * size - 1) / 2


def _unnormalize_scale(size: int, align_corners: bool) -> float:
    """d(pixel)/d(normalised coordinate) for :func:`unnormalize`."""
    return (size - 1) / 2 if align_corners else size / 2


def _clip(p: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Border padding: p clipped to [0, size − 1], and its slope (PyTorch counts the borders
    themselves as clipped: slope 1 strictly inside, 0 elsewhere)."""
    inside = (p > 0) & (p < size - 1)
    return p.clamp(0, size - 1), inside.to(p.dtype)


def _reflect(p: torch.Tensor, size: int, align_corners: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Reflection padding: p mirrored at the image's edges (the outer pixel edges, or the corner
    pixels' centres with ``align_corners``) until it lies inside, and its slope (±1)."""
    low, span = (0.0, size - 1.0) if align_corners else (-0.5, float(size))
    if span == 0:
        return torch.zeros_like(p), torch.zeros_like(p)
    d = p - low
    sign = torch.where(d < 0, -1.0, 1.0).to(p.dtype)
    d = d.abs()
    extra = torch.fmod(d, span)
    odd = torch.floor(d / span).remainder(2) == 1  # reflected an odd number of times
    return torch.where(odd, span - extra, extra) + low, torch.where(odd, -sign, sign)


def _pad(p: torch.Tensor, size: int, padding_mode: str, align_corners: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel coordinates p after ``padding_mode`` ("border" or "reflection"), and d(result)/dp."""
    slope = torch.ones_like(p)
    if padding_mode == "reflection":
        p, slope = _reflect(p, size, align_corners)
    p, inside = _clip(p, size)
    return p, slope * inside


def _padded(g: torch.Tensor, size: int, padding_mode: str, align_corners: bool) -> torch.Tensor:
    """Differentiable pixel coordinates of normalised coordinates g along one axis, after padding."""
    p = unnormalize(g, size, align_corners)
    if padding_mode == "zeros":
        return p
    value, slope = _pad(p.detach(), size, padding_mode, align_corners)
    # the value of the padding, with its derivative (where-ing out the clipped points, which may be ±inf)
    return value + torch.where(slope != 0, slope * (p - p.detach()), 0.0)


def _undefined_points(grid: torch.Tensor, mode: str, padding_mode: str) -> torch.Tensor | None:
    """(N, *out) bool: grid points whose coordinate is undefined after padding, or None if none are."""
    if bool(torch.isfinite(grid.detach().sum())):  # one cheap pass for the usual case
        return None
    keeps_inf = padding_mode == "border" and mode != "bicubic"  # border padding clamps ±inf
    bad = grid.isnan().any(-1) if keeps_inf else ~torch.isfinite(grid).all(-1)
    return bad if bool(bad.any()) else None


# ----------------------------------------------------------------------------- any kernel, any dims

def _cubic_weights(t: torch.Tensor) -> list[torch.Tensor]:
    """Keys' cubic convolution weights of the taps at −1, 0, 1, 2 for a fractional position t."""
    a = CUBIC_A

    def near(d):  # |d| <= 1
        return ((a + 2) * d - (a + 3)) * d * d + 1

    def far(d):  # 1 < |d| < 2
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a

    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def _axis_taps(p: torch.Tensor, size: int, mode: str, padding_mode: str,
               align_corners: bool) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The 1-D kernel's taps at pixel coordinates p (N, L): a list of (index long, weight), the
    weight zero where the tap falls outside the image."""
    if mode == "nearest":  # rounds half to even, like PyTorch; the weight has zero gradient
        positions, weights = [torch.round(p.detach())], [(p - p.detach()) * 0 + 1]
    else:
        low = p.detach().floor()
        t = p - low
        offsets, weights = ((0, 1), [1 - t, t]) if mode == "bilinear" else ((-1, 0, 1, 2), _cubic_weights(t))
        positions = [low + k for k in offsets]
        if mode == "bicubic" and padding_mode != "zeros":  # bicubic pads each tap, not the point
            positions = [_pad(q, size, padding_mode, align_corners)[0] for q in positions]
    taps = []
    for q, w in zip(positions, weights):
        inside = (q >= 0) & (q <= size - 1)
        taps.append((q.clamp(0, size - 1).long(), w * inside))
    return taps


def _separable(input: torch.Tensor, grid: torch.Tensor, mode: str, padding_mode: str,
               align_corners: bool) -> torch.Tensor:
    """Eq. (3) for a separable kernel, differentiable by autograd (also twice), 2-D or 3-D.

    input (N, C, *S), grid (N, *S_out, d) → (N, C, *S_out). Sums, over every combination of
    one tap per axis, the tap's pixel times the product of the taps' weights.
    """
    n, c, *sizes = input.shape
    flat = input.reshape(n, c, math.prod(sizes))  # explicit sizes: N or C may be 0
    points = math.prod(grid.shape[1:-1])
    per_axis, stride = [], 1
    for axis, size in enumerate(reversed(sizes)):  # the grid holds x (W), y (H), z (D)
        coord = unnormalize(grid[..., axis], size, align_corners) if mode == "bicubic" else \
            _padded(grid[..., axis], size, padding_mode, align_corners)
        taps = _axis_taps(coord.reshape(n, points), size, mode, padding_mode, align_corners)
        per_axis.append([(q * stride, w) for q, w in taps])
        stride *= size
    out = None
    for combo in itertools.product(*per_axis):
        idx = sum(q for q, _ in combo)  # (N, L)
        weight = math.prod(w for _, w in combo)
        term = flat.gather(2, idx.unsqueeze(1).expand(n, c, -1)) * weight.unsqueeze(1)
        out = term if out is None else out + term
    return out.reshape(n, c, *grid.shape[1:-1])


# ----------------------------------------------------------------------------- bilinear by hand

def _bilinear_axis(g: torch.Tensor, size: int, padding_mode: str, align_corners: bool):
    """Pixel coordinates of g (N, L) along one axis: (floor, fraction, d(pixel)/d(g)).

    Zero padding clamps into [−1, size] (the frame of zeros); a clamped point is wholly
    outside the image and gets zero slope.
    """
    p = g.add(1)  # :func:`unnormalize` in PyTorch's order of operations, in place after one copy
    p = p.mul_((size - 1) / 2) if align_corners else p.mul_(size).sub_(1).div_(2)
    scale = _unnormalize_scale(size, align_corners)
    if padding_mode == "zeros":
        inside = p >= -1
        slope = inside.logical_and_(p <= size).to(p.dtype).mul_(scale)
        p = p.clamp_(-1, size)
    else:
        p, slope = _pad(p, size, padding_mode, align_corners)
        slope = slope.mul_(scale)
    low = p.floor()
    return low, p.sub_(low), slope  # fraction in [0, 1)


class _Bilinear(torch.autograd.Function):
    """Bilinear sampling with the paper's gradients (eqs. 6–7) written out by hand.

    Zero padding is made explicit: the input gets a frame of zeros (one pixel before, two
    after each axis) and source coordinates are clamped into that frame, so every one of
    the four neighbours is a valid index and no per-corner bounds masks are needed. A point
    whose coordinate had to be clamped lies wholly outside the image: its value is zero
    there, and its gradient to the grid is zeroed through ``slope``. Border and reflection
    padding move the coordinates inside the image first (:func:`_pad`), with their slopes.

    With ``create_graph=True`` the backward pass differentiates the same sum with autograd
    instead (:func:`_differentiable_backward`), so that second derivatives exist.

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
        (lx, fx, sx), (ly, fy, sy) = (_bilinear_axis(grid[..., a].reshape(n, -1), size, padding_mode, align_corners)
                                      for a, size in ((0, w), (1, h)))
        # flat index of the top-left neighbour in the padded image; float arithmetic is exact
        # below 2**24, past that it runs in float64
        exact = lx.dtype if padded.shape[2] * wp < 2 ** 24 else torch.float64
        idx = ly.to(exact).add_(1).mul_(wp).add_(lx).add_(1).long().unsqueeze(1)  # (N, 1, L)
        flat = padded.reshape(n, c, -1)
        index = idx.expand(n, c, -1)
        v00, v10, v01, v11 = (flat[:, :, k:].gather(2, index) for k in (0, 1, wp, wp + 1))
        fx_, fy_ = fx.unsqueeze(1), fy.unsqueeze(1)
        dx_top = v10.sub_(v00)
        top = v00.addcmul_(fx_, dx_top)
        dx_bottom = v11.sub_(v01)
        dy = v01.addcmul_(fx_, dx_bottom).sub_(top)  # bottom row minus top row
        out = torch.addcmul(top, fy_, dy)
        ctx.save_for_backward(idx, fx, fy, sx, sy, dx_top, dx_bottom, dy, input, grid)
        ctx.settings = (padding_mode, align_corners, padded.shape)
        return out.view(n, c, *grid.shape[1:3])

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        idx, fx, fy, sx, sy, dx_top, dx_bottom, dy, input, grid = ctx.saved_tensors
        padding_mode, align_corners, padded_shape = ctx.settings
        if torch.is_grad_enabled():  # create_graph=True: differentiate the same sum by autograd
            return _differentiable_backward(input, grid, grad_out, padding_mode, align_corners,
                                            ctx.needs_input_grad[:2])
        n, c, h, w = input.shape
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


def _differentiable_backward(input, grid, grad_out, padding_mode, align_corners, needs):
    """Gradients of the bilinear sum that autograd can differentiate again (double backward)."""
    wanted = [t for t, need in zip((input, grid), needs) if need]
    with torch.enable_grad():
        out = _separable(input, grid, "bilinear", padding_mode, align_corners)
        grads = iter(torch.autograd.grad(out, wanted, grad_out, create_graph=True, allow_unused=True))
    return (*(next(grads) if need else None for need in needs), None, None)


# ----------------------------------------------------------------------------- public functions

def _check_inputs(input: torch.Tensor, grid: torch.Tensor, mode: str, padding_mode: str) -> int:
    """Check the arguments of :func:`grid_sample`; return the number of spatial dimensions."""
    check_tensor("input", input, floating=True)
    check_tensor("grid", grid, floating=True)
    check_choice("mode", mode, MODES)
    check_choice("padding_mode", padding_mode, PADDING_MODES)
    if input.dim() not in (4, 5):
        raise ValueError(f"input must have shape (N, C, H, W) or (N, C, D, H, W), got {tuple(input.shape)}")
    dims = input.dim() - 2
    if mode == "bicubic" and dims == 3:
        raise ValueError("mode 'bicubic' needs a 4-D input (N, C, H, W), got a 5-D one")
    if 0 in input.shape[2:]:
        raise ValueError(f"input must have non-empty spatial dimensions, got {tuple(input.shape)}")
    gaxes = "(N, H_out, W_out, 2)" if dims == 2 else "(N, D_out, H_out, W_out, 3)"
    if grid.dim() != dims + 2 or grid.shape[-1] != dims:
        raise ValueError(f"grid must have shape {gaxes} for this input, got {tuple(grid.shape)}")
    if grid.shape[0] != input.shape[0]:
        raise ValueError(f"grid's batch size {grid.shape[0]} must equal input's {input.shape[0]}")
    if grid.dtype != input.dtype or grid.device != input.device:
        raise TypeError(f"grid ({grid.dtype}, {grid.device}) must match input ({input.dtype}, {input.device})")
    return dims


def _sample(input: torch.Tensor, grid: torch.Tensor, mode: str, padding_mode: str,
            align_corners: bool) -> torch.Tensor:
    """The checked arguments' sample: float32 for float16/bfloat16, NaN at undefined points."""
    dtype = input.dtype
    if dtype in _REDUCED:
        input, grid = input.float(), grid.float()
    bad = _undefined_points(grid, mode, padding_mode)
    if bad is not None:
        grid = grid.masked_fill(bad.unsqueeze(-1), 0.0)
    fast = mode == "bilinear" and input.dim() == 4 and input.shape[0] * input.shape[1] * grid[..., 0].numel() > 0
    if fast:
        out = _Bilinear.apply(input, grid, padding_mode, align_corners)
    else:
        out = _separable(input, grid, mode, padding_mode, align_corners)
    if bad is not None:
        out = out.masked_fill(bad.unsqueeze(1), math.nan)
    return out.to(dtype)


def _images(input: torch.Tensor, volumes: bool = False) -> torch.Tensor:
    """``input``, checked to be a batch of images (N, C, H, W), or of volumes (N, C, D, H, W)."""
    if check_tensor("input", input).dim() != (5 if volumes else 4):
        axes = "(N, C, D, H, W)" if volumes else "(N, C, H, W)"
        raise ValueError(f"input must have shape {axes}, got {tuple(input.shape)}")
    return input


def bilinear(input: torch.Tensor, grid: torch.Tensor, padding_mode: str = "zeros",
             align_corners: bool = False) -> torch.Tensor:
    """Bilinear sampling (eq. 5) with a hand-written backward (eqs. 6–7).

    Args:
        input: (N, C, H, W) floating point.
        grid: (N, H_out, W_out, 2) source coordinates (x, y), normalised.
    Returns:
        (N, C, H_out, W_out).
    """
    return grid_sample(_images(input), grid, "bilinear", padding_mode, align_corners)


def nearest(input: torch.Tensor, grid: torch.Tensor, padding_mode: str = "zeros",
            align_corners: bool = False) -> torch.Tensor:
    """Nearest-neighbour sampling (eq. 4): (N, C, H, W) → (N, C, H_out, W_out).

    Rounds half to even, like PyTorch. The gradient to the grid is zero almost everywhere,
    so a network cannot learn θ through this kernel; the input still gets its gradient.
    """
    return grid_sample(_images(input), grid, "nearest", padding_mode, align_corners)


def bicubic(input: torch.Tensor, grid: torch.Tensor, padding_mode: str = "zeros",
            align_corners: bool = False) -> torch.Tensor:
    """Bicubic sampling: (N, C, H, W) → (N, C, H_out, W_out), 4 × 4 pixels per output point.

    The kernel is Keys' cubic convolution with a = −0.75, ``k(d) = (a+2)|d|³ − (a+3)|d|² + 1``
    for |d| ≤ 1 and ``a|d|³ − 5a|d|² + 8a|d| − 4a`` for 1 < |d| < 2. As in PyTorch, the padding
    applies to each of the 16 pixels read rather than to the point, and the result may
    overshoot the input's range.
    """
    return grid_sample(_images(input), grid, "bicubic", padding_mode, align_corners)


def trilinear(input: torch.Tensor, grid: torch.Tensor, padding_mode: str = "zeros",
              align_corners: bool = False) -> torch.Tensor:
    """Trilinear sampling of volumes: (N, C, D, H, W) with grid (N, D_o, H_o, W_o, 3) → (N, C, D_o, H_o, W_o).

    The same kernel as :func:`bilinear` along three axes; its gradients come from autograd.
    """
    return grid_sample(_images(input, volumes=True), grid, "bilinear", padding_mode, align_corners)


def grid_sample(input: torch.Tensor, grid: torch.Tensor, mode: str = "bilinear",
                padding_mode: str = "zeros", align_corners: bool = False) -> torch.Tensor:
    """Drop-in for ``torch.nn.functional.grid_sample`` built on this module's kernels.

    ``mode="bilinear"`` on a 5-D input is trilinear, as in PyTorch; "bicubic" is 2-D only.
    See the module's docstring for float16/bfloat16 and non-finite grids.
    """
    _check_inputs(input, grid, mode, padding_mode)
    return _sample(input, grid, mode, padding_mode, align_corners)
