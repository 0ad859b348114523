"""Samplers against torch.nn.functional.grid_sample: values, gradients and second derivatives in
float64 to 1e-10 for every mode, padding and align_corners; float16/bfloat16, empty batches and
channels, non-finite grids, channels-last and non-contiguous inputs."""

import itertools

import pytest
import torch
import torch.nn.functional as F

from stn_course import sampler as S
from stn_course.grid import affine_grid
from stn_course.geometry import identity_theta

TOL = dict(atol=1e-10, rtol=0)
CASES = list(itertools.product([False, True], ["zeros", "border"]))
# (input size, output size): square and non-square, upsampling and downsampling
SHAPES_2D = [((2, 3, 6, 6), (6, 6)), ((2, 1, 5, 9), (7, 4)), ((1, 2, 8, 3), (3, 10))]


def _random_grid(n, out_hw, seed, dims=2):
    """A random affine grid that reaches beyond the image, so padding matters."""
    gen = torch.Generator().manual_seed(seed)
    k = dims + 1
    theta = torch.eye(dims, k, dtype=torch.float64) + 0.6 * torch.randn(n, dims, k, generator=gen, dtype=torch.float64)
    return F.affine_grid(theta, [n, 1, *out_hw], align_corners=False) * 1.3


def _grads(fn, x, grid, weight):
    x = x.detach().requires_grad_()
    grid = grid.detach().requires_grad_()
    out = fn(x, grid)
    gx, gg = torch.autograd.grad((out * weight).sum(), [x, grid], allow_unused=True)
    return out, gx, gg


@pytest.mark.parametrize("align_corners, padding_mode", CASES)
@pytest.mark.parametrize("in_size, out_hw", SHAPES_2D)
def test_bilinear_matches_grid_sample(in_size, out_hw, align_corners, padding_mode):
    torch.manual_seed(0)
    x = torch.randn(in_size, dtype=torch.float64)
    grid = _random_grid(in_size[0], out_hw, seed=sum(in_size))
    weight = torch.randn(in_size[0], in_size[1], *out_hw, dtype=torch.float64)
    ours = _grads(lambda a, g: S.bilinear(a, g, padding_mode, align_corners), x, grid, weight)
    ref = _grads(lambda a, g: F.grid_sample(a, g, "bilinear", padding_mode, align_corners), x, grid, weight)
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a, b, **TOL)


def test_bilinear_gradient_on_integer_coordinates_matches_grid_sample():
    """On pixel centres the kernel has a kink; we must pick the same one-sided slope as PyTorch."""
    x = torch.randn(1, 1, 4, 5, dtype=torch.float64)
    grid = affine_grid(identity_theta(1, dtype=torch.float64), (1, 1, 4, 5))
    weight = torch.randn(1, 1, 4, 5, dtype=torch.float64)
    for pm in ("zeros", "border"):
        ours = _grads(lambda a, g: S.bilinear(a, g, pm), x, grid, weight)
        ref = _grads(lambda a, g: F.grid_sample(a, g, "bilinear", pm, False), x, grid, weight)
        for a, b in zip(ours, ref):
            torch.testing.assert_close(a, b, **TOL)


@pytest.mark.parametrize("align_corners, padding_mode", CASES)
@pytest.mark.parametrize("in_size, out_hw", SHAPES_2D)
def test_nearest_matches_grid_sample(in_size, out_hw, align_corners, padding_mode):
    torch.manual_seed(1)
    x = torch.randn(in_size, dtype=torch.float64)
    grid = _random_grid(in_size[0], out_hw, seed=3)
    weight = torch.randn(in_size[0], in_size[1], *out_hw, dtype=torch.float64)
    out, gx, _ = _grads(lambda a, g: S.nearest(a, g, padding_mode, align_corners), x, grid, weight)
    rout, rgx, _ = _grads(lambda a, g: F.grid_sample(a, g, "nearest", padding_mode, align_corners), x, grid, weight)
    torch.testing.assert_close(out, rout, **TOL)
    torch.testing.assert_close(gx, rgx, **TOL)


@pytest.mark.parametrize("align_corners, padding_mode", CASES)
def test_trilinear_matches_grid_sample(align_corners, padding_mode):
    torch.manual_seed(2)
    x = torch.randn(2, 2, 4, 5, 3, dtype=torch.float64)
    grid = _random_grid(2, (3, 4, 6), seed=5, dims=3)
    weight = torch.randn(2, 2, 3, 4, 6, dtype=torch.float64)
    ours = _grads(lambda a, g: S.grid_sample(a, g, "bilinear", padding_mode, align_corners), x, grid, weight)
    ref = _grads(lambda a, g: F.grid_sample(a, g, "bilinear", padding_mode, align_corners), x, grid, weight)
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a, b, **TOL)


