"""Transforms, localisation nets and the whole SpatialTransformer."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from stn_course import SpatialTransformer
from stn_course.geometry import theta_from
from stn_course.grid import affine_grid
from stn_course.localization import CNNLocalization, FCLocalization, RegressionHead
from stn_course.transforms import (AffineTransform, AttentionTransform, ProjectiveTransform, TPSTransform,
                                   make_transform)

ALL = [AttentionTransform(), AffineTransform(), ProjectiveTransform(), TPSTransform()]


@pytest.mark.parametrize("transform", ALL, ids=lambda t: type(t).__name__)
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("backend", ["torch", "scratch"])
def test_identity_params_give_identity_grid(transform, align_corners, backend):
    size = (2, 1, 5, 8)
    params = transform.identity_params().double().expand(2, -1)
    grid = transform(params, size, align_corners=align_corners, backend=backend)
    ident = affine_grid(torch.eye(2, 3, dtype=torch.float64).expand(2, 2, 3), size, align_corners)
    torch.testing.assert_close(grid, ident, atol=1e-12, rtol=0)


@pytest.mark.parametrize("align_corners", [False, True])
def test_identity_round_trip_through_spatial_transformer(align_corners):
    x = torch.randn(3, 2, 7, 11, dtype=torch.float64)
    for transform in ALL:
        loc = FCLocalization((2, 7, 11), transform)
        st = SpatialTransformer(loc, transform, backend="scratch", align_corners=align_corners).double()
        torch.testing.assert_close(st(x), x, atol=1e-12, rtol=0)


def test_backends_agree():
    torch.manual_seed(0)
    loc = CNNLocalization((1, 12, 12), "affine")
    nn.init.normal_(loc.head.linear.weight, std=0.1)
    x = torch.rand(4, 1, 12, 12)
    a = SpatialTransformer(loc, "affine", out_size=(6, 9), backend="torch")(x)
    b = SpatialTransformer(loc, "affine", out_size=(6, 9), backend="scratch")(x)
    assert a.shape == (4, 1, 6, 9)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


def test_attention_and_affine_agree():
    s, tx, ty = 0.7, 0.1, -0.2
    size = (1, 1, 4, 6)
    a = AttentionTransform()(torch.tensor([[s, tx, ty]]), size)
    b = AffineTransform()(torch.tensor([[s, 0.0, tx, 0.0, s, ty]]), size)
    torch.testing.assert_close(a, b)


def test_projective_matrix_and_affine_special_case():
    theta = theta_from(0.3, 0.8, 0.1, 0.2, -0.1).double()
    params = torch.cat([theta.reshape(1, 6), torch.zeros(1, 2, dtype=torch.float64)], dim=1)
    size = (1, 1, 5, 5)
    torch.testing.assert_close(ProjectiveTransform()(params, size), AffineTransform()(theta.reshape(1, 6), size))
    assert ProjectiveTransform().matrix(params)[0, 2, 2] == 1


def test_num_params():
    assert [t.num_params for t in ALL] == [3, 6, 8, 32]
    assert TPSTransform(9).num_params == 18
    with pytest.raises(ValueError, match="transform"):
        make_transform("similarity")


def test_regression_head_starts_at_identity_and_bounded_stays_bounded():
    h = torch.randn(5, 10) * 100
    head = RegressionHead(10, AffineTransform())
    torch.testing.assert_close(head(h), AffineTransform().identity_params().expand(5, 6))
    bounded = RegressionHead(10, AffineTransform(), bound=0.5)
    torch.testing.assert_close(bounded(h), AffineTransform().identity_params().expand(5, 6))
    nn.init.normal_(bounded.linear.weight)
    assert ((bounded(h) - bounded.identity).abs() <= 0.5).all()
    with pytest.raises(ValueError, match="bound"):
        RegressionHead(10, AffineTransform(), bound=-1.0)


def test_localization_shapes():
    x = torch.rand(3, 1, 28, 28)
    assert FCLocalization((1, 28, 28), "tps")(x).shape == (3, 32)
    assert CNNLocalization((1, 28, 28), "projective")(x).shape == (3, 8)
    with pytest.raises(ValueError, match="in_shape"):
        FCLocalization((28, 28), "affine")


def test_keeps_last_params_and_grid():
    st = SpatialTransformer(FCLocalization((1, 8, 8), "affine"), "affine", out_size=(4, 4))
    st(torch.rand(2, 1, 8, 8))
    assert st.last_params.shape == (2, 6) and st.last_grid.shape == (2, 4, 4, 2)
    assert not st.last_grid.requires_grad


def test_explicit_params_override_localization():
    st = SpatialTransformer(FCLocalization((1, 8, 8), "affine"), "affine")
    x = torch.rand(1, 1, 8, 8)
    theta = theta_from(0.4, 0.9)
    expected = F.grid_sample(x, F.affine_grid(theta, [1, 1, 8, 8], align_corners=False), align_corners=False)
    torch.testing.assert_close(st(x, params=theta.reshape(1, 6)), expected)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda st: st(torch.rand(2, 8, 8)), ValueError, "x"),
        (lambda st: st(torch.zeros(2, 1, 8, 8, dtype=torch.uint8)), TypeError, "x"),
        (lambda st: st(torch.rand(2, 1, 8, 8), params=torch.rand(2, 5)), ValueError, "params"),
    ],
)
def test_bad_input(call, exc, match):
    st = SpatialTransformer(FCLocalization((1, 8, 8), "affine"), "affine")
    with pytest.raises(exc, match=match):
        call(st)


def test_bad_construction():
    loc = FCLocalization((1, 8, 8), "affine")
    with pytest.raises(ValueError, match="sampler"):
        SpatialTransformer(loc, sampler="cubic")
    with pytest.raises(ValueError, match="backend"):
        SpatialTransformer(loc, backend="cuda")
    with pytest.raises(ValueError, match="padding_mode"):
        SpatialTransformer(loc, padding_mode="reflect")
    with pytest.raises(ValueError, match="out_size"):
        SpatialTransformer(loc, out_size=(4,))


@pytest.mark.parametrize("backend", ["torch", "scratch"])
def test_spatial_transformer_learns_a_known_rotation(backend):
    """Regress θ by matching a rotated blob: the loss falls and θ moves toward the truth."""
    torch.manual_seed(0)
    n, size = 32, 16
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    # an asymmetric blob pattern, so the rotation is identifiable
    blob = torch.exp(-((xs - 0.35) ** 2 + (ys + 0.1) ** 2) / 0.05) + 0.6 * torch.exp(-((xs + 0.3) ** 2 + (ys - 0.3) ** 2) / 0.02)
    x = blob.expand(n, 1, size, size).contiguous()
    true_theta = theta_from(math.radians(25), 0.9, 0.0, 0.1, -0.05)
    target = F.grid_sample(x, F.affine_grid(true_theta.expand(n, 2, 3), [n, 1, size, size], align_corners=False),
                           align_corners=False)

    class Free(nn.Module):  # the "localisation net" is a single learnable θ
        def __init__(self):
            super().__init__()
            self.theta = nn.Parameter(AffineTransform().identity_params().clone())

        def forward(self, u):
            return self.theta.expand(u.shape[0], 6)

    st = SpatialTransformer(Free(), "affine", backend=backend)
    opt = torch.optim.Adam(st.parameters(), lr=0.01)
    losses = []
    for _ in range(300):
        loss = F.mse_loss(st(x), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    start_err = (AffineTransform().identity_params() - true_theta.reshape(6)).abs().max()
    end_err = (st.localization.theta.detach() - true_theta.reshape(6)).abs().max()
    assert losses[-1] < 0.05 * losses[0]
    assert end_err < 0.25 * start_err


# ----------------------------------------------------------------------------- edges of a drop-in

@pytest.mark.parametrize("transform", ALL, ids=lambda t: type(t).__name__)
@pytest.mark.parametrize("backend", ["torch", "scratch"])
@pytest.mark.parametrize("size", [(0, 1, 5, 7), (2, 0, 5, 7)])
def test_empty_batch_or_channels(transform, backend, size):
    params = transform.identity_params().expand(size[0], -1)
    grid = transform(params, size, backend=backend)
    assert grid.shape == (size[0], 5, 7, 2)
    st = SpatialTransformer(nn.Identity(), transform, backend=backend, sampler="bicubic", padding_mode="reflection")
    x = torch.rand(size, requires_grad=True)
    out = st(x, params=params)
    assert out.shape == size
    (out.sum() + 0 * x.sum()).backward()


@pytest.mark.parametrize("transform", ALL, ids=lambda t: type(t).__name__)
@pytest.mark.parametrize("backend", ["torch", "scratch"])
def test_param_batch_must_match_image_batch(transform, backend):
    params = transform.identity_params().expand(3, -1)
    with pytest.raises(ValueError, match="params"):
        transform(params, (2, 1, 5, 5), backend=backend)
    st = SpatialTransformer(nn.Identity(), transform, backend=backend)
    with pytest.raises(ValueError, match="params"):
        st(torch.rand(2, 1, 5, 5), params=params)


@pytest.mark.parametrize("backend", ["torch", "scratch"])
@pytest.mark.parametrize("mode, padding_mode", [("bicubic", "reflection"), ("bilinear", "reflection"),
                                                ("nearest", "border")])
def test_every_sampler_and_padding_through_the_module(backend, mode, padding_mode):
    theta = theta_from(0.5, 1.3, 0.1, 0.2, -0.1).double()
    x = torch.rand(1, 2, 9, 13, dtype=torch.float64)
    st = SpatialTransformer(nn.Identity(), "affine", out_size=(7, 11), sampler=mode, backend=backend,
                            padding_mode=padding_mode, align_corners=True)
    grid = F.affine_grid(theta, [1, 2, 7, 11], align_corners=True)
    expected = F.grid_sample(x, grid, mode, padding_mode, align_corners=True)
    torch.testing.assert_close(st(x, params=theta.reshape(1, 6)), expected, atol=1e-12, rtol=0)


def test_transformer_runs_in_float32_under_autocast():
    """The float32 policy lives in the module: under bfloat16 autocast the localisation net, the
    grid and the sample are float32 and equal to a run without autocast."""
    torch.manual_seed(0)
    loc = CNNLocalization((1, 12, 12), "affine")
    nn.init.normal_(loc.head.linear.weight, std=0.1)
    st = SpatialTransformer(loc, "affine")
    x = torch.rand(3, 1, 12, 12)
    expected = st(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = st(x)
    assert out.dtype == st.last_params.dtype == st.last_grid.dtype == torch.float32
    torch.testing.assert_close(out, expected)
    reduced = SpatialTransformer(loc, "affine", autocast=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        reduced(x)
    assert reduced.last_params.dtype == torch.bfloat16


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("transform", ALL, ids=lambda t: type(t).__name__)
def test_reduced_precision_grids(transform, dtype):
    """Affine grids round exactly as PyTorch's affine_grid; projective and TPS grids (which PyTorch
    lacks) are the float32 grid rounded once."""
    torch.manual_seed(1)
    params = (transform.identity_params() + 0.05 * torch.randn(2, transform.num_params)).to(dtype)
    size = (2, 1, 9, 14)
    grid = transform(params, size, backend="scratch")
    assert grid.dtype == dtype
    if isinstance(transform, (AttentionTransform, AffineTransform)):
        assert torch.equal(grid, transform(params, size, backend="torch"))
    else:
        ref = transform(params.float(), size, backend="scratch").to(dtype)
        assert torch.equal(grid, ref)
