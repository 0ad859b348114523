"""The 3D transformer of chapter 11 (appendix A.3): θ from yaw/pitch/roll and back, extruded and
posed volumes, the 3D localisation net, SpatialTransformer3D and its projection to 2D."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from stn_course import geometry as geo
from stn_course import volumes
from stn_course.grid import affine_grid
from stn_course.localization import CNN3DLocalization
from stn_course.models import CNN
from stn_course.sampler import trilinear
from stn_course.transformer3d import Projection, ProjectionClassifier, SpatialTransformer3D, project
from stn_course.transforms import Affine3DTransform

D2R = math.pi / 180


def _rot_y(a):
    c, s = math.cos(a), math.sin(a)
    return torch.tensor([[c, 0, s], [0, 1, 0], [-s, 0, c]], dtype=torch.float64)


def _rot_x(a):
    c, s = math.cos(a), math.sin(a)
    return torch.tensor([[1, 0, 0], [0, c, -s], [0, s, c]], dtype=torch.float64)


def _rot_z(a):
    c, s = math.cos(a), math.sin(a)
    return torch.tensor([[c, -s, 0], [s, c, 0], [0, 0, 1]], dtype=torch.float64)


# -- θ for volumes -----------------------------------------------------------------------------

def test_rotation_3d_hand_values():
    # a quarter turn about each axis, written out: yaw sends x to -z, pitch y to z, roll x to y
    yaw = geo.rotation_3d(math.pi / 2, 0.0, 0.0)[0]
    torch.testing.assert_close(yaw, torch.tensor([[0.0, 0, 1], [0, 1, 0], [-1, 0, 0]]), atol=1e-7, rtol=0)
    pitch = geo.rotation_3d(0.0, math.pi / 2, 0.0)[0]
    torch.testing.assert_close(pitch, torch.tensor([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]]), atol=1e-7, rtol=0)
    roll = geo.rotation_3d(0.0, 0.0, math.pi / 2)[0]
    torch.testing.assert_close(roll, torch.tensor([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]]), atol=1e-7, rtol=0)


@pytest.mark.parametrize("yaw, pitch, roll", [(30, -20, 45), (-170, 80, 10), (0, 0, -120)])
def test_rotation_3d_is_the_product_of_the_three_axis_rotations(yaw, pitch, roll):
    got = geo.rotation_3d(torch.tensor([yaw * D2R], dtype=torch.float64), pitch * D2R, roll * D2R)[0]
    expected = _rot_y(yaw * D2R) @ _rot_x(pitch * D2R) @ _rot_z(roll * D2R)
    torch.testing.assert_close(got, expected, atol=1e-12, rtol=0)


def test_rotations_are_orthogonal_with_determinant_one():
    g = torch.Generator().manual_seed(0)
    angles = (torch.rand(3, 50, generator=g, dtype=torch.float64) * 2 - 1) * math.pi
    r = geo.rotation_3d(*angles)
    assert r.shape == (50, 3, 3) and r.dtype == torch.float64
    torch.testing.assert_close(r @ r.transpose(1, 2), torch.eye(3, dtype=torch.float64).expand(50, 3, 3),
                               atol=1e-12, rtol=0)
    torch.testing.assert_close(torch.linalg.det(r), torch.ones(50, dtype=torch.float64), atol=1e-12, rtol=0)


def test_roll_is_the_2d_angle_seen_from_the_front():
    theta = geo.theta3d_from(roll=0.7, scale=0.8, tx=0.1, ty=-0.2, tz=0.3)
    flat = geo.theta_from(0.7, 0.8, 0.0, 0.1, -0.2)
    torch.testing.assert_close(theta[:, :2, [0, 1, 3]], flat)


def test_theta3d_from_hand_values_and_identity():
    theta = geo.theta3d_from(math.pi / 2, 0.0, 0.0, 2.0, 0.1, 0.2, 0.3)
    expected = torch.tensor([[[0.0, 0, 2, 0.1], [0, 2, 0, 0.2], [-2, 0, 0, 0.3]]])
    torch.testing.assert_close(theta, expected, atol=1e-7, rtol=0)
    torch.testing.assert_close(geo.theta3d_from(), geo.identity_theta3d(1))
    assert geo.theta3d_from(torch.zeros(4), scale=torch.ones(4)).shape == (4, 3, 4)


def test_decompose_theta3d_round_trip():
    g = torch.Generator().manual_seed(1)
    n = 64
    params = {
        "yaw": (torch.rand(n, generator=g, dtype=torch.float64) * 2 - 1) * math.pi * 0.99,
        "pitch": (torch.rand(n, generator=g, dtype=torch.float64) * 2 - 1) * math.pi / 2 * 0.99,
        "roll": (torch.rand(n, generator=g, dtype=torch.float64) * 2 - 1) * math.pi * 0.99,
        "scale": 0.3 + torch.rand(n, generator=g, dtype=torch.float64) * 2,
        "tx": torch.randn(n, generator=g, dtype=torch.float64),
        "ty": torch.randn(n, generator=g, dtype=torch.float64),
        "tz": torch.randn(n, generator=g, dtype=torch.float64),
    }
    theta = geo.theta3d_from(**params)
    back = geo.decompose_theta3d(theta)
    for name, value in params.items():
        torch.testing.assert_close(back[name], value, atol=1e-9, rtol=0, msg=name)
    torch.testing.assert_close(geo.theta3d_from(**back), theta, atol=1e-9, rtol=0)


def test_decompose_theta3d_at_gimbal_lock_still_rebuilds_theta():
    theta = geo.theta3d_from(torch.tensor([0.4], dtype=torch.float64), math.pi / 2, 0.3, 1.2)
    back = geo.decompose_theta3d(theta)
    assert back["yaw"].item() == 0.0
    torch.testing.assert_close(geo.theta3d_from(**back), theta, atol=1e-9, rtol=0)


def test_decompose_theta3d_reads_the_nearest_rotation_of_a_general_matrix():
    theta = geo.theta3d_from(0.3, -0.2, 0.5, 1.0).double()
    bent = theta.clone()
    bent[:, :, :3] = bent[:, :, :3] @ torch.diag(torch.tensor([1.2, 0.9, 1.0], dtype=torch.float64))
    back = geo.decompose_theta3d(bent)
    # A·S with S positive diagonal: the polar rotation of A·S is not R exactly, but close; the scale is det^(1/3)
    assert back["scale"].item() == pytest.approx((1.2 * 0.9) ** (1 / 3))
    assert abs(back["yaw"].item() - 0.3) < 0.1 and abs(back["roll"].item() - 0.5) < 0.1


@pytest.mark.parametrize("bad, error, words", [
    (torch.zeros(1, 2, 3), ValueError, r"\(N, 3, 4\)"),
    (torch.eye(3, 4, dtype=torch.int64)[None], TypeError, "floating"),
    (torch.cat([-torch.eye(3), torch.zeros(3, 1)], 1)[None], ValueError, "positive determinant"),
])
def test_decompose_theta3d_rejects_bad_input(bad, error, words):
    with pytest.raises(error, match=words):
        geo.decompose_theta3d(bad)


def test_theta3d_from_rejects_mismatched_batches():
    with pytest.raises(ValueError, match="scale must have 1 or N=3"):
        geo.theta3d_from(torch.zeros(3), scale=torch.ones(2))
    with pytest.raises(ValueError, match="pitch must be a scalar or a 1-D"):
        geo.rotation_3d(0.0, torch.zeros(2, 2))


def test_chain_theta_is_sampling_twice():
    g = torch.Generator().manual_seed(2)
    vol = torch.rand(1, 1, 9, 10, 11, generator=g, dtype=torch.float64)
    first = geo.theta3d_from(0.3, 0.2, -0.4, 0.9, 0.05, 0.0, -0.1).double()
    second = geo.theta3d_from(-0.2, 0.1, 0.3, 0.8).double()
    chained = geo.chain_theta(first, second)
    # the grid of the chain is the first warp applied to the second's grid
    grid2 = affine_grid(second, vol.shape)
    expected = grid2 @ first[0, :, :3].T + first[0, :, 3]
    torch.testing.assert_close(affine_grid(chained, vol.shape), expected)
    torch.testing.assert_close(geo.chain_theta(first, geo.identity_theta3d(1, dtype=torch.float64)), first)
    with pytest.raises(ValueError, match="second must have the shape of first"):
        geo.chain_theta(first, geo.identity_theta(1, dtype=torch.float64))


def test_view_angle_of_rotations_and_of_shears_along_depth():
    angles = torch.tensor([0.0, 20.0, -45.0, 80.0], dtype=torch.float64) * D2R
    for which in ("yaw", "pitch"):
        theta = geo.theta3d_from(**{which: angles})
        torch.testing.assert_close(geo.view_angle(theta), angles.abs(), atol=1e-9, rtol=0)
    # roll and scale keep the front view; a shear of z into x tilts the line of sight by atan(0.5)
    assert geo.view_angle(geo.theta3d_from(roll=1.0, scale=0.5)).item() == pytest.approx(0.0, abs=1e-6)
    shear = geo.identity_theta3d(1, dtype=torch.float64)
    shear[0, 0, 2] = 0.5
    assert geo.view_angle(shear).item() == pytest.approx(math.atan(0.5))


# -- volumes -----------------------------------------------------------------------------------

def test_extrude_puts_the_image_in_a_central_slab():
    img = torch.rand(2, 1, 6, 8)
    vol = volumes.extrude(img, depth=7, thickness=3)
    assert vol.shape == (2, 1, 7, 6, 8)
    assert torch.equal(vol[:, :, 2:5], img[:, :, None].expand(2, 1, 3, 6, 8))
    assert vol[:, :, :2].abs().sum() == 0 and vol[:, :, 5:].abs().sum() == 0
    torch.testing.assert_close(project(vol), 3 * img)
    assert volumes.extrude(img).shape == (2, 1, 8, 6, 8)  # depth defaults to W


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(images=torch.rand(1, 6, 8)), ValueError, r"\(N, C, H, W\)"),
    (dict(images=torch.ones(1, 1, 4, 4, dtype=torch.uint8)), TypeError, "floating"),
    (dict(images=torch.rand(1, 1, 4, 4), thickness=5), ValueError, "thickness must be at most depth"),
    (dict(images=torch.rand(1, 1, 4, 4), depth=0), ValueError, "depth"),
    (dict(images=torch.rand(1, 1, 4, 4), thickness=2.0), TypeError, "thickness"),
])
def test_extrude_rejects_bad_input(kwargs, error, words):
    with pytest.raises(error, match=words):
        volumes.extrude(**kwargs)


def test_random_pose_is_deterministic_rigid_and_within_its_limits():
    a = volumes.random_pose(200, torch.Generator().manual_seed(5), max_yaw=0.5, max_pitch=0.3, max_roll=1.0)
    b = volumes.random_pose(200, torch.Generator().manual_seed(5), max_yaw=0.5, max_pitch=0.3, max_roll=1.0)
    assert torch.equal(a, b) and a.shape == (200, 3, 4)
    parts = geo.decompose_theta3d(a.double())
    assert parts["yaw"].abs().max() <= 0.5 + 1e-6 and parts["pitch"].abs().max() <= 0.3 + 1e-6
    assert parts["roll"].abs().max() <= 1.0 + 1e-6 and parts["roll"].abs().max() > 0.9
    torch.testing.assert_close(parts["scale"], torch.ones(200, dtype=torch.float64), atol=1e-6, rtol=0)
    assert a[:, :, 3].abs().max() == 0
    with pytest.raises(ValueError, match="max_yaw must be at most"):
        volumes.random_pose(1, torch.Generator(), max_yaw=2.0)
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        volumes.random_pose(1, 0)


def test_posed_digits_match_the_package_sampler_and_repeat():
    img = torch.rand(3, 1, 10, 10, generator=torch.Generator().manual_seed(0))
    vol, theta = volumes.posed_digits(img, torch.Generator().manual_seed(1), thickness=2)
    again, _ = volumes.posed_digits(img, torch.Generator().manual_seed(1), thickness=2)
    assert torch.equal(vol, again) and vol.shape == (3, 1, 10, 10, 10)
    ours = trilinear(volumes.extrude(img, thickness=2), affine_grid(theta, vol.shape))
    torch.testing.assert_close(vol, ours, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match=r"theta must have shape \(N, 3, 4\) with N=3"):
        volumes.pose(vol, theta[:2])


# -- the transformer ---------------------------------------------------------------------------

def _volume(n=2, d=8, h=10, w=12, seed=0):
    return torch.rand(n, 1, d, h, w, generator=torch.Generator().manual_seed(seed))


def test_affine3d_transform_identity_and_errors():
    t = Affine3DTransform()
    assert t.num_params == 12
    grid = t(t.identity_params().expand(2, 12), (2, 1, 3, 4, 5))
    torch.testing.assert_close(grid, F.affine_grid(torch.eye(3, 4).expand(2, 3, 4), [2, 1, 3, 4, 5],
                                                   align_corners=False))
    with pytest.raises(ValueError, match=r"params must have shape \(N, 12\)"):
        t(torch.zeros(2, 6), (2, 1, 3, 4, 5))
    with pytest.raises(ValueError, match=r"size must be a sequence \(N, C, D, H, W\)"):
        t(torch.zeros(2, 12), (2, 1, 4, 5))


@pytest.mark.parametrize("backend", ["torch", "scratch"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_untrained_transformer_is_the_identity(backend, align_corners):
    x = _volume()
    st = SpatialTransformer3D(CNN3DLocalization((1, 8, 10, 12)), backend=backend, align_corners=align_corners)
    torch.testing.assert_close(st(x), x, atol=1e-5, rtol=0)
    torch.testing.assert_close(st.last_theta, geo.identity_theta3d(2))
    assert st.last_grid.shape == (2, 8, 10, 12, 3)


@pytest.mark.parametrize("align_corners", [False, True])
def test_both_backends_agree_with_pytorch(align_corners):
    x = _volume(n=3, d=7, h=9, w=11, seed=3).double()
    theta = geo.theta3d_from(torch.tensor([0.3, -0.5, 1.2]), 0.2, -0.4, torch.tensor([0.8, 1.1, 0.9]),
                             0.1, -0.05, 0.2).double()
    expected = F.grid_sample(x, F.affine_grid(theta, [3, 1, 5, 6, 4], align_corners=align_corners),
                             mode="bilinear", padding_mode="zeros", align_corners=align_corners)
    for backend in ("torch", "scratch"):
        st = SpatialTransformer3D(torch.nn.Identity(), out_size=(5, 6, 4), backend=backend,
                                  align_corners=align_corners)
        torch.testing.assert_close(st(x, theta), expected, atol=1e-10, rtol=0)


def test_gradients_reach_the_localisation_net_through_the_projection():
    x = _volume(n=4, d=12, h=12, w=12, seed=4)
    st = SpatialTransformer3D(CNN3DLocalization((1, 12, 12, 12)))
    model = ProjectionClassifier(CNN((1, 12, 12), channels=(4, 8)), st)
    logits = model(x)
    assert logits.shape == (4, 10)
    logits.sum().backward()
    assert st.localization.head.linear.weight.grad.abs().sum() > 0


def test_in_plane_transforms_commute_with_the_projection():
    # roll, an x/y scale and an x/y shift leave depth alone: projecting after the 3D warp is warping the projection in 2D
    x = _volume(n=2, d=6, h=14, w=14, seed=5).double()
    theta = geo.theta3d_from(torch.tensor([0.0, 0.0]), 0.0, torch.tensor([0.6, -1.1]), 0.8, 0.1, -0.2).double()
    theta[:, 2, 2] = 1.0  # the scale in x and y only: scaling z would sample less (or more) of the depth
    st = SpatialTransformer3D(torch.nn.Identity())
    flat = geo.theta_from(torch.tensor([0.6, -1.1]), 0.8, 0.0, 0.1, -0.2).double()
    img = project(x)
    expected = F.grid_sample(img, F.affine_grid(flat, list(img.shape), align_corners=False), align_corners=False)
    torch.testing.assert_close(project(st(x, theta)), expected, atol=1e-10, rtol=0)


def test_undoing_a_pose_restores_the_front_view():
    img = torch.zeros(1, 1, 24, 24)
    img[:, :, 6:18, 9:15] = 1.0
    theta = geo.theta3d_from(60 * D2R, -40 * D2R, 20 * D2R)
    vol = volumes.pose(volumes.extrude(img, thickness=4), theta)
    inverse = torch.cat([theta[:, :, :3].transpose(1, 2), torch.zeros(1, 3, 1)], dim=2)
    st = SpatialTransformer3D(torch.nn.Identity())
    front = project(st(vol, inverse)) / 4
    posed = project(vol) / 4
    assert (front - img).abs().mean() < 0.5 * (posed - img).abs().mean()
    assert geo.view_angle(theta).item() > 60 * D2R
    assert geo.view_angle(geo.chain_theta(theta, inverse)).item() == pytest.approx(0.0, abs=1e-5)


def test_projection_reductions_and_bad_input():
    x = _volume(n=1, d=3, h=2, w=2)
    torch.testing.assert_close(project(x, "mean"), x.mean(2))
    torch.testing.assert_close(project(x, "max"), x.amax(2))
    assert repr(Projection("max")) == "Projection(reduce='max')"
    with pytest.raises(ValueError, match="reduce must be one of"):
        project(x, "median")
    with pytest.raises(ValueError, match=r"volume must have shape \(N, C, D, H, W\)"):
        project(x[:, 0])


@pytest.mark.parametrize("make, error, words", [
    (lambda: CNN3DLocalization((1, 8, 8)), ValueError, r"in_shape must be \(C, D, H, W\)"),
    (lambda: CNN3DLocalization((1, 8, 8, 8), downsample=0), ValueError, "downsample must be an int >= 1"),
    (lambda: CNN3DLocalization((1, 6, 8, 8)), ValueError, "too small for downsample=2 and 2 pooling stages"),
    (lambda: SpatialTransformer3D(torch.nn.Identity(), out_size=(4, 4)), ValueError, "out_size must be"),
    (lambda: SpatialTransformer3D(torch.nn.Identity(), backend="cuda"), ValueError, "backend must be one of"),
])
def test_constructors_reject_bad_arguments(make, error, words):
    with pytest.raises(error, match=words):
        make()


def test_transformer_rejects_bad_input():
    st = SpatialTransformer3D(CNN3DLocalization((1, 8, 10, 12)))
    with pytest.raises(ValueError, match=r"x must have shape \(N, C, D, H, W\)"):
        st(torch.rand(2, 1, 10, 12))
    with pytest.raises(TypeError, match="x must have a floating-point dtype"):
        st(torch.ones(2, 1, 8, 10, 12, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"theta must have shape \(N, 3, 4\) with N=2"):
        st(_volume(), geo.identity_theta3d(3))


def test_the_yaw_pitch_roll_check_passes_the_package_and_fails_wrong_answers(capsys):
    from stn_course.exercises import ExerciseFailed, ch11

    ch11.check_yaw_pitch_roll(geo.rotation_3d)
    assert "all 5 cases pass" in capsys.readouterr().out
    with pytest.raises(ExerciseFailed, match=r"case 2/5 \(a quarter yaw"):  # the inverse rotation
        ch11.check_yaw_pitch_roll(lambda y, p, r: geo.rotation_3d(y, p, r).transpose(1, 2))
    # R_z · R_x · R_y: right about each single axis, wrong when the three combine
    with pytest.raises(ExerciseFailed, match=r"case 5/5 \(a batch of three turns"):
        ch11.check_yaw_pitch_roll(lambda y, p, r: geo.rotation_3d(-y, -p, -r).transpose(1, 2))
