"""The invariance explorer in headless Chromium, without building the book.

The widget's bundled ES module runs in a bare page with a stand-in for the anywidget model
(cdp.WIDGET_PAGE), with the trained RTS pair's float16 weights. The tests move its sliders
with real input events, draw on its pad with mouse and touch events, and check what the page
computed against PyTorch run on the same inputs with the same float16-rounded weights upcast to
float32: θ to 1e-4, the class probabilities to 1e-3. The P and TC explorers (the trained P and TC
pairs) are moved by their corner, shift and clutter controls and checked the same way, their
canvases against the recipes rendered by Python. The rendered book, where the explorer sits in
chapters 1, 6 and 8 and on the landing page, is checked by test_book_browser.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cdp import Chromium, find_chromium, write_widget_page
from stn_course import invariance
from stn_course.widgets import InvarianceExplorer

CHROMIUM = find_chromium()
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (Debian: apt-get install chromium)"),
]

BINARY = ["digits", "image", "weights"]

PAGE_STATE = """(() => {
  const root = document.querySelector(".stn-invariance-explorer");
  const s = root.stn;
  const pixels = (c) => Array.from(c.getContext("2d").getImageData(0, 0, c.width, c.height).data).filter((_, i) => i % 4 === 0);
  return { updates: s.updates, theta: s.theta, probabilities: s.probabilities, window: s.window,
           canvas: s.canvas, input: pixels(root.querySelector("canvas.stn-inv-input")),
           output: pixels(root.querySelector("canvas.stn-inv-output")),
           image: Array.from(ArrayBuffer.isView(window.state.image) && !(window.state.image instanceof Uint8Array)
             ? new Uint8Array(window.state.image.buffer, window.state.image.byteOffset, window.state.image.byteLength)
             : window.state.image), digit: window.state.digit, saved: window.saved,
           sliders: Object.fromEntries(Array.from(root.querySelectorAll("input[type=range]"))
             .map((i) => [i.dataset.param, Number(i.value)])),
           verdict: root.querySelector(".stn-inv-verdict").textContent };
})()"""


def widget_state(widget: InvarianceExplorer) -> dict:
    """The synced traits of ``widget``, as the page's model holds them (bytes as bytes)."""
    names = [n for n in widget.trait_names(sync=True) if not n.startswith("_") and n not in ("layout", "tabbable", "tooltip")]
    return {n: bytes(getattr(widget, n)) if n in BINARY else getattr(widget, n) for n in names}


def open_explorer(browser: Chromium, widget: InvarianceExplorer, path) -> None:
    """Render ``widget`` in a bare page and wait for its first prediction."""
    browser.console.clear()
    browser.navigate(write_widget_page(widget, widget_state(widget), BINARY, path))
    browser.wait_for("window.ready === true && document.querySelector('.stn-invariance-explorer').stn.updates >= 1",
                     timeout=30)


def move(browser: Chromium, param: str, value: float) -> dict:
    """Set one slider as a user would (an input event) and wait for the page's next prediction."""
    before = browser.evaluate("document.querySelector('.stn-invariance-explorer').stn.updates")
    browser.evaluate(f"""(() => {{
  const input = document.querySelector('.stn-invariance-explorer input[data-param="{param}"]');
  input.value = "{value}";
  input.dispatchEvent(new Event("input", {{ bubbles: true }}));
}})()""")
    browser.wait_for(f"document.querySelector('.stn-invariance-explorer').stn.updates > {before}", timeout=20)
    return browser.evaluate(PAGE_STATE)


def torch_side(pair: dict, image: torch.Tensor, angle: float, scale: float, tx: float, ty: float):
    """θ (2, 3) and both models' probabilities computed by PyTorch for a (1, 1, 28, 28) digit."""
    x = invariance.distort(image, angle, scale, (tx, ty))
    p_st, theta = invariance.predict(pair["st-cnn-aff"], x)
    p_cnn, _ = invariance.predict(pair["cnn"], x)
    return theta[0], {"st-cnn-aff": p_st[0], "cnn": p_cnn[0]}


