#!/usr/bin/env python
"""Download SVHN's multi-digit archives (format 1: train/test/extra ``.tar.gz`` with ``digitStruct.mat``).

Usage::

    python data_scripts/fetch_svhn.py                       # train and test into $STN_COURSE_DATA/SVHN/raw
    python data_scripts/fetch_svhn.py --splits train test extra --root /data/SVHN/raw

Interrupted downloads resume (HTTP range requests on the ``.part`` file). A finished archive
is checked three ways before it is renamed into place: its size against the server's, its
SHA-256 against a known value (``--sha256 split=HEX``, or the ``SHA256SUMS`` file beside the
archives, which this script appends to after every verified download), and its gzip/tar
structure, read to the end so that every CRC is checked, must hold ``<split>/digitStruct.mat``.
Without a network it stops with the manual steps. Then run ``data_scripts/prepare_svhn.py``.
"""

from __future__ import annotations

import argparse
import hashlib
import socket
import sys
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

BASE_URL = "http://ufldl.stanford.edu/housenumbers/"
SPLITS = ("train", "test", "extra")
CHUNK = 1 << 20


class FetchError(RuntimeError):
    """A download failed or a file did not verify; the message says what to do."""


def default_root() -> Path:
    try:
        from stn_course.config import data_root
    except ImportError:  # the script also works without the package installed
        import os
        return Path(os.environ.get("STN_COURSE_DATA", Path.home() / ".cache" / "stn_course")) / "SVHN" / "raw"
    return data_root() / "SVHN" / "raw"


def manual_steps(root: Path, splits, base_url: str) -> str:
    lines = [f"  {base_url}{s}.tar.gz" for s in splits]
    return ("To install SVHN by hand: on a machine with internet access, download\n" + "\n".join(lines) +
            f"\ncopy the files into {root}/ (keep their names), then run\n"
            f"  python data_scripts/fetch_svhn.py --root {root}    # verifies them (and resumes partial ones)\n"
            f"  python data_scripts/prepare_svhn.py\n"
            "Alternatively set STN_COURSE_DATA to a folder that already holds SVHN/raw/<split>.tar.gz.")


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def read_sums(root: Path) -> dict[str, str]:
    """``SHA256SUMS`` in ``sha256sum`` format: ``<hex>  <file name>`` per line."""
    path = root / "SHA256SUMS"
    if not path.exists():
        return {}
    sums = {}
    for line in path.read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            sums[name.strip().lstrip("*")] = digest.lower()
    return sums


def record_sum(root: Path, name: str, digest: str) -> None:
    sums = read_sums(root)
    sums[name] = digest
    (root / "SHA256SUMS").write_text("".join(f"{d}  {n}\n" for n, d in sorted(sums.items())))


def check_archive(path: Path, split: str) -> None:
    """Read the whole gzip/tar stream (checking every CRC); it must hold ``<split>/digitStruct.mat``."""
    try:
        with tarfile.open(path, "r:gz") as tar:
            names = set()
            for member in tar:
                names.add(member.name)
                if member.isfile():
                    f = tar.extractfile(member)
                    while f.read(CHUNK):
                        pass
    except (tarfile.TarError, OSError, EOFError) as err:
        raise FetchError(f"{path} is not a readable .tar.gz ({err}); delete it and fetch again") from err
    if f"{split}/digitStruct.mat" not in names:
        raise FetchError(f"{path} holds no {split}/digitStruct.mat: not SVHN's {split} archive")


def download(url: str, part: Path, timeout: float, progress: bool = True) -> int:
    """Download ``url`` into ``part``, resuming from its current size. Returns the total size."""
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # nothing left to fetch: the part is complete
            return have
        raise
    with response:
        if response.status == 206:
            total = int(response.headers.get("Content-Range", "/0").rsplit("/", 1)[-1] or 0)
            mode = "ab"
        else:  # the server ignored the range: start again
            have, mode = 0, "wb"
            total = int(response.headers.get("Content-Length") or 0)
        bar = None
        if progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=total or None, initial=have, unit="B", unit_scale=True, desc=part.name.removesuffix(".part"))
        with open(part, mode) as out:
            for chunk in iter(lambda: response.read(CHUNK), b""):
                out.write(chunk)
                if bar is not None:
                    bar.update(len(chunk))
        if bar is not None:
            bar.close()
    size = part.stat().st_size
    if total and size != total:
        raise FetchError(f"{part}: got {size} of {total} bytes; run the script again to resume")
    return size


def fetch_split(split: str, root: Path, base_url: str = BASE_URL, expected_sha256: str | None = None,
                timeout: float = 60.0, retries: int = 3, progress: bool = True) -> Path:
    """Fetch and verify ``<root>/<split>.tar.gz``; return its path."""
    root.mkdir(parents=True, exist_ok=True)
    name = f"{split}.tar.gz"
    dest, part = root / name, root / f"{name}.part"
    expected = (expected_sha256 or read_sums(root).get(name) or "").lower() or None
    if dest.exists():
        # an archive put there by hand (or a previous run): verify it in place
        digest = sha256_of(dest)
        if expected and digest != expected:
            raise FetchError(f"{dest} has SHA-256 {digest}, expected {expected}; delete it and fetch again")
        check_archive(dest, split)
        record_sum(root, name, digest)
        return dest
    url = base_url + name
    for attempt in range(1, retries + 1):
        try:
            download(url, part, timeout, progress)
            break
        except (urllib.error.URLError, socket.timeout, ConnectionError, FetchError) as err:
            if attempt == retries:
                raise FetchError(f"could not download {url} after {retries} attempts: {err}") from err
    digest = sha256_of(part)
    if expected and digest != expected:
        part.unlink()
        raise FetchError(f"{url}: SHA-256 {digest} does not match the expected {expected}; the partial file was "
                         "deleted, run the script again")
    check_archive(part, split)
    part.replace(dest)
    record_sum(root, name, digest)
    return dest


def parse_sums(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        split, _, digest = item.partition("=")
        if split not in SPLITS or len(digest) != 64:
            raise SystemExit(f"--sha256 expects split=<64 hex digits> with split in {SPLITS}, got {item!r}")
        out[split] = digest
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--splits", nargs="+", default=["train", "test"], choices=SPLITS)
    parser.add_argument("--root", type=Path, default=None, help="where the archives go (default: $STN_COURSE_DATA/SVHN/raw)")
    parser.add_argument("--base-url", default=BASE_URL)
    parser.add_argument("--sha256", nargs="*", default=[], metavar="SPLIT=HEX", help="expected SHA-256 of an archive")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--retries", type=int, default=3)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    root = args.root or default_root()
    sums = parse_sums(args.sha256)
    for split in args.splits:
        try:
            path = fetch_split(split, root, args.base_url, sums.get(split), args.timeout, args.retries,
                               not args.no_progress)
        except FetchError as err:
            print(f"error: {err}\n\n{manual_steps(root, args.splits, args.base_url)}", file=sys.stderr)
            return 2
        print(f"{split}: {path} (SHA-256 {read_sums(root)[path.name]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
