"""The invariance explorer: the package's distortions and trained pair (stn_course.invariance), the
widget's Python side, and its in-page kernels (static/nn.js) run in Node.js against PyTorch.

The page itself, in headless Chromium, is checked by test_invariance_explorer_browser.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from stn_course import distortions, invariance
from stn_course.clutter_seed import Xorshift32, clutter_layout
from stn_course.widgets import InvarianceExplorer
from stn_course.widgets.base import STATIC
from stn_course.widgets.invariance import export_graph

NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="Node.js (`node`) is not installed")


@pytest.fixture(scope="module")
def pair():
    return {name: invariance.load_trained(name, "RTS") for name in ("st-cnn-aff", "cnn")}


def _digits(k: int = 3) -> torch.Tensor:
    """k smooth stand-in digits (no MNIST needed): rings and bars in the 20 x 20 box."""
    yy, xx = torch.meshgrid(torch.arange(28.0) - 13.5, torch.arange(28.0) - 13.5, indexing="ij")
    ring = ((xx**2 + yy**2).sqrt() - 7).abs() < 2
    bar = (xx.abs() < 2) & (yy.abs() < 9)
    slash = ((xx - yy * 0.5).abs() < 2) & (yy.abs() < 9)
    return torch.stack([ring, bar, slash][:k]).float()[:, None]


# -- stn_course.invariance ------------------------------------------------------------------

def test_distort_is_the_rts_recipe_with_given_parameters():
    images = _digits()
    angle, scale, shift = torch.tensor([30.0, -75.0, 0.0]), torch.tensor([0.8, 1.3, 1.0]), torch.tensor(
        [[3.0, -2.0], [0.0, 6.5], [-10.0, 0.0]])
    expected, _ = distortions.rts(images, params={"angle": torch.deg2rad(angle), "scale": scale, "shift": shift})
    got = invariance.distort(images, angle, scale, shift)
    assert got.shape == (3, 1, 42, 42)
    assert torch.allclose(got, expected, atol=1e-6)
    # scalars broadcast; R's canvas is the digit's own
    assert torch.allclose(invariance.distort(images, 0.0, 1.0, (0.0, 0.0), distortion="R"), images, atol=1e-6)


@pytest.mark.parametrize("kwargs, words", [
    ({"angle": float("nan")}, "angle must be finite"),
    ({"scale": 0.0}, "scale must be > 0"),
    ({"shift": (1.0, 2.0, 3.0)}, "shift must be a pair"),
    ({"distortion": "TC"}, "distortion must be one of"),
])
def test_distort_names_the_bad_argument(kwargs, words):
    with pytest.raises(ValueError, match=words):
        invariance.distort(_digits(1), **kwargs)


def test_load_trained_reads_the_recorded_half_weights(pair, tmp_path):
    state = torch.load(invariance.RESULTS_DIR / "table1" / "weights" / "cnn_RTS_efficient_seed0.pt")
    loaded = pair["cnn"].state_dict()
    assert all(torch.equal(loaded[k], v.float()) for k, v in state.items())
    assert not pair["cnn"].training
    with pytest.raises(FileNotFoundError, match="seed=7"):
        invariance.load_trained("cnn", "RTS", seed=7)


def test_the_trained_pair_reads_centred_digits_and_the_st_cnn_zooms_in(pair):
    x = invariance.distort(_digits(), 0.0, 1.0)
    _, theta = invariance.predict(pair["st-cnn-aff"], x)
    probabilities, none = invariance.predict(pair["cnn"], x)
    assert none is None and probabilities.shape == (3, 10)
    assert torch.allclose(probabilities.sum(1), torch.ones(3), atol=1e-6)
    # the transformer crops a window smaller than the 42 px canvas (the digit's 28 px box, about)
    scale = theta[:, :, :2].det().abs().sqrt()
    assert ((scale > 0.4) & (scale < 0.9)).all(), scale


def test_accuracy_sweep_counts_right_answers(pair):
    images, labels = _digits(), torch.tensor([0, 1, 1])
    fixed = {"always-one": torch.nn.Sequential(torch.nn.Flatten(), _Constant(1))}
    out = invariance.accuracy_sweep(fixed, images, labels, angles=[0, 90], scales=[1.0])
    assert out["angle"]["values"] == [0.0, 90.0]
    assert out["angle"]["always-one"] == pytest.approx([200 / 3, 200 / 3])
    assert out["scale"]["always-one"] == pytest.approx([200 / 3])
    with pytest.raises(ValueError, match="labels must have shape"):
        invariance.accuracy_sweep(fixed, images, labels[:2], angles=[0])


class _Constant(torch.nn.Module):
    def __init__(self, cls: int):
        super().__init__()
        self.cls = cls

    def forward(self, x):
        out = torch.zeros(x.shape[0], 10)
        out[:, self.cls] = 1.0
        return out


# -- the widget's Python side -----------------------------------------------------------------

@pytest.fixture(scope="module")
def widget(pair):
    return InvarianceExplorer(_digits(), [0, 1, 7], models=pair)


def _torch_side(widget_models, digit: torch.Tensor, angle, scale, shift):
    x = invariance.distort(digit, angle, scale, shift)
    p_st, theta = invariance.predict(widget_models["st-cnn-aff"], x)
    p_cnn, _ = invariance.predict(widget_models["cnn"], x)
    return theta[0], p_st[0], p_cnn[0]


def test_widget_theta_and_probabilities_follow_the_sliders(widget, pair):
    widget.digit = 2
    widget.angle, widget.scale, widget.shift = 0.0, 1.0, (0.0, 0.0)
    before = (widget.theta, widget.probabilities)
    widget.angle, widget.scale, widget.shift = 35.0, 0.8, (4.0, -3.0)
    assert widget.theta != before[0] and widget.probabilities != before[1]
    digit = torch.from_numpy(widget.digit_array(2).astype(np.float32) / 255)[None, None]
    theta, p_st, p_cnn = _torch_side(pair, digit, 35.0, 0.8, (4.0, -3.0))
    assert torch.allclose(torch.tensor(widget.theta), theta, atol=1e-5)
    assert torch.allclose(torch.tensor(widget.probabilities["st-cnn-aff"]), p_st, atol=1e-5)
    assert torch.allclose(torch.tensor(widget.probabilities["cnn"]), p_cnn, atol=1e-5)
    assert widget.label == 7
    assert widget.rectified().shape == (1, 1, 21, 21) and widget.distorted().shape == (1, 1, 42, 42)


def test_widget_follows_a_drawn_image(widget):
    widget.digit = 0
    ring = (widget.theta, widget.probabilities)
    drawn = np.zeros((28, 28), np.uint8)
    drawn[5:23, 12:16] = 255
    widget.digit = -1
    widget.image = drawn.tobytes()
    assert widget.label is None and widget.probabilities != ring[1]


def test_widget_ships_the_weights_rounded_to_half(widget, pair):
    graph, weights = widget.graph, widget.weights
    values = np.frombuffer(weights, dtype="<f2")
    first = graph["models"]["st-cnn-aff"]["localization"][1]
    assert first["op"] == "conv" and first["pad"] == 2
    entry = graph["tensors"][first["weight"]]
    shipped = values[entry["offset"]:entry["offset"] + 20 * 25].reshape(entry["shape"])
    conv = pair["st-cnn-aff"].transformer.localization.net.features[0].weight
    assert np.array_equal(shipped.astype(np.float32), conv.detach().numpy())
    # two models of about 170,000 parameters each, 2 bytes per value
    assert len(weights) == 2 * sum(int(np.prod(e["shape"])) for e in graph["tensors"])
    assert 600_000 < len(weights) < 700_000


@pytest.mark.parametrize("trait, value, words", [
    ("angle", 200.0, r"angle must be degrees in \[-180, 180\]"),
    ("scale", 0.1, r"scale must be in \[0.4, 2\]"),
    ("tx", 30.0, r"shift\[0\] \(tx\) must be pixels in \[-21, 21\]"),
    ("digit", 3, r"digit must be an index in 0..2"),
    ("image", b"\0" * 10, "image must be 28·28 = 784 uint8 bytes, got 10"),
])
def test_widget_names_the_bad_value(widget, trait, value, words):
    with pytest.raises(ValueError, match=words):
        setattr(widget, trait, value)


@pytest.mark.parametrize("kwargs, error, words", [
    ({"digits": torch.zeros(2, 28, 27), "labels": [1, 2]}, ValueError, r"digits must have shape \(K, 1, 28, 28\)"),
    ({"digits": torch.zeros(2, 28, 28), "labels": [1]}, ValueError, "labels must hold one int 0-9 per digit"),
    ({"digits": torch.zeros(1, 28, 28), "labels": [1], "distortion": "E"}, ValueError, "distortion must be one of"),
    ({"digits": torch.zeros(1, 28, 28), "labels": [1], "models": {"cnn": None}}, ValueError, "models must be a dict"),
    ({"labels": [1]}, ValueError, "labels were given without digits"),
])
def test_widget_constructor_names_the_bad_argument(pair, kwargs, error, words):
    kwargs.setdefault("models", pair)
    with pytest.raises(error, match=words):
        InvarianceExplorer(**kwargs)


# -- P and TC: the recipes with given parameters, and their explorers ----------------------------

def test_distort_projective_is_the_p_recipe_with_given_corners():
    images = _digits()
    shift = torch.tensor([[3.0, -2.0], [0.5, 4.0], [-5.0, 1.0], [2.0, 2.5]])
    expected, _ = distortions.projective(images, params={"corners": (0.8 * distortions.CORNERS * 14 + shift).expand(3, 4, 2)})
    assert torch.allclose(invariance.distort_projective(images, 0.8, shift), expected, atol=1e-6)
    # unmoved corners at scale 1: the digit itself
    assert torch.allclose(invariance.distort_projective(images), images, atol=1e-5)
    with pytest.raises(ValueError, match="corner_shift must keep the frame convex"):
        invariance.distort_projective(images, 0.6, [[10.0, 10.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    with pytest.raises(ValueError, match=r"corner_shift must be 4 finite \(x, y\) pixel pairs"):
        invariance.distort_projective(images, 1.0, [[0.0, 0.0]] * 3)


def test_clutter_layout_is_seeded_within_the_recipes_ranges_and_never_the_own_digit():
    a, b = clutter_layout(5, 40, 10, own=3), clutter_layout(5, 40, 10, own=3)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["clutter_position"], clutter_layout(6, 40, 10, own=3)["clutter_position"])
    assert a["clutter_index"].shape == (1, 40) and a["crop_position"].shape == (1, 40, 2)
    assert (a["clutter_index"] != 3).all() and set(a["clutter_index"].flatten().tolist()) <= set(range(10))
    assert a["crop_position"].min() >= 4 and a["crop_position"].max() <= 24 - 6
    assert a["clutter_position"].min() >= 0 and a["clutter_position"].max() <= 60 - 6
    # piece k is drawn k-th: more pieces add to the layout without moving the first ones
    fewer = clutter_layout(5, 6, 10, own=3)
    assert all(torch.equal(fewer[k], a[k][:, :6]) for k in a)
    # a drawn digit (own = -1) may take clutter from any of the pool
    assert set(clutter_layout(1, 200, 10)["clutter_index"].flatten().tolist()) == set(range(10))
    with pytest.raises(ValueError, match="seed must be an int in"):
        Xorshift32(2**32)
    with pytest.raises(ValueError, match="own must be -1"):
        clutter_layout(0, 6, 10, own=10)


def test_distort_cluttered_is_the_tc_recipe_with_the_seeded_layout():
    pool = torch.rand(10, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    images = pool[2:3]
    got = invariance.distort_cluttered(images, (5, -7), pool=pool, own=2, seed=11, pieces=6)
    params = {**clutter_layout(11, 6, 10, own=2), "position": torch.tensor([[21, 9]])}
    expected, _ = distortions.cluttered(images, pool=pool, params=params)
    assert got.shape == (1, 1, 60, 60) and torch.equal(got, expected)
    # the digit is pasted whole, at (16 + x, 16 + y)
    assert (got[0, 0, 9:37, 21:49] >= images[0, 0]).all()
    alone = invariance.distort_cluttered(images, (0, 0), pool=pool, pieces=0)
    outside = alone.clone()
    outside[0, 0, 16:44, 16:44] = 0
    assert torch.equal(alone[0, 0, 16:44, 16:44], images[0, 0]) and not outside.any()
    with pytest.raises(ValueError, match=r"shift must be a pair \(x, y\) of whole pixels in \[-16, 16\]"):
        invariance.distort_cluttered(images, (1.5, 0), pool=pool)


@pytest.fixture(scope="module")
def p_widget():
    return InvarianceExplorer(_digits(), [0, 1, 7], distortion="P")


@pytest.fixture(scope="module")
def tc_widget():
    return InvarianceExplorer(_digits(), [0, 1, 7], distortion="TC")


def _check_against_torch(widget, x):
    models = {name: invariance.load_trained(name, widget.distortion) for name in ("st-cnn-aff", "cnn")}
    p_st, theta = invariance.predict(models["st-cnn-aff"], x)
    p_cnn, _ = invariance.predict(models["cnn"], x)
    assert torch.allclose(torch.tensor(widget.theta), theta[0], atol=1e-5)
    assert torch.allclose(torch.tensor(widget.probabilities["st-cnn-aff"]), p_st[0], atol=1e-5)
    assert torch.allclose(torch.tensor(widget.probabilities["cnn"]), p_cnn[0], atol=1e-5)


def test_p_widget_follows_its_corners_and_scale(p_widget):
    assert (p_widget.size, p_widget.distortion) == (28, "P")
    p_widget.digit, p_widget.scale, p_widget.corners = 2, 1.0, [[0.0, 0.0]] * 4
    before = (p_widget.theta, p_widget.probabilities)
    corners = [[4.0, -3.0], [-2.5, 5.0], [1.0, -6.0], [-3.0, 2.0]]
    p_widget.scale, p_widget.corners = 0.85, corners
    assert p_widget.theta != before[0] and p_widget.probabilities != before[1]
    digit = torch.from_numpy(p_widget.digit_array(2).astype(np.float32) / 255)[None, None]
    x = invariance.distort_projective(digit, 0.85, corners)
    assert torch.equal(p_widget.distorted(), x)
    _check_against_torch(p_widget, x)


def test_tc_widget_follows_its_shift_clutter_and_seed(tc_widget):
    assert (tc_widget.size, tc_widget.distortion, tc_widget.clutter) == (60, "TC", 6)
    tc_widget.digit, tc_widget.shift, tc_widget.clutter_seed = 1, (0, 0), 0
    first = tc_widget.distorted()
    tc_widget.clutter_seed = 1
    assert not torch.equal(tc_widget.distorted(), first), "a new seed must draw new clutter"
    tc_widget.shift, tc_widget.clutter = (-9, 12), 4
    pool = torch.from_numpy(np.frombuffer(tc_widget.digits, dtype=np.uint8).astype(np.float32) / 255).view(-1, 1, 28, 28)
    x = invariance.distort_cluttered(pool[1:2], (-9, 12), pool=pool, own=1, seed=1, pieces=4)
    assert torch.equal(tc_widget.distorted(), x)
    _check_against_torch(tc_widget, x)
    assert tc_widget.rectified().shape == (1, 1, 30, 30)


@pytest.mark.parametrize("which, trait, value, words", [
    ("p", "corners", [[11.0, 0.0]] + [[0.0, 0.0]] * 3, r"corners must be shifts in \[-10, 10\] pixels"),
    ("p", "corners", [[10.0, 10.0]] + [[0.0, 0.0]] * 3, None),  # convex at scale 1: accepted
    ("p", "corners", [[0.0, 0.0]] * 3, r"corners must be 4 \(x, y\) pixel shifts"),
    ("p", "scale", 0.5, r"scale must be in \[0.6, 1.2\]"),
    ("p", "angle", 30.0, "angle is a control of R and RTS only; this explorer shows P"),
    ("p", "tx", 2.0, r"shift\[0\] \(tx\) is a control of R, RTS and TC only"),
    ("p", "clutter", 3, "clutter is a control of TC only"),
    ("tc", "tx", 2.5, r"shift\[0\] \(tx\) must be whole pixels in \[-16, 16\] for TC"),
    ("tc", "ty", 17.0, r"shift\[1\] \(ty\) must be whole pixels in \[-16, 16\] for TC"),
    ("tc", "clutter", 13, r"clutter must be a number of pieces in \[0, 12\]"),
    ("tc", "clutter_seed", 2**32, r"clutter_seed must be an int in \[0, 4294967295\]"),
    ("tc", "scale", 0.8, "scale is a control of R, RTS and P only; this explorer shows TC"),
    ("tc", "corners", [[1.0, 0.0]] + [[0.0, 0.0]] * 3, "corners is a control of P only"),
    ("tc", "distortion", "RTS", "distortion is fixed when the explorer is made"),
])
def test_p_and_tc_widgets_name_the_bad_value(p_widget, tc_widget, which, trait, value, words):
    widget = p_widget if which == "p" else tc_widget
    if words is None:
        setattr(widget, trait, value)
        assert getattr(widget, trait) == value
        setattr(widget, trait, [[0.0, 0.0]] * 4)
        return
    with pytest.raises(ValueError, match=words):
        setattr(widget, trait, value)


def test_p_refuses_a_scale_or_corners_that_fold_the_frame(p_widget):
    p_widget.scale, p_widget.corners = 1.0, [[10.0, 10.0]] + [[0.0, 0.0]] * 3
    with pytest.raises(ValueError, match="corners must keep P's frame convex"):
        p_widget.scale = 0.6  # the top-left corner would cross the diagonal
    assert p_widget.scale == 1.0
    p_widget.corners = [[0.0, 0.0]] * 4


def test_tc_needs_other_digits_for_its_clutter():
    with pytest.raises(ValueError, match="digits must hold at least 2 digits for TC"):
        InvarianceExplorer(_digits(1), [0], distortion="TC")


def test_export_graph_refuses_layers_the_page_cannot_run():
    with pytest.raises(TypeError, match="no kernel for Sigmoid"):
        export_graph({"m": torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.Sigmoid())})
    with pytest.raises(ValueError, match="stride 1"):
        export_graph({"m": torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, stride=2, padding=1))})


# -- the kernels, in Node.js ------------------------------------------------------------------

def _run_js(tmp_path, body: str):
    for name in ("warp", "nn", "ui", "linalg", "recipes", "invariance_explorer"):
        shutil.copy(STATIC / f"{name}.js", tmp_path / f"{name}.js")
    (tmp_path / "package.json").write_text('{"type": "module"}')
    script = tmp_path / "run.js"
    script.write_text('import * as nn from "./nn.js";\nimport * as ex from "./invariance_explorer.js";\n'
                      'import * as rc from "./recipes.js";\nimport * as fs from "node:fs";\n' + body)
    out = subprocess.run([NODE, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@needs_node
def test_js_half_floats_decode_exactly(tmp_path):
    values = np.array([0.0, -0.0, 1.0, -2.5, 65504.0, 6e-8, 1e-5, 0.1, np.inf, -np.inf], dtype="<f2")
    got = _run_js(tmp_path, f"""