@pytest.mark.parametrize("align_corners, padding_mode", CASES)
def test_bilinear_gradcheck(align_corners, padding_mode):
    torch.manual_seed(3)
    x = torch.randn(1, 2, 4, 5, dtype=torch.float64, requires_grad=True)
    # keep points off the kinks at integer pixel positions, where finite differences disagree
    grid = (_random_grid(1, (3, 4), seed=11) + 0.013).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, g: S.bilinear(a, g, padding_mode, align_corners), (x, grid))


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("size", [(2, 3, 5, 5), (1, 1, 4, 9), (1, 2, 7, 3)])
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_identity_round_trip(size, align_corners, mode):
    x = torch.randn(size, dtype=torch.float64)
    grid = affine_grid(identity_theta(size[0], dtype=torch.float64), size, align_corners)
    torch.testing.assert_close(S.grid_sample(x, grid, mode, "zeros", align_corners), x, atol=1e-12, rtol=0)


def test_identity_round_trip_float32_keeps_every_row_and_column():
    x = torch.rand(1, 1, 6, 10)
    out = S.bilinear(x, affine_grid(identity_theta(1), (1, 1, 6, 10)))
    torch.testing.assert_close(out, x, atol=1e-5, rtol=0)
    assert out[..., -1, :].abs().sum() > 0 and out[..., :, -1].abs().sum() > 0


def test_bilinear_hand_computed_value():
    # a 2x2 image sampled at its centre is the mean of the four pixels (eq. 5)
    x = torch.tensor([[[[1.0, 2.0], [3.0, 5.0]]]], dtype=torch.float64)
    grid = torch.zeros(1, 1, 1, 2, dtype=torch.float64)
    assert S.bilinear(x, grid).item() == pytest.approx(2.75)
    # at x = 1/4 of the way from pixel 0 to pixel 1 on the top row (align_corners=True): 1.25
    grid = torch.tensor([[[[-0.5, -1.0]]]], dtype=torch.float64)
    assert S.bilinear(x, grid, align_corners=True).item() == pytest.approx(1.25)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: S.bilinear(torch.zeros(1, 1, 4, 4, dtype=torch.int64), torch.zeros(1, 2, 2, 2)), TypeError, "input"),
        (lambda: S.bilinear(torch.zeros(1, 1, 4, 4), torch.zeros(1, 2, 2, 3)), ValueError, "grid"),
        (lambda: S.bilinear(torch.zeros(1, 4, 4), torch.zeros(1, 2, 2, 2)), ValueError, "input"),
        (lambda: S.bilinear(torch.zeros(2, 1, 4, 4), torch.zeros(1, 2, 2, 2)), ValueError, "batch"),
        (lambda: S.bilinear(torch.zeros(1, 1, 4, 4), torch.zeros(1, 2, 2, 2), "reflect"), ValueError, "padding_mode"),
        (lambda: S.grid_sample(torch.zeros(1, 1, 4, 4), torch.zeros(1, 2, 2, 2), "cubic"), ValueError, "mode"),
        (lambda: S.grid_sample(torch.zeros(1, 1, 2, 4, 4), torch.zeros(1, 2, 2, 2, 3), "bicubic"),
         ValueError, "bicubic"),
        (lambda: S.grid_sample(torch.zeros(1, 1, 0, 4), torch.zeros(1, 2, 2, 2)), ValueError, "input"),
        (lambda: S.bilinear(torch.zeros(1, 1, 4, 4), torch.zeros(1, 2, 2, 2, dtype=torch.float64)), TypeError, "grid"),
        (lambda: S.trilinear(torch.zeros(1, 1, 4, 4, 4), torch.zeros(1, 2, 2, 2, 2)), ValueError, "grid"),
    ],
)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# ----------------------------------------------------------------------------- a true drop-in

MODES_2D = ["bilinear", "nearest", "bicubic"]
ALL_CASES = list(itertools.product(MODES_2D, ["zeros", "border", "reflection"], [False, True]))


def _both(mode, padding_mode, align_corners):
    return (lambda a, g: S.grid_sample(a, g, mode, padding_mode, align_corners),
            lambda a, g: F.grid_sample(a, g, mode, padding_mode, align_corners))


