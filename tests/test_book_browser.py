"""The rendered book in a real browser: headless Chromium over the DevTools protocol.

Builds the book (``jupyter-book build -W``, quick mode) with the web assets served locally
(``STN_BOOK_ASSETS``, fetched from the npm registry by ``scripts/fetch_web_assets.py`` when
missing), serves it on localhost and checks every page of the table of contents: the title
renders, every image loads with a non-zero size, every formula is typeset by MathJax, no
script throws, every course widget draws — and the θ explorer responds to its sliders with
the pixels ``stn_course`` computes, within 1/255.

Environment: ``STN_BOOK_HTML=<folder>`` tests an existing build (made with local assets)
instead of building; ``STN_BOOK_SCREENSHOTS=<folder>`` saves a full-page PNG of each page.
Skips only where no Chromium is installed (Debian: ``apt-get install chromium``).
"""

from __future__ import annotations

import asyncio
import functools
import http.server
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import nbformat
import pytest
import torch
import yaml

from cdp import Chromium, find_chromium
from stn_course.grid import affine_grid
from stn_course.sampler import grid_sample

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from stn_book_assets import DEFAULT_VENDOR_DIR, REQUIRED  # noqa: E402

CHROMIUM = find_chromium()
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (Debian: apt-get install chromium); "
                                                "the rendered book cannot be checked in a browser"),
]


def _toc_pages() -> list[str]:
    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("root", "file") and isinstance(value, str):
                    yield value
                else:
                    yield from walk(value)
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)
    return list(dict.fromkeys(walk(yaml.safe_load((ROOT / "_toc.yml").read_text()))))


PAGES = _toc_pages()
CHAPTERS = [p for p in PAGES if (ROOT / f"{p}.ipynb").exists()]


def _expected_title(page: str) -> str:
    path = ROOT / f"{page}.ipynb"
    if path.exists():
        source = nbformat.read(path, as_version=4).cells[0].source
    else:
        source = (ROOT / f"{page}.md").read_text()
    line = next(ln for ln in source.splitlines() if ln.startswith("# "))
    return line[2:].strip()


@pytest.fixture(scope="module")
def html_dir(tmp_path_factory) -> Path:
    existing = os.environ.get("STN_BOOK_HTML")
    if existing:
        return Path(existing)
    vendor = DEFAULT_VENDOR_DIR
    if not all((vendor / "vendor" / f).exists() for f in REQUIRED):
        fetched = subprocess.run([sys.executable, str(ROOT / "scripts" / "fetch_web_assets.py")],
                                 capture_output=True, text=True, timeout=600)
        assert fetched.returncode == 0, f"fetching the web assets from npm failed:\n{fetched.stderr[-3000:]}"
    out = tmp_path_factory.mktemp("book")
    # the book's extension keeps figures inline even where CI sets MPLBACKEND=Agg
    env = {**os.environ, "STN_BOOK_ASSETS": str(vendor), "STN_COURSE_QUICK": "1"}
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb) if jb.exists() else "jupyter-book", "build", str(ROOT), "--path-output", str(out), "-W"]
    built = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3000)
    assert built.returncode == 0, f"jupyter-book build failed:\n{built.stdout[-4000:]}\n{built.stderr[-4000:]}"
    return out / "_build" / "html"


@pytest.fixture(scope="module")
def server(html_dir):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(html_dir)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    with Chromium(CHROMIUM) as chromium:
        yield chromium


def _open(browser: Chromium, url: str) -> None:
    browser.console.clear()
    browser.navigate(url)
    # MathJax typesets asynchronously after the load event
    browser.evaluate("window.MathJax && MathJax.startup ? MathJax.startup.promise.then(() => true) : true")