@pytest.fixture(scope="module")
def pair():
    # the recorded float16 weights upcast to float32: exactly the values the page decodes
    return {name: invariance.load_trained(name, "RTS") for name in ("st-cnn-aff", "cnn")}


@pytest.fixture(scope="module")
def widget(pair):
    return InvarianceExplorer(models=pair)


@pytest.fixture(scope="module")
def browser():
    with Chromium(CHROMIUM, width=1400, height=1000) as chromium:
        yield chromium


def _digit(widget, index: int) -> torch.Tensor:
    return torch.from_numpy(widget.digit_array(index).astype(np.float32) / 255)[None, None]


CASES = [  # digit index, angle (°), scale, tx, ty (px): on the sliders' steps
    (7, 0, 1.0, 0.0, 0.0),
    (7, 40, 0.85, 4.5, -3.0),
    (2, -75, 1.3, -6.0, 5.5),
    (4, 150, 0.7, 8.0, 8.0),
    (9, -20, 1.6, 0.0, -10.5),
]


def test_page_agrees_with_pytorch_on_fixed_inputs(browser, widget, pair, tmp_path):
    open_explorer(browser, widget, tmp_path / "explorer.html")
    for digit, angle, scale, tx, ty in CASES:
        browser.evaluate(f"document.querySelector('button.stn-inv-pick[data-digit=\"{digit}\"]').click()")
        for param, value in (("angle", angle), ("scale", scale), ("tx", tx), ("ty", ty)):
            state = move(browser, param, value)
        assert state["sliders"] == {"angle": angle, "scale": scale, "tx": tx, "ty": ty}
        theta, probabilities = torch_side(pair, _digit(widget, digit), angle, scale, tx, ty)
        case = f"digit {digit} at {angle}°, scale {scale}, shift ({tx}, {ty})"
        assert torch.allclose(torch.tensor(state["theta"]), theta, atol=1e-4), case
        for name, p in probabilities.items():
            worst = float((torch.tensor(state["probabilities"][name]) - p).abs().max())
            assert worst <= 1e-3, f"{name} probabilities differ by {worst:.2e} for {case}"
        # the model the page hands to the kernel holds the same distortion and outputs
        assert browser.evaluate("[window.state.angle, window.state.scale, window.state.tx, window.state.ty]") == \
            [angle, scale, tx, ty]
        assert browser.evaluate("window.state.digit") == digit
        # and the Python side, set to the same inputs, reads the same θ and probabilities
        widget.digit, widget.angle, widget.scale, widget.shift = digit, angle, scale, (tx, ty)
        assert torch.allclose(torch.tensor(widget.theta), torch.tensor(state["theta"]), atol=1e-4), case
        for name in probabilities:
            assert torch.allclose(torch.tensor(widget.probabilities[name]),
                                  torch.tensor(state["probabilities"][name]), atol=1e-3), case
    assert browser.evaluate("window.saved") >= len(CASES), "the page must send its changes to the kernel"
    errors = [m for m in browser.console if m.startswith(("error", "exception"))]
    assert not errors, errors


def test_moving_a_slider_changes_theta_window_and_probabilities(browser, widget, tmp_path):
    widget.digit, widget.angle, widget.scale, widget.shift = 1, 0.0, 1.0, (0.0, 0.0)
    open_explorer(browser, widget, tmp_path / "explorer.html")
    before = browser.evaluate(PAGE_STATE)
    after = move(browser, "angle", 70)
    assert after["theta"] != before["theta"]
    assert after["window"] != before["window"]
    assert after["input"] != before["input"], "the drawn window and digit did not change"
    for name in ("st-cnn-aff", "cnn"):
        assert after["probabilities"][name] != before["probabilities"][name]
    # the window turns with the digit: its top edge tilts the way the digit was turned
    (x0, y0), (x1, y1) = after["window"][:2]
    assert y1 < y0, f"a digit turned counter-clockwise should tilt the window's top edge up, got {after['window']}"
    shifted = move(browser, "tx", 8)
    centre = np.mean(shifted["window"], axis=0)
    assert centre[0] > np.mean(after["window"], axis=0)[0] + 0.1, "the window did not follow the digit to the right"