@pytest.mark.parametrize("mode, padding_mode, align_corners", ALL_CASES)
@pytest.mark.parametrize("in_size, out_hw", SHAPES_2D + [((1, 2, 1, 1), (3, 2)), ((1, 1, 2, 1), (4, 3))])
def test_every_mode_and_padding_matches_grid_sample(in_size, out_hw, mode, padding_mode, align_corners):
    """Values, input gradients and grid gradients, including reflection padding and bicubic."""
    torch.manual_seed(4)
    x = torch.randn(in_size, dtype=torch.float64)
    grid = _random_grid(in_size[0], out_hw, seed=sum(in_size)) * 1.5  # far outside: several reflections
    weight = torch.randn(in_size[0], in_size[1], *out_hw, dtype=torch.float64)
    ours, ref = _both(mode, padding_mode, align_corners)
    for a, b in zip(_grads(ours, x, grid, weight), _grads(ref, x, grid, weight)):
        torch.testing.assert_close(a, b, **TOL)


@pytest.mark.parametrize("mode, padding_mode",
                         [("bilinear", "reflection"), ("bicubic", "border"), ("nearest", "zeros")])
def test_a_few_hundred_pixels_odd_and_non_square(mode, padding_mode):
    x = torch.randn(1, 2, 203, 317, dtype=torch.float64)
    grid = _random_grid(1, (151, 263), seed=8)
    weight = torch.randn(1, 2, 151, 263, dtype=torch.float64)
    ours, ref = _both(mode, padding_mode, False)
    for a, b in zip(_grads(ours, x, grid, weight), _grads(ref, x, grid, weight)):
        torch.testing.assert_close(a, b, atol=1e-9, rtol=0)


@pytest.mark.parametrize("align_corners, padding_mode", list(itertools.product([False, True], S.PADDING_MODES)))
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_volumes_match_grid_sample(mode, align_corners, padding_mode):
    torch.manual_seed(2)
    x = torch.randn(2, 2, 4, 5, 3, dtype=torch.float64)
    grid = _random_grid(2, (3, 4, 6), seed=5, dims=3) * 1.5
    weight = torch.randn(2, 2, 3, 4, 6, dtype=torch.float64)
    ours, ref = _both(mode, padding_mode, align_corners)
    for a, b in zip(_grads(ours, x, grid, weight), _grads(ref, x, grid, weight)):
        torch.testing.assert_close(a, b, **TOL)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("mode", MODES_2D)
def test_reduced_precision_matches_float32_rounded_once(dtype, mode):
    """float16/bfloat16 are computed in float32, as PyTorch's CUDA kernels do (its CPU kernels
    compute in the reduced type and are further off): the result is the float32 sample of the
    same (rounded) inputs, rounded once, so within one unit in the last place."""
    torch.manual_seed(5)
    x = torch.rand(2, 3, 28, 28).to(dtype)
    theta = identity_theta(2) + 0.1 * torch.randn(2, 2, 3)
    grid = F.affine_grid(theta, [2, 3, 28, 28], align_corners=False).to(dtype)
    ref = F.grid_sample(x.float(), grid.float(), mode, "zeros", False)
    out = S.grid_sample(x, grid, mode)
    assert out.dtype == dtype
    ulp = torch.finfo(dtype).eps * ref.abs().clamp_min(1)
    assert ((out.float() - ref).abs() <= ulp).all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_reduced_precision_gradients_are_the_float32_ones_rounded(dtype):
    torch.manual_seed(6)
    x = torch.rand(2, 1, 9, 9).to(dtype)
    grid = _random_grid(2, (5, 7), seed=9).to(dtype)
    weight = torch.randn(2, 1, 5, 7).to(dtype)
    out, gx, gg = _grads(lambda a, g: S.bilinear(a, g), x, grid, weight)
    _, rx, rg = _grads(lambda a, g: F.grid_sample(a, g, align_corners=False), x.float(), grid.float(), weight.float())
    assert gx.dtype == gg.dtype == dtype
    torch.testing.assert_close(gx.float(), rx, atol=0.02 * rx.abs().max().item(), rtol=0)
    torch.testing.assert_close(gg.float(), rg, atol=0.02 * rg.abs().max().item(), rtol=0)


@pytest.mark.parametrize("mode, padding_mode", [("bilinear", "zeros"), ("bilinear", "reflection"),
                                                ("bicubic", "border"), ("bicubic", "reflection")])
def test_double_backward_matches_grid_sample(mode, padding_mode):
    """A gradient penalty through the sampler: d/d(x, grid) of |dV/dgrid|², as PyTorch computes it."""
    torch.manual_seed(7)
    x = torch.randn(2, 2, 5, 6, dtype=torch.float64)
    grid = _random_grid(2, (4, 3), seed=1) + 0.013  # off the kinks

    def penalty(fn):
        a, g = x.clone().requires_grad_(), grid.clone().requires_grad_()
        (dg,) = torch.autograd.grad(fn(a, g).pow(2).sum(), g, create_graph=True)
        assert dg.requires_grad
        return torch.autograd.grad(dg.pow(2).sum(), [a, g])

    ours, ref = _both(mode, padding_mode, False)
    for a, b in zip(penalty(ours), penalty(ref)):
        torch.testing.assert_close(a, b, atol=1e-9, rtol=0)