const bytes = Uint8Array.from({json.dumps(list(values.tobytes()))});
console.log(JSON.stringify(Array.from(nn.halfToFloat(bytes), (v) => Number.isFinite(v) ? v : String(v))));
""")
    expected = [float(v) if np.isfinite(v) else ("Infinity" if v > 0 else "-Infinity") for v in values.astype(np.float64)]
    assert got == expected


@needs_node
def test_js_layers_match_torch(tmp_path):
    g = torch.Generator().manual_seed(5)
    x = torch.randn(3, 11, 9, generator=g)
    # six output channels: one group of four and one of two in conv2d's blocking
    w, b = torch.randn(6, 3, 5, 5, generator=g), torch.randn(6, generator=g)
    lw, lb = torch.randn(7, 6 * 5 * 4, generator=g), torch.randn(7, generator=g)
    got = _run_js(tmp_path, f"""
const t = (v, shape) => ({{ data: Float32Array.from(v), shape }});
const x = {{ data: Float32Array.from({json.dumps(x.flatten().tolist())}), c: 3, h: 11, w: 9 }};
const conv = nn.conv2d(x, t({json.dumps(w.flatten().tolist())}, [6, 3, 5, 5]), t({json.dumps(b.tolist())}, [6]), 2);
const pooled = nn.maxPool(nn.relu({{ ...conv, data: conv.data.slice() }}), 2);
const lin = nn.linear(nn.flatten(pooled), t({json.dumps(lw.flatten().tolist())}, [7, 120]), t({json.dumps(lb.tolist())}, [7]));
console.log(JSON.stringify({{ conv: Array.from(conv.data), pooled: [pooled.c, pooled.h, pooled.w, ...pooled.data],
  lin: Array.from(lin.data), soft: nn.softmax(lin.data) }}));