PAGE_REPORT = r"""
(() => {
  const main = document.querySelector("main") || document.body;
  const h1 = main.querySelector("h1");
  const imgs = Array.from(main.querySelectorAll("img"));
  const maths = Array.from(main.querySelectorAll(".math"));
  const prose = Array.from(main.querySelectorAll("p, li, td, h1, h2, h3, figcaption"))
    .filter((e) => !e.closest("pre, code, .highlight, .cell_output"));
  const views = Array.from(document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]'));
  return {
    title: h1 ? h1.textContent.replace(/[#¶]/g, "").trim() : null,
    images: imgs.map((i) => ({ src: i.getAttribute("src"), ok: i.complete && i.naturalWidth > 0,
                               w: i.getBoundingClientRect().width, h: i.getBoundingClientRect().height })),
    maths: maths.length,
    untypeset: maths.filter((m) => !m.querySelector("mjx-container")).map((m) => m.textContent.slice(0, 60)),
    // TeX that MathJax could not typeset shows its error message in place of the formula
    mathErrors: Array.from(main.querySelectorAll("mjx-merror")).map((e) => e.textContent.slice(0, 80)),
    // TeX that MathJax never saw: delimiters, or commands such as \\theta left in the text
    raw: prose.filter((e) => /\\\(|\\\[|\$\$|\$[^$\s][^$]*\$|\\(theta|mathcal|mathrm|frac|partial|sum|left|right|begin|cdot|times)\b/
      .test(e.textContent)).map((e) => e.textContent.slice(0, 80)),
    // every image is a figure with a caption
    uncaptioned: imgs.filter((i) => { const f = i.closest("figure"); return !(f && f.querySelector("figcaption")); })
      .map((i) => { const s = i.closest("section[id]"); return `an image in #${s ? s.id : "?"}`; }),
    // a markdown table that was not parsed shows up as a paragraph of pipes: "| model | … |---|"
    brokenTables: Array.from(main.querySelectorAll("p, li")).filter((e) => !e.closest("pre, code, .highlight"))
      .filter((e) => /\|\s*:?-{3,}:?\s*\|/.test(e.textContent) || /^\s*\|.*\|.*\|\s*$/m.test(e.textContent))
      .map((e) => e.textContent.slice(0, 80)),
    widgetViews: views.length,
    stnWidgets: Array.from(document.querySelectorAll(".stn-widget")).map((w) =>
      Array.from(w.querySelectorAll("canvas")).map((c) => [c.width, c.height])),
  };
})()
"""


WIDGETS_RENDERED = r"""
Array.from(document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]')).every((s) => {
  const area = s.previousElementSibling;
  return area && area.classList.contains("widget-subarea") && area.children.length > 0 &&
    Array.from(area.querySelectorAll(".stn-widget")).every((w) => w.dataset.theta || w.querySelector("canvas"));
})
"""


# -- the reading experience: nothing wider than the page -----------------------------------

WIDTHS = {"desktop": (1400, 1000, False), "phone": (390, 844, True)}

OVERFLOW_REPORT = r"""
(() => {
  const doc = document.documentElement;
  const article = document.querySelector("main article") || document.querySelector("main") || document.body;
  const box = article.getBoundingClientRect();
  const visible = (e) => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const describe = (e, width) => {
    const cls = typeof e.className === "string" && e.className ? "." + e.className.trim().split(/\s+/).slice(0, 2).join(".") : "";
    const section = e.closest("section[id]");
    return `${e.tagName.toLowerCase()}${cls} in #${section ? section.id : "?"}: ${Math.round(width)} px ` +
           `"${(e.textContent || "").trim().replace(/\s+/g, " ").slice(0, 50)}"`;
  };
  // MathJax's assistive MathML (for screen readers) is laid out but clipped away: not on the page
  const all = Array.from(article.querySelectorAll("*")).filter((e) => visible(e) && !e.closest("mjx-assistive-mml"));
  // elements that scroll sideways: their content is wider than they are
  const scrollers = all.filter((e) => {
    const ox = getComputedStyle(e).overflowX;
    return (ox === "auto" || ox === "scroll") && e.scrollWidth > e.clientWidth + 1;
  });
  const inScroller = (e) => scrollers.some((s) => s !== e && s.contains(e));
  // a table wider than the column scrolls sideways in its own box (the theme's box around a
  // markdown table, a cell's HTML output): that is how a wide table reads on a phone
  const tableBox = (e) => Array.from(e.children).some((c) => c.tagName === "TABLE" && c.offsetWidth > e.clientWidth);
  // the outermost elements that stick out of the text column (cut off, or spilling over)
  const sticksOut = (e) => { const r = e.getBoundingClientRect(); return r.right > box.right + 1 || r.left < box.left - 1; };
  const spill = all.filter((e) => sticksOut(e) && !inScroller(e) && !(e.parentElement && e.parentElement !== article &&
                                                                     article.contains(e.parentElement) && sticksOut(e.parentElement)));
  return {
    wholePage: doc.scrollWidth > doc.clientWidth + 1 ? `the page is ${doc.scrollWidth} px wide in a ${doc.clientWidth} px window` : null,
    scrollers: scrollers.filter((e) => !tableBox(e)).map((e) => describe(e, e.scrollWidth)),
    spill: spill.map((e) => describe(e, e.getBoundingClientRect().width)),
    column: Math.round(box.width),
  };
})()
"""


