"""The distorted-MNIST recipes: shapes, ranges, determinism, and rendered result vs drawn parameters.

The geometric checks draw a small Gaussian blob at a known input point and check that its
centroid lands where the drawn parameters say, computed here independently in pixels.
"""

import math

import numpy as np
import pytest
import torch

from stn_course import distortions as D

OUT = {"R": 28, "RTS": 42, "P": 28, "E": 28, "TC": 60}


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def digits(n: int = 32, seed: int = 0) -> torch.Tensor:
    """Random 'digits': a bright random blob pattern in the central 20×20 box."""
    x = torch.zeros(n, 1, 28, 28)
    x[:, :, 4:24, 4:24] = torch.rand(n, 1, 20, 20, generator=gen(seed))
    return x


def blob(centres: torch.Tensor, size: int = 28, sigma: float = 1.0) -> torch.Tensor:
    """Gaussian blobs (N, 1, size, size) centred at pixel coordinates ``centres`` (N, 2) = (x, y)."""
    ax = torch.arange(size, dtype=torch.float64)
    gx = torch.exp(-((ax[None, :] - centres[:, 0:1]) ** 2) / (2 * sigma ** 2))
    gy = torch.exp(-((ax[None, :] - centres[:, 1:2]) ** 2) / (2 * sigma ** 2))
    return (gy[:, :, None] * gx[:, None, :])[:, None]


def centroid(images: torch.Tensor) -> torch.Tensor:
    """Intensity centroid (N, 2) = (x, y) in pixel coordinates."""
    n, _, h, w = images.shape
    m = images[:, 0].double()
    total = m.sum(dim=(1, 2))
    x = (m.sum(dim=1) * torch.arange(w, dtype=torch.float64)).sum(dim=1) / total
    y = (m.sum(dim=2) * torch.arange(h, dtype=torch.float64)).sum(dim=1) / total
    return torch.stack([x, y], dim=1)


