"""The book's table script (scripts/static/stn_tables.js) in headless Chromium, without building
the book: a bare page with the book's stylesheet and a table in a phone-narrow column. The
rendered book itself is checked by test_book_browser.py, with the same measure of lines."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cdp import Chromium, find_chromium
from test_book_browser import NUMBER_LINES

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "scripts" / "static"
CHROMIUM = find_chromium()
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (Debian: apt-get install chromium)"),
]

#: Rows as the benchmark tables write them: a setting, then a mean with its spread (and a
#: footnote mark, a count). The second column holds nothing wider than "0.09a" that cannot
#: wrap, so a mean stacks there unless it is kept whole.
ROWS = [("150,000", "1.12 ± 0.07"), ("0.7/1", "0.81 ± 0.09<sup>a</sup>"), ("abl-batch256", "3.79 ± 0.13 (n = 3)")]


def _page(tmp_path: Path, script: bool) -> str:
    rows = "".join(f"<tr><td>{name}</td><td>{cell}</td><td>paper</td></tr>" for name, cell in ROWS)
    page = tmp_path / "table.html"
    page.write_text(
        "<!doctype html><html><head><meta name='viewport' content='width=device-width'>"
        f"<style>{(STATIC / 'stn_book.css').read_text()}</style>"
        + (f"<script>{(STATIC / 'stn_tables.js').read_text()}</script>" if script else "")
        + "</head><body><main><article style='width: 150px; font-size: 16px'>"
        f"<table><tbody>{rows}</tbody></table></article></main></body></html>")
    return page.as_uri()


@pytest.fixture(scope="module")
def browser():
    with Chromium(CHROMIUM) as chromium:
        chromium.set_viewport(390, 800, True)
        yield chromium


def test_a_mean_and_its_spread_stay_on_one_line_in_a_narrow_column(browser, tmp_path):
    browser.navigate(_page(tmp_path, script=True))
    report = browser.evaluate(NUMBER_LINES)   # the measure test_book_browser applies to every page
    assert report["checked"] >= 2 * len(ROWS) and not report["broken"], report
    # the column is narrow enough to stack them without the script: the test can fail
    browser.navigate(_page(tmp_path, script=False))
    broken = browser.evaluate(NUMBER_LINES)["broken"]
    assert any("1.12 ± 0.07" in b for b in broken) and any("0.81 ± 0.09" in b for b in broken), broken


def test_the_footnote_mark_and_the_words_after_a_mean_still_wrap(browser, tmp_path):
    browser.navigate(_page(tmp_path, script=True))
    wrapped = browser.evaluate(
        "Array.from(document.querySelectorAll('td:nth-child(2) .stn-nobr')).map((s) => s.textContent)")
    assert "1.12 ± 0.07" in wrapped and "0.81 ± 0.09" in wrapped
    assert "3.79 ± 0.13" in wrapped and "3)" in wrapped   # "(n = 3)" is not glued to the mean
    assert not any(re.search(r"\(n", w) for w in wrapped if "±" in w), wrapped