def _pad_point(browser: Chromium, u: float, v: float) -> tuple[float, float]:
    r = browser.evaluate("(() => { const r = document.querySelector('canvas.stn-inv-pad').getBoundingClientRect();"
                         " return [r.left, r.top, r.width, r.height]; })()")
    return r[0] + u * r[2], r[1] + v * r[3]


def draw_seven(browser: Chromium, touch: bool = False) -> None:
    """Draw a 7 on the pad: a top bar, then a diagonal down to the left (fractions of the pad)."""
    path = [(0.25, 0.2), (0.5, 0.2), (0.75, 0.2), (0.65, 0.45), (0.55, 0.65), (0.45, 0.85)]
    browser.evaluate("document.querySelector('canvas.stn-inv-pad').scrollIntoView({block: 'center'})")
    points = [_pad_point(browser, u, v) for u, v in path]
    if touch:
        kinds = ["touchStart"] + ["touchMove"] * (len(points) - 1)
        for kind, (x, y) in zip(kinds, points):
            browser.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": y}]})
        browser.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        return
    x, y = points[0]
    browser.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y})
    browser.send("Input.dispatchMouseEvent", {"type": "mousePressed", "x": x, "y": y, "button": "left", "clickCount": 1})
    for x, y in points[1:]:
        browser.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y, "button": "left", "buttons": 1})
    browser.send("Input.dispatchMouseEvent", {"type": "mouseReleased", "x": x, "y": y, "button": "left", "clickCount": 1})


