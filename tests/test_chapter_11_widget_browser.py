"""The 3D θ explorer (chapter 11) in headless Chromium, without building the book.

The widget's bundled ES module is rendered into a bare page with a stand-in for the anywidget
model; the test moves sliders (a real mouse click on the yaw slider, then ``input`` events on
the others) and checks that the widget saved the new θ, that θ is the package's
``theta3d_from`` of the slider values, and that the projection canvas shows, within one grey
level, the pixels that ``stn_course`` computes for that θ (``VolumeExplorer.projection()``:
the package's 3D grid, trilinear sampler and projection). The rendered book itself is
checked by ``test_book_browser.py``. With ``STN_BOOK_SCREENSHOTS=<folder>`` it saves
screenshots before and after moving the sliders.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
import torch

from cdp import Chromium, find_chromium, write_widget_page
from stn_course.geometry import theta3d_from
from stn_course.volumes import extrude
from stn_course.widgets.volume import VolumeExplorer

CHROMIUM = find_chromium()
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (Debian: apt-get install chromium)"),
]

STATE = """(() => {
  const root = document.querySelector(".stn-volume-explorer");
  const c = root.querySelector("canvas.stn-output");
  const data = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  const box = root.querySelector("canvas.stn-input");
  const boxData = box.getContext("2d").getImageData(0, 0, box.width, box.height).data;
  return { out: Array.from(data).filter((_, i) => i % 4 === 0), width: c.width, height: c.height,
           box: Array.from(boxData).filter((_, i) => i % 4 === 0), theta: JSON.parse(root.dataset.theta),
           sliders: Object.fromEntries(Array.from(root.querySelectorAll("input[type=range]"))
             .map((i) => [i.dataset.param, Number(i.value)])) };
})()"""

SLIDER_BOX = """(() => {
  const r = document.querySelector('.stn-volume-explorer input[data-param="%s"]').getBoundingClientRect();
  return [r.left, r.top, r.width, r.height];
})()"""


def _volume() -> torch.Tensor:
    """A block letter "F", extruded: asymmetric in every direction, so every turn shows."""
    img = torch.zeros(1, 1, 20, 20)
    img[:, :, 3:17, 5:8] = 1.0
    img[:, :, 3:6, 5:15] = 1.0
    img[:, :, 9:11, 5:12] = 0.7
    return extrude(img, thickness=4)


def _page(widget: VolumeExplorer, tmp_path) -> str:
    state = {"volume": list(widget.volume), "depth": widget.depth, "height": widget.height, "width": widget.width,
             "zoom": widget.zoom, "norm": widget.norm, "theta": widget.theta}
    return write_widget_page(widget, state, "volume", tmp_path / "volume_explorer.html")


@pytest.fixture(scope="module")
def browser():
    with Chromium(CHROMIUM) as chromium:
        yield chromium


def _screenshot(browser: Chromium, name: str) -> None:
    shots = os.environ.get("STN_BOOK_SCREENSHOTS")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        browser.screenshot(Path(shots) / name)


def _click_slider(browser: Chromium, param: str, fraction: float) -> None:
    left, top, width, height = browser.evaluate(SLIDER_BOX % param)
    x, y = left + fraction * width, top + height / 2
    for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
        event = {"type": kind, "x": x, "y": y}
        if kind != "mouseMoved":
            event.update(button="left", clickCount=1)
        browser.send("Input.dispatchMouseEvent", event)


def _move(browser: Chromium, param: str, value: float) -> None:
    browser.evaluate(f"""(() => {{
  const input = document.querySelector('.stn-volume-explorer input[data-param="{param}"]');
  input.value = "{value}";
  input.dispatchEvent(new Event("input", {{ bubbles: true }}));
}})()""")


def _assert_pixels_match(state: dict, widget: VolumeExplorer) -> None:
    shown = torch.tensor(state["out"], dtype=torch.float32).view(state["height"], state["width"])
    widget.theta = state["theta"]
    expected = widget.projection()[0, 0] * 255
    worst = float((shown - expected).abs().max())
    assert worst <= 1.0, f"browser pixels differ from stn_course by up to {worst:.2f}/255 for θ={state['theta']}"
    assert float(expected.std()) > 5, "a blank projection would make this comparison meaningless"


def _slider_theta(sliders: dict) -> torch.Tensor:
    rad = math.pi / 180
    return theta3d_from(sliders["yaw"] * rad, sliders["pitch"] * rad, sliders["roll"] * rad, sliders["scale"],
                        sliders["tx"], sliders["ty"], sliders["tz"])[0]


def test_moving_sliders_turns_the_volume_like_the_package(browser, tmp_path):
    widget = VolumeExplorer(_volume(), theta=theta3d_from(math.radians(20), math.radians(-15), 0.0))
    browser.console.clear()
    browser.navigate(_page(widget, tmp_path))
    browser.wait_for("window.ready === true", timeout=20)
    before = browser.evaluate(STATE)
    assert before["sliders"]["yaw"] == pytest.approx(20) and before["sliders"]["pitch"] == pytest.approx(-15)
    _assert_pixels_match(before, widget)
    _screenshot(browser, "ch11_volume_explorer_before.png")

    _click_slider(browser, "yaw", 0.75)  # a real click, three quarters along −180°…180°: about +90°
    clicked = browser.evaluate(STATE)
    assert browser.evaluate("window.saved") >= 1, "moving a slider must save θ to the model"
    assert 70 <= clicked["sliders"]["yaw"] <= 110, clicked["sliders"]  # the thumb's width shifts it a little
    assert clicked["out"] != before["out"] and clicked["box"] != before["box"]
    torch.testing.assert_close(torch.tensor(clicked["theta"]), _slider_theta(clicked["sliders"]), atol=1e-6, rtol=0)
    _assert_pixels_match(clicked, widget)

    for param, value in {"yaw": 35, "pitch": 40, "roll": -30, "scale": 0.8, "tx": 0.1, "ty": -0.15}.items():
        _move(browser, param, value)
    after = browser.evaluate(STATE)
    torch.testing.assert_close(torch.tensor(after["theta"]), _slider_theta(after["sliders"]), atol=1e-6, rtol=0)
    assert browser.evaluate("window.state.theta") == after["theta"]
    _assert_pixels_match(after, widget)
    _screenshot(browser, "ch11_volume_explorer_after.png")
    errors = [m for m in browser.console if m.startswith("error")]
    assert not errors, errors


def test_theta_set_from_python_moves_the_sliders_and_reset_restores_the_identity(browser, tmp_path):
    widget = VolumeExplorer(_volume())
    browser.navigate(_page(widget, tmp_path))
    browser.wait_for("window.ready === true", timeout=20)
    theta = theta3d_from(math.radians(-50), math.radians(30), math.radians(60), 1.2, 0.0, 0.2, -0.1)[0]
    # what a change from the kernel does: the model's θ changes and fires change:theta
    browser.evaluate(f"window.model.set('theta', {json.dumps(theta.tolist())})")
    state = browser.evaluate(STATE)
    expected = {"yaw": -50, "pitch": 30, "roll": 60, "scale": 1.2, "tx": 0.0, "ty": 0.2, "tz": -0.1}
    for param, value in expected.items():
        assert state["sliders"][param] == pytest.approx(value, abs=1e-4), param
    _assert_pixels_match(state, widget)

    browser.evaluate('document.querySelector(".stn-volume-explorer button.stn-reset").click()')
    reset = browser.evaluate(STATE)
    assert reset["theta"] == [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]
    assert all(reset["sliders"][p] == 0 for p in ("yaw", "pitch", "roll", "tx", "ty", "tz"))
    assert reset["sliders"]["scale"] == 1
    _assert_pixels_match(reset, widget)


def test_dragging_the_oblique_view_turns_the_camera_not_theta(browser, tmp_path):
    widget = VolumeExplorer(_volume(), theta=theta3d_from(math.radians(30)))
    browser.navigate(_page(widget, tmp_path))
    browser.wait_for("window.ready === true", timeout=20)
    before = browser.evaluate(STATE)
    camera = browser.evaluate('document.querySelector(".stn-volume-explorer").stn.camera')
    left, top, width, height = browser.evaluate("""(() => {
  const r = document.querySelector(".stn-volume-explorer canvas.stn-input").getBoundingClientRect();
  return [r.left, r.top, r.width, r.height];
})()""")
    x, y = left + width / 2, top + height / 2
    browser.send("Input.dispatchMouseEvent", {"type": "mousePressed", "x": x, "y": y, "button": "left", "clickCount": 1})
    for k in range(1, 5):
        browser.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x + 15 * k, "y": y + 5 * k,
                                                  "button": "left", "buttons": 1})
    browser.send("Input.dispatchMouseEvent", {"type": "mouseReleased", "x": x + 60, "y": y + 20, "button": "left",
                                              "clickCount": 1})
    after = browser.evaluate(STATE)
    turned = browser.evaluate('document.querySelector(".stn-volume-explorer").stn.camera')
    assert turned["azimuth"] == pytest.approx(camera["azimuth"] + 0.6)
    assert turned["elevation"] == pytest.approx(camera["elevation"] - 0.2)
    assert after["box"] != before["box"], "turning the camera must redraw the oblique view"
    assert after["theta"] == before["theta"] and after["out"] == before["out"], "the camera is not part of θ"
