"""Coordinates and θ: hand-computed values and round trips."""

import math

import pytest
import torch
import torch.nn.functional as F

from stn_course import geometry as geo
from stn_course.grid import affine_grid
from stn_course.sampler import bilinear


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("size", [1, 2, 5, 28])
def test_pixel_norm_round_trip(size, align_corners):
    p = torch.arange(size, dtype=torch.float64)
    u = geo.pixel_to_norm(p, size, align_corners)
    torch.testing.assert_close(geo.norm_to_pixel(u, size, align_corners), p)


def test_pixel_to_norm_hand_values():
    # align_corners=False: pixel edges at ±1, so the centre of pixel 0 of 4 is at -0.75
    assert geo.pixel_to_norm(0, 4, False) == pytest.approx(-0.75)
    assert geo.pixel_to_norm(3, 4, False) == pytest.approx(0.75)
    assert geo.pixel_to_norm(-0.5, 4, False) == pytest.approx(-1.0)  # the outer edge
    # align_corners=True: pixel centres at ±1
    assert geo.pixel_to_norm(0, 4, True) == pytest.approx(-1.0)
    assert geo.pixel_to_norm(3, 4, True) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="size"):
        geo.pixel_to_norm(0, 0)


def test_theta_from_hand_values():
    theta = geo.theta_from(math.pi / 2, 2.0, 0.0, 0.1, -0.2)
    expected = torch.tensor([[[0.0, -2.0, 0.1], [2.0, 0.0, -0.2]]])
    torch.testing.assert_close(theta, expected, atol=1e-7, rtol=0)
    shear = geo.theta_from(0.0, 1.0, 0.5)
    torch.testing.assert_close(shear, torch.tensor([[[1.0, 0.5, 0.0], [0.0, 1.0, 0.0]]]))
    torch.testing.assert_close(geo.theta_from(), geo.identity_theta(1))


def test_theta_from_broadcasts_batches():
    angles = torch.linspace(-1, 1, 5)
    theta = geo.theta_from(angles, 1.5, tx=0.1)
    assert theta.shape == (5, 2, 3)
    torch.testing.assert_close(theta[:, 0, 2], torch.full((5,), 0.1))
    with pytest.raises(ValueError, match="scale"):
        geo.theta_from(angles, torch.ones(3))


@pytest.mark.parametrize("aspect", [1.0, 0.5, 2.5])
def test_decompose_inverts_theta_from(aspect):
    gen = torch.Generator().manual_seed(0)
    n = 20
    params = dict(
        angle=(torch.rand(n, generator=gen, dtype=torch.float64) - 0.5) * 6,
        scale=0.5 + torch.rand(n, generator=gen, dtype=torch.float64),
        scale_y=0.5 + torch.rand(n, generator=gen, dtype=torch.float64),
        shear=torch.randn(n, generator=gen, dtype=torch.float64) * 0.5,
        tx=torch.randn(n, generator=gen, dtype=torch.float64),
        ty=torch.randn(n, generator=gen, dtype=torch.float64),
    )
    theta = geo.theta_from(**params, aspect=aspect)
    back = geo.decompose_theta(theta, aspect=aspect)
    torch.testing.assert_close(back["scale_x"], params["scale"])
    torch.testing.assert_close(back["scale_y"], params["scale_y"])
    torch.testing.assert_close(back["shear"], params["shear"])
    torch.testing.assert_close(torch.cos(back["angle"]), torch.cos(params["angle"]))
    torch.testing.assert_close(torch.sin(back["angle"]), torch.sin(params["angle"]))
    torch.testing.assert_close(geo.theta_from(back["angle"], back["scale_x"], back["shear"], back["tx"], back["ty"],
                                              scale_y=back["scale_y"], aspect=aspect), theta)


def test_positive_angle_turns_content_counter_clockwise():
    # a bright pixel right of centre must move up (y points down) under a +90° θ
    img = torch.zeros(1, 1, 5, 5, dtype=torch.float64)
    img[0, 0, 2, 4] = 1.0
    out = F.grid_sample(img, F.affine_grid(geo.theta_from(math.pi / 2).double(), [1, 1, 5, 5], align_corners=False),
                        align_corners=False)
    assert out[0, 0, 0, 2] == pytest.approx(1.0)


def test_aspect_correct_rotation_preserves_shapes_in_non_square_images():
    """With aspect = W/H, θ is a true rotation in pixel space of a non-square image (no shear)."""
    h, w = 6, 12
    theta = geo.theta_from(math.pi / 2, aspect=w / h).double()
    # pixel-space rotation: check that θ maps the pixel offsets of a target point to a rotated offset
    grid = affine_grid(theta, (1, 1, h, w))
    px = (grid[..., 0] + 1) * w / 2  # source pixel positions (edges at 0 and w)
    py = (grid[..., 1] + 1) * h / 2
    cx, cy = w / 2, h / 2
    ty_, tx_ = torch.meshgrid(torch.arange(h, dtype=torch.float64) + 0.5, torch.arange(w, dtype=torch.float64) + 0.5,
                              indexing="ij")
    # +90°: source = R(90°)·(target − centre) + centre with R = [[0, -1], [1, 0]] in pixels
    torch.testing.assert_close(px[0], -(ty_ - cy) + cx)
    torch.testing.assert_close(py[0], (tx_ - cx) + cy)
    # the naive θ (aspect 1) would not be a rotation in pixel space: lengths change
    naive = affine_grid(geo.theta_from(math.pi / 2).double(), (1, 1, h, w))
    assert not torch.allclose((naive[..., 0] + 1) * w / 2, px)


def test_attention_theta():
    theta = geo.attention_theta(0.5, 0.2, -0.3)
    torch.testing.assert_close(theta, torch.tensor([[[0.5, 0.0, 0.2], [0.0, 0.5, -0.3]]]))
    # it crops: sampling a ramp with s=0.5 around the centre halves the ramp's range
    ramp = torch.linspace(-1, 1, 8).expand(1, 1, 8, 8).contiguous()
    out = bilinear(ramp, affine_grid(geo.attention_theta(0.5, 0.0, 0.0), (1, 1, 8, 8)))
    assert out.max() - out.min() == pytest.approx((ramp.max() - ramp.min()).item() / 2, abs=1e-5)


def test_decompose_theta_bad_input():
    with pytest.raises(ValueError, match="theta"):
        geo.decompose_theta(torch.zeros(2, 3, 3))
    with pytest.raises(TypeError, match="theta"):
        geo.decompose_theta(torch.zeros(2, 2, 3, dtype=torch.int32))
    with pytest.raises(ValueError, match="aspect"):
        geo.theta_from(0.1, aspect=0.0)


@pytest.mark.parametrize("call, error, words", [
    (lambda: geo.pixel_to_norm(1, 4.5), TypeError, "size"),
    (lambda: geo.norm_to_pixel(0.0, 0), ValueError, "size"),
    (lambda: geo.theta_from(0.1, aspect=float("nan")), ValueError, "aspect"),
    (lambda: geo.decompose_theta(geo.identity_theta(1), aspect=float("inf")), ValueError, "aspect"),
])
def test_bad_arguments_are_named(call, error, words):
    with pytest.raises(error, match=words):
        call()