#: What a reader can open: solutions and hidden code (the theme's toggles), <details>, and long
#: tables' "show all rows" buttons.
OPEN_EVERYTHING = ("document.querySelectorAll('button.toggle-button, details:not([open]) > summary, "
                   "button.stn-rows-toggle[aria-expanded=\"false\"]').forEach((t) => t.click()); true")


def _open_everything(browser: Chromium) -> None:
    browser.evaluate(OPEN_EVERYTHING)
    browser.loop.run_until_complete(asyncio.sleep(0.5))  # the toggles animate open


def overflow(browser: Chromium) -> dict:
    """What sticks out sideways on the open page: the page itself, scrolling blocks, spilling elements."""
    return browser.evaluate(OVERFLOW_REPORT)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("page", PAGES)
def test_nothing_overflows_sideways(browser, server, page, width):
    w, h, mobile = WIDTHS[width]
    browser.set_viewport(w, h, mobile)
    try:
        _open(browser, f"{server}/{page}.html")
        if browser.evaluate("document.querySelectorAll('script[type=\"application/vnd.jupyter.widget-view+json\"]').length"):
            browser.wait_for(WIDGETS_RENDERED, timeout=30)
        # what a reader can open counts too: solutions, hidden code cells, long tables
        _open_everything(browser)
        report = overflow(browser)
        record = os.environ.get("STN_BOOK_OVERFLOW_REPORT")
        if record:
            with open(record, "a") as f:
                f.write(json.dumps({"page": page, "width": w, **report}) + "\n")
        shots = os.environ.get("STN_BOOK_SCREENSHOTS")
        if shots:
            Path(shots).mkdir(parents=True, exist_ok=True)
            browser.screenshot(Path(shots) / f"{page.replace('/', '_')}_{w}px.png")
    finally:
        browser.set_viewport(1280, 1000)
    problems = ([report["wholePage"]] if report["wholePage"] else []) + [f"scrolls sideways: {s}" for s in report["scrollers"]] + [
        f"sticks out of the {report['column']} px column: {s}" for s in report["spill"]]
    assert not problems, f"{page} at {w} px: {len(problems)} overflowing elements:\n" + "\n".join(problems[:40])


# -- tables: a cell never breaks inside a number ---------------------------------------------

