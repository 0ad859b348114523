"""The widgets: the Python side (traits, validation, bundling) and the JavaScript maths,
run in Node.js against stn_course's grid generator and sampler."""

from __future__ import annotations

import json
import math
import shutil
import subprocess

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from stn_course.geometry import decompose_theta, theta_from
from stn_course.widgets import ThetaExplorer, bundle_esm, gray_uint8
from stn_course.widgets.base import STATIC

THETAS = [
    theta_from(),
    theta_from(math.radians(30), 0.8),
    theta_from(math.radians(-70), 1.3, 0.25, 0.2, -0.35, scale_y=0.7),
    torch.tensor([[[0.4, -1.1, 0.6], [0.9, 0.3, -0.8]]]),
]


def test_bundle_inlines_relative_imports_once():
    esm = bundle_esm("theta_explorer.js")
    assert "from \"./" not in esm
    assert esm.count("export function warpGray(") == 1
    assert esm.count("export function thetaFrom(") == 1
    assert "export default" in esm


def test_bundle_reports_a_missing_module(tmp_path):
    (tmp_path / "a.js").write_text('import { x } from "./missing.js";\n')
    with pytest.raises(FileNotFoundError, match="missing.js"):
        bundle_esm("a.js", static=tmp_path)


def test_gray_uint8_scales_rounds_and_squeezes():
    img = torch.tensor([[0.0, 0.5], [1.0, 0.25]])[None, None]
    assert gray_uint8(img).tolist() == [[0, 128], [255, 64]]
    raw = np.array([[1, 2, 3]], dtype=np.uint8)
    assert gray_uint8(raw).tolist() == [[1, 2, 3]] and gray_uint8(raw).dtype == np.uint8


@pytest.mark.parametrize("bad, error, words", [
    (torch.zeros(2, 3, 4), ValueError, "shape"),
    (torch.full((4, 4), 2.0), ValueError, r"\[0, 1\]"),
    (np.zeros((4, 4), dtype=np.int64), TypeError, "dtype"),
])
def test_gray_uint8_rejects_bad_images(bad, error, words):
    with pytest.raises(error, match=words):
        gray_uint8(bad)


def test_explorer_traits_and_theta_conversion():
    img = torch.rand(20, 30)
    w = ThetaExplorer(img, theta=THETAS[2])
    assert (w.height, w.width) == (20, 30) and len(w.image) == 600
    assert np.array_equal(w.image_array(), gray_uint8(img))
    assert w.zoom == round(224 / 30)
    assert torch.allclose(torch.tensor(w.theta, dtype=torch.float64), THETAS[2][0].double(), atol=1e-7)
    w.theta = [[1, 0, 0.5], [0, 1, 0]]
    assert w.theta == [[1.0, 0.0, 0.5], [0.0, 1.0, 0.0]]
    w.theta = np.eye(2, 3)[None]
    assert w.theta == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]


@pytest.mark.parametrize("bad", [torch.zeros(3, 3), [[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0, float("nan")], [0, 1, 0]]])
def test_explorer_rejects_bad_theta(bad):
    w = ThetaExplorer(torch.rand(8, 8))
    with pytest.raises(ValueError, match="theta"):
        w.theta = bad


def test_explorer_parameters_and_warp_match_the_package():
    img = torch.rand(1, 1, 12, 18)
    w = ThetaExplorer(img, theta=theta_from(0.5, 0.9, 0.1, 0.2, 0.0, aspect=18 / 12))
    params = w.parameters()
    assert params["angle"] == pytest.approx(0.5, abs=1e-6) and params["shear"] == pytest.approx(0.1, abs=1e-5)
    expected_parts = decompose_theta(w.theta_tensor().double(), aspect=1.5)
    assert params["scale_x"] == pytest.approx(float(expected_parts["scale_x"][0]))
    u = w.image_tensor()
    expected = F.grid_sample(u, F.affine_grid(w.theta_tensor(), list(u.shape), align_corners=False),
                             align_corners=False)
    assert torch.allclose(w.warped(), expected, atol=1e-5)


