"""Grid generators against torch.nn.functional.affine_grid and known invariants."""

import pytest
import torch
import torch.nn.functional as F

from stn_course import grid as G
from stn_course.geometry import identity_theta, pixel_to_norm



@pytest.fixture(autouse=True)
def float64_default():
    """These tests compare in float64; restore the default dtype afterwards."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)

SIZES_2D = [(3, 2, 5, 7), (2, 1, 8, 8), (1, 3, 1, 4), (2, 1, 6, 1)]
SIZES_3D = [(2, 1, 3, 4, 5), (1, 2, 1, 6, 2)]


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("size", SIZES_2D)
def test_affine_grid_matches_torch_2d(size, align_corners):
    gen = torch.Generator().manual_seed(sum(size))
    theta = torch.randn(size[0], 2, 3, generator=gen, dtype=torch.float64)
    ours = G.affine_grid(theta, size, align_corners)
    ref = F.affine_grid(theta, list(size), align_corners=align_corners)
    assert ours.shape == ref.shape == (size[0], size[2], size[3], 2)
    torch.testing.assert_close(ours, ref, atol=1e-12, rtol=0)


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("size", SIZES_3D)
def test_affine_grid_matches_torch_3d(size, align_corners):
    gen = torch.Generator().manual_seed(7)
    theta = torch.randn(size[0], 3, 4, generator=gen, dtype=torch.float64)
    ours = G.affine_grid(theta, size, align_corners)
    ref = F.affine_grid(theta, list(size), align_corners=align_corners)
    assert ours.shape == (size[0], *size[2:], 3)
    torch.testing.assert_close(ours, ref, atol=1e-12, rtol=0)


def test_affine_grid_gradient_matches_torch():
    theta = torch.randn(2, 2, 3, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(2, 4, 6, 2, dtype=torch.float64)
    (g1,) = torch.autograd.grad((G.affine_grid(theta, (2, 1, 4, 6)) * weight).sum(), theta)
    (g2,) = torch.autograd.grad((F.affine_grid(theta, [2, 1, 4, 6], align_corners=False) * weight).sum(), theta)
    torch.testing.assert_close(g1, g2, atol=1e-12, rtol=0)


@pytest.mark.parametrize("align_corners", [False, True])
def test_regular_grid_holds_pixel_centres(align_corners):
    grid = G.regular_grid((3, 5), align_corners)
    assert grid.shape == (3, 5, 3)
    for i in range(5):
        assert grid[0, i, 0].item() == pytest.approx(pixel_to_norm(i, 5, align_corners))
    for j in range(3):
        assert grid[j, 0, 1].item() == pytest.approx(pixel_to_norm(j, 3, align_corners))
    assert torch.all(grid[..., 2] == 1)


def test_linspace_norm_hand_values():
    torch.testing.assert_close(G.linspace_norm(4, False), torch.tensor([-0.75, -0.25, 0.25, 0.75]))
    torch.testing.assert_close(G.linspace_norm(3, True), torch.tensor([-1.0, 0.0, 1.0]))
    torch.testing.assert_close(G.linspace_norm(1, True), torch.tensor([0.0]))


@pytest.mark.parametrize("align_corners", [False, True])
def test_projective_grid_with_affine_matrix_equals_affine_grid(align_corners):
    theta = torch.randn(3, 2, 3)
    hom = torch.cat([theta, torch.tensor([0.0, 0.0, 1.0]).expand(3, 1, 3)], dim=1)
    size = (3, 1, 5, 9)
    torch.testing.assert_close(G.projective_grid(hom, size, align_corners), G.affine_grid(theta, size, align_corners),
                               atol=1e-12, rtol=0)


def test_projective_grid_divides_by_w():
    hom = torch.eye(3).unsqueeze(0) * 2.0  # (2x, 2y, 2) → (x, y): scaling all of H changes nothing
    torch.testing.assert_close(G.projective_grid(hom, (1, 1, 4, 4)), G.affine_grid(identity_theta(1), (1, 1, 4, 4)))
    hom = torch.tensor([[[1.0, 0, 0], [0, 1, 0], [0.5, 0, 1]]])
    grid = G.projective_grid(hom, (1, 1, 2, 2), align_corners=True)
    # point (x, y) = (1, -1): w = 1 + 0.5 = 1.5 → (1/1.5, -1/1.5)
    torch.testing.assert_close(grid[0, 0, 1], torch.tensor([1 / 1.5, -1 / 1.5]))


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("k", [4, 9, 16])
def test_tps_zero_offsets_is_exact_identity(k, align_corners):
    size = (2, 1, 6, 11)
    grid = G.tps_grid(torch.zeros(2, k, 2), size, align_corners)
    assert torch.equal(grid, G.affine_grid(identity_theta(2), size, align_corners))


def test_tps_interpolates_control_points():
    ctrl = G.tps_control_points(16)
    offsets = 0.1 * torch.randn(1, 16, 2)
    # a 4x4 output grid with align_corners=True has its pixel centres exactly on the control points
    grid = G.tps_grid(offsets, (1, 1, 4, 4), align_corners=True)
    torch.testing.assert_close(grid.reshape(16, 2), ctrl + offsets[0], atol=1e-10, rtol=0)


def test_tps_reproduces_affine_motion_exactly():
    """A TPS whose control points move affinely is that affine map everywhere (w = 0)."""
    ctrl = G.tps_control_points(16)
    a = torch.tensor([[0.9, 0.2], [-0.1, 1.1]])
    t = torch.tensor([0.05, -0.1])
    offsets = (ctrl @ a.T + t - ctrl).unsqueeze(0)
    theta = torch.cat([a, t[:, None]], dim=1).unsqueeze(0)
    size = (1, 1, 7, 5)
    torch.testing.assert_close(G.tps_grid(offsets, size), G.affine_grid(theta, size), atol=1e-10, rtol=0)


def test_tps_control_points_layout():
    ctrl = G.tps_control_points(9)
    torch.testing.assert_close(ctrl[0], torch.tensor([-1.0, -1.0]))
    torch.testing.assert_close(ctrl[1], torch.tensor([0.0, -1.0]))
    torch.testing.assert_close(ctrl[8], torch.tensor([1.0, 1.0]))
    assert G.tps_kernel(torch.tensor([0.0]))[0] == 0


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: G.affine_grid(torch.zeros(2, 3, 3), (2, 1, 4, 4)), "theta"),
        (lambda: G.affine_grid(torch.zeros(2, 2, 3), (3, 1, 4, 4)), "size"),
        (lambda: G.affine_grid(torch.zeros(2, 2, 3), (2, 4, 4)), "size"),
        (lambda: G.affine_grid(torch.zeros(1, 3, 4), (1, 1, 4, 4)), "size"),
        (lambda: G.projective_grid(torch.zeros(1, 2, 3), (1, 1, 4, 4)), "homography"),
        (lambda: G.tps_grid(torch.zeros(1, 16), (1, 1, 4, 4)), "offsets"),
        (lambda: G.tps_grid(torch.zeros(1, 5, 2), (1, 1, 4, 4)), "k must be a perfect square"),
    ],
)
def test_bad_input_raises_value_error_naming_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_integer_theta_raises_type_error():
    with pytest.raises(TypeError, match="theta"):
        G.affine_grid(torch.zeros(1, 2, 3, dtype=torch.int64), (1, 1, 4, 4))
    with pytest.raises(TypeError, match="theta"):
        G.affine_grid([[1, 0, 0], [0, 1, 0]], (1, 1, 4, 4))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
@pytest.mark.parametrize("align_corners", [False, True])
def test_affine_grid_rounds_like_torch_in_every_dtype(dtype, align_corners):
    gen = torch.Generator().manual_seed(3)
    theta = (torch.eye(2, 3) + 0.3 * torch.randn(3, 2, 3, generator=gen, dtype=torch.float32)).to(dtype)
    size = (3, 1, 17, 29)
    ours = G.affine_grid(theta, size, align_corners)
    assert ours.dtype == dtype
    assert torch.equal(ours, F.affine_grid(theta, list(size), align_corners=align_corners))


@pytest.mark.parametrize("size", [(0, 1, 4, 5), (2, 0, 4, 5)])
def test_grids_of_an_empty_batch_or_no_channels(size):
    """PyTorch's affine_grid refuses these; ours returns the (possibly empty) grid."""
    n = size[0]
    assert G.affine_grid(identity_theta(n), size).shape == (n, 4, 5, 2)
    assert G.projective_grid(torch.eye(3).expand(n, 3, 3), size).shape == (n, 4, 5, 2)
    assert G.tps_grid(torch.zeros(n, 16, 2), size).shape == (n, 4, 5, 2)
    if n:
        assert torch.equal(G.affine_grid(identity_theta(n), size), G.affine_grid(identity_theta(n), (n, 1, 4, 5)))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_projective_and_tps_keep_reduced_dtypes(dtype):
    hom = (torch.eye(3) + 0.05 * torch.randn(2, 3, 3)).to(dtype)
    grid = G.projective_grid(hom, (2, 1, 6, 7))
    assert grid.dtype == dtype
    assert torch.equal(grid, G.projective_grid(hom.float(), (2, 1, 6, 7)).to(dtype))
    offsets = (0.05 * torch.randn(2, 16, 2)).to(dtype)
    assert G.tps_grid(offsets, (2, 1, 6, 7)).dtype == dtype


@pytest.mark.parametrize("size", [(1, 1, 4.0, 4), (1, 1, 0, 4), (-1, 1, 4, 4), (1, 1, True, 4)])
def test_bad_sizes_name_the_argument(size):
    with pytest.raises(ValueError, match="size"):
        G.affine_grid(identity_theta(1), size)