#: Every whitespace-free token of a table cell that holds a digit ("0.01", "150,000", "0.7/1ᶜ",
#: "±0.08"), or a mean with its spread ("1.12 ± 0.07"), with the number of lines its text
#: occupies: a token is looked up across the text
#: nodes of its cell (a superscript mark is part of the token it follows), and its lines are the
#: distinct tops of the rectangles a DOM Range over it gets from the layout.
NUMBER_LINES = r"""
(() => {
  const article = document.querySelector("main article") || document.querySelector("main") || document.body;
  const broken = [];
  let checked = 0;
  // the lines a piece of text occupies: the distinct tops of its laid-out rectangles (0: not laid out, a hidden row)
  const lines = (rects) => {
    const tops = [];
    for (const r of rects) if (r.width > 0 && r.height > 0 && !tops.some((t) => Math.abs(t - r.top) < r.height / 2)) tops.push(r.top);
    return tops.length;
  };
  for (const cell of article.querySelectorAll("th, td")) {
    // MathJax's assistive MathML is laid out in a clipped 1 px box: not text on the page
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT, { acceptNode: (n) =>
      n.parentElement.closest("mjx-assistive-mml") ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT });
    const pieces = [];  // [text node, start offset in the cell's text]
    let text = "";
    for (let n = walker.nextNode(); n; n = walker.nextNode()) { pieces.push([n, text.length]); text += n.data; }
    const locate = (at) => {  // the text node and offset holding character `at` of the cell's text
      let k = pieces.length - 1;
      while (k > 0 && pieces[k][1] > at) k--;
      return [pieces[k][0], at - pieces[k][1]];
    };
    for (const m of text.matchAll(/\S*\d\S*(?:\s+±\s*\S*\d\S*)?|\S+/g)) {
      if (!/\d/.test(m[0])) continue;
      const range = document.createRange();
      range.setStart(...locate(m.index));
      range.setEnd(...locate(m.index + m[0].length - 1).map((v, i) => (i ? v + 1 : v)));
      const n = lines(range.getClientRects());
      if (!n) continue;
      checked++;
      if (n > 1) {
        const section = cell.closest("section[id]");
        broken.push(`"${m[0]}" on ${n} lines in #${section ? section.id : "?"} ` +
                    `(cell "${text.trim().replace(/\s+/g, " ").slice(0, 40)}")`);
      }
    }
  }
  // a formula in a cell (typeset by MathJax, so no text nodes of its own) stays on one line too
  for (const math of article.querySelectorAll("td mjx-container, th mjx-container")) {
    const n = lines(math.getClientRects());
    if (!n) continue;
    checked++;
    if (n > 1) broken.push(`a formula on ${n} lines: "${math.textContent.slice(0, 30)}"`);
  }
  return { checked, broken };
})()
"""

@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("page", PAGES)
def test_table_cells_never_break_inside_a_number(browser, server, page, width):
    """A wide table scrolls sideways in its own box instead of breaking "0.01" into "0." and
    "01": every token of a cell that holds a digit sits on one line, at 1400 px and 390 px."""
    w, h, mobile = WIDTHS[width]
    browser.set_viewport(w, h, mobile)
    try:
        _open(browser, f"{server}/{page}.html")
        _open_everything(browser)
        report = browser.evaluate(NUMBER_LINES)
    finally:
        browser.set_viewport(1280, 1000)
    assert not report["broken"], (f"{page} at {w} px: {len(report['broken'])} of the {report['checked']} numbers "
                                  "in table cells break across lines:\n" + "\n".join(report["broken"][:30]))


@pytest.mark.parametrize("page", PAGES)
def test_page_renders(browser, server, page, tmp_path):
    _open(browser, f"{server}/{page}.html")
    report = browser.evaluate(PAGE_REPORT)
    assert report["title"] == _expected_title(page), f"{page}: title {report['title']!r}"
    broken = [i for i in report["images"] if not (i["ok"] and i["w"] > 0 and i["h"] > 0)]
    assert not broken, f"{page}: images that did not load or have no size: {broken}"
    if page in CHAPTERS:
        assert report["images"], f"{page}: a chapter without a single figure"
    assert not report["untypeset"], f"{page}: formulas MathJax did not typeset: {report['untypeset']}"
    assert not report["mathErrors"], f"{page}: formulas MathJax rejected: {report['mathErrors']}"
    assert not report["raw"], f"{page}: raw TeX delimiters in the text: {report['raw']}"
    assert not report["brokenTables"], f"{page}: markdown tables rendered as text: {report['brokenTables']}"
    assert not report["uncaptioned"], f"{page}: figures without a caption: {report['uncaptioned']}"
    if report["widgetViews"]:
        # the HTML manager renders each embedded view into a div.widget-subarea before its script
        browser.wait_for(WIDGETS_RENDERED, timeout=30)
    for canvases in browser.evaluate(PAGE_REPORT)["stnWidgets"]:
        assert canvases and all(w > 0 and h > 0 for w, h in canvases), f"{page}: a widget drew nothing"
    errors = [line for line in browser.console if line.startswith("exception")]
    assert not errors, f"{page}: JavaScript errors: {errors}"
    shots = os.environ.get("STN_BOOK_SCREENSHOTS")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        browser.screenshot(Path(shots) / f"{page.replace('/', '_')}.png")