def forward_rotation(angle: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """Turn offsets p (N, 2) counter-clockwise *on screen* (y down) by ``angle``."""
    c, s = angle.cos().double(), angle.sin().double()
    return torch.stack([c * p[:, 0] + s * p[:, 1], -s * p[:, 0] + c * p[:, 1]], dim=1)


# ----------------------------------------------------------------------------- every variant

@pytest.mark.parametrize("name", D.NAMES)
def test_shapes_dtypes_ranges(name):
    x = digits(16)
    out, params = D.apply(name, x, gen())
    assert out.shape == (16, 1, OUT[name], OUT[name]) and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1 and out.max() > 0.5
    assert D.out_size(name) == OUT[name]
    assert all(v.shape[0] == 16 for v in params.values())
    out64, _ = D.apply(name, x.double(), gen())
    assert out64.dtype == torch.float64


@pytest.mark.parametrize("name", D.NAMES)
def test_same_seed_same_result_other_seed_differs(name):
    x = digits(16)
    a, pa = D.apply(name, x, gen(1))
    b, pb = D.apply(name, x, gen(1))
    c, _ = D.apply(name, x, gen(2))
    assert torch.equal(a, b) and all(torch.equal(pa[k], pb[k]) for k in pa)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("name", ["R", "RTS", "P", "E"])
def test_scratch_backend_matches_torch(name):
    x = digits(8)
    a, p = D.apply(name, x, gen())
    b, _ = D.apply(name, x, params=p, backend="scratch")
    torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", D.NAMES)
def test_params_rerender_identically(name):
    x = digits(8)
    a, p = D.apply(name, x, gen())
    b, _ = D.apply(name, x, params=p)
    assert torch.equal(a, b)


def test_bad_inputs_name_the_argument():
    x = digits(2)
    with pytest.raises(ValueError, match="name"):
        D.apply("Q", x, gen())
    with pytest.raises(TypeError, match="images"):
        D.apply("R", (x * 255).to(torch.uint8), gen())
    with pytest.raises(ValueError, match="images"):
        D.apply("R", x[:, 0], gen())
    with pytest.raises(TypeError, match="generator"):
        D.apply("R", x, 0)
    with pytest.raises(ValueError, match="pool_size"):
        D.apply("TC", x[:1], gen())


# ----------------------------------------------------------------------------- R

def test_rotation_angles_in_range():
    p = D.sample_rotated(20_000, gen())
    assert p["angle"].abs().max() <= math.pi / 2
    assert p["angle"].min() < -1.5 and p["angle"].max() > 1.5  # it does use the whole range
    assert abs(p["angle"].mean()) < 0.03


def test_rotation_positive_angle_turns_counter_clockwise():
    x = blob(torch.tensor([[13.5 + 6.0, 13.5]]))  # a dot to the right of the centre
    out, _ = D.rotated(x.float(), params={"angle": torch.tensor([math.pi / 2])})
    torch.testing.assert_close(centroid(out), torch.tensor([[13.5, 13.5 - 6.0]], dtype=torch.float64),
                               atol=0.05, rtol=0)  # now above it (y points down)


def test_rotation_renders_the_drawn_angle():
    n = 64
    offsets = torch.tensor([[5.0, -3.0]]).expand(n, 2).double()
    out, p = D.rotated(blob(13.5 + offsets).float(), gen(3))
    expected = 13.5 + forward_rotation(p["angle"], offsets)
    torch.testing.assert_close(centroid(out), expected, atol=0.1, rtol=0)


# ----------------------------------------------------------------------------- RTS

def test_rts_params_in_range():
    p = D.sample_rts(20_000, gen())
    a, s, t = p["angle"], p["scale"], p["shift"]
    assert a.abs().max() <= math.pi / 4 and s.min() >= 0.7 and s.max() <= 1.2
    room = 21.0 - 10.0 * s * (a.cos().abs() + a.sin().abs())
    assert (t.abs() <= room[:, None] + 1e-5).all()
    assert (t.abs().amax(dim=1) > 0.9 * room).float().mean() > 0.15  # reaches the edges of its room
    assert abs(t.mean()) < 0.1


def test_rts_renders_the_drawn_transform_in_the_42_canvas():
    n = 64
    offsets = torch.tensor([[4.0, 2.0]]).expand(n, 2).double()
    x = blob(13.5 + offsets, sigma=1.5)
    out, p = D.rts(x.float(), gen(4))
    assert out.shape == (n, 1, 42, 42)
    expected = 20.5 + p["scale"].double()[:, None] * forward_rotation(p["angle"], offsets) + p["shift"].double()
    torch.testing.assert_close(centroid(out), expected, atol=0.1, rtol=0)
    # the blob's total brightness grows with its area, scale²
    ratio = out.sum(dim=(1, 2, 3)).double() / x.sum(dim=(1, 2, 3))
    torch.testing.assert_close(ratio, p["scale"].double() ** 2, atol=0, rtol=0.02)


def test_content_box_stays_inside_the_canvas():
    # the 20×20 content box loses nothing to the canvas edge: rendered with the same
    # parameters in a much larger canvas, it carries the same total brightness
    box = torch.zeros(200, 1, 28, 28, dtype=torch.float64)
    box[:, :, 4:24, 4:24] = 1.0  # MNIST's 20×20 content box
    out, p = D.rts(box, gen(5))
    big, _ = D.rts(box, params=p, out_size=80)
    # (up to the bilinear kernel's half-pixel blur at an edge the box exactly touches)
    torch.testing.assert_close(out.sum(dim=(1, 2, 3)), big.sum(dim=(1, 2, 3)), atol=0, rtol=1e-4)
    edge = (out[..., 0, :].amax(-1) + out[..., -1, :].amax(-1) + out[..., :, 0].amax(-1) + out[..., :, -1].amax(-1))
    assert (edge > 0).float().mean() > 0.05  # and some boxes do reach the edge: the room is used


def test_non_square_rotation_does_not_shear():
    # a square in a 24×48 image, turned by 30°, keeps an isotropic second moment (a naive θ
    # built for a square image would stretch it into a rhombus)
    x = torch.zeros(1, 1, 24, 48, dtype=torch.float64)
    x[:, :, 8:16, 20:28] = 1.0
    theta = D.placement_theta(torch.tensor([math.radians(30)], dtype=torch.float64),
                              torch.ones(1, dtype=torch.float64), torch.zeros(1, 2, dtype=torch.float64),
                              (24, 48), (24, 48))
    out = torch.nn.functional.grid_sample(x, torch.nn.functional.affine_grid(theta, [1, 1, 24, 48],
                                                                              align_corners=False),
                                          align_corners=False)
    m = out[0, 0]
    yy, xx = torch.meshgrid(torch.arange(24.0, dtype=torch.float64), torch.arange(48.0, dtype=torch.float64),
                            indexing="ij")
    cx, cy = (m * xx).sum() / m.sum(), (m * yy).sum() / m.sum()
    sxx, syy = (m * (xx - cx) ** 2).sum() / m.sum(), (m * (yy - cy) ** 2).sum() / m.sum()
    sxy = (m * (xx - cx) * (yy - cy)).sum() / m.sum()
    assert abs(float(sxx - syy)) < 0.1 and abs(float(sxy)) < 0.1
    assert abs(float(cx) - 23.5) < 1e-6 and abs(float(cy) - 11.5) < 1e-6


# ----------------------------------------------------------------------------- P

def _homography_np(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """4-point DLT (independent of the package): 3×3 H with H src ~ dst."""
    rows = []
    for (x, y), (u, v) in zip(src, dst):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y, -u])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y, -v])
    _, _, vt = np.linalg.svd(np.asarray(rows))
    return vt[-1].reshape(3, 3)


