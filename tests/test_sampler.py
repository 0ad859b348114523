"""Samplers against torch.nn.functional.grid_sample: values and gradients, float64, 1e-10."""

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
        (lambda: S.grid_sample(torch.zeros(1, 1, 4, 4), torch.zeros(1, 2, 2, 2), "bicubic"), ValueError, "mode"),
        (lambda: S.bilinear(torch.zeros(1, 1, 4, 4), torch.zeros(1, 2, 2, 2, dtype=torch.float64)), TypeError, "grid"),
        (lambda: S.trilinear(torch.zeros(1, 1, 4, 4, 4), torch.zeros(1, 2, 2, 2, 2)), ValueError, "grid"),
    ],
)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