def test_the_math_and_widget_pages_exist():
    assert "book/02_coordinates" in CHAPTERS, "chapter 2 (the θ explorer) is not in the toc"


# -- the θ explorer ----------------------------------------------------------------------------

EXPLORER_STATE = r"""
(() => {
  const root = document.querySelector(".stn-theta-explorer");
  const canvas = root.querySelector("canvas.stn-output");
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  const gray = [];
  for (let k = 0; k < data.length; k += 4) gray.push(data[k]);
  return { theta: JSON.parse(root.dataset.theta), width: root.stn.width, height: root.stn.height,
           src: Array.from(root.stn.src), out: gray,
           sliders: Object.fromEntries(Array.from(root.querySelectorAll("input[type=range]"))
             .map((i) => [i.dataset.param, Number(i.value)])) };
})()
"""


def _move(browser: Chromium, param: str, value: float) -> None:
    browser.evaluate(f"""
(() => {{
  const input = document.querySelector('.stn-theta-explorer input[data-param="{param}"]');
  input.value = "{value}";
  input.dispatchEvent(new Event("input", {{ bubbles: true }}));
}})()""")


def _package_pixels(state: dict) -> torch.Tensor:
    h, w = state["height"], state["width"]
    u = torch.tensor(state["src"], dtype=torch.float32).reshape(1, 1, h, w) / 255.0
    theta = torch.tensor([state["theta"]], dtype=torch.float32)
    v = grid_sample(u, affine_grid(theta, [1, 1, h, w], align_corners=False), mode="bilinear",
                    padding_mode="zeros", align_corners=False)
    return v[0, 0] * 255.0


@pytest.fixture()
def explorer(browser, server):
    _open(browser, f"{server}/book/02_coordinates.html")
    browser.wait_for("document.querySelector('.stn-theta-explorer') && "
                     "document.querySelector('.stn-theta-explorer').dataset.theta", timeout=30)
    return browser


def test_explorer_responds_to_sliders(explorer):
    before = explorer.evaluate(EXPLORER_STATE)
    _move(explorer, "angle", -60)
    after = explorer.evaluate(EXPLORER_STATE)
    assert after["out"] != before["out"], "moving the angle slider did not change the drawn image"
    assert after["theta"] != before["theta"]
    # the raw sliders follow the interpretable ones
    assert after["sliders"]["t00"] == pytest.approx(after["theta"][0][0], abs=0.006)
    assert after["sliders"]["t10"] == pytest.approx(after["theta"][1][0], abs=0.006)
    assert after["theta"][1][0] < 0 < after["theta"][0][0]  # sin(-60°) < 0 < cos(-60°)
    # and the interpretable ones follow the raw ones
    _move(explorer, "t02", 0.3)
    moved = explorer.evaluate(EXPLORER_STATE)
    assert moved["theta"][0][2] == pytest.approx(0.3) and moved["sliders"]["tx"] == pytest.approx(0.3)
    assert moved["out"] != after["out"]


@pytest.mark.parametrize("moves", [
    {},  # the θ the notebook set
    {"angle": 37, "scaleX": 0.7, "scaleY": 1.25, "shear": 0.2, "tx": -0.15, "ty": 0.3},
    {"t00": 0.8, "t01": -0.45, "t02": 0.1, "t10": 0.55, "t11": 1.3, "t12": -0.2},
    {"angle": 180, "scaleX": 1.6, "scaleY": 1.6, "tx": 0.5},
])
def test_explorer_pixels_match_the_package(explorer, moves):
    for param, value in moves.items():
        _move(explorer, param, value)
    state = explorer.evaluate(EXPLORER_STATE)
    got = torch.tensor(state["out"], dtype=torch.float32).reshape(state["height"], state["width"])
    expected = _package_pixels(state)
    worst = float((got - expected).abs().max())
    assert worst <= 1.0, f"browser pixels differ from stn_course by up to {worst:.2f}/255 for θ={state['theta']}"
    assert float(expected.std()) > 5, "a blank image would make this comparison meaningless"


