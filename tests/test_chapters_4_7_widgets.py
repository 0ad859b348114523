"""The corner (projective) and control-point (TPS) explorers of chapter 7.

Their JavaScript warps in the browser; these tests check that the Python side agrees with
the package, that the JavaScript maths (run with node, when it is installed) agrees with
:mod:`stn_course.grid`, and that bad traits are refused with clear errors.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import torch
import torch.nn.functional as F

from stn_course.geometry import theta_from
from stn_course.grid import projective_grid, regular_grid, tps_control_points, tps_grid
from stn_course.widgets.base import STATIC
from stn_course.widgets.projective import UNIT_CORNERS, ProjectiveExplorer
from stn_course.widgets.tps import TPSExplorer


def _image(h: int = 20, w: int = 24) -> torch.Tensor:
    g = torch.Generator().manual_seed(7)
    return torch.rand(h, w, generator=g)


def _affine_corners(theta: torch.Tensor) -> list[list[float]]:
    unit = torch.tensor(UNIT_CORNERS)
    return (unit @ theta[0, :, :2].T + theta[0, :, 2]).tolist()


def test_projective_identity_by_default():
    w = ProjectiveExplorer(_image())
    assert torch.allclose(w.homography()[0], torch.eye(3, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(w.warped(), w.image_tensor(), atol=1e-6)


def test_projective_corners_of_an_affine_map_give_that_affine_map():
    theta = theta_from(0.4, 0.8, 0.1, 0.2, -0.1)
    w = ProjectiveExplorer(_image(), corners=_affine_corners(theta))
    h = w.homography()[0].float()
    assert torch.allclose(h[:2], theta[0], atol=1e-5)
    assert torch.allclose(h[2], torch.tensor([0.0, 0.0, 1.0]), atol=1e-6)
    image = w.image_tensor()
    expected = F.grid_sample(image, F.affine_grid(theta, list(image.shape), align_corners=False), align_corners=False)
    assert torch.allclose(w.warped(), expected, atol=1e-5)


def test_projective_homography_sends_unit_corners_to_the_corners():
    corners = [[-0.6, -1.0], [0.7, -0.9], [1.1, 1.0], [-1.0, 0.8]]
    w = ProjectiveExplorer(_image(), corners=corners)
    unit = torch.tensor([[x, y, 1.0] for x, y in UNIT_CORNERS], dtype=torch.float64)
    mapped = unit @ w.homography()[0].T
    assert torch.allclose(mapped[:, :2] / mapped[:, 2:], torch.tensor(corners, dtype=torch.float64), atol=1e-9)
    assert w.params().shape == (1, 8)


@pytest.mark.parametrize("bad, match", [([[0, 0]] * 3, r"corners must have shape \(4, 2\), got \(3, 2\)"),
                                        ([[0, float("nan")]] * 4, "corners must be finite")])
def test_projective_rejects_bad_corners(bad, match):
    w = ProjectiveExplorer(_image())
    with pytest.raises(ValueError, match=match):
        w.corners = bad


def test_tps_identity_by_default_and_affine_offsets_are_affine():
    w = TPSExplorer(_image())
    assert torch.allclose(w.warped(), w.image_tensor(), atol=1e-6)
    theta = theta_from(0.3, 0.9, 0.0, 0.1, 0.05)
    ctrl = tps_control_points(16)
    w.offsets = ctrl @ theta[0, :, :2].T + theta[0, :, 2] - ctrl  # every control point moved by θ
    image = w.image_tensor()
    expected = F.grid_sample(image, F.affine_grid(theta, list(image.shape), align_corners=False), align_corners=False)
    assert torch.allclose(w.warped(), expected, atol=1e-4)


def test_tps_validates_its_arguments():
    with pytest.raises(ValueError, match="num_control_points must be a perfect square >= 4, got 10"):
        TPSExplorer(_image(), num_control_points=10)
    with pytest.raises(ValueError, match="sigma must be positive"):
        TPSExplorer(_image(), sigma=0.0)
    w = TPSExplorer(_image(), num_control_points=9)
    assert w.params().shape == (1, 18)
    with pytest.raises(ValueError, match=r"offsets must have shape \(9, 2\) for 9 control points, got \(16, 2\)"):
        w.offsets = [[0.0, 0.0]] * 16


def test_bundles_inline_every_relative_import():
    for widget in (ProjectiveExplorer, TPSExplorer):
        assert 'from "./' not in widget._esm
        assert "export default" in widget._esm


_NODE_SCRIPT = r"""
import { homographyFromPoints, tpsSource, tpsControlPoints } from "%s/linalg.js";
import { projectiveSource } from "%s/warp.js";
const input = JSON.parse(process.argv[2]);
const H = homographyFromPoints([[-1, -1], [1, -1], [1, 1], [-1, 1]], input.corners);
const proj = projectiveSource(H);
const tps = tpsSource(tpsControlPoints(16), input.offsets);
console.log(JSON.stringify({ H, proj: input.points.map(([x, y]) => proj(x, y)), tps: input.points.map(([x, y]) => tps(x, y)) }));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_javascript_maths_matches_the_package(tmp_path):
    g = torch.Generator().manual_seed(3)
    corners = [[-0.7, -1.1], [0.9, -0.8], [1.2, 1.0], [-0.9, 0.7]]
    offsets = 0.15 * torch.randn(16, 2, generator=g, dtype=torch.float64)
    size = (1, 1, 5, 7)  # the JavaScript is evaluated at the pixel centres of this output
    points = regular_grid(size[2:], align_corners=False, dtype=torch.float64)[..., :2].reshape(-1, 2)
    script = tmp_path / "check.mjs"
    script.write_text(_NODE_SCRIPT % (STATIC.as_posix(), STATIC.as_posix()))
    payload = json.dumps({"corners": corners, "offsets": offsets.tolist(), "points": points.tolist()})
    out = subprocess.run(["node", str(script), payload], capture_output=True, text=True, timeout=60, check=True)
    js = json.loads(out.stdout)

    h = ProjectiveExplorer(_image(), corners=corners).homography()
    assert torch.allclose(torch.tensor(js["H"], dtype=torch.float64), h[0], atol=1e-9)
    expected_proj = projective_grid(h, size).reshape(-1, 2)
    assert torch.allclose(torch.tensor(js["proj"], dtype=torch.float64), expected_proj, atol=1e-9)
    expected_tps = tps_grid(offsets[None], size, align_corners=False).reshape(-1, 2)
    assert torch.allclose(torch.tensor(js["tps"], dtype=torch.float64), expected_tps, atol=1e-9)
