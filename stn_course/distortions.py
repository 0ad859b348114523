"""The distorted-MNIST recipes of the paper (Jaderberg et al. 2015, Appendix A), as batched tensor ops.

Every recipe takes a batch of digits ``images`` (N, C, 28, 28) float in [0, 1] and a
``torch.Generator``, and returns ``(distorted, params)``: the distorted batch and a dict of
the parameters it drew (so that a test, or a figure, can check what was done). The random
numbers are drawn on the generator's device and then moved to the images' device, so a CPU
generator gives the same distortions whether the images live on the CPU or on a GPU. The
warps use the package's own grid generators (:mod:`stn_course.grid`) and PyTorch's fast
``grid_sample`` (or, with ``backend="scratch"``, the package's own sampler,
:mod:`stn_course.sampler`).

======  ==============================================================  ==========
recipe  what it does                                                    output
======  ==============================================================  ==========
R       rotation, angle uniform in [−90°, 90°]                          28 × 28
RTS     rotation in [−45°, 45°], scale in [0.7, 1.2], placed uniformly  42 × 42
        at random in a 42 × 42 canvas
P       scale in [0.75, 1.0], then each of the four corners moved by    28 × 28
        a zero-mean normal with a 5-pixel standard deviation
E       scale in [0.75, 1.0], then a thin-plate spline whose 16         28 × 28
        control points (4 × 4 grid) move by a zero-mean normal
TC      the digit at a random place in a 60 × 60 canvas, plus six       60 × 60
        random 6 × 6 crops of other digits at random places
======  ==============================================================  ==========

MNIST addition (:func:`addition`) puts two independently RTS-distorted digits in the two
channels of a 42 × 42 image; the label is their sum. Co-localisation (:func:`colocalisation`,
appendix A.2) puts one digit at a random place in an 84 × 84 image, alone or with 16 crops
of other digits as clutter, and reports the box it went into.

Conventions (all parameters are reported in **pixels**, the paper's unit):

* ``angle`` is in radians; a positive angle turns the digit counter-clockwise on screen
  (as :func:`stn_course.geometry.theta_from`).
* ``scale`` is the size of the digit in the output relative to its size in the input
  (``scale=1.2`` makes it 20 % bigger).
* positions (``shift``, ``corner_shift``, ``offsets``) are pixel offsets from the image
  centre, x to the right and y down.

Every warping recipe (R, RTS, P, E) also takes ``mode`` ("bilinear" or "nearest"),
``padding_mode`` ("zeros" or "border") and ``backend`` ("torch": ``F.grid_sample``;
"scratch": :func:`stn_course.sampler.grid_sample`), and ``params=`` to render given
parameters instead of drawing them; ``sample_<recipe>(n, generator, ...)`` draws parameters
without rendering.

Choices we made where the paper is silent (each one is a keyword argument):

* sampling is bilinear with zero padding (MNIST's background is 0), ``align_corners=False``;
* RTS places the digit so that its 20 × 20 MNIST content box, rotated and scaled, stays
  inside the canvas (``content=20``), uniformly among such places;
* P redraws a corner set until the moved corners form a convex quadrilateral with the
  original orientation (``require_convex=True``): any other set is not the projective view
  of a square and folds the digit;
* E uses ``sigma=1.5`` pixels for the control points (a parameter; the paper's value could
  not be confirmed from the text we had), with the control points on a regular 4 × 4 grid
  spanning the image;
* TC pastes the digit at an integer position (no resampling), takes the clutter crops from
  the central 20 × 20 box of other digits (``crop_box``), and combines by pixel-wise
  maximum, so clutter never darkens the digit.

Use :func:`apply` inside a training loop to distort a batch on its device::

    g = torch.Generator().manual_seed(0)          # a CPU generator works for any device
    x, params = distortions.apply("RTS", x, g)    # x: (N, 1, 28, 28) → (N, 1, 42, 42)
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from . import grid as _grid
from . import sampler as _sampler
from ._checks import check_choice, check_int, check_interval, check_real, check_tensor
from .geometry import theta_from

NAMES = ("R", "RTS", "P", "E", "TC")
BACKENDS = ("torch", "scratch")

#: The recipes' defaults, as in the paper's appendix (plus our documented choices).
RECIPES: dict[str, dict] = {
    "R": {"out_size": 28, "max_degrees": 90.0},
    "RTS": {"out_size": 42, "max_degrees": 45.0, "scale_range": (0.7, 1.2), "content": 20.0},
    "P": {"out_size": 28, "scale_range": (0.75, 1.0), "corner_std": 5.0, "require_convex": True},
    "E": {"out_size": 28, "scale_range": (0.75, 1.0), "sigma": 1.5, "num_control_points": 16},
    "TC": {"out_size": 60, "num_clutter": 6, "clutter_size": 6, "crop_box": (4, 24)},
    "addition": {"out_size": 42, "max_degrees": 45.0, "scale_range": (0.7, 1.2), "content": 20.0},
}

#: The paper's wording of each recipe (Appendix A), for tables.
PAPER: dict[str, str] = {
    "R": "rotated by a random angle uniformly in [−90°, +90°]",
    "RTS": "rotated by ±45°, scaled by a factor in [0.7, 1.2], placed at a random location in a 42 × 42 image",
    "P": "scaled by a factor in [0.75, 1.0], the four corners moved by a normal with 5 px standard deviation",
    "E": "scaled by a factor in [0.75, 1.0], then elastically warped by a thin-plate spline with 16 "
         "control points moved by a zero-mean normal",
    "TC": "placed at a random location in a 60 × 60 image, with six random 6 × 6 crops of other "
          "digits placed at random locations",
    "addition": "two RTS digits (42 × 42) in two channels; the label is their sum",
}


# ----------------------------------------------------------------------------- randomness

def make_generator(seed: int, *keys: object, device: str | torch.device = "cpu") -> torch.Generator:
    """A generator seeded from ``seed`` and any ``keys`` (e.g. recipe, split, epoch).

    The seed is derived by hashing, so every (seed, keys) combination gets its own stream,
    identical on every machine and Python run.
    """
    text = "/".join(str(k) for k in (seed, *keys)).encode()
    derived = int.from_bytes(hashlib.sha256(text).digest()[:8], "little") & ((1 << 63) - 1)
    return torch.Generator(device=device).manual_seed(derived)


def _gen(generator: torch.Generator | None) -> torch.Generator:
    if generator is None:  # seeded from torch's global generator, so torch.manual_seed still governs it
        return torch.Generator().manual_seed(int(torch.randint(0, 2**62, (1,))))
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    return generator


def _uniform(shape: Sequence[int], low: float | torch.Tensor, high: float | torch.Tensor,
             g: torch.Generator) -> torch.Tensor:
    u = torch.rand(*shape, generator=g, device=g.device)
    return low + (high - low) * u


def _normal(shape: Sequence[int], std: float, g: torch.Generator) -> torch.Tensor:
    return std * torch.randn(*shape, generator=g, device=g.device)


def _randint(shape: Sequence[int], low: int, high: int | torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Integers uniform in [low, high] (inclusive); ``high`` may be a tensor broadcast to ``shape``."""
    u = torch.rand(*shape, generator=g, device=g.device)
    return (low + torch.floor(u * (torch.as_tensor(high, device=g.device) - low + 1))).long()