# -- numbers per chapter -----------------------------------------------------------------------

def _captions(html: str, kind: str) -> list[str]:
    """The numbers of the page's captions of one kind ("Fig.", "Table", "Exercise"), in order."""
    return re.findall(rf'<span class="caption-number">{re.escape(kind)} ([\d.]+) </span>', html)


def test_figures_and_exercises_are_numbered_per_chapter(html_dir):
    """Fig. 9.3 and Exercise 9.1 in chapter 9, as a textbook numbers them (not Fig. 72)."""
    page = (html_dir / "book" / "09_mnist_benchmark.html").read_text()
    figures, exercises = _captions(page, "Fig."), _captions(page, "Exercise")
    assert figures and figures == [f"9.{k}" for k in range(1, len(figures) + 1)], f"chapter 9's figures: {figures}"
    assert exercises and exercises == [f"9.{k}" for k in range(1, len(exercises) + 1)], f"exercises: {exercises}"
    # a reference from the text reads the same number as the caption it points to
    chapter2 = (html_dir / "book" / "02_coordinates.html").read_text()
    numref = re.search(r'href="#fig-coords-push-pull"><span class="std std-numref">Fig\. ([\d.]+)</span>', chapter2)
    assert numref and numref.group(1).startswith("2."), "the {numref} to fig-coords-push-pull"
    # the chapters' titles carry their numbers once; the pages that are no chapter carry none
    for page_name in PAGES:
        h1 = re.search(r"<h1>(.*?)<a class=\"headerlink\"", (html_dir / f"{page_name}.html").read_text(), re.S)
        assert h1 and not re.match(r"\s*(<span class=\"section-number\">|\d+\.\s*\d+\.)", h1.group(1)), \
            f"{page_name}: numbered twice or by the toctree: {h1.group(1) if h1 else None!r}"


UNREFERENCED_FIGURES = r"""
Array.from(document.querySelectorAll("main article figure[id]")).filter((f) =>
  !Array.from(document.querySelectorAll(`a[href="#${CSS.escape(f.id)}"]`)).some((a) => !f.contains(a))
).map((f) => f.id)
"""


@pytest.mark.parametrize("page", CHAPTERS)
def test_every_figure_is_referenced_from_its_page(browser, server, page):
    """A figure the text never names is a figure nobody is told to look at (issue 26): every
    figure of a chapter has a link to it from outside itself (a {numref} in the prose)."""
    _open(browser, f"{server}/{page}.html")
    assert browser.evaluate("document.querySelectorAll('main article figure[id]').length") > 0, page
    assert browser.evaluate(UNREFERENCED_FIGURES) == [], f"{page}: figures no text refers to"


# -- long tables ----------------------------------------------------------------------------------

LONG_TABLES = r"""
Array.from(document.querySelectorAll("main article table")).map((t) => {
  const rows = Array.from(t.tBodies).flatMap((b) => Array.from(b.rows));
  const box = t.closest(".pst-scrollable-table-container, div.cell_output .output") || t;
  const button = box.nextElementSibling && box.nextElementSibling.matches("button.stn-rows-toggle") ? box.nextElementSibling : null;
  return { caption: t.caption ? t.caption.textContent.trim() : "", rows: rows.length,
           shown: rows.filter((r) => r.getBoundingClientRect().height > 0).length,
           height: t.getBoundingClientRect().height, button: button && button.textContent };
})
"""


