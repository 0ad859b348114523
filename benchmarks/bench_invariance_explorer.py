"""Slider-to-prediction latency of the invariance explorer in headless Chromium, and its page bytes.

    python benchmarks/bench_invariance_explorer.py [--moves 50] [--url http://…/book/06_spatial_transformer.html]

Moves the rotation slider ``--moves`` times (real ``input`` events, one after another, each
waiting for the page's prediction) and prints the median, 10th and 90th percentile of the time
from the slider's input event to the updated prediction (θ, rectified digit and both models'
probabilities computed and drawn), as the page measures it with ``performance.now()``; that
includes the wait for the next animation frame. Without ``--url`` the widget's bundled module
runs in a bare page (tests/cdp.py); with it, in a built book page that embeds the explorer.

Then prints the bytes the widget adds to a page: its embedded widget state as ipywidgets
writes it into a static page (what myst-nb embeds), split into the float16 weights (base64),
the ES module, the CSS and the rest.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import ipywidgets.embed

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from cdp import Chromium, find_chromium, write_widget_page_b64  # noqa: E402

from stn_course.widgets import InvarianceExplorer  # noqa: E402

ROOT_JS = "document.querySelector('.stn-invariance-explorer')"


def latencies(browser: Chromium, moves: int) -> list[float]:
    """Milliseconds from each slider input to the prediction it caused, for ``moves`` moves."""
    browser.wait_for(f"{ROOT_JS} && {ROOT_JS}.stn && {ROOT_JS}.stn.updates >= 1", timeout=60)
    out = []
    for k in range(moves):
        angle = -90 + (180 * k) // max(moves - 1, 1)  # sweep the slider from -90° to 90°
        before = browser.evaluate(f"{ROOT_JS}.stn.updates")
        browser.evaluate(f"""(() => {{
  const input = {ROOT_JS}.querySelector('input[data-param="angle"]');
  input.value = "{angle}";
  input.dispatchEvent(new Event("input", {{ bubbles: true }}));
}})()""")
        browser.wait_for(f"{ROOT_JS}.stn.updates > {before} && !{ROOT_JS}.stn.pending", timeout=30, interval=0.01)
        out.append(browser.evaluate(f"{ROOT_JS}.stn.latency"))
    return out


def page_bytes(widget: InvarianceExplorer) -> dict[str, int]:
    """Bytes of ``widget``'s embedded state in a static page, in all and by part."""
    # the full state, defaults included, as nbclient records it for myst-nb (the ES module is a default)
    state = ipywidgets.embed.embed_data(views=[widget], drop_defaults=False)["manager_state"]
    total = len(json.dumps(state).encode())
    entry = state["state"][widget.model_id]
    weights = sum(len(b["data"]) for b in entry.get("buffers", []) if b["path"] == ["weights"])
    esm = len(json.dumps(entry["state"]["_esm"]).encode())
    css = len(json.dumps(entry["state"]["_css"]).encode())
    return {"total": total, "weights (float16, base64)": weights, "ES module": esm, "CSS": css,
            "the rest (digits, graph, traits)": total - weights - esm - css}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=50, help="slider moves to time (default 50)")
    parser.add_argument("--url", help="a built book page with the explorer (default: a bare page)")
    args = parser.parse_args(argv)
    if args.moves < 1:
        parser.error(f"--moves must be a positive int, got {args.moves}")
    chromium = find_chromium()
    if chromium is None:
        raise SystemExit("no Chromium found (Debian: apt-get install chromium)")
    widget = InvarianceExplorer()
    with tempfile.TemporaryDirectory() as tmp, Chromium(chromium, width=1400, height=1000) as browser:
        if args.url:
            url = args.url
        else:
            state = {n: getattr(widget, n) for n in widget.trait_names(sync=True)
                     if not n.startswith("_") and n not in ("layout", "tabbable", "tooltip")}
            url = write_widget_page_b64(widget, state, ["digits", "image", "weights"], Path(tmp) / "explorer.html")
        browser.navigate(url)
        times = latencies(browser, args.moves)
    deciles = statistics.quantiles(times, n=10) if len(times) > 1 else times * 9
    print(f"slider input -> updated prediction, {len(times)} moves in headless Chromium "
          f"({'the book page' if args.url else 'a bare page'}): median {statistics.median(times):.1f} ms, "
          f"10th percentile {deciles[0]:.1f} ms, 90th {deciles[-1]:.1f} ms, max {max(times):.1f} ms")
    parts = page_bytes(widget)
    print(f"bytes the widget adds to a page: {parts.pop('total'):,} (" +
          ", ".join(f"{k}: {v:,}" for k, v in parts.items()) + f"); weights as raw float16: {len(widget.weights):,}")


if __name__ == "__main__":
    main()