""")
    conv = F.conv2d(x[None], w, b, padding=2)
    pooled = F.max_pool2d(F.relu(conv), 2)
    lin = F.linear(pooled.flatten(), lw, lb)
    assert torch.allclose(torch.tensor(got["conv"]), conv.flatten(), atol=1e-4)
    assert got["pooled"][:3] == [6, 5, 4]
    assert torch.allclose(torch.tensor(got["pooled"][3:]), pooled.flatten(), atol=1e-4)
    assert torch.allclose(torch.tensor(got["lin"]), lin, atol=1e-3)
    assert torch.allclose(torch.tensor(got["soft"]), lin.softmax(0), atol=1e-6)


@needs_node
def test_js_models_match_torch_on_distorted_digits(tmp_path, widget, pair):
    """The whole page pipeline (distortion, ST-CNN with its sampler, CNN) in Node against PyTorch."""
    cases = [(0, 0.0, 1.0, 0.0, 0.0), (1, 40.0, 0.8, 5.0, -3.0), (2, -120.0, 1.4, -7.5, 6.0)]
    (tmp_path / "weights.bin").write_bytes(widget.weights)
    got = _run_js(tmp_path, f"""
const graph = {json.dumps(widget.graph)};
const tensors = nn.loadTensors(graph, new Uint8Array(fs.readFileSync("weights.bin")));
const digits = Uint8Array.from({json.dumps(list(widget.digits))});
const out = {json.dumps(cases)}.map(([k, angle, scale, tx, ty]) => {{
  const canvas = ex.distortDigit(digits.subarray(k * 784, (k + 1) * 784), angle, scale, tx, ty, 42);
  const st = nn.runModel(graph.models["st-cnn-aff"], canvas, 42, 42, tensors);
  const cnn = nn.runModel(graph.models["cnn"], canvas, 42, 42, tensors);
  return {{ canvas: Array.from(canvas), theta: st.theta, st: st.probabilities, cnn: cnn.probabilities,
           rectified: Array.from(st.rectified.data) }};
}});
console.log(JSON.stringify(out));
""")
    for (k, angle, scale, tx, ty), page in zip(cases, got):
        digit = torch.from_numpy(widget.digit_array(k).astype(np.float32) / 255)[None, None]
        canvas = invariance.distort(digit, angle, scale, (tx, ty))
        assert torch.allclose(torch.tensor(page["canvas"]).view(1, 1, 42, 42), canvas, atol=1e-5)
        theta, p_st, p_cnn = _torch_side(pair, digit, angle, scale, (tx, ty))
        assert torch.allclose(torch.tensor(page["theta"]), theta, atol=1e-5)
        assert torch.allclose(torch.tensor(page["st"]), p_st, atol=1e-4)
        assert torch.allclose(torch.tensor(page["cnn"]), p_cnn, atol=1e-4)
        with torch.no_grad():
            rectified = pair["st-cnn-aff"].transformer(canvas)
        assert torch.allclose(torch.tensor(page["rectified"]).view(1, 1, 21, 21), rectified, atol=1e-4)


@needs_node
def test_js_drawing_is_made_mnist_like(tmp_path):
    got = _run_js(tmp_path, """