def test_a_long_listing_shows_its_first_rows_until_asked(browser, server):
    """Chapter 9's listing of every run (dozens of rows, screens long on a phone) shows its
    first rows and a button for the rest; Table 1 itself, shorter, shows whole."""
    browser.set_viewport(*WIDTHS["phone"])
    try:
        _open(browser, f"{server}/book/09_mnist_benchmark.html")
        tables = browser.evaluate(LONG_TABLES)
        listing = next((t for t in tables if t["caption"].startswith("Every run record")), None)
        assert listing, f"no run listing in chapter 9: {[t['caption'] for t in tables]}"
        assert listing["rows"] > 40 and listing["shown"] == 12, listing
        assert listing["button"] == f"Show all {listing['rows']} rows", listing
        for t in tables:  # every table not longer than 40 rows shows whole, without a button
            if t["rows"] <= 40:
                assert t["shown"] == t["rows"] and t["button"] is None, t
        folded = listing["height"]
        browser.evaluate("document.querySelector('button.stn-rows-toggle').click(); true")
        listing = next(t for t in browser.evaluate(LONG_TABLES) if t["caption"].startswith("Every run record"))
        assert listing["shown"] == listing["rows"] and listing["height"] > 3 * folded, listing
        assert listing["button"] == "Show the first 12 rows only"
        browser.evaluate("document.querySelector('button.stn-rows-toggle').click(); true")
        listing = next(t for t in browser.evaluate(LONG_TABLES) if t["caption"].startswith("Every run record"))
        assert listing["shown"] == 12
    finally:
        browser.set_viewport(1280, 1000)


# -- where the scripts cannot load ---------------------------------------------------------------

NOTICES = r"""
({ decided: document.documentElement.dataset.stnScripts || null,
   views: document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]').length,
   notices: Array.from(document.querySelectorAll(".stn-script-notice")).map((n) => ({
     text: n.textContent, maths: n.classList.contains("stn-maths"),
     beforeView: !!(n.nextElementSibling && n.nextElementSibling.matches('script[type="application/vnd.jupyter.widget-view+json"]')),
   })) })
"""


def test_a_page_says_so_where_its_scripts_cannot_load(browser, server):
    """Offline, or with the script host blocked, chapter 2 says where MathJax and the widget
    scripts should have come from and how to build the book offline, instead of showing raw TeX
    and an empty space where the text says "drag the sliders"; with the scripts there, it says nothing."""
    page = f"{server}/book/02_coordinates.html"
    _open(browser, page)
    # on a slow machine a note may show for a while, until the widgets draw and take it away
    try:
        browser.wait_for("document.documentElement.dataset.stnScripts === 'ok'", timeout=40)
    except TimeoutError:
        pytest.fail(f"chapter 2 never decided that its scripts loaded (is stn_script_notice.js on the page?): "
                    f"{browser.evaluate(NOTICES)}")
    report = browser.evaluate(NOTICES)
    assert report["views"] > 0, "chapter 2 has no widget to check"
    assert not report["notices"], report

    browser.send("Network.enable")
    browser.send("Network.setCacheDisabled", {"cacheDisabled": True})
    browser.send("Network.setBlockedURLs", {"urls": ["*/_static/vendor/*"]})  # MathJax, RequireJS, the widget manager
    try:
        browser.console.clear()
        browser.navigate(page)
        browser.wait_for("document.documentElement.dataset.stnScripts", timeout=30)
        report = browser.evaluate(NOTICES)
    finally:
        browser.send("Network.setBlockedURLs", {"urls": []})
        browser.send("Network.setCacheDisabled", {"cacheDisabled": False})
        browser.send("Network.disable")
    assert report["decided"] == "missing", report
    maths = [n for n in report["notices"] if n["maths"]]
    widgets = [n for n in report["notices"] if not n["maths"]]
    assert len(maths) == 1 and "MathJax" in maths[0]["text"] and "/_static/vendor/mathjax/" in maths[0]["text"], maths
    assert len(widgets) == report["views"] and all(n["beforeView"] for n in widgets), report
    for n in report["notices"]:
        assert "STN_BOOK_ASSETS=local" in n["text"] and "fetch_web_assets.py" in n["text"], n["text"]
    assert "did not load" in widgets[0]["text"] and "notebook in Jupyter" in widgets[0]["text"], widgets[0]["text"]
    errors = [line for line in browser.console if line.startswith("exception")]
    assert not errors, f"the notices threw: {errors}"


# -- the invariance explorer -------------------------------------------------------------------

INVARIANCE_PAGES = ["book/intro", "book/01_invariance", "book/06_spatial_transformer"]
INVARIANCE_STATE = r"""
(() => {
  const root = document.querySelector(".stn-invariance-explorer");
  return { updates: root.stn.updates, pending: root.stn.pending, theta: root.stn.theta,
           probabilities: root.stn.probabilities, canvas: root.stn.canvas,
           sliders: Object.fromEntries(Array.from(root.querySelectorAll("input[type=range]"))
             .map((i) => [i.dataset.param, Number(i.value)])) };
})()
"""


