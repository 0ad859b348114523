"""data_scripts/fetch_svhn.py against a local HTTP server (resume, checksums) and a dead address.

Nothing here touches the real network: the "server" is a thread on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import random
import socket
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "data_scripts" / "fetch_svhn.py"
spec = importlib.util.spec_from_file_location("fetch_svhn", SCRIPT)
fetch = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fetch)


def make_archive(split: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        noise = random.Random(0).randbytes(20_000)   # incompressible, so the archive has some size
        for name, data in ((f"{split}/digitStruct.mat", noise[:5000]), (f"{split}/1.png", noise[5000:])):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class Server:
    """Serves ``files`` {name: bytes}, honouring ``Range: bytes=N-``; records the requests."""

    def __init__(self, files: dict[str, bytes], ranges: bool = True):
        self.files, self.ranges, self.requests = files, ranges, []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append((self.path, self.headers.get("Range")))
                data = outer.files.get(self.path.rsplit("/", 1)[-1])
                if data is None:
                    self.send_error(404)
                    return
                start = 0
                rng = self.headers.get("Range")
                if outer.ranges and rng:
                    start = int(rng.split("=")[1].rstrip("-"))
                    if start >= len(data):
                        self.send_error(416)
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                self.wfile.write(data[start:])

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/housenumbers/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def archive():
    return make_archive("test")


@pytest.fixture
def server(archive):
    s = Server({"test.tar.gz": archive})
    yield s
    s.close()


def test_download_verifies_and_records_the_checksum(tmp_path, server, archive):
    path = fetch.fetch_split("test", tmp_path, server.url, progress=False)
    assert path.read_bytes() == archive
    assert not (tmp_path / "test.tar.gz.part").exists()
    assert fetch.read_sums(tmp_path) == {"test.tar.gz": hashlib.sha256(archive).hexdigest()}


def test_an_interrupted_download_resumes_with_a_range_request(tmp_path, server, archive):
    (tmp_path / "test.tar.gz.part").write_bytes(archive[:1000])
    path = fetch.fetch_split("test", tmp_path, server.url, progress=False)
    assert server.requests == [("/housenumbers/test.tar.gz", "bytes=1000-")]
    assert path.read_bytes() == archive


def test_a_server_without_ranges_restarts_the_download(tmp_path, archive):
    s = Server({"test.tar.gz": archive}, ranges=False)
    try:
        (tmp_path / "test.tar.gz.part").write_bytes(b"garbage" * 10)
        path = fetch.fetch_split("test", tmp_path, s.url, progress=False)
    finally:
        s.close()
    assert path.read_bytes() == archive


def test_a_wrong_checksum_deletes_the_download(tmp_path, server):
    with pytest.raises(fetch.FetchError, match="does not match the expected"):
        fetch.fetch_split("test", tmp_path, server.url, expected_sha256="0" * 64, progress=False)
    assert not (tmp_path / "test.tar.gz").exists() and not (tmp_path / "test.tar.gz.part").exists()


def test_a_recorded_checksum_checks_an_archive_in_place(tmp_path, archive):
    (tmp_path / "test.tar.gz").write_bytes(archive)
    (tmp_path / "SHA256SUMS").write_text(f"{'f' * 64}  test.tar.gz\n")
    with pytest.raises(fetch.FetchError, match="has SHA-256"):
        fetch.fetch_split("test", tmp_path, "http://127.0.0.1:9/", progress=False)


def test_a_truncated_or_foreign_archive_is_refused(tmp_path, archive):
    s = Server({"test.tar.gz": archive[: len(archive) // 2], "train.tar.gz": archive})
    try:
        with pytest.raises(fetch.FetchError, match="not a readable .tar.gz"):
            fetch.fetch_split("test", tmp_path / "a", s.url, progress=False)
        with pytest.raises(fetch.FetchError, match="no train/digitStruct.mat"):
            fetch.fetch_split("train", tmp_path / "b", s.url, progress=False)
    finally:
        s.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_without_a_network_it_prints_the_manual_steps(tmp_path, capsys):
    url = f"http://127.0.0.1:{closed_port()}/housenumbers/"
    code = fetch.main(["--splits", "test", "--root", str(tmp_path), "--base-url", url, "--retries", "1",
                       "--timeout", "2", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert "could not download" in err and f"{url}test.tar.gz" in err
    assert "copy the files into" in err and str(tmp_path) in err and "prepare_svhn.py" in err
    assert not (tmp_path / "test.tar.gz").exists()