def test_projective_params_in_range():
    p = D.sample_projective(20_000, gen())
    s, shift = p["scale"], p["corner_shift"]
    assert s.min() >= 0.75 and s.max() <= 1.0
    assert abs(float(shift.std()) - 5.0) < 0.1 and abs(float(shift.mean())) < 0.1
    corners = torch.tensor([[-14.0, -14.0], [14.0, -14.0], [14.0, 14.0], [-14.0, 14.0]])
    torch.testing.assert_close(p["corners"], s[:, None, None] * corners + shift)
    assert D._convex_same_orientation(p["corners"]).all()


def test_projective_rejects_folded_corner_sets():
    p = D.sample_projective(5000, gen(), corner_std=12.0)  # large noise folds many draws
    assert D._convex_same_orientation(p["corners"]).all()


def test_projective_renders_the_drawn_corners():
    n = 32
    offsets = torch.tensor([[3.0, -2.0]]).expand(n, 2).double()
    out, p = D.projective(blob(13.5 + offsets, sigma=0.8).float(), gen(6))
    src = np.array([[-14.0, -14.0], [14.0, -14.0], [14.0, 14.0], [-14.0, 14.0]])
    expected = []
    for i in range(n):
        h = _homography_np(src, p["corners"][i].double().numpy())
        q = h @ np.array([3.0, -2.0, 1.0])
        expected.append(13.5 + q[:2] / q[2])
    torch.testing.assert_close(centroid(out), torch.tensor(np.array(expected)), atol=0.3, rtol=0)


def test_projective_homography_maps_corners_to_corners():
    _, p = D.projective(digits(8), gen(7))
    target = p["corners"].double() / 14.0
    mapped = torch.cat([target, torch.ones(8, 4, 1, dtype=torch.float64)], dim=2) @ p["homography"].double().transpose(1, 2)
    torch.testing.assert_close(mapped[..., :2] / mapped[..., 2:], D.CORNERS.double().expand(8, 4, 2),
                               atol=1e-4, rtol=0)


# ----------------------------------------------------------------------------- E

def test_elastic_params_in_range():
    p = D.sample_elastic(20_000, gen(), sigma=2.0)
    assert p["offsets"].shape == (20_000, 16, 2)
    assert abs(float(p["offsets"].std()) - 2.0) < 0.05 and abs(float(p["offsets"].mean())) < 0.05
    assert p["scale"].min() >= 0.75 and p["scale"].max() <= 1.0


def test_elastic_zero_offsets_is_a_pure_scale():
    x = digits(4)
    scale = torch.tensor([0.8, 0.9, 1.0, 0.75])
    out, _ = D.elastic(x, params={"scale": scale, "offsets": torch.zeros(4, 16, 2)})
    theta = D.placement_theta(torch.zeros(4), scale, torch.zeros(4, 2), (28, 28), (28, 28))
    ref = torch.nn.functional.grid_sample(x, torch.nn.functional.affine_grid(theta, [4, 1, 28, 28],
                                                                             align_corners=False),
                                          align_corners=False)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)


def _source_map(name: str, params: dict, size: int = 28) -> torch.Tensor:
    """Render two linear ramps; bilinear sampling reproduces a linear image exactly, so the
    output holds, at every pixel, the input pixel coordinates (x, y) it sampled: (N, 2, S, S)."""
    n = next(iter(params.values())).shape[0]
    ramp = (torch.arange(size, dtype=torch.float64) + 0.5) / size
    rx = ramp.expand(n, 1, size, size)
    ry = ramp[:, None].expand(n, 1, size, size)
    ox, _ = D.apply(name, rx.contiguous(), params=params)
    oy, _ = D.apply(name, ry.contiguous(), params=params)
    return torch.cat([ox, oy], dim=1) * size - 0.5


def _interpolate(m: torch.Tensor, x: float, y: float) -> torch.Tensor:
    """Bilinear interpolation of maps (N, C, H, W) at pixel coordinates (x, y): (N, C)."""
    x0, y0 = math.floor(x), math.floor(y)
    fx, fy = x - x0, y - y0
    return ((1 - fx) * (1 - fy) * m[..., y0, x0] + fx * (1 - fy) * m[..., y0, x0 + 1]
            + (1 - fx) * fy * m[..., y0 + 1, x0] + fx * fy * m[..., y0 + 1, x0 + 1])


