"""The 3D θ explorer of chapter 11: the Python side (traits, validation, what it draws) and its
JavaScript maths, run in Node.js against stn_course's 3D θ, grid, trilinear sampler and projection."""

from __future__ import annotations

import json
import math
import shutil
import subprocess

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from stn_course.geometry import decompose_theta3d, theta3d_from
from stn_course.widgets.base import STATIC
from stn_course.widgets.base import gray_uint8
from stn_course.widgets.volume import VolumeExplorer

D2R = math.pi / 180
THETAS = [
    theta3d_from(),
    theta3d_from(30 * D2R, -20 * D2R, 45 * D2R, 0.9),
    theta3d_from(-100 * D2R, 60 * D2R, 10 * D2R, 1.3, 0.2, -0.3, 0.1),
    torch.tensor([[[0.9, 0.2, -0.3, 0.1], [-0.1, 1.1, 0.2, 0.0], [0.3, 0.1, 0.8, -0.2]]]),
]


def _volume(d=6, h=7, w=9, seed=0) -> torch.Tensor:
    return torch.rand(d, h, w, generator=torch.Generator().manual_seed(seed))


def test_volume_bytes_shape_and_norm():
    vol = _volume()
    w = VolumeExplorer(vol[None, None], theta=THETAS[1])
    assert (w.depth, w.height, w.width) == (6, 7, 9) and len(w.volume) == 6 * 7 * 9
    assert np.array_equal(w.volume_array(), gray_uint8(vol, ndim=3, name="volume"))
    assert w.zoom == round(224 / 9)
    # norm: the brightest pixel of the identity's projection, in units of full-white voxels
    assert w.norm == pytest.approx(float(w.volume_tensor().sum(2).max()))
    torch.testing.assert_close(torch.tensor(w.theta), THETAS[1][0], atol=1e-7, rtol=0)
    w.theta = np.eye(3, 4)
    assert w.theta == [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]]


@pytest.mark.parametrize("bad", [torch.zeros(2, 3), [[1.0, 0, 0], [0, 1, 0], [0, 0, 1]],
                                 [[1.0, 0, 0, float("inf")], [0, 1, 0, 0], [0, 0, 1, 0]]])
def test_rejects_bad_theta(bad):
    w = VolumeExplorer(_volume())
    with pytest.raises(ValueError, match="theta must"):
        w.theta = bad


@pytest.mark.parametrize("bad, error, words", [
    (torch.rand(4, 5), ValueError, r"shape \(D, H, W\)"),
    (torch.full((3, 3, 3), 1.5), ValueError, r"\[0, 1\]"),
    (np.zeros((3, 3, 3), dtype=np.int32), TypeError, "dtype"),
])
def test_rejects_bad_volumes(bad, error, words):
    with pytest.raises(error, match=words):
        VolumeExplorer(bad)


def test_rejects_a_bad_zoom():
    with pytest.raises(ValueError, match="zoom must be a positive int"):
        VolumeExplorer(_volume(), zoom=0)


def test_parameters_invert_the_sliders_composition():
    w = VolumeExplorer(_volume(), theta=THETAS[2])
    got = w.parameters()
    expected = dict(yaw=-100 * D2R, pitch=60 * D2R, roll=10 * D2R, scale=1.3, tx=0.2, ty=-0.3, tz=0.1)
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=1e-5), name


@pytest.mark.parametrize("k", range(len(THETAS)))
def test_projection_matches_pytorch(k):
    w = VolumeExplorer(_volume(seed=k), theta=THETAS[k])
    vol = w.volume_tensor().double()
    theta = THETAS[k].double()
    warped = F.grid_sample(vol, F.affine_grid(theta, list(vol.shape), align_corners=False),
                           mode="bilinear", padding_mode="zeros", align_corners=False)
    expected = (warped.sum(2) / w.norm).clamp(0, 1)
    assert w.projection().shape == (1, 1, 7, 9)
    torch.testing.assert_close(w.projection().double(), expected, atol=1e-5, rtol=0)


def test_identity_projection_is_the_sum_along_depth():
    w = VolumeExplorer(_volume())
    torch.testing.assert_close(w.projection(), w.volume_tensor().sum(2) / w.norm, atol=1e-5, rtol=0)
    assert w.projection().max().item() == pytest.approx(1.0, abs=1e-5)


