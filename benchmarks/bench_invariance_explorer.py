"""Slider-to-prediction latency of the invariance explorer in headless Chromium, and its page bytes.

    python benchmarks/bench_invariance_explorer.py [--moves 50] [--distortions RTS P TC]
                                                   [--url http://…/book/06_spatial_transformer.html]

For each explorer (``--distortions``, default RTS, P and TC: the trained pair of that recipe),
moves one slider ``--moves`` times (real ``input`` events, one after another, each waiting for
the page's prediction): RTS's rotation from −90° to 90°, P's top-right corner from −10 to 10 px
across, TC's digit from −16 to 16 px across its clutter. Prints the median, 10th and 90th
percentile of the time from the slider's input event to the updated prediction (θ, rectified
digit and both models' probabilities computed and drawn), as the page measures it with
``performance.now()``; that includes the wait for the next animation frame. Without ``--url``
the widget's bundled module runs in a bare page (tests/cdp.py); with it (one distortion only),
in a built book page that embeds the explorer.

Then prints the bytes each widget adds to a page: its embedded widget state as ipywidgets
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
from cdp import Chromium, find_chromium, write_widget_page  # noqa: E402

from stn_course.widgets import InvarianceExplorer  # noqa: E402

ROOT_JS = "document.querySelector('.stn-invariance-explorer')"
#: The slider each explorer's benchmark sweeps: (name, from, to, the slider's step).
SWEEPS = {"R": ("angle", -90, 90, 1), "RTS": ("angle", -90, 90, 1), "P": ("corner1x", -10, 10, 0.5),
          "TC": ("tx", -16, 16, 1)}


def latencies(browser: Chromium, moves: int, distortion: str = "RTS") -> list[float]:
    """Milliseconds from each slider input to the prediction it caused, for ``moves`` moves."""
    browser.wait_for(f"{ROOT_JS} && {ROOT_JS}.stn && {ROOT_JS}.stn.updates >= 1", timeout=60)
    param, lo, hi, step = SWEEPS[distortion]
    out = []
    for k in range(moves):
        # sweep the slider across its range, on its steps; every input event recomputes, even at
        # a value the slider already had
        value = lo + step * round((hi - lo) * k / max(moves - 1, 1) / step)
        before = browser.evaluate(f"{ROOT_JS}.stn.updates")
        browser.evaluate(f"""(() => {{
  const input = {ROOT_JS}.querySelector('input[data-param="{param}"]');
  input.value = "{value}";
  input.dispatchEvent(new Event("input", {{ bubbles: true }}));
}})()""")
        browser.wait_for(f"{ROOT_JS}.stn.updates > {before} && !{ROOT_JS}.stn.pending", timeout=30, interval=0.01)
        out.append(browser.evaluate(f"{ROOT_JS}.stn.latency"))
    return out


def page_bytes(widget: InvarianceExplorer) -> dict[str, int]:
    """Bytes of ``widget``'s embedded state in a static page, in all and by part."""
    # the full state, defaults included, as nbclient records it for myst-nb (the ES module is a default);
    # only this widget and what it depends on (its layout), not every widget alive in this process
    own = ipywidgets.embed.dependency_state(widget, drop_defaults=False)
    state = ipywidgets.embed.embed_data(views=[widget], drop_defaults=False, state=own)["manager_state"]
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
    parser.add_argument("--distortions", nargs="+", default=["RTS", "P", "TC"], choices=sorted(SWEEPS),
                        help="whose explorers to time (default: RTS P TC)")
    parser.add_argument("--url", help="a built book page with the explorer (default: a bare page)")
    args = parser.parse_args(argv)
    if args.moves < 1:
        parser.error(f"--moves must be a positive int, got {args.moves}")
    if args.url and len(args.distortions) != 1:
        parser.error(f"--url times one explorer: give one of --distortions, got {args.distortions}")
    chromium = find_chromium()
    if chromium is None:
        raise SystemExit("no Chromium found (Debian: apt-get install chromium)")
    binary = ["digits", "image", "weights"]
    with tempfile.TemporaryDirectory() as tmp, Chromium(chromium, width=1400, height=1000) as browser:
        for distortion in args.distortions:
            widget = InvarianceExplorer(distortion=distortion)
            if args.url:
                url = args.url
            else:
                state = {n: bytes(getattr(widget, n)) if n in binary else getattr(widget, n)
                         for n in widget.trait_names(sync=True)
                         if not n.startswith("_") and n not in ("layout", "tabbable", "tooltip")}
                url = write_widget_page(widget, state, binary, Path(tmp) / f"explorer_{distortion}.html")
            browser.navigate(url)
            times = latencies(browser, args.moves, distortion)
            deciles = statistics.quantiles(times, n=10) if len(times) > 1 else times * 9
            param = SWEEPS[distortion][0]
            print(f"{distortion} explorer, slider {param!r} input -> updated prediction, {len(times)} moves in headless "
                  f"Chromium ({'the book page' if args.url else 'a bare page'}): median {statistics.median(times):.1f} ms, "
                  f"10th percentile {deciles[0]:.1f} ms, 90th {deciles[-1]:.1f} ms, max {max(times):.1f} ms")
            parts = page_bytes(widget)
            print(f"{distortion} explorer, bytes it adds to a page: {parts.pop('total'):,} (" +
                  ", ".join(f"{k}: {v:,}" for k, v in parts.items()) +
                  f"); weights as raw float16: {len(widget.weights):,}")


if __name__ == "__main__":
    main()