@pytest.mark.parametrize("k", [5, 6, 9, 10])  # the interior control points of the 4×4 grid
def test_elastic_control_point_reads_its_moved_source(k):
    # output control point c_k shows the input at (c_k + offset_k) / scale (pixels from the centre)
    n = 32
    p = D.sample_elastic(n, gen(8))
    ck = D._grid.tps_control_points(16, dtype=torch.float64)[k] * 14.0  # normalised → pixels
    m = _source_map("E", p)
    got = _interpolate(m, 13.5 + float(ck[0]), 13.5 + float(ck[1]))
    expected = 13.5 + (ck + p["offsets"][:, k].double()) / p["scale"].double()[:, None]
    torch.testing.assert_close(got, expected, atol=0.15, rtol=0)  # bilinear interpolation of a curved map


def test_source_map_of_rotation_matches_the_drawn_angle():
    # the same ramp check for R, at every interior pixel: source = Rot(angle)⁻¹ (target − centre)
    p = D.sample_rotated(8, gen(13), max_degrees=20.0)
    m = _source_map("R", p)
    yy, xx = torch.meshgrid(torch.arange(28.0, dtype=torch.float64), torch.arange(28.0, dtype=torch.float64),
                            indexing="ij")
    c, s = p["angle"].double().cos()[:, None, None], p["angle"].double().sin()[:, None, None]
    dx, dy = xx - 13.5, yy - 13.5
    ex, ey = 13.5 + c * dx - s * dy, 13.5 + s * dx + c * dy  # the inverse of forward_rotation
    inside = (ex > 0.5) & (ex < 26.5) & (ey > 0.5) & (ey < 26.5)
    assert inside.sum() > 8 * 400
    torch.testing.assert_close(m[:, 0][inside], ex[inside], atol=1e-6, rtol=0)
    torch.testing.assert_close(m[:, 1][inside], ey[inside], atol=1e-6, rtol=0)


# ----------------------------------------------------------------------------- TC

def test_cluttered_params_in_range_and_never_self():
    p = D.sample_cluttered(5000, gen(), pool_size=5000)
    assert p["clutter_index"].shape == (5000, 6)
    assert (p["clutter_index"] != torch.arange(5000)[:, None]).all()
    assert p["position"].min() == 0 and p["position"].max() == 32
    assert p["clutter_position"].min() == 0 and p["clutter_position"].max() == 54
    assert p["crop_position"].min() == 4 and p["crop_position"].max() == 18


def test_cluttered_digit_is_pasted_exactly():
    x = digits(8)
    out, p = D.cluttered(x, pool=torch.zeros(10, 1, 28, 28), params=None, generator=gen(9))
    for i in range(8):
        px, py = p["position"][i].tolist()
        assert torch.equal(out[i, :, py:py + 28, px:px + 28], x[i])
        rest = out[i].clone()
        rest[:, py:py + 28, px:px + 28] = 0
        assert rest.max() == 0  # nothing else (the pool is black)


def test_cluttered_clutter_count_size_and_content():
    n = 64
    pool = torch.arange(10 * 28 * 28, dtype=torch.float64).reshape(10, 1, 28, 28) / (10 * 28 * 28)
    pool += 1e-3  # every pixel of the pool is positive and unique
    black = torch.zeros(n, 1, 28, 28, dtype=torch.float64)
    out, p = D.cluttered(black, gen(10), pool=pool, pool_index=torch.full((n,), 3))
    mask = torch.zeros(n, 60, 60, dtype=torch.bool)
    for i in range(n):
        for j in range(6):
            x, y = p["clutter_position"][i, j].tolist()
            mask[i, y:y + 6, x:x + 6] = True
    assert torch.equal(out[:, 0] > 0, mask)  # six 6×6 squares, exactly where drawn
    lone = 0
    for i in range(n):
        for j in range(6):
            x, y = p["clutter_position"][i, j].tolist()
            cx, cy = p["crop_position"][i, j].tolist()
            crop = pool[p["clutter_index"][i, j], 0, cy:cy + 6, cx:cx + 6]
            patch = out[i, 0, y:y + 6, x:x + 6]
            assert (patch >= crop).all()  # max-combined: at least the crop's values
            others = [k for k in range(6) if k != j]
            if all(abs(x - p["clutter_position"][i, k, 0]) >= 6 or abs(y - p["clutter_position"][i, k, 1]) >= 6
                   for k in others):
                assert torch.equal(patch, crop)  # a crop that overlaps no other one is copied exactly
                lone += 1
    assert lone > 100
    assert (p["clutter_index"] != 3).all()


