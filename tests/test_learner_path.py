"""The learner's path (issue 25): one command makes the student edition and opens JupyterLab;
the edition's links resolve; Run All goes through untouched stubs; a wrong answer fails
loudly, with the case and without a traceback through the checker."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import nbformat
import pytest

from stn_course.classroom import student as S

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
CHAPTER = "02_coordinates"  # three exercises, no training: the cheapest chapter with stubs
CHECKS_IN_CHAPTER = 3


def _start(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stn_course.classroom", "start", "--book", str(BOOK), *args],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)


def test_start_writes_every_chapter_and_keeps_a_learners_work(tmp_path):
    first = _start(tmp_path, "--no-lab")
    assert first.returncode == 0, first.stderr
    chapters = sorted(p.name for p in BOOK.glob("[0-9][0-9]_*.ipynb"))
    assert sorted(p.name for p in (tmp_path / "student").glob("*.ipynb")) == chapters
    assert "jupyter lab student/01_invariance.ipynb" in first.stdout

    mine = tmp_path / "student" / f"{CHAPTER}.ipynb"
    nb = nbformat.read(mine, as_version=4)
    nb.cells[-1].source += "\n\nMy notes."
    nbformat.write(nb, mine)
    again = _start(tmp_path, "--no-lab")
    assert again.returncode == 0, again.stderr
    assert f"kept as you left them ({CHAPTER}.ipynb)" in again.stdout
    assert nbformat.read(mine, as_version=4).cells[-1].source.endswith("My notes.")


def test_start_refuses_a_folder_of_reference_chapters(tmp_path):
    (tmp_path / "student").mkdir()
    (tmp_path / "student" / f"{CHAPTER}.ipynb").write_bytes((BOOK / f"{CHAPTER}.ipynb").read_bytes())
    r = _start(tmp_path, "--no-lab")
    assert r.returncode == 2 and "--out student" in r.stderr and "reference solutions" in r.stderr
    assert len(list((tmp_path / "student").iterdir())) == 1  # nothing written beside it


def test_start_names_a_chapter_that_does_not_exist(tmp_path):
    r = _start(tmp_path, "--no-lab", "--chapter", "99_nothing")
    assert r.returncode == 2 and "--chapter 99_nothing" in r.stderr


@pytest.mark.parametrize("out", ["student", "deep/er/edition"])
def test_every_relative_link_of_the_student_edition_resolves(tmp_path, out):
    written, kept = S.start_edition(BOOK, tmp_path / out)
    assert written and not kept
    links = 0
    for path in written:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "markdown":
                continue
            for m in S._LINK.finditer(cell.source):
                if "." not in m["path"]:  # `](batch, generator)`-like code, not a link
                    continue
                links += 1
                assert (path.parent / m["path"]).exists(), f"{path.name}: link to {m['path']} does not resolve"
    assert links > 50  # the chapters link to each other and to the notation page


def test_the_student_edition_header_is_written_for_a_learner(tmp_path):
    written, _ = S.start_edition(BOOK, tmp_path / "student")
    for path in written:
        header = nbformat.read(path, as_version=4).cells[0].source
        assert "reference solutions" not in header and "python -m stn_course.classroom start" in header, path.name


# --------------------------------------------------------------------- a real Jupyter server

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Server:
    """The documented command, ``python -m stn_course.classroom start``, with JupyterLab headless."""

    def __init__(self, cwd: Path):
        self.port, self.token = _free_port(), uuid.uuid4().hex
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "STN_COURSE_QUICK": "1", "MPLBACKEND": "Agg"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "stn_course.classroom", "start", "--book", str(BOOK), "--chapter", CHAPTER, "--",
             "--no-browser", f"--port={self.port}", f"--IdentityProvider.token={self.token}",
             "--ServerApp.ip=127.0.0.1", *(["--allow-root"] if os.geteuid() == 0 else [])],
            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("the server stopped: " + self.proc.stdout.read())
            try:
                self.get("/api/status")
                return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError("the server did not answer within 120 s")

    def request(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read() or b"{}")

    def get(self, path: str) -> dict:
        return self.request("GET", path)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


async def _run_all(server: _Server, kernel_id: str, sources: list[str]) -> list[dict]:
    """Execute ``sources`` in order on the kernel, as Run All does (stop at the first error);
    return, per cell, its reply status, printed text and error message."""
    from tornado.websocket import websocket_connect

    url = f"ws://127.0.0.1:{server.port}/api/kernels/{kernel_id}/channels?token={server.token}"
    ws = await websocket_connect(url)
    session, results = uuid.uuid4().hex, []
    for source in sources:
        msg_id = uuid.uuid4().hex
        ws.write_message(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "session": session, "username": "learner",
                       "version": "5.3", "date": ""},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": source, "silent": False, "store_history": True, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True}}))
        cell = {"status": None, "text": "", "traceback": [], "idle": False}
        while cell["status"] is None or not cell["idle"]:
            raw = await asyncio.wait_for(ws.read_message(), 600)
            if raw is None:
                raise RuntimeError("the kernel's websocket closed")
            if isinstance(raw, bytes):  # a message with binary buffers (a widget's image): not a cell's output
                continue
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                cell["text"] += content["text"]
            elif kind == "error":
                cell["traceback"] = content["traceback"]
            elif kind == "execute_reply":
                cell["status"] = content["status"]
            elif kind == "status" and content["execution_state"] == "idle":
                cell["idle"] = True
        results.append(cell)
        if cell["status"] != "ok":
            break
    ws.close()
    return results


def test_the_learners_path_through_a_real_jupyter_server(tmp_path):
    server = _Server(tmp_path)
    try:
        listing = server.get("/api/contents/")
        assert {"student"} <= {item["name"] for item in listing["content"]}
        nb = server.get(f"/api/contents/student/{CHAPTER}.ipynb?content=1")["content"]
        assert nb["metadata"]["stn_course"]["edition"] == "student"
        sources = [c["source"] for c in nb["cells"] if c["cell_type"] == "code"]
        # as JupyterLab opens a notebook: a session, whose kernel runs in the notebook's folder
        session = server.request("POST", "/api/sessions", {"path": f"student/{CHAPTER}.ipynb", "type": "notebook",
                                                            "name": f"{CHAPTER}.ipynb", "kernel": {"name": "python3"}})
        kernel = session["kernel"]
        cells = asyncio.run(_run_all(server, kernel["id"], sources))
        assert len(cells) == len(sources), f"Run All stopped at cell {len(cells)}: {cells[-1]}"
        assert all(c["status"] == "ok" for c in cells)
        said = [c["text"] for c in cells if "not attempted yet" in " ".join(c["text"].split())]
        assert len(said) == CHECKS_IN_CHAPTER and all(t.startswith("○ ") for t in said), said

        # a wrong answer fails loudly: the case and the learner's value, no frame of the checker
        wrong = ("import torch\nfrom stn_course.exercises import ch02\n"
                 "def to_norm(i, size, align_corners):\n    return torch.as_tensor(i, dtype=torch.float64) / size\n"
                 "ch02.check_pixel_to_norm(to_norm)")
        (failed,) = asyncio.run(_run_all(server, kernel["id"], [wrong]))
        assert failed["status"] == "error"
        shown = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(failed["traceback"]))
        assert "to_norm, case 1/" in shown and "expected" in shown, shown
        assert "stn_course/exercises" not in shown and "File " not in shown, shown
    finally:
        server.stop()
