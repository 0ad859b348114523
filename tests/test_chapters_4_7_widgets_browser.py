"""The corner and control-point explorers (chapter 7) in headless Chromium, without building the book.

Each widget's bundled ES module is rendered into a bare page with a stand-in for the anywidget
model; the test drags a handle with real mouse events and checks that the widget saved the new
corners / offsets and that the output canvas shows, within one grey level, the pixels that
``stn_course`` computes for them (``warped()``: the package's grid generators and sampler).
The rendered book itself is checked by ``test_book_browser.py``.
"""

from __future__ import annotations


import pytest
import torch

from cdp import Chromium, find_chromium, write_widget_page
from stn_course.widgets.projective import ProjectiveExplorer
from stn_course.widgets.tps import TPSExplorer

CHROMIUM = find_chromium()
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (Debian: apt-get install chromium)"),
]

OUTPUT_PIXELS = """(() => {
  const c = document.querySelector("canvas.stn-output");
  return Array.from(c.getContext("2d").getImageData(0, 0, c.width, c.height).data).filter((_, i) => i % 4 === 0);
})()"""

HANDLE = """(() => {
  const cv = document.querySelector("canvas.stn-input");
  const r = cv.getBoundingClientRect();
  const h = document.querySelector(".stn-widget").stn.handles[%d];
  return [r.left + h[0] * r.width / cv.width, r.top + h[1] * r.height / cv.height];
})()"""


def _image() -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 24), torch.linspace(-1, 1, 28), indexing="ij")
    return (0.5 + 0.5 * torch.sin(5 * xx) * torch.cos(3 * yy)).clamp(0, 1)  # a smooth, non-square test image


def _page(widget, trait: str, tmp_path) -> str:
    state = {"image": list(widget.image), "width": widget.width, "height": widget.height, "zoom": widget.zoom,
             "margin": widget.margin, "grid_lines": widget.grid_lines, trait: getattr(widget, trait)}
    for extra in ("num_control_points", "sigma"):
        if widget.has_trait(extra):
            state[extra] = getattr(widget, extra)
    return write_widget_page(widget, state, "image", tmp_path / f"{type(widget).__name__}.html")


@pytest.fixture(scope="module")
def browser():
    with Chromium(CHROMIUM) as chromium:
        yield chromium


def _drag(browser: Chromium, handle: int, dx: float, dy: float) -> None:
    x, y = browser.evaluate(HANDLE % handle)
    browser.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y})
    browser.send("Input.dispatchMouseEvent", {"type": "mousePressed", "x": x, "y": y, "button": "left", "clickCount": 1})
    for k in range(1, 5):
        browser.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x + dx * k / 4, "y": y + dy * k / 4,
                                                  "button": "left", "buttons": 1})
    browser.send("Input.dispatchMouseEvent", {"type": "mouseReleased", "x": x + dx, "y": y + dy, "button": "left",
                                              "clickCount": 1})


def _assert_output_matches(browser: Chromium, widget) -> None:
    shown = torch.tensor(browser.evaluate(OUTPUT_PIXELS), dtype=torch.float32).view(widget.height, widget.width)
    expected = widget.warped()[0, 0] * 255
    assert (shown - expected).abs().max().item() <= 1.0


@pytest.mark.parametrize("kind", ["projective", "tps"])
def test_dragging_a_handle_warps_the_image_like_the_package(browser, tmp_path, kind):
    widget = ProjectiveExplorer(_image()) if kind == "projective" else TPSExplorer(_image())
    trait = "corners" if kind == "projective" else "offsets"
    browser.console.clear()
    browser.navigate(_page(widget, trait, tmp_path))
    browser.wait_for("window.ready === true", timeout=20)
    _assert_output_matches(browser, widget)  # the identity: the output is the input

    handle = 0 if kind == "projective" else 5  # the top-left corner; an inner control point
    _drag(browser, handle, 30, 20)
    assert browser.evaluate("window.saved") >= 1, "letting go of a handle must save the change to the model"
    moved = browser.evaluate(f"window.state.{trait}")
    assert moved != getattr(widget, trait), f"dragging did not change {trait}"
    setattr(widget, trait, moved)
    unmoved = [p for k, p in enumerate(moved) if k != handle]
    before = [p for k, p in enumerate(ProjectiveExplorer(_image()).corners if kind == "projective"
                                      else TPSExplorer(_image()).offsets) if k != handle]
    assert unmoved == before, "only the dragged handle may move"
    _assert_output_matches(browser, widget)
    errors = [m for m in browser.console if m.startswith("error")]
    assert not errors, errors


def test_presets_and_reset_buttons_respond(browser, tmp_path):
    widget = ProjectiveExplorer(_image())
    browser.navigate(_page(widget, "corners", tmp_path))
    browser.wait_for("window.ready === true", timeout=20)
    browser.evaluate('document.querySelector("button[data-preset=\'tilt back\']").click()')
    widget.corners = browser.evaluate("window.state.corners")
    assert widget.corners[0] != [-1.0, -1.0]
    _assert_output_matches(browser, widget)

    widget = TPSExplorer(_image())
    browser.navigate(_page(widget, "offsets", tmp_path))
    browser.wait_for("window.ready === true", timeout=20)
    browser.evaluate('document.querySelector("button.stn-random").click()')
    widget.offsets = browser.evaluate("window.state.offsets")
    assert any(abs(v) > 0 for p in widget.offsets for v in p)
    _assert_output_matches(browser, widget)
    browser.evaluate('document.querySelector("button.stn-reset").click()')
    assert browser.evaluate("window.state.offsets") == [[0, 0]] * 16