# -- the JavaScript, in Node.js ---------------------------------------------------------------

NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="Node.js (`node`) is not installed")


def _run_js(tmp_path, body: str):
    for name in ("warp", "geometry"):
        shutil.copy(STATIC / f"{name}.js", tmp_path / f"{name}.mjs")
    script = tmp_path / "run.mjs"
    script.write_text('import * as warp from "./warp.mjs";\nimport * as geometry from "./geometry.mjs";\n' + body)
    out = subprocess.run([NODE, str(script)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@needs_node
@pytest.mark.parametrize("h, w", [(28, 28), (9, 14)])
def test_js_warp_matches_grid_sample(tmp_path, h, w):
    g = torch.Generator().manual_seed(h * w)
    img = torch.randint(0, 256, (h, w), generator=g, dtype=torch.uint8)
    thetas = [th[0].tolist() for th in THETAS]
    got = _run_js(tmp_path, f"""
const src = Uint8Array.from({json.dumps(img.flatten().tolist())});
const out = {json.dumps(thetas)}.map((t) => Array.from(warp.warpGray(src, {w}, {h}, {w}, {h}, warp.affineSource(t))));
console.log(JSON.stringify(out));
""")
    u = img.double()[None, None]
    for theta, values in zip(THETAS, got):
        theta = theta.double()
        expected = F.grid_sample(u, F.affine_grid(theta, [1, 1, h, w], align_corners=False),
                                 mode="bilinear", padding_mode="zeros", align_corners=False)[0, 0]
        # JS computes in float64 and stores float32: agreement far below one grey level
        assert torch.allclose(torch.tensor(values, dtype=torch.float64).reshape(h, w), expected, atol=1e-3)


@needs_node
def test_js_projective_source_matches_projective_grid(tmp_path):
    from stn_course.grid import projective_grid
    hom = torch.tensor([[[1.0, 0.2, 0.1], [-0.1, 0.9, 0.0], [0.3, -0.2, 1.0]]], dtype=torch.float64)
    got = _run_js(tmp_path, f"""
const f = warp.projectiveSource({json.dumps(hom[0].tolist())});
console.log(JSON.stringify(warp.samplingGrid(5, 4, f, 1)));
""")
    expected = projective_grid(hom, [1, 1, 4, 5])[0]
    assert torch.allclose(torch.tensor(got, dtype=torch.float64), expected, atol=1e-9)


@needs_node
def test_js_theta_composition_matches_geometry(tmp_path):
    cases = [dict(angle=0.3, scaleX=0.8, scaleY=1.2, shear=0.15, tx=0.1, ty=-0.2, aspect=1.0),
             dict(angle=-2.0, scaleX=1.5, scaleY=0.6, shear=-0.4, tx=-0.5, ty=0.3, aspect=2.0)]
    got = _run_js(tmp_path, f"""
const cases = {json.dumps(cases)};
console.log(JSON.stringify(cases.map((c) => {{
  const theta = geometry.thetaFrom(c, c.aspect);
  return {{ theta, back: geometry.decomposeTheta(theta, c.aspect) }};
}})));
""")
    for case, result in zip(cases, got):
        expected = theta_from(case["angle"], case["scaleX"], case["shear"], case["tx"], case["ty"],
                              scale_y=case["scaleY"], aspect=case["aspect"]).double()
        assert torch.allclose(torch.tensor(result["theta"], dtype=torch.float64), expected[0], atol=1e-6)
        parts = decompose_theta(expected, aspect=case["aspect"])
        for js_name, py_name in (("angle", "angle"), ("scaleX", "scale_x"), ("scaleY", "scale_y"),
                                 ("shear", "shear"), ("tx", "tx"), ("ty", "ty")):
            assert result["back"][js_name] == pytest.approx(float(parts[py_name][0]), abs=1e-6)
            assert result["back"][js_name] == pytest.approx(case[js_name], abs=1e-6)