const ink = new Float32Array(784);
for (let i = 2; i < 26; i++) for (let j = 20; j < 24; j++) ink[i * 28 + j] = 1;  // a tall bar at the right
console.log(JSON.stringify({ empty: ex.mnistLike(new Float32Array(784)), digit: Array.from(ex.mnistLike(ink)) }));
""")
    assert got["empty"] is None
    digit = torch.tensor(got["digit"], dtype=torch.float32).view(28, 28)
    rows, cols = (digit > 20).nonzero().unbind(1)
    assert int(rows.max() - rows.min()) + 1 <= 21  # the 24-row bar now fits MNIST's 20 px box
    mass = digit.sum()
    cy = float((digit.sum(1) * torch.arange(28.0)).sum() / mass)
    cx = float((digit.sum(0) * torch.arange(28.0)).sum() / mass)
    assert abs(cx - 13.5) < 0.6 and abs(cy - 13.5) < 0.6  # centred by its centre of mass


@needs_node
def test_js_clutter_layout_is_pythons(tmp_path):
    cases = [(0, 6, 10, 7), (1, 12, 10, -1), (4294967295, 6, 2, 0), (123456789, 3, 10, 9)]
    got = _run_js(tmp_path, f"""
console.log(JSON.stringify({json.dumps(cases)}.map(([seed, pieces, pool, own]) => rc.clutterLayout(seed, pieces, pool, own))));
""")
    for (seed, pieces, pool, own), page in zip(cases, got):
        layout = clutter_layout(seed, pieces, pool, own)
        assert [p["index"] for p in page] == layout["clutter_index"][0].tolist()
        assert [p["crop"] for p in page] == layout["crop_position"][0].tolist()
        assert [p["at"] for p in page] == layout["clutter_position"][0].tolist()


@needs_node
@pytest.mark.parametrize("distortion", ["P", "TC"])
def test_js_p_and_tc_pipelines_match_torch(tmp_path, distortion):
    """P's homography warp and TC's seeded clutter, then both models, in Node against PyTorch."""
    widget = InvarianceExplorer(_digits(), [0, 1, 7], distortion=distortion)
    models = widget._models
    if distortion == "P":
        cases = [{"digit": 0, "scale": 1.0, "corners": [[0.0, 0.0]] * 4},
                 {"digit": 2, "scale": 0.8, "corners": [[4.0, -3.0], [-2.5, 5.0], [1.0, -6.0], [-3.0, 2.0]]},
                 {"digit": 1, "scale": 1.15, "corners": [[-8.0, 9.5], [10.0, -10.0], [-7.5, 3.0], [6.0, -4.5]]}]
    else:
        cases = [{"digit": 0, "tx": 0, "ty": 0, "clutter": 0, "seed": 0},
                 {"digit": 2, "tx": 9, "ty": -4, "clutter": 6, "seed": 3},
                 {"digit": 1, "tx": -16, "ty": 16, "clutter": 12, "seed": 77}]
    (tmp_path / "weights.bin").write_bytes(widget.weights)
    got = _run_js(tmp_path, f"""