# ----------------------------------------------------------------------------- addition and devices

def test_addition_batch_pairs_and_sums():
    x = digits(32)
    labels = torch.arange(32) % 10
    out, y, p = D.addition_batch(x, labels, gen(11))
    assert out.shape == (32, 2, 42, 42)
    assert (p["partner"] != torch.arange(32)).all()
    assert torch.equal(y, labels + labels[p["partner"]])
    first, _ = D.rts(x, params={k: p[k][:, 0] for k in ("angle", "scale", "shift")})
    second, _ = D.rts(x[p["partner"]], params={k: p[k][:, 1] for k in ("angle", "scale", "shift")})
    assert torch.equal(out[:, :1], first) and torch.equal(out[:, 1:], second)


def test_make_generator_is_stable_and_keyed():
    a = torch.rand(3, generator=D.make_generator(0, "R", "train", 0))
    b = torch.rand(3, generator=D.make_generator(0, "R", "train", 0))
    c = torch.rand(3, generator=D.make_generator(0, "R", "train", 1))
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", D.NAMES)
def test_cpu_generator_gives_the_same_distortions_on_cuda(name):
    x = digits(16)
    a, pa = D.apply(name, x, gen(12))
    b, pb = D.apply(name, x.cuda(), gen(12))
    assert b.device.type == "cuda"
    assert all(torch.equal(pa[k], pb[k].cpu()) or torch.allclose(pa[k], pb[k].cpu()) for k in pa)
    torch.testing.assert_close(a, b.cpu(), atol=1e-4, rtol=0)


def test_no_generator_follows_torch_manual_seed():
    x = digits(4)
    torch.manual_seed(123)
    a, _ = D.apply("E", x)
    torch.manual_seed(123)
    b, _ = D.apply("E", x)
    assert torch.equal(a, b)


# ----------------------------------------------------------------------------- every option checked

@pytest.mark.parametrize("call, error, words", [
    # crop_box was checked with inverted logic (`not 0 <= lo and …`): out-of-range boxes passed
    (lambda: D.sample_cluttered(4, gen(), crop_box=(0, 30)), ValueError, "crop_box"),
    (lambda: D.sample_cluttered(4, gen(), crop_box=(10, 13)), ValueError, "crop_box"),
    (lambda: D.sample_cluttered(4, gen(), crop_box=(20, 4)), ValueError, "crop_box"),
    (lambda: D.sample_cluttered(4, gen(), clutter_size=30), ValueError, "clutter_size|crop_box"),
    (lambda: D.sample_cluttered(4, gen(), num_clutter=2.5), TypeError, "num_clutter"),
    (lambda: D.sample_cluttered(4, gen(), pool_index=torch.arange(3)), ValueError, "pool_index"),
    (lambda: D.sample_rts(4, gen(), scale_range=(1.2, 0.7)), ValueError, "scale_range"),
    (lambda: D.sample_rts(4, gen(), scale_range=(0.0, 1.0)), ValueError, "scale_range"),
    (lambda: D.sample_rts(4, gen(), out_size=42.0), TypeError, "out_size"),
    (lambda: D.sample_rotated(4, gen(), max_degrees=-10), ValueError, "max_degrees"),
    (lambda: D.sample_rotated(2.5, gen()), TypeError, "n must be an int"),
    (lambda: D.sample_projective(4, gen(), corner_std=-1.0), ValueError, "corner_std"),
    (lambda: D.sample_projective(4, gen(), scale_range=(0.75, float("nan"))), ValueError, "scale_range"),
    (lambda: D.sample_elastic(4, gen(), sigma=-0.5), ValueError, "sigma"),
    (lambda: D.sample_elastic(4, gen(), num_control_points=5), ValueError, "perfect square"),
    (lambda: D.rotated(digits(2), params={"angle": torch.zeros(3)}), ValueError, "params"),
    (lambda: D.rts(digits(2), params={"angle": torch.zeros(2)}), ValueError, "params"),
    (lambda: D.elastic(digits(2), params={"scale": torch.ones(2), "offsets": torch.zeros(1, 16, 2)}),
     ValueError, "params"),
])
def test_bad_options_are_named(call, error, words):
    with pytest.raises(error, match=words):
        call()


def test_good_crop_boxes_are_accepted():
    for box in [(0, 28), (4, 24), (22, 28)]:
        p = D.sample_cluttered(8, gen(), crop_box=box)
        assert (p["crop_position"] >= box[0]).all() and (p["crop_position"] <= box[1] - 6).all()