def _move(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``t`` on ``device``; from the CPU to a GPU through pinned memory, so the copy does not wait
    for the GPU to finish its queue (no host synchronisation per training batch)."""
    if device.type == "cuda" and t.device.type == "cpu":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


def _to(params: dict, device: torch.device) -> dict:
    return {k: _move(v, device) if isinstance(v, torch.Tensor) else v for k, v in params.items()}


# ----------------------------------------------------------------------------- geometry helpers

def _given(params: dict, n: int, keys: tuple[str, ...]) -> dict:
    """Check parameters passed in to render: a dict holding ``keys``, each with one row per image."""
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict of tensors or None, got {type(params).__name__}")
    for k in keys:
        if k not in params:
            raise ValueError(f"params must hold {list(keys)}, {k!r} is missing")
        if not isinstance(params[k], torch.Tensor) or params[k].dim() == 0 or params[k].shape[0] != n:
            shape = tuple(params[k].shape) if isinstance(params[k], torch.Tensor) else type(params[k]).__name__
            raise ValueError(f"params[{k!r}] must have one row per image ({n}), got {shape}")
    return params


def _check_images(images: torch.Tensor) -> None:
    check_tensor("images", images, floating=True)
    if images.dim() != 4:
        raise ValueError(f"images must have shape (N, C, H, W), got {tuple(images.shape)}")


def _sample(images: torch.Tensor, grid: torch.Tensor, mode: str, padding_mode: str, backend: str) -> torch.Tensor:
    check_choice("backend", backend, BACKENDS)
    grid = grid.to(images.dtype)
    if backend == "torch":
        out = F.grid_sample(images, grid, mode=mode, padding_mode=padding_mode, align_corners=False)
    else:
        out = _sampler.grid_sample(images, grid, mode=mode, padding_mode=padding_mode, align_corners=False)
    return out.clamp_(0.0, 1.0)


def placement_theta(angle: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor,
                    in_size: tuple[int, int], out_size: tuple[int, int]) -> torch.Tensor:
    """θ (N, 2, 3) that rotates, scales and places an (H_in, W_in) image in an (H_out, W_out) canvas.

    In pixels, the input point p (offset from the input's centre) lands at
    ``q = scale · Rot(angle) p + shift`` in the output (offset from the output's centre), with
    ``Rot`` turning content counter-clockwise on screen. θ is the inverse map in normalised
    coordinates. The rotation is built in pixel space (``theta_from(..., aspect=W/H)``), so a
    non-square image is rotated, not sheared; normalised units differ per axis by
    ``W/2`` and ``H/2`` pixels, which the diagonal factor ``diag(W_out/W_in, H_out/H_in)``
    accounts for.

    Args:
        angle, scale: (N,).
        shift: (N, 2) pixels (x, y).
        in_size, out_size: (H, W) of the input and of the output.
    """
    (h_in, w_in), (h_out, w_out) = in_size, out_size
    # target → source in pixels: p = Rot(angle)⁻¹ (q − shift) / scale; theta_from's A maps
    # target to source and turns content counter-clockwise for a positive angle.
    rot = theta_from(angle, 1.0, aspect=w_out / h_out)[:, :, :2]  # D⁻¹ R D on the output grid
    stretch = torch.tensor([w_out / w_in, h_out / h_in], dtype=rot.dtype, device=rot.device)
    a = stretch[None, :, None] * rot / scale[:, None, None]
    t_norm = torch.stack([shift[:, 0] * 2.0 / w_out, shift[:, 1] * 2.0 / h_out], dim=-1)
    t = -(a @ t_norm[:, :, None])
    return torch.cat([a, t], dim=2)


def _affine(images: torch.Tensor, theta: torch.Tensor, out_hw: tuple[int, int], mode: str,
            padding_mode: str, backend: str) -> torch.Tensor:
    # the package's grid generator for both backends: on a CPU it is faster than F.affine_grid
    size = (images.shape[0], images.shape[1], *out_hw)
    grid = _grid.affine_grid(theta.to(images.dtype), size, align_corners=False)
    return _sample(images, grid, mode, padding_mode, backend)


# ----------------------------------------------------------------------------- R

def sample_rotated(n: int, generator: torch.Generator | None = None, *, max_degrees: float = 90.0) -> dict:
    """R's parameters: ``angle`` (n,) uniform in [−max_degrees, max_degrees], in radians."""
    check_int("n", n, 0)
    m = math.radians(check_real("max_degrees", max_degrees, minimum=0))
    g = _gen(generator)
    return {"angle": _uniform((n,), -m, m, g)}


def rotated(images: torch.Tensor, generator: torch.Generator | None = None, *, max_degrees: float = 90.0,
            params: dict | None = None, mode: str = "bilinear", padding_mode: str = "zeros",
            backend: str = "torch") -> tuple[torch.Tensor, dict]:
    """R: rotate each digit about the image centre by a random angle. (N, C, H, W) → same shape.

    Pass ``params`` (from :func:`sample_rotated`) to render given parameters instead of drawing.
    """
    _check_images(images)
    n, _, h, w = images.shape
    p = _given(params, n, ("angle",)) if params is not None else sample_rotated(n, generator, max_degrees=max_degrees)
    p = _to(p, images.device)
    theta = placement_theta(p["angle"], torch.ones_like(p["angle"]), torch.zeros(n, 2, device=images.device),
                            (h, w), (h, w))
    return _affine(images, theta, (h, w), mode, padding_mode, backend), p


# ----------------------------------------------------------------------------- RTS

def sample_rts(n: int, generator: torch.Generator | None = None, *, in_size: int = 28, out_size: int = 42,
               max_degrees: float = 45.0, scale_range: tuple[float, float] = (0.7, 1.2),
               content: float = 20.0) -> dict:
    """RTS's parameters: ``angle`` (n,) radians, ``scale`` (n,), ``shift`` (n, 2) pixels.

    The shift is uniform, per axis, over the places where the digit's ``content`` × ``content``
    box (MNIST's 20 × 20 box, centred in the 28 × 28 input), rotated and scaled, lies inside
    the ``out_size`` canvas: ``|shift| ≤ (out_size − content·scale·(|cos a| + |sin a|)) / 2``.
    (``in_size`` is accepted for symmetry; the placement does not depend on it.)
    """
    check_int("n", n, 0)
    check_int("out_size", out_size, 1)
    m = math.radians(check_real("max_degrees", max_degrees, minimum=0))
    low, high = check_interval("scale_range", scale_range, above=0)
    check_real("content", content, above=0)
    g = _gen(generator)
    angle = _uniform((n,), -m, m, g)
    scale = _uniform((n,), low, high, g)
    half_extent = 0.5 * content * scale * (angle.cos().abs() + angle.sin().abs())
    room = (0.5 * out_size - half_extent).clamp_min(0.0)
    shift = _uniform((n, 2), -room[:, None], room[:, None], g)
    return {"angle": angle, "scale": scale, "shift": shift}


def rts(images: torch.Tensor, generator: torch.Generator | None = None, *, out_size: int = 42,
        max_degrees: float = 45.0, scale_range: tuple[float, float] = (0.7, 1.2), content: float = 20.0,
        params: dict | None = None, mode: str = "bilinear", padding_mode: str = "zeros",
        backend: str = "torch") -> tuple[torch.Tensor, dict]:
    """RTS: rotate, scale and place each digit in an ``out_size`` canvas. (N, C, H, W) → (N, C, out, out)."""
    _check_images(images)
    n, _, h, w = images.shape
    if params is None:
        params = sample_rts(n, generator, in_size=h, out_size=out_size, max_degrees=max_degrees,
                            scale_range=scale_range, content=content)
    p = _given(params, n, ("angle", "scale", "shift"))
    p = _to(p, images.device)
    theta = placement_theta(p["angle"], p["scale"], p["shift"], (h, w), (out_size, out_size))
    return _affine(images, theta, (out_size, out_size), mode, padding_mode, backend), p


# ----------------------------------------------------------------------------- P

#: The image corners in the order top-left, top-right, bottom-right, bottom-left, as unit offsets.
CORNERS = torch.tensor([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])


def _convex_same_orientation(corners: torch.Tensor) -> torch.Tensor:
    """(n, 4, 2) quadrilaterals → (n,) bool: convex, with the corners in the original (clockwise on screen) order."""
    nxt = corners.roll(-1, dims=1)
    after = corners.roll(-2, dims=1)
    e1, e2 = nxt - corners, after - nxt
    cross = e1[..., 0] * e2[..., 1] - e1[..., 1] * e2[..., 0]
    return (cross > 0).all(dim=1)


def homography_from_corners(src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """The homographies (n, 3, 3) mapping each set of 4 points ``src`` (n, 4, 2) to ``dst`` (n, 4, 2).

    Solves the 8 × 8 linear system of the direct linear transform with ``h₃₃ = 1`` (in float64).
    """
    s, d = src.double(), dst.double()
    x, y, u, v = s[..., 0], s[..., 1], d[..., 0], d[..., 1]
    one, zero = torch.ones_like(x), torch.zeros_like(x)
    rows_u = torch.stack([x, y, one, zero, zero, zero, -u * x, -u * y], dim=-1)
    rows_v = torch.stack([zero, zero, zero, x, y, one, -v * x, -v * y], dim=-1)
    a = torch.cat([rows_u, rows_v], dim=1)  # (n, 8, 8)
    b = torch.cat([u, v], dim=1)  # (n, 8)
    h = torch.linalg.solve(a, b)
    h = torch.cat([h, torch.ones_like(h[:, :1])], dim=1).reshape(-1, 3, 3)
    return h.to(src.dtype)


def sample_projective(n: int, generator: torch.Generator | None = None, *, size: int = 28,
                      scale_range: tuple[float, float] = (0.75, 1.0), corner_std: float = 5.0,
                      require_convex: bool = True, max_tries: int = 100) -> dict:
    """P's parameters: ``scale`` (n,), ``corner_shift`` (n, 4, 2) pixels, ``corners`` (n, 4, 2) pixels.

    ``corners`` are where the input's corners (top-left, top-right, bottom-right, bottom-left;
    the outer pixel edges, at ±size/2 from the centre) land: ``scale · corner + corner_shift``.
    With ``require_convex`` a draw whose corners do not form a convex quadrilateral of the
    original orientation is drawn again (rarely needed at 5 px).
    """
    check_int("n", n, 0)
    check_int("size", size, 1)
    low, high = check_interval("scale_range", scale_range, above=0)
    check_real("corner_std", corner_std, minimum=0)
    check_int("max_tries", max_tries, 1)
    g = _gen(generator)
    scale = _uniform((n,), low, high, g)
    shift = _normal((n, 4, 2), corner_std, g)
    base = CORNERS.to(g.device) * (size / 2.0)
    corners = scale[:, None, None] * base + shift
    if require_convex:
        for _ in range(max_tries):
            bad = ~_convex_same_orientation(corners)
            k = int(bad.sum())
            if k == 0:
                break
            shift[bad] = _normal((k, 4, 2), corner_std, g)
            corners = scale[:, None, None] * base + shift
        else:
            raise RuntimeError(f"could not draw convex corner sets in {max_tries} tries (corner_std={corner_std})")
    return {"scale": scale, "corner_shift": shift, "corners": corners}


def projective(images: torch.Tensor, generator: torch.Generator | None = None, *,
               scale_range: tuple[float, float] = (0.75, 1.0), corner_std: float = 5.0,
               require_convex: bool = True, params: dict | None = None, mode: str = "bilinear",
               padding_mode: str = "zeros", backend: str = "torch") -> tuple[torch.Tensor, dict]:
    """P: a random projective warp. (N, C, S, S) → same shape; adds ``homography`` (N, 3, 3) to the params.

    The homography maps output (target) normalised coordinates to input (source) ones: it
    sends the moved corners back to the input's corners (±1, ±1), and
    :func:`stn_course.grid.projective_grid` turns it into a sampling grid.
    """
    _check_images(images)
    n, _, h, w = images.shape
    if h != w:
        raise ValueError(f"images must be square for P, got {h}×{w}")
    if params is None:
        params = sample_projective(n, generator, size=h, scale_range=scale_range, corner_std=corner_std,
                                   require_convex=require_convex)
    p = _given(params, n, ("corners",))
    p = _to(p, images.device)
    target = p["corners"].to(images.dtype) * (2.0 / h)  # pixels → normalised
    source = CORNERS.to(target).expand(n, 4, 2)
    hom = homography_from_corners(target, source)
    grid = _grid.projective_grid(hom, (n, images.shape[1], h, w))
    return _sample(images, grid, mode, padding_mode, backend), {**p, "homography": hom}


# ----------------------------------------------------------------------------- E

def sample_elastic(n: int, generator: torch.Generator | None = None, *,
                   scale_range: tuple[float, float] = (0.75, 1.0), sigma: float = 1.5,
                   num_control_points: int = 16) -> dict:
    """E's parameters: ``scale`` (n,) and ``offsets`` (n, K, 2) pixels, K = ``num_control_points``."""
    check_int("n", n, 0)
    low, high = check_interval("scale_range", scale_range, above=0)
    check_real("sigma", sigma, minimum=0)
    _grid.tps_control_points(check_int("num_control_points", num_control_points, 4))  # a square number
    g = _gen(generator)
    scale = _uniform((n,), low, high, g)
    offsets = _normal((n, num_control_points, 2), sigma, g)
    return {"scale": scale, "offsets": offsets}


def elastic(images: torch.Tensor, generator: torch.Generator | None = None, *,
            scale_range: tuple[float, float] = (0.75, 1.0), sigma: float = 1.5, num_control_points: int = 16,
            params: dict | None = None, mode: str = "bilinear", padding_mode: str = "zeros",
            backend: str = "torch") -> tuple[torch.Tensor, dict]:
    """E: scale the digit down about its centre, then warp it with a random thin-plate spline.

    The K control points sit on a regular √K × √K grid spanning the output
    (:func:`stn_course.grid.tps_control_points`); output control point c_k reads the scaled
    digit at ``c_k + offsets_k`` (:func:`stn_course.grid.tps_grid`), i.e. the input at
    ``(c_k + offsets_k) / scale``. (N, C, S, S) → same shape.
    """
    _check_images(images)
    n, c, h, w = images.shape
    if h != w:
        raise ValueError(f"images must be square for E, got {h}×{w}")
    if params is None:
        params = sample_elastic(n, generator, scale_range=scale_range, sigma=sigma,
                                num_control_points=num_control_points)
    p = _given(params, n, ("scale", "offsets"))
    p = _to(p, images.device)
    offsets = p["offsets"].to(images.dtype) * (2.0 / h)
    grid = _grid.tps_grid(offsets, (n, c, h, w)) / p["scale"].to(images.dtype)[:, None, None, None]
    return _sample(images, grid, mode, padding_mode, backend), p


# ----------------------------------------------------------------------------- TC

def sample_cluttered(n: int, generator: torch.Generator | None = None, *, pool_size: int | None = None,
                     pool_index: torch.Tensor | None = None, in_size: int = 28, out_size: int = 60,
                     num_clutter: int = 6, clutter_size: int = 6, crop_box: tuple[int, int] = (4, 24)) -> dict:
    """TC's parameters (all integer pixel positions, top-left corners as (x, y)).

    * ``position`` (n, 2): where the digit's top-left pixel goes, uniform in [0, out − in].
    * ``clutter_index`` (n, k): which image of the pool each crop comes from, never the
      digit's own (``pool_index``, default ``arange(n)`` — the pool is the batch itself).
    * ``crop_position`` (n, k, 2): the crop's top-left in its source digit, uniform so the crop
      lies inside ``crop_box`` = [lo, hi) on both axes (default: MNIST's central 20 × 20 box).
    * ``clutter_position`` (n, k, 2): where the crop goes, uniform over the canvas.
    """
    check_int("n", n, 0)
    pool_size = n if pool_size is None else pool_size
    if check_int("pool_size", pool_size) < 2:
        raise ValueError(f"pool_size must be at least 2 (clutter comes from other digits), got {pool_size}")
    _check_clutter(in_size, out_size, num_clutter, clutter_size, crop_box)
    if pool_index is not None and tuple(pool_index.shape) != (n,):
        raise ValueError(f"pool_index must have shape ({n},), one index per digit, got {tuple(pool_index.shape)}")
    g = _gen(generator)
    own = torch.arange(n, device=g.device) if pool_index is None else pool_index.to(g.device).long()
    lo, hi = crop_box
    position = _randint((n, 2), 0, out_size - in_size, g)
    step = _randint((n, num_clutter), 1, pool_size - 1, g)  # an offset ≠ 0 from the digit's own index
    clutter_index = (own[:, None] + step) % pool_size
    crop_position = _randint((n, num_clutter, 2), lo, hi - clutter_size, g)
    clutter_position = _randint((n, num_clutter, 2), 0, out_size - clutter_size, g)
    return {"position": position, "clutter_index": clutter_index, "crop_position": crop_position,
            "clutter_position": clutter_position}


def _check_clutter(in_size: int, out_size: int, num_clutter: int, clutter_size: int,
                   crop_box: tuple[int, int]) -> None:
    """TC's sizes: ints, the digit and the crops fit the canvas, the crop box lies inside the digit."""
    check_int("in_size", in_size, 1)
    check_int("num_clutter", num_clutter, 0)
    check_int("clutter_size", clutter_size, 1)
    if check_int("out_size", out_size, 1) < max(in_size, clutter_size):
        raise ValueError(f"out_size must be at least the digit's size {in_size} and clutter_size {clutter_size}, "
                         f"got {out_size}")
    if not isinstance(crop_box, (tuple, list)) or len(crop_box) != 2:
        raise ValueError(f"crop_box must be a pair (lo, hi), got {crop_box!r}")
    lo, hi = (check_int(f"crop_box[{i}]", v) for i, v in enumerate(crop_box))
    if not (0 <= lo and hi <= in_size and hi - lo >= clutter_size):
        raise ValueError(f"crop_box must be [lo, hi) inside [0, {in_size}] and at least clutter_size={clutter_size} "
                         f"wide, got {tuple(crop_box)}")


def _paste_max(canvas: torch.Tensor, patches: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Paste ``patches`` (N, k, C, h, w) at integer top-left ``positions`` (N, k, 2) into ``canvas`` (N, C, H, W) by max."""
    n, k, c, ph, pw = patches.shape
    big_w = canvas.shape[-1]
    dev = canvas.device
    rows = positions[..., 1, None, None] + torch.arange(ph, device=dev)[:, None]  # (N, k, ph, 1)
    cols = positions[..., 0, None, None] + torch.arange(pw, device=dev)[None, :]  # (N, k, 1, pw)
    flat = (rows * big_w + cols).reshape(n, 1, -1).expand(n, c, -1)  # (N, C, k·ph·pw)
    vals = patches.permute(0, 2, 1, 3, 4).reshape(n, c, -1)
    out = canvas.reshape(n, c, -1).scatter_reduce(2, flat, vals, reduce="amax")
    return out.reshape(canvas.shape)


def cluttered(images: torch.Tensor, generator: torch.Generator | None = None, *, pool: torch.Tensor | None = None,
              pool_index: torch.Tensor | None = None, out_size: int = 60, num_clutter: int = 6,
              clutter_size: int = 6, crop_box: tuple[int, int] = (4, 24),
              params: dict | None = None) -> tuple[torch.Tensor, dict]:
    """TC: the digit at a random place in an ``out_size`` canvas, plus ``num_clutter`` crops of other digits.

    Args:
        images: (N, C, H, W) digits.
        pool: (P, C, H, W) digits the clutter is cut from; default the batch itself. Keep it on
            the images' device: it is moved there on every call otherwise.
        pool_index: (N,) each digit's own index in ``pool`` (so it never clutters itself);
            default ``arange(N)`` (right when ``pool`` is None).

    Returns:
        (N, C, out_size, out_size) and the parameters of :func:`sample_cluttered`. Pixels
        combine by maximum.
    """
    _check_images(images)
    n, c, h, w = images.shape
    pool = images if pool is None else pool
    _check_images(pool)
    if pool.shape[1:] != images.shape[1:]:
        raise ValueError(f"pool must have shape (P, {c}, {h}, {w}) like images, got {tuple(pool.shape)}")
    if out_size < max(h, w):
        raise ValueError(f"out_size must be at least the digit's size {max(h, w)}, got {out_size}")
    if params is None:
        params = sample_cluttered(n, generator, pool_size=pool.shape[0], pool_index=pool_index, in_size=h,
                                  out_size=out_size, num_clutter=num_clutter, clutter_size=clutter_size,
                                  crop_box=crop_box)
    p = _to(_given(params, n, ("position", "clutter_index", "crop_position", "clutter_position")),
            images.device)
    cs = clutter_size
    dev = images.device
    # gather the crops: (N, k, C, cs, cs)
    r = p["crop_position"][..., 1, None, None] + torch.arange(cs, device=dev)[:, None]
    q = p["crop_position"][..., 0, None, None] + torch.arange(cs, device=dev)[None, :]
    which = p["clutter_index"][..., None, None]  # (N, k, 1, 1)
    crops = pool.to(dev).permute(0, 2, 3, 1)[which, r, q].permute(0, 1, 4, 2, 3)  # (N, k, C, cs, cs)
    canvas = images.new_zeros(n, c, out_size, out_size)
    canvas = _paste_max(canvas, crops, p["clutter_position"])
    canvas = _paste_max(canvas, images[:, None], p["position"][:, None])
    return canvas, p


# ----------------------------------------------------------------------------- addition

def addition(first: torch.Tensor, second: torch.Tensor, generator: torch.Generator | None = None, *,
             params: dict | None = None, **rts_options) -> tuple[torch.Tensor, dict]:
    """MNIST addition: two digits (N, 1, H, W) each RTS-distorted independently → (N, 2, 42, 42).

    ``params`` holds ``angle`` and ``scale`` (N, 2) and ``shift`` (N, 2, 2), one row per channel.
    ``rts_options`` go to :func:`rts` (e.g. ``out_size``).
    """
    _check_images(first)
    _check_images(second)
    if first.shape != second.shape or first.shape[1] != 1:
        raise ValueError(f"first and second must both have shape (N, 1, H, W), got {tuple(first.shape)} "
                         f"and {tuple(second.shape)}")
    n, _, h, _ = first.shape
    render = {k: rts_options[k] for k in ("mode", "padding_mode", "backend") if k in rts_options}
    draw = {k: v for k, v in rts_options.items() if k not in render}
    if params is None:
        g = _gen(generator)
        a = sample_rts(n, g, in_size=h, **draw)
        b = sample_rts(n, g, in_size=h, **draw)
        params = {k: torch.stack([a[k], b[k]], dim=1) for k in a}
    out_size = draw.get("out_size", 42)
    x1, _ = rts(first, params={k: v[:, 0] for k, v in params.items()}, out_size=out_size, **render)
    x2, _ = rts(second, params={k: v[:, 1] for k, v in params.items()}, out_size=out_size, **render)
    return torch.cat([x1, x2], dim=1), _to(params, first.device)


def addition_batch(images: torch.Tensor, labels: torch.Tensor, generator: torch.Generator | None = None,
                   **rts_options) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """MNIST addition inside a training loop: pair each digit with a random other one of the batch.

    Returns (x (N, 2, 42, 42), labels₁ + labels₂ (N,), params with ``partner`` (N,)).
    """
    g = _gen(generator)
    n = images.shape[0]
    if n < 2:
        raise ValueError(f"images must hold at least 2 digits to pair, got {n}")
    partner = _move((torch.arange(n, device=g.device) + _randint((n,), 1, n - 1, g)) % n, images.device)
    x, p = addition(images, images[partner], g, **rts_options)
    return x, labels + labels[partner], {**p, "partner": partner}


# ----------------------------------------------------------------------------- co-localisation (A.2)

#: The co-localisation images of appendix A.2: one digit at a random place in an 84 × 84 image,
#: alone ("translated") or among 16 random 6 × 6 crops of other digits ("cluttered").
COLOCALISATION: dict[str, dict] = {
    "translated": {"out_size": 84, "num_clutter": 0, "clutter_size": 6},
    "cluttered": {"out_size": 84, "num_clutter": 16, "clutter_size": 6},
}


def digit_box(position: torch.Tensor, size: int = 28) -> torch.Tensor:
    """The square a digit was pasted in: top-left pixels (N, 2) as (x, y) → boxes (N, 4) float.

    A box is ``(x0, y0, x1, y1)`` in pixel units, its edges on pixel boundaries: a ``size``-pixel
    digit pasted at (x, y) covers ``x0 = x`` to ``x1 = x + size``. This frame (not the tighter
    box of the ink) is what co-localisation is scored against; the paper does not say which.
    """
    check_tensor("position", position)
    if position.dim() != 2 or position.shape[1] != 2:
        raise ValueError(f"position must have shape (N, 2), got {tuple(position.shape)}")
    check_int("size", size, 1)
    xy = position.float()
    return torch.cat([xy, xy + size], dim=1)


def colocalisation(images: torch.Tensor, generator: torch.Generator | None = None, *, variant: str = "translated",
                   pool: torch.Tensor | None = None, pool_index: torch.Tensor | None = None,
                   params: dict | None = None) -> tuple[torch.Tensor, dict]:
    """The co-localisation images: each digit (N, C, 28, 28) at a random place in an 84 × 84 canvas.

    ``variant`` is "translated" (the digit alone) or "cluttered" (plus 16 random 6 × 6 crops
    of other digits, cut from ``pool`` as in TC; see :func:`cluttered`).

    Returns:
        (N, C, 84, 84) and the parameters of :func:`sample_cluttered` plus ``box`` (N, 4), the
        digit's frame as ``(x0, y0, x1, y1)`` pixels (:func:`digit_box`).
    """
    check_choice("variant", variant, tuple(COLOCALISATION))
    _check_images(images)
    out, p = cluttered(images, generator, pool=pool, pool_index=pool_index, params=params,
                       **COLOCALISATION[variant])
    return out, {**p, "box": digit_box(p["position"], images.shape[-1]).to(images.device)}


# ----------------------------------------------------------------------------- dispatch

_FUNCS = {"R": rotated, "RTS": rts, "P": projective, "E": elastic, "TC": cluttered}
_SAMPLERS = {"R": sample_rotated, "RTS": sample_rts, "P": sample_projective, "E": sample_elastic,
             "TC": sample_cluttered}


def out_size(name: str) -> int:
    """The side of the images recipe ``name`` produces (28, 42, 28, 28, 60; 42 for addition)."""
    check_choice("name", name, (*NAMES, "addition"))
    return RECIPES[name]["out_size"]


def sample(name: str, n: int, generator: torch.Generator | None = None, **options) -> dict:
    """Draw ``n`` sets of recipe ``name``'s parameters (see the ``sample_*`` functions)."""
    check_choice("name", name, NAMES)
    return _SAMPLERS[name](n, generator, **options)


def apply(name: str, images: torch.Tensor, generator: torch.Generator | None = None,
          **options) -> tuple[torch.Tensor, dict]:
    """Distort a batch with recipe ``name`` ("R", "RTS", "P", "E" or "TC") on the batch's device.

    Args:
        images: (N, C, 28, 28) float in [0, 1], on any device.
        generator: a ``torch.Generator`` (CPU is fine for GPU images; the same seed then gives
            the same distortions on every device). None draws a seed from torch's global
            generator (so ``torch.manual_seed`` makes it repeatable).
        options: the recipe's keyword arguments (e.g. ``sigma`` for E, ``pool`` for TC).

    Returns:
        (distorted (N, C, S, S) with S = :func:`out_size` (name), params dict).
    """
    check_choice("name", name, NAMES)
    return _FUNCS[name](images, generator, **options)