@pytest.mark.parametrize("touch", [False, True], ids=["mouse", "touch"])
def test_a_drawn_digit_is_read_by_both_models(browser, widget, pair, tmp_path, touch):
    widget.digit, widget.angle, widget.scale, widget.shift = 0, 0.0, 1.0, (0.0, 0.0)
    if touch:
        browser.set_viewport(390, 844, mobile=True)
        browser.send("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 1})
    try:
        open_explorer(browser, widget, tmp_path / "explorer.html")
        before = browser.evaluate(PAGE_STATE)
        draw_seven(browser, touch)
        browser.wait_for("window.state.digit === -1 && "
                         f"document.querySelector('.stn-invariance-explorer').stn.updates > {before['updates']}")
        browser.wait_for("!document.querySelector('.stn-invariance-explorer').stn.pending", timeout=5)
        state = browser.evaluate(PAGE_STATE)
    finally:
        if touch:
            browser.send("Emulation.setTouchEmulationEnabled", {"enabled": False})
            browser.set_viewport(1400, 1000)
    drawn = torch.tensor(state["image"], dtype=torch.float32).view(1, 1, 28, 28) / 255
    assert drawn.sum() > 20, "nothing was drawn"
    assert state["image"] != before["image"] and "your drawing" in state["verdict"]
    theta, probabilities = torch_side(pair, drawn, 0.0, 1.0, 0.0, 0.0)
    assert torch.allclose(torch.tensor(state["theta"]), theta, atol=1e-4)
    for name, p in probabilities.items():
        assert float((torch.tensor(state["probabilities"][name]) - p).abs().max()) <= 1e-3


# -- P and TC ------------------------------------------------------------------------------------

P_CASES = [  # digit, scale, corner shifts (px): on the sliders' steps
    (7, 1.0, [[0.0, 0.0]] * 4),
    (2, 0.8, [[4.0, -3.0], [-2.5, 5.0], [1.0, -6.0], [-3.0, 2.0]]),
    (4, 1.15, [[-8.0, 9.5], [10.0, -10.0], [-7.5, 3.0], [6.0, -4.5]]),
]
TC_CASES = [  # digit, shift (px), clutter pieces, clutter seed ("new clutter" clicks from 0)
    (7, (0, 0), 6, 0),
    (3, (9, -4), 6, 1),
    (5, (-16, 16), 12, 3),
    (0, (5, 2), 0, 3),
]


@pytest.fixture(scope="module")
def p_and_tc():
    """The P and TC explorers with the default test digits, and their trained pairs."""
    out = {}
    for distortion in ("P", "TC"):
        pair = {name: invariance.load_trained(name, distortion) for name in ("st-cnn-aff", "cnn")}
        out[distortion] = (InvarianceExplorer(distortion=distortion, models=pair), pair)
    return out


def click_new_clutter(browser: Chromium) -> dict:
    before = browser.evaluate("document.querySelector('.stn-invariance-explorer').stn.updates")
    browser.evaluate("document.querySelector('button.stn-inv-new-clutter').click()")
    browser.wait_for(f"document.querySelector('.stn-invariance-explorer').stn.updates > {before}", timeout=20)
    return browser.evaluate(PAGE_STATE)


def _agrees_with_pytorch(state: dict, widget: InvarianceExplorer, pair: dict, case: str) -> None:
    """The page's canvas, θ and probabilities against PyTorch's on the Python side's distorted digit."""
    x = widget.distorted()
    canvas = torch.tensor(state["canvas"], dtype=torch.float32).view(x.shape)
    if widget.distortion == "TC":
        assert torch.equal(canvas, x), f"the page's TC canvas is not Python's for {case}"
    else:
        assert torch.allclose(canvas, x, atol=1e-5), case
    p_st, theta = invariance.predict(pair["st-cnn-aff"], x)
    p_cnn, _ = invariance.predict(pair["cnn"], x)
    assert torch.allclose(torch.tensor(state["theta"]), theta[0], atol=1e-4), case
    for name, p in (("st-cnn-aff", p_st[0]), ("cnn", p_cnn[0])):
        worst = float((torch.tensor(state["probabilities"][name]) - p).abs().max())
        assert worst <= 1e-3, f"{name} probabilities differ by {worst:.2e} for {case}"
        assert torch.allclose(torch.tensor(widget.probabilities[name]), torch.tensor(state["probabilities"][name]),
                              atol=1e-3), case
    assert torch.allclose(torch.tensor(widget.theta), torch.tensor(state["theta"]), atol=1e-4), case


def test_p_page_agrees_with_pytorch_on_fixed_corners(browser, p_and_tc, tmp_path):
    widget, pair = p_and_tc["P"]
    widget.digit, widget.scale, widget.corners = 7, 1.0, [[0.0, 0.0]] * 4
    open_explorer(browser, widget, tmp_path / "p.html")
    labels = browser.evaluate("Array.from(document.querySelectorAll('.stn-invariance-explorer input[type=range]'))"
                              ".map((i) => [i.dataset.param, Number(i.min), Number(i.max)])")
    assert labels[0] == ["scale", 0.6, 1.2] and len(labels) == 9
    assert all(lo == -10 and hi == 10 for _, lo, hi in labels[1:])
    for digit, scale, corners in P_CASES:
        browser.evaluate(f"document.querySelector('button.stn-inv-pick[data-digit=\"{digit}\"]').click()")
        state = move(browser, "scale", scale)
        for k, (x, y) in enumerate(corners):
            state = move(browser, f"corner{k}x", x)
            state = move(browser, f"corner{k}y", y)
        case = f"P: digit {digit}, scale {scale}, corners {corners}"
        assert browser.evaluate("[window.state.scale, window.state.corners, window.state.digit]") == \
            [scale, corners, digit], case
        widget.digit, widget.scale, widget.corners = digit, scale, corners
        _agrees_with_pytorch(state, widget, pair, case)
    errors = [m for m in browser.console if m.startswith(("error", "exception"))]
    assert not errors, errors


def test_tc_page_agrees_with_pytorch_on_fixed_clutter(browser, p_and_tc, tmp_path):
    widget, pair = p_and_tc["TC"]
    widget.digit, widget.shift, widget.clutter, widget.clutter_seed = 7, (0, 0), 6, 0
    open_explorer(browser, widget, tmp_path / "tc.html")
    seed = 0
    for digit, (tx, ty), pieces, case_seed in TC_CASES:
        browser.evaluate(f"document.querySelector('button.stn-inv-pick[data-digit=\"{digit}\"]').click()")
        for param, value in (("tx", tx), ("ty", ty), ("clutter", pieces)):
            state = move(browser, param, value)
        while seed < case_seed:
            state = click_new_clutter(browser)
            seed += 1
        case = f"TC: digit {digit}, shift ({tx}, {ty}), {pieces} pieces, seed {case_seed}"
        assert browser.evaluate("[window.state.tx, window.state.ty, window.state.clutter, window.state.clutter_seed]") \
            == [tx, ty, pieces, case_seed], case
        widget.digit, widget.shift, widget.clutter, widget.clutter_seed = digit, (tx, ty), pieces, case_seed
        _agrees_with_pytorch(state, widget, pair, case)
    errors = [m for m in browser.console if m.startswith(("error", "exception"))]
    assert not errors, errors


def test_a_corner_slider_moves_theta_and_window_and_stops_before_the_frame_folds(browser, p_and_tc, tmp_path):
    widget, _ = p_and_tc["P"]
    widget.digit, widget.scale, widget.corners = 1, 1.0, [[0.0, 0.0]] * 4
    open_explorer(browser, widget, tmp_path / "p.html")
    before = browser.evaluate(PAGE_STATE)
    after = move(browser, "corner1x", 10)  # the top-right corner, 10 px to the right
    assert after["theta"] != before["theta"] and after["window"] != before["window"]
    assert after["input"] != before["input"]
    for name in ("st-cnn-aff", "cnn"):
        assert after["probabilities"][name] != before["probabilities"][name]
    # a frame that folds is refused: at scale 0.6, moving the top-left corner 10 px in on both axes
    move(browser, "corner1x", 0)
    move(browser, "scale", 0.6)
    folded = move(browser, "corner0x", 10)
    updates = folded["updates"]
    browser.evaluate("""(() => { const i = document.querySelector('.stn-invariance-explorer input[data-param="corner0y"]');
      i.value = "10"; i.dispatchEvent(new Event("input", { bubbles: true })); })()""")
    state = browser.evaluate(PAGE_STATE)
    assert state["sliders"]["corner0y"] == 0 and state["updates"] == updates and not browser.evaluate(
        "document.querySelector('.stn-invariance-explorer').stn.pending"), "the slider must stop before a fold"


def test_new_clutter_and_the_clutter_slider_change_the_canvas(browser, p_and_tc, tmp_path):
    widget, _ = p_and_tc["TC"]
    widget.digit, widget.shift, widget.clutter, widget.clutter_seed = 1, (0, 0), 6, 0
    open_explorer(browser, widget, tmp_path / "tc.html")
    before = browser.evaluate(PAGE_STATE)
    again = click_new_clutter(browser)
    assert again["canvas"] != before["canvas"] and browser.evaluate("window.state.clutter_seed") == 1
    assert again["probabilities"] != before["probabilities"]
    bare = move(browser, "clutter", 0)
    digit = _digit(widget, 1)[0, 0]
    canvas = torch.tensor(bare["canvas"], dtype=torch.float32).view(60, 60)
    assert torch.equal(canvas[16:44, 16:44], digit) and float(canvas.sum()) == pytest.approx(float(digit.sum()), abs=1e-3)
    moved = move(browser, "tx", -12)
    assert moved["theta"] != bare["theta"] and moved["window"] != bare["window"]
    assert moved["input"] != bare["input"], "the drawn digit and window did not move"
