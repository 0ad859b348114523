"""The prepared data: raw archives → compact uint8 arrays + ``manifest.json``, and loading them back."""

from __future__ import annotations

import hashlib
import json
import tarfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from .._checks import check_choice
from ..config import data_root
from .crops import EXPAND, LOOSE_FACTOR, crop_resize, crop_window
from .digitstruct import SPLITS, read_digit_struct
from .labels import BLANK, MAX_DIGITS, encode_digits

SIZES = (64, 128)
FORMAT_VERSION = 1


class DataNotPreparedError(FileNotFoundError):
    """The prepared SVHN arrays are missing or do not match their manifest."""


def svhn_root(root: str | Path | None = None) -> Path:
    """``<data root>/SVHN``, or ``root`` itself when given."""
    return Path(root) if root is not None else data_root() / "SVHN"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def extract_split(raw: Path, split: str) -> Path:
    """The folder holding ``split``'s PNGs and digitStruct.mat, extracting ``<split>.tar.gz`` if needed."""
    folder = raw / split
    if (folder / "digitStruct.mat").exists():
        return folder
    archive = raw / f"{split}.tar.gz"
    if not archive.exists():
        raise DataNotPreparedError(
            f"SVHN {split!r} not found: neither {folder / 'digitStruct.mat'} nor {archive} exists. "
            "Fetch it with `python data_scripts/fetch_svhn.py` (or download "
            f"http://ufldl.stanford.edu/housenumbers/{split}.tar.gz by hand into {raw}).")
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(raw, filter="data")
    if not (folder / "digitStruct.mat").exists():
        raise DataNotPreparedError(f"{archive} did not contain {split}/digitStruct.mat")
    return folder


def prepare_split(raw: str | Path, out: str | Path, split: str, sizes: Sequence[int] = SIZES,
                  limit: int | None = None, progress: bool = False) -> dict:
    """Preprocess one split; write ``<split>_<size>.npy``, labels and windows; return its manifest entry."""
    check_choice("split", split, SPLITS)
    for s in sizes:
        check_choice("sizes", s, SIZES)
    raw, out = Path(raw), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    folder = extract_split(raw, split)
    records = read_digit_struct(folder / "digitStruct.mat", limit)
    kept = [r for r in records if len(r.digits) <= MAX_DIGITS]
    images = {s: np.lib.format.open_memmap(out / f"{split}_{s}.npy.part", "w+", np.uint8, (len(kept), s, s, 3))
              for s in sizes}
    labels = np.zeros((len(kept), MAX_DIGITS), dtype=np.uint8)
    windows = {s: np.zeros((len(kept), 4), dtype=np.float32) for s in sizes}
    items = kept
    if progress:
        from tqdm.auto import tqdm
        items = tqdm(kept, desc=f"prepare {split}", unit="img")
    for i, rec in enumerate(items):
        with Image.open(folder / rec.name) as photo:
            photo = photo.convert("RGB")
            for s in sizes:
                window = crop_window(rec.boxes, photo.size, factor=1.0 if s == 64 else LOOSE_FACTOR)
                images[s][i] = crop_resize(photo, window, s)
                windows[s][i] = window
        labels[i] = encode_digits(rec.digits)
    for s in sizes:
        images[s].flush()
        del images[s]
        (out / f"{split}_{s}.npy.part").replace(out / f"{split}_{s}.npy")
        np.save(out / f"{split}_{s}_windows.npy", windows[s])
    np.save(out / f"{split}_labels.npy", labels)
    names = [f"{split}_labels.npy", *(f"{split}_{s}.npy" for s in sizes), *(f"{split}_{s}_windows.npy" for s in sizes)]
    lengths = np.bincount((labels != BLANK).sum(1), minlength=MAX_DIGITS + 1)[1:]
    return {"count": len(kept), "dropped_longer_than_5": len(records) - len(kept), "sizes": list(sizes),
            "length_counts": {str(k + 1): int(c) for k, c in enumerate(lengths)},
            "files": {name: {"sha256": _sha256(out / name), "shape": list(np.load(out / name, mmap_mode="r").shape)}
                      for name in names}}


def prepare(root: str | Path | None = None, splits: Sequence[str] = ("train", "test"), sizes: Sequence[int] = SIZES,
            limit: int | None = None, progress: bool = False) -> dict:
    """Preprocess ``splits`` from ``<root>/raw`` into ``<root>/prepared`` and write ``manifest.json``."""
    base = svhn_root(root)
    out = base / "prepared"
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    manifest.update({"format_version": FORMAT_VERSION, "source": "SVHN format 1 (digitStruct.mat)",
                     "preprocessing": {"expand": EXPAND, "loose_factor": LOOSE_FACTOR, "max_digits": MAX_DIGITS,
                                       "blank": BLANK, "resize": "PIL bilinear", "window_clipped_to_image": True}})
    manifest.setdefault("splits", {})
    for split in splits:
        manifest["splits"][split] = prepare_split(base / "raw", out, split, sizes, limit, progress)
        manifest["splits"][split]["limit"] = limit
    manifest_path.write_text(json.dumps(manifest, indent=2))
    return manifest


def load_prepared(split: str, size: int = 64, root: str | Path | None = None,
                  verify: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The prepared arrays of one split: images uint8 (N, size, size, 3) (memory-mapped), labels uint8 (N, 5).

    ``verify=True`` recomputes the SHA-256 of both files against the manifest.
    """
    check_choice("split", split, SPLITS)
    check_choice("size", size, SIZES)
    out = svhn_root(root) / "prepared"
    manifest_path = out / "manifest.json"
    if not manifest_path.exists():
        raise DataNotPreparedError(f"no prepared SVHN at {out} (manifest.json missing); run "
                                   "`python data_scripts/prepare_svhn.py` after fetching the archives")
    entry = json.loads(manifest_path.read_text()).get("splits", {}).get(split)
    names = (f"{split}_{size}.npy", f"{split}_labels.npy")
    if entry is None or any(n not in entry["files"] for n in names):
        raise DataNotPreparedError(f"the SVHN manifest at {manifest_path} has no {split!r} split at {size} px")
    for n in names:
        if not (out / n).exists():
            raise DataNotPreparedError(f"{out / n} is listed in the manifest but missing; run prepare_svhn.py again")
        if verify and _sha256(out / n) != entry["files"][n]["sha256"]:
            raise DataNotPreparedError(f"{out / n} does not match its SHA-256 in the manifest; run prepare_svhn.py again")
    images = np.load(out / names[0], mmap_mode="r")
    labels = np.load(out / names[1])
    if len(images) != len(labels) or images.shape[1:] != (size, size, 3):
        raise DataNotPreparedError(f"{out}: images {images.shape} and labels {labels.shape} do not fit together")
    return images, labels


def prepared_available(root: str | Path | None = None, splits: Sequence[str] = ("train", "test"),
                       size: int = 64) -> bool:
    """Whether :func:`load_prepared` would succeed for every split in ``splits``."""
    try:
        for split in splits:
            load_prepared(split, size, root)
    except DataNotPreparedError:
        return False
    return True
