"""A small driver for headless Chromium over the DevTools protocol (for the browser tests).

Starts Debian's ``chromium`` with the flags from the course design, connects to its page
target with tornado's websocket client (already installed with Jupyter) and offers the few
commands the tests need: navigate, evaluate JavaScript, wait for a condition, screenshot.
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from tornado.websocket import websocket_connect

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync")


def find_chromium() -> str | None:
    """Path of a Chromium executable, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Chromium:
    """One headless Chromium with one page; use as a context manager."""

    def __init__(self, executable: str, width: int = 1280, height: int = 1000, timeout: float = 30.0):
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="stn-chromium-")
        self.proc = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={self.profile}", "--remote-debugging-port=0",
             f"--window-size={width},{height}", "--hide-scrollbars", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.loop = asyncio.new_event_loop()
        self.events: list[dict] = []
        self.console: list[str] = []
        self._next_id = 0
        try:
            port = self._wait_for_port()
            targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
            page = next(t for t in targets if t.get("type") == "page")

            async def connect():  # inside the loop, so the connection belongs to it
                return await websocket_connect(page["webSocketDebuggerUrl"], max_message_size=256 * 2**20)

            self.ws = self.loop.run_until_complete(connect())
            self.send("Page.enable")
            self.send("Runtime.enable")
            self.send("Emulation.setDeviceMetricsOverride",
                      {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        except BaseException:
            self.close()
            raise

    def _wait_for_port(self) -> int:
        marker = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited with code {self.proc.returncode} before it started")
            if marker.exists():
                text = marker.read_text().split()
                if text:
                    return int(text[0])
            time.sleep(0.05)
        raise TimeoutError("chromium did not open its DevTools port")

    def __enter__(self) -> "Chromium":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if getattr(self, "ws", None) is not None:
            ws, self.ws = self.ws, None

            async def close_ws():  # inside our loop: another test may have left no current loop
                ws.close()

            self.loop.run_until_complete(close_ws())
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)
        self.loop.close()

    # -- the protocol ------------------------------------------------------------------
    async def _read(self, timeout: float) -> dict:
        msg = await asyncio.wait_for(self.ws.read_message(), timeout)
        if msg is None:
            raise ConnectionError("chromium closed the DevTools connection")
        data = json.loads(msg)
        if "method" in data:
            self._record(data)
        return data

    def _record(self, event: dict) -> None:
        self.events.append(event)
        if event["method"] == "Runtime.consoleAPICalled":
            args = event["params"].get("args", [])
            self.console.append(f"{event['params']['type']}: " + " ".join(
                str(a.get("value", a.get("description", ""))) for a in args))
        elif event["method"] == "Runtime.exceptionThrown":
            details = event["params"]["exceptionDetails"]
            self.console.append("exception: " + details.get("exception", {}).get("description", details.get("text", "")))

    def send(self, method: str, params: dict | None = None, timeout: float | None = None) -> dict:
        """Send one command and return its result (raises on a protocol error)."""
        self._next_id += 1
        ident = self._next_id
        timeout = timeout or self.timeout

        async def call() -> dict:
            await self.ws.write_message(json.dumps({"id": ident, "method": method, "params": params or {}}))
            while True:
                data = await self._read(timeout)
                if data.get("id") == ident:
                    return data

        data = self.loop.run_until_complete(call())
        if "error" in data:
            raise RuntimeError(f"{method} failed: {data['error']}")
        return data.get("result", {})

    def set_viewport(self, width: int, height: int, mobile: bool = False) -> None:
        """Resize the page's viewport (``mobile`` also emulates a phone's viewport meta handling)."""
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})

    def navigate(self, url: str) -> None:
        """Open ``url`` and wait for its load event."""
        self.events.clear()
        self.send("Page.navigate", {"url": url})

        async def loaded() -> None:
            while not any(e["method"] == "Page.loadEventFired" for e in self.events):
                await self._read(self.timeout)

        self.loop.run_until_complete(loaded())

    def evaluate(self, expression: str, await_promise: bool = True):
        """Evaluate JavaScript in the page and return its (JSON-able) value."""
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": await_promise})
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise RuntimeError(f"JavaScript error: {details.get('exception', {}).get('description', details)}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float | None = None, interval: float = 0.1):
        """Poll ``expression`` until it is truthy; return its value (TimeoutError otherwise)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {expression!r}; console: {self.console[-10:]}")
            self.loop.run_until_complete(asyncio.sleep(interval))

    def screenshot(self, path: str | Path, full_page: bool = True) -> Path:
        """Save a PNG of the page (the whole page when ``full_page``)."""
        params: dict = {"format": "png"}
        if full_page:
            size = self.send("Page.getLayoutMetrics")["cssContentSize"]
            params.update(captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1})
        data = self.send("Page.captureScreenshot", params, timeout=60)["data"]
        path = Path(path)
        path.write_bytes(base64.b64decode(data))
        return path


#: A bare page that renders one anywidget ES module with a stand-in for its model: ``get``,
#: ``set`` (which fires ``change:<key>``, counted per key in ``window.sets``), ``on``, ``off``,
#: and ``save_changes`` counted in ``window.saved``. Binary traits travel base64 (a list of
#: numbers would make a page of megabytes for a widget that ships weights) and become
#: ``Uint8Array``s.
WIDGET_PAGE = """<!doctype html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{css}</style></head>
<body style="margin: 8px; font-family: sans-serif"><div id="root"></div>
<script type="module">
const code = {code};
const widget = (await import(URL.createObjectURL(new Blob([code], {{type: "text/javascript"}})))).default;
const state = {state};
for (const key of {binary}) state[key] = Uint8Array.from(atob(state[key]), (ch) => ch.charCodeAt(0));
const handlers = {{}};
window.saved = 0;
window.sets = {{}};
const model = {{
  get: (k) => state[k],
  set: (k, v) => {{ state[k] = v; window.sets[k] = (window.sets[k] || 0) + 1;
                    (handlers["change:" + k] || []).forEach((f) => f()); }},
  on: (e, f) => {{ (handlers[e] = handlers[e] || []).push(f); }},
  off: (e, f) => {{ handlers[e] = (handlers[e] || []).filter((g) => g !== f); }},
  save_changes: () => {{ window.saved += 1; }},
}};
window.state = state;
window.model = model;
widget.render({{ model, el: document.getElementById("root") }});
window.ready = true;
</script></body></html>"""


def write_widget_page(widget, state: dict, binary: str | list[str], path: Path) -> str:
    """Write :data:`WIDGET_PAGE` for an anywidget ``widget`` (its ``_esm`` and ``_css``) with the
    model ``state``, whose ``binary`` key (or keys) hold bytes or a list of byte values, to
    ``path``; return the page's ``file://`` URL."""
    keys = [binary] if isinstance(binary, str) else list(binary)
    state = dict(state)
    for key in keys:
        state[key] = base64.b64encode(bytes(state[key])).decode("ascii")
    path = Path(path)
    path.write_text(WIDGET_PAGE.format(css=widget._css, code=json.dumps(widget._esm), state=json.dumps(state),
                                       binary=json.dumps(keys)))
    return path.as_uri()