const graph = {json.dumps(widget.graph)};
const tensors = nn.loadTensors(graph, new Uint8Array(fs.readFileSync("weights.bin")));
const digits = Uint8Array.from({json.dumps(list(widget.digits))});
const S = {widget.size};
const out = {json.dumps(cases)}.map((c) => {{
  const values = {{ scale: c.scale, tx: c.tx, ty: c.ty, clutter: c.clutter }};
  (c.corners || []).forEach(([x, y], k) => {{ values[`corner${{k}}x`] = x; values[`corner${{k}}y`] = y; }});
  const canvas = ex.distortedCanvas({json.dumps(distortion)}, digits.subarray(c.digit * 784, (c.digit + 1) * 784),
                                    values, S, {{ pool: digits, own: c.digit, seed: c.seed }});
  const st = nn.runModel(graph.models["st-cnn-aff"], canvas, S, S, tensors);
  const cnn = nn.runModel(graph.models["cnn"], canvas, S, S, tensors);
  return {{ canvas: Array.from(canvas), theta: st.theta, st: st.probabilities, cnn: cnn.probabilities }};
}});
console.log(JSON.stringify(out));
""")
    for case, page in zip(cases, got):
        widget.digit = case["digit"]
        if distortion == "P":
            widget.scale, widget.corners = case["scale"], case["corners"]
        else:
            widget.shift, widget.clutter, widget.clutter_seed = (case["tx"], case["ty"]), case["clutter"], case["seed"]
        x = widget.distorted()
        canvas = torch.tensor(page["canvas"], dtype=torch.float32).view(x.shape)
        if distortion == "TC":
            assert torch.equal(canvas, x), f"TC canvases differ for {case}"
        else:
            assert torch.allclose(canvas, x, atol=1e-5), f"P canvases differ by {float((canvas - x).abs().max()):.2e}"
        p_st, theta = invariance.predict(models["st-cnn-aff"], x)
        p_cnn, _ = invariance.predict(models["cnn"], x)
        assert torch.allclose(torch.tensor(page["theta"]), theta[0], atol=1e-5), case
        assert torch.allclose(torch.tensor(page["st"]), p_st[0], atol=1e-4), case
        assert torch.allclose(torch.tensor(page["cnn"]), p_cnn[0], atol=1e-4), case


@needs_node
def test_js_bundle_is_one_valid_module(tmp_path):
    """The page loads the explorer as one string with its imports inlined: no name may be declared twice."""
    bundle = tmp_path / "bundle.mjs"
    bundle.write_text(InvarianceExplorer._esm)
    out = subprocess.run([NODE, "--check", str(bundle)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "---- recipes.js ----" in InvarianceExplorer._esm