@pytest.mark.parametrize("page", INVARIANCE_PAGES)
def test_invariance_explorer_runs_the_trained_models_in_the_static_book(browser, server, page):
    """No kernel behind the page: its θ and probabilities, after a slider move, are PyTorch's."""
    from stn_course import invariance

    assert page in PAGES
    _open(browser, f"{server}/{page}.html")
    root = "document.querySelector('.stn-invariance-explorer')"
    browser.wait_for(f"{root} && {root}.stn && {root}.stn.updates >= 1", timeout=60)
    before = browser.evaluate(INVARIANCE_STATE)
    browser.evaluate(f"""(() => {{ const i = {root}.querySelector('input[data-param="angle"]');
      i.value = String(Number(i.value) + 35); i.dispatchEvent(new Event("input", {{ bubbles: true }})); }})()""")
    browser.wait_for(f"{root}.stn.updates > {before['updates']} && !{root}.stn.pending", timeout=30)
    after = browser.evaluate(INVARIANCE_STATE)
    assert after["theta"] != before["theta"] and after["probabilities"] != before["probabilities"]
    # the page's own numbers against PyTorch on the canvas it computed, with the recorded weights
    canvas = torch.tensor(after["canvas"], dtype=torch.float32).view(1, 1, 42, 42)
    for name in ("st-cnn-aff", "cnn"):
        p, theta = invariance.predict(invariance.load_trained(name, "RTS"), canvas)
        assert float((torch.tensor(after["probabilities"][name]) - p[0]).abs().max()) <= 1e-3
        if theta is not None:
            assert torch.allclose(torch.tensor(after["theta"]), theta[0], atol=1e-4)
    errors = [line for line in browser.console if line.startswith("exception")]
    assert not errors, f"{page}: JavaScript errors: {errors}"


#: Chapter 8's explorers: the slider each test moves, by how much, and the canvas side.
RECIPE_EXPLORERS = {"P": ("corner0x", 6, 28), "TC": ("tx", 9, 60)}


def test_the_p_and_tc_explorers_run_their_trained_models_in_the_static_book(browser, server):
    """Chapter 8 holds an explorer per recipe (P, TC); each answers a move of its own slider with
    the θ and probabilities PyTorch computes on the same canvas with that recipe's weights."""
    from stn_course import invariance

    page = "book/08_distorted_mnist"
    assert page in PAGES
    _open(browser, f"{server}/{page}.html")
    for distortion, (param, move, side) in RECIPE_EXPLORERS.items():
        root = f"document.querySelector('.stn-inv-{distortion.lower()}')"
        state = INVARIANCE_STATE.replace('".stn-invariance-explorer"', f'".stn-inv-{distortion.lower()}"')
        browser.wait_for(f"{root} && {root}.stn && {root}.stn.updates >= 1", timeout=60)
        before = browser.evaluate(state)
        browser.evaluate(f"""(() => {{ const i = {root}.querySelector('input[data-param="{param}"]');
          i.value = String(Number(i.value) + {move}); i.dispatchEvent(new Event("input", {{ bubbles: true }})); }})()""")
        browser.wait_for(f"{root}.stn.updates > {before['updates']} && !{root}.stn.pending", timeout=30)
        after = browser.evaluate(state)
        assert after["theta"] != before["theta"], distortion
        canvas = torch.tensor(after["canvas"], dtype=torch.float32).view(1, 1, side, side)
        for name in ("st-cnn-aff", "cnn"):
            p, theta = invariance.predict(invariance.load_trained(name, distortion), canvas)
            assert float((torch.tensor(after["probabilities"][name]) - p[0]).abs().max()) <= 1e-3, (distortion, name)
            if theta is not None:
                assert torch.allclose(torch.tensor(after["theta"]), theta[0], atol=1e-4), distortion
    errors = [line for line in browser.console if line.startswith("exception")]
    assert not errors, f"{page}: JavaScript errors: {errors}"