def test_bundle_inlines_every_relative_import_once():
    esm = VolumeExplorer._esm
    assert 'from "./' not in esm and "export default" in esm
    for fn in ("pixelToNorm", "projectWarped", "sliderRow", "theta3dFrom"):
        assert esm.count(f"export function {fn}(") == 1, fn


# -- the JavaScript, in Node.js ---------------------------------------------------------------

NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="Node.js (`node`) is not installed")


def _run_js(tmp_path, body: str):
    for name in ("warp", "volume"):
        text = (STATIC / f"{name}.js").read_text(encoding="utf-8").replace('"./warp.js"', '"./warp.mjs"')
        (tmp_path / f"{name}.mjs").write_text(text)
    script = tmp_path / "run.mjs"
    script.write_text('import * as volume from "./volume.mjs";\n' + body)
    out = subprocess.run([NODE, str(script)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@needs_node
def test_js_theta_composition_and_decomposition_match_geometry(tmp_path):
    cases = [dict(yaw=0.3, pitch=-0.2, roll=0.5, scale=0.8, tx=0.1, ty=-0.2, tz=0.3),
             dict(yaw=-2.5, pitch=1.2, roll=-3.0, scale=1.7, tx=-0.5, ty=0.3, tz=0.0),
             dict(yaw=0.4, pitch=math.pi / 2, roll=0.3, scale=1.0, tx=0.0, ty=0.0, tz=0.0)]
    got = _run_js(tmp_path, f"""
const cases = {json.dumps(cases)};
console.log(JSON.stringify(cases.map((c) => {{
  const theta = volume.theta3dFrom(c);
  return {{ theta, back: volume.decomposeTheta3d(theta) }};
}})));
""")
    for case, result in zip(cases, got):
        expected = theta3d_from(**{k: torch.tensor([v], dtype=torch.float64) for k, v in case.items()})
        torch.testing.assert_close(torch.tensor(result["theta"], dtype=torch.float64), expected[0], atol=1e-12, rtol=0)
        parts = decompose_theta3d(expected)
        for name in case:
            assert result["back"][name] == pytest.approx(float(parts[name][0]), abs=1e-9), name
        torch.testing.assert_close(theta3d_from(**{k: torch.tensor([v], dtype=torch.float64)
                                                   for k, v in result["back"].items()}), expected, atol=1e-9, rtol=0)


@needs_node
@pytest.mark.parametrize("d, h, w", [(8, 8, 8), (5, 7, 9)])
def test_js_projection_matches_grid_sample(tmp_path, d, h, w):
    g = torch.Generator().manual_seed(d * h * w)
    vol = torch.randint(0, 256, (d, h, w), generator=g, dtype=torch.uint8)
    thetas = [th[0].tolist() for th in THETAS]
    got = _run_js(tmp_path, f"""
const vol = Uint8Array.from({json.dumps(vol.flatten().tolist())});
console.log(JSON.stringify({json.dumps(thetas)}.map((t) => Array.from(volume.projectWarped(vol, {d}, {h}, {w}, t)))));
""")
    u = vol.double()[None, None]
    for theta, values in zip(THETAS, got):
        grid = F.affine_grid(theta.double(), [1, 1, d, h, w], align_corners=False)
        expected = F.grid_sample(u, grid, mode="bilinear", padding_mode="zeros", align_corners=False).sum(2)[0, 0]
        torch.testing.assert_close(torch.tensor(values, dtype=torch.float64).reshape(h, w), expected,
                                   atol=1e-9, rtol=1e-12)


@needs_node
def test_js_sampling_box_is_theta_applied_to_the_cube(tmp_path):
    theta = THETAS[2][0].double()
    got = _run_js(tmp_path, f"console.log(JSON.stringify(volume.samplingBox({json.dumps(theta.tolist())})));")
    cube = torch.tensor([[x, y, z] for z in (-1, 1) for y in (-1, 1) for x in (-1, 1)], dtype=torch.float64)
    torch.testing.assert_close(torch.tensor(got["corners"], dtype=torch.float64), cube @ theta[:, :3].T + theta[:, 3])
    edges = {tuple(e) for e in got["edges"]}
    assert len(edges) == 12
    assert all(int((cube[p] != cube[q]).sum()) == 1 for p, q in edges)  # each edge changes one coordinate