def test_bilinear_gradgradcheck():
    x = torch.randn(1, 2, 4, 5, dtype=torch.float64, requires_grad=True)
    grid = (_random_grid(1, (3, 4), seed=11) + 0.013).requires_grad_()
    assert torch.autograd.gradgradcheck(lambda a, g: S.bilinear(a, g, "reflection"), (x, grid))


@pytest.mark.parametrize("mode, padding_mode", list(itertools.product(MODES_2D, S.PADDING_MODES)))
def test_non_finite_grid_gives_nan_at_that_pixel_only(mode, padding_mode):
    """NaN (and ±inf unless border padding clamps it) → NaN at that output pixel, the other pixels
    and the input's gradient as PyTorch; no crash (PyTorch itself crashes on some of these)."""
    nan, inf = float("nan"), float("inf")
    x = torch.arange(24, dtype=torch.float64).reshape(1, 2, 3, 4)
    grid = _random_grid(1, (3, 3), seed=2)
    grid[0, 0, 0, 0], grid[0, 1, 1, 1], grid[0, 2, 2, 0] = nan, inf, -inf
    weight = torch.ones(1, 2, 3, 3, dtype=torch.float64)
    out, gx, gg = _grads(lambda a, g: S.grid_sample(a, g, mode, padding_mode), x, grid, weight)
    clamps = padding_mode == "border" and mode != "bicubic"
    undefined = torch.zeros(3, 3, dtype=torch.bool)
    undefined[0, 0] = True
    undefined[1, 1] = undefined[2, 2] = not clamps
    assert torch.equal(out[0].isnan(), undefined.expand(2, 3, 3))
    finite = grid.nan_to_num(0.3, 1.0, -1.0) if clamps else grid.masked_fill(undefined[None, ..., None], 0.3)
    ref_out, ref_gx, _ = _grads(lambda a, g: F.grid_sample(a, g, mode, padding_mode, False), x, finite, weight)
    keep = ~undefined
    torch.testing.assert_close(out[..., keep], ref_out[..., keep], **TOL)
    torch.testing.assert_close(gx, _grads(lambda a, g: F.grid_sample(a, g, mode, padding_mode, False), x, finite,
                                          weight * keep)[1], **TOL)
    assert torch.isfinite(gg).all()


@pytest.mark.parametrize("mode", MODES_2D)
@pytest.mark.parametrize("in_size, grid_size", [((0, 3, 4, 5), (0, 2, 2, 2)), ((2, 0, 4, 5), (2, 2, 2, 2)),
                                                ((2, 3, 4, 5), (2, 0, 3, 2))])
def test_empty_batch_channels_or_output(mode, in_size, grid_size):
    x = torch.rand(in_size, dtype=torch.float64)
    grid = torch.rand(grid_size, dtype=torch.float64) * 2 - 1
    weight = torch.ones(in_size[0], in_size[1], *grid_size[1:3], dtype=torch.float64)
    ours, ref = _both(mode, "zeros", False)
    for a, b in zip(_grads(ours, x, grid, weight), _grads(ref, x, grid, weight)):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, **TOL)


@pytest.mark.parametrize("mode", MODES_2D)
def test_channels_last_and_non_contiguous_inputs(mode):
    torch.manual_seed(8)
    base = torch.randn(2, 3, 6, 9, dtype=torch.float64)
    weight = torch.randn(2, 3, 5, 4, dtype=torch.float64)
    grid = _random_grid(2, (4, 5), seed=3).transpose(1, 2)  # a non-contiguous view, (2, 5, 4, 2)
    for x in (base.contiguous(memory_format=torch.channels_last), base.transpose(2, 3)[..., ::2, :]):
        ours, ref = _both(mode, "reflection", True)
        for a, b in zip(_grads(ours, x, grid, weight), _grads(ref, x, grid, weight)):
            torch.testing.assert_close(a, b, **TOL)


def test_bicubic_hand_computed_value():
    """Halfway between pixels 1 and 2 of a row [0, 1, 0, 0]: taps at −½, ½, 3/2, 5/2 pixels away
    weigh (−0.09375, 0.59375, 0.59375, −0.09375) with a = −0.75, so V = 0.59375."""
    x = torch.tensor([[[[0.0, 1.0, 0.0, 0.0]]]], dtype=torch.float64)
    grid = torch.tensor([[[[0.0, 0.0]]]], dtype=torch.float64)  # x = 1.5 px, y = 0 px, align_corners=False
    assert S.bicubic(x, grid).item() == pytest.approx(0.59375)
