"""SVHN multi-digit recognition: the raw format, the preprocessing, the datasets.

SVHN's "format 1" comes as three archives (``train.tar.gz``, ``test.tar.gz``,
``extra.tar.gz``). Each holds PNG files ``1.png, 2.png, …`` of street-view photographs and a
``digitStruct.mat`` (MATLAB v7.3, i.e. HDF5) with one bounding box and label per digit.

The paper (section 4.2) follows Goodfellow et al. (2013): take the smallest box around all
digits of a number, expand it by 30% in x and y, crop the photograph to it and resize the
crop to 64×64 pixels; at training time take random 54×54 crops of that, at test time the
centre crop. The paper also uses a looser 128×128 crop with more background; it does not say
how much looser, so we take the box expanded by 2 × 1.3 = 2.6 around the same centre — the
64-pixel view then sits, at the same resolution, in the middle of the 128-pixel view. Numbers
with more than five digits are dropped.

Labels follow the paper's model (five softmax classifiers with a "no digit" class): each
number is a row of five classes, digits 0–9 left to right, then ``BLANK = 10``. In the raw
files the digit 0 has label 10; :func:`read_digit_struct` turns it into 0.

Layout under the data root (:func:`stn_course.config.data_root`)::

    SVHN/raw/train.tar.gz …            the archives (data_scripts/fetch_svhn.py)
    SVHN/raw/train/1.png … digitStruct.mat   the extracted archives
    SVHN/prepared/train_64.npy          uint8 (N, 64, 64, 3) crops
    SVHN/prepared/train_128.npy         uint8 (N, 128, 128, 3) crops
    SVHN/prepared/train_labels.npy      uint8 (N, 5), BLANK = 10 after the last digit
    SVHN/prepared/train_64_windows.npy  float32 (N, 4): each crop's window (x0, y0, x1, y1) in its photo
    SVHN/prepared/manifest.json         shapes, counts, settings and SHA-256 of every array

The same module makes a synthetic stand-in, "house numbers" composed from MNIST digits on
textured backgrounds, labelled the same way, so that chapter 10 runs without SVHN.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from ._checks import check_choice, check_tensor
from .config import data_root

SPLITS = ("train", "test", "extra")
SIZES = (64, 128)
MAX_DIGITS = 5
BLANK = 10
NUM_CLASSES = 11
EXPAND = 0.3
LOOSE_FACTOR = 2.0
CROP_FRACTION = 54 / 64
FORMAT_VERSION = 1


class DataNotPreparedError(FileNotFoundError):
    """The prepared SVHN arrays are missing or do not match their manifest."""


@dataclass
class DigitRecord:
    """One photograph of ``digitStruct.mat``: file name, digit boxes and labels.

    ``boxes`` is (k, 4) float64 of (left, top, width, height) in pixels; ``digits`` holds the
    k digits 0–9, left to right as annotated.
    """

    name: str
    boxes: np.ndarray
    digits: list[int]


def svhn_root(root: str | Path | None = None) -> Path:
    """``<data root>/SVHN``, or ``root`` itself when given."""
    return Path(root) if root is not None else data_root() / "SVHN"


# ----------------------------------------------------------------------------------------------
# digitStruct.mat (HDF5)
# ----------------------------------------------------------------------------------------------

BOX_FIELDS = ("left", "top", "width", "height")


def _field_values(f, dataset) -> list[float]:
    """A bbox field: stored inline as a (1, 1) double when there is one digit, else as refs."""
    import h5py

    if h5py.check_ref_dtype(dataset.dtype) is not None:
        return [float(np.asarray(f[ref]).ravel()[0]) for ref in np.asarray(dataset).ravel()]
    return [float(v) for v in np.asarray(dataset).ravel()]


def read_digit_struct(path: str | Path, limit: int | None = None) -> list[DigitRecord]:
    """Parse SVHN's ``digitStruct.mat`` (MATLAB v7.3 / HDF5) into :class:`DigitRecord` s.

    The file holds a group ``digitStruct`` with two (N, 1) datasets of object references:
    ``name`` → a uint16 char array, ``bbox`` → a group with fields height, label, left, top,
    width, each a (k, 1) dataset that holds the value itself when k = 1 and references to
    (1, 1) doubles otherwise. Label 10 means the digit 0.
    """
    import h5py

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"digitStruct.mat not found at {path}")
    records = []
    with h5py.File(path, "r") as f:
        if "digitStruct" not in f or "name" not in f["digitStruct"] or "bbox" not in f["digitStruct"]:
            raise ValueError(f"{path} is not an SVHN digitStruct.mat: it needs the datasets digitStruct/name "
                             f"and digitStruct/bbox, found {list(f.keys())}")
        names = np.asarray(f["digitStruct/name"]).ravel()
        bboxes = np.asarray(f["digitStruct/bbox"]).ravel()
        if len(names) != len(bboxes):
            raise ValueError(f"{path}: {len(names)} names but {len(bboxes)} bboxes")
        count = len(names) if limit is None else min(limit, len(names))
        for i in range(count):
            name = "".join(chr(int(c)) for c in np.asarray(f[names[i]]).ravel())
            group = f[bboxes[i]]
            fields = {k: _field_values(f, group[k]) for k in (*BOX_FIELDS, "label")}
            k = len(fields["label"])
            if any(len(fields[b]) != k for b in BOX_FIELDS):
                raise ValueError(f"{path}: record {i} ({name}) has fields of different lengths "
                                 f"{ {key: len(v) for key, v in fields.items()} }")
            boxes = np.array([fields[b] for b in BOX_FIELDS], dtype=np.float64).T.reshape(k, 4)
            digits = [int(v) % 10 for v in fields["label"]]
            records.append(DigitRecord(name, boxes, digits))
    return records


def _matlab_header() -> bytes:
    text = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created by: stn_course HDF5 schema 1.00 ."
    return text.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM"


def write_digit_struct(path: str | Path, records: Sequence[DigitRecord]) -> None:
    """Write ``records`` as a ``digitStruct.mat`` in SVHN's MATLAB v7.3 layout (the reverse of
    :func:`read_digit_struct`). Digit 0 is stored as label 10, as in the real files."""
    import h5py

    path = Path(path)
    with h5py.File(path, "w", userblock_size=512) as f:
        refs = f.create_group("#refs#")
        counter = iter(range(10**9))

        def new(data, cls: bytes):
            ds = refs.create_dataset(f"r{next(counter)}", data=data)
            ds.attrs["MATLAB_class"] = np.bytes_(cls)
            return ds

        ref_dt = h5py.ref_dtype
        n = len(records)
        names = np.empty((n, 1), dtype=object)
        bboxes = np.empty((n, 1), dtype=object)
        for i, rec in enumerate(records):
            chars = new(np.array([[ord(c)] for c in rec.name], dtype=np.uint16), b"char")
            chars.attrs["MATLAB_int_decode"] = np.int32(2)
            names[i, 0] = chars.ref
            group = refs.create_group(f"g{i}")
            group.attrs["MATLAB_class"] = np.bytes_(b"struct")
            values = {b: rec.boxes[:, j] for j, b in enumerate(BOX_FIELDS)}
            values["label"] = np.array([d if d != 0 else 10 for d in rec.digits], dtype=np.float64)
            for key in ("height", "label", "left", "top", "width"):
                v = np.asarray(values[key], dtype=np.float64)
                if len(v) == 1:
                    ds = group.create_dataset(key, data=v.reshape(1, 1))
                    ds.attrs["MATLAB_class"] = np.bytes_(b"double")
                else:
                    cell = np.array([[new(np.array([[x]]), b"double").ref] for x in v], dtype=ref_dt)
                    ds = group.create_dataset(key, data=cell, dtype=ref_dt)
                    ds.attrs["MATLAB_class"] = np.bytes_(b"cell")
            bboxes[i, 0] = group.ref
        top = f.create_group("digitStruct")
        top.attrs["MATLAB_class"] = np.bytes_(b"struct")
        top.create_dataset("name", data=names, dtype=ref_dt).attrs["MATLAB_class"] = np.bytes_(b"cell")
        top.create_dataset("bbox", data=bboxes, dtype=ref_dt).attrs["MATLAB_class"] = np.bytes_(b"struct")
    with open(path, "r+b") as fh:
        fh.write(_matlab_header())


# ----------------------------------------------------------------------------------------------
# Goodfellow et al. (2013) preprocessing
# ----------------------------------------------------------------------------------------------

def sequence_box(boxes: np.ndarray) -> np.ndarray:
    """The smallest box (x0, y0, x1, y1) around all digit boxes (k, 4) of (left, top, width, height)."""
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4 or len(boxes) == 0:
        raise ValueError(f"boxes must have shape (k, 4) with k >= 1, got {boxes.shape}")
    return np.array([boxes[:, 0].min(), boxes[:, 1].min(),
                     (boxes[:, 0] + boxes[:, 2]).max(), (boxes[:, 1] + boxes[:, 3]).max()])


def crop_window(boxes: np.ndarray, image_size: tuple[int, int], expand: float = EXPAND,
                factor: float = 1.0) -> np.ndarray:
    """The crop window (x0, y0, x1, y1) for one photograph of ``image_size`` (W, H).

    The box around all digits, grown about its centre by ``1 + expand`` in x and y (Goodfellow
    et al.: 30%), times ``factor`` (1 for the 64-pixel crops, :data:`LOOSE_FACTOR` for the loose
    128-pixel ones), then clipped to the photograph.
    """
    x0, y0, x1, y1 = sequence_box(boxes)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    grow = (1 + expand) * factor
    hw, hh = (x1 - x0) * grow / 2, (y1 - y0) * grow / 2
    w, h = image_size
    window = np.array([max(0.0, cx - hw), max(0.0, cy - hh), min(float(w), cx + hw), min(float(h), cy + hh)])
    if window[2] - window[0] < 1 or window[3] - window[1] < 1:
        raise ValueError(f"the digit boxes {boxes.tolist()} lie outside the image of size {image_size}")
    return window


def crop_resize(image: Image.Image | np.ndarray, window: np.ndarray, size: int) -> np.ndarray:
    """Crop ``image`` to ``window`` (x0, y0, x1, y1) and resize to (size, size): uint8 (size, size, 3)."""
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    crop = image.convert("RGB").resize((size, size), Image.BILINEAR, box=tuple(float(v) for v in window))
    return np.asarray(crop, dtype=np.uint8)


def encode_digits(digits: Sequence[int], max_digits: int = MAX_DIGITS) -> np.ndarray:
    """Digits (left to right) → (max_digits,) uint8 classes, :data:`BLANK` after the last digit."""
    if not 1 <= len(digits) <= max_digits or any(not 0 <= d <= 9 for d in digits):
        raise ValueError(f"digits must be 1 to {max_digits} values in 0..9, got {list(digits)}")
    out = np.full(max_digits, BLANK, dtype=np.uint8)
    out[: len(digits)] = digits
    return out


def decode_digits(label: Sequence[int] | torch.Tensor) -> str:
    """A row of classes → the number as a string ("" for all blanks); stops at the first blank."""
    text = ""
    for c in (label.tolist() if isinstance(label, torch.Tensor) else label):
        if int(c) == BLANK:
            break
        text += str(int(c))
    return text


# ----------------------------------------------------------------------------------------------
# prepare: raw archives → compact arrays + manifest
# ----------------------------------------------------------------------------------------------

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


# ----------------------------------------------------------------------------------------------
# crops and the dataset
# ----------------------------------------------------------------------------------------------

def default_crop(size: int) -> int:
    """Goodfellow et al.'s 54-pixel crop of a 64-pixel image, scaled to other sizes (108 for 128)."""
    return int(round(size * CROP_FRACTION))


def random_crop(images: torch.Tensor, crop: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """An independent random ``crop``×``crop`` window of each image: (N, C, H, W) → (N, C, crop, crop)."""
    check_tensor("images", images)
    n, _, h, w = images.shape
    if not 0 < crop <= min(h, w):
        raise ValueError(f"crop must be in 1..{min(h, w)} for images of shape {tuple(images.shape)}, got {crop}")
    ys = torch.randint(0, h - crop + 1, (n,), generator=generator)
    xs = torch.randint(0, w - crop + 1, (n,), generator=generator)
    ys, xs, r = ys.to(images.device), xs.to(images.device), torch.arange(crop, device=images.device)
    rows = (ys[:, None] + r)[:, None, :, None]
    cols = (xs[:, None] + r)[:, None, None, :]
    batch = torch.arange(n, device=images.device)[:, None, None, None]
    channels = torch.arange(images.shape[1], device=images.device)[None, :, None, None]
    return images[batch, channels, rows, cols]


def center_crop(images: torch.Tensor, crop: int) -> torch.Tensor:
    """The central ``crop``×``crop`` window: (N, C, H, W) → (N, C, crop, crop)."""
    check_tensor("images", images)
    h, w = images.shape[-2:]
    if not 0 < crop <= min(h, w):
        raise ValueError(f"crop must be in 1..{min(h, w)} for images of shape {tuple(images.shape)}, got {crop}")
    top, left = (h - crop) // 2, (w - crop) // 2
    return images[..., top:top + crop, left:left + crop]


def to_float(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 (N, H, W, 3) → float32 (N, 3, H, W) in [0, 1]."""
    t = images if isinstance(images, torch.Tensor) else torch.from_numpy(np.array(images, dtype=np.uint8))
    return t.permute(0, 3, 1, 2).float().div_(255.0)


class SVHNSequences(Dataset):
    """Multi-digit SVHN (or the stand-in) as a torchvision-style dataset.

    Items are ``(image, target)``: image float32 (3, crop, crop) in [0, 1]; target int64 (5,)
    with classes 0–9 and :data:`BLANK`. With ``train=True`` each access takes a random crop (the
    training augmentation of Goodfellow et al.), else the centre crop. ``crop=None`` keeps the
    whole image.

    Args:
        images: uint8 (N, H, W, 3), e.g. from :func:`load_prepared` or :func:`synthetic_house_numbers`.
        labels: (N, 5) classes.
        train: random crops (True) or centre crops (False).
        crop: crop side; the default (-1) is :func:`default_crop` of the image size, None keeps
            the whole image.
        transform: optional callable applied to the image tensor after cropping.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, train: bool = True, crop: int | None = -1,
                 transform=None):
        if images.ndim != 4 or images.shape[3] != 3 or images.dtype != np.uint8:
            raise ValueError(f"images must be uint8 (N, H, W, 3), got {images.dtype} {images.shape}")
        if labels.shape != (len(images), MAX_DIGITS):
            raise ValueError(f"labels must have shape ({len(images)}, {MAX_DIGITS}), got {labels.shape}")
        self.images, self.labels, self.train, self.transform = images, labels, train, transform
        self.crop = default_crop(images.shape[1]) if crop == -1 else crop

    @classmethod
    def prepared(cls, split: str, size: int = 64, train: bool | None = None, root: str | Path | None = None,
                 **kwargs) -> SVHNSequences:
        """The dataset over the prepared arrays of ``split`` (random crops for "train"/"extra")."""
        images, labels = load_prepared(split, size, root)
        return cls(images, labels, train=(split != "test") if train is None else train, **kwargs)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = to_float(self.images[index][None])
        if self.crop is not None:
            image = random_crop(image, self.crop) if self.train else center_crop(image, self.crop)
        image = image[0]
        if self.transform is not None:
            image = self.transform(image)
        return image, torch.as_tensor(self.labels[index].astype(np.int64))


# ----------------------------------------------------------------------------------------------
# the synthetic stand-in: house numbers composed from MNIST digits
# ----------------------------------------------------------------------------------------------

LENGTH_PROBS = (0.2, 0.35, 0.25, 0.12, 0.08)


def _resize_gray(a: np.ndarray, h: int, w: int) -> np.ndarray:
    return np.asarray(Image.fromarray(a.astype(np.float32), mode="F").resize((w, h), Image.BILINEAR))


def _ink(digit: np.ndarray, threshold: float = 0.1) -> np.ndarray:
    """Crop a digit image to its ink."""
    rows, cols = np.nonzero(digit > threshold)
    return digit[rows.min():rows.max() + 1, cols.min():cols.max() + 1]


def _texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A coloured background (h, w, 3) in [0, 1]: base colour, smooth blotches, a gradient, sometimes bricks."""
    base = rng.uniform(0.0, 1.0, 3)
    low = torch.from_numpy(rng.normal(0, 1, (1, 3, int(rng.integers(2, 6)), int(rng.integers(2, 8)))))
    blotch = torch.nn.functional.interpolate(low, size=(h, w), mode="bilinear", align_corners=False)[0]
    blotch = blotch.permute(1, 2, 0).numpy()
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    grad = rng.normal(0, 0.25) * xx + rng.normal(0, 0.25) * yy
    tex = base + rng.uniform(0.05, 0.2) * blotch + grad[..., None]
    if rng.random() < 0.3:  # mortar lines of a brick wall
        period = int(rng.integers(6, 14))
        tex = tex - 0.15 * ((np.arange(h) % period) == 0)[:, None, None]
    return tex


def compose_house_number(digits: Sequence[np.ndarray], rng: np.random.Generator,
                         canvas: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Draw MNIST digits (each (28, 28) in [0, 1]) as a house number on a textured background.

    Digit height, width, spacing, vertical jitter, colours and texture are drawn from ``rng``.
    Returns the photograph uint8 (H, W, 3) and the digit boxes (k, 4) of (left, top, width,
    height) — the annotation SVHN would give.
    """
    inks = [_ink(np.asarray(d, dtype=np.float32)) for d in digits]
    height = int(rng.integers(16, 33))
    widths = [max(3, int(round(height * ink.shape[1] / ink.shape[0] * rng.uniform(0.8, 1.25)))) for ink in inks]
    gaps = [int(round(height * rng.uniform(-0.05, 0.35))) for _ in inks[1:]]
    span = sum(widths) + sum(gaps)
    if canvas is None:
        canvas = (int(height * rng.uniform(2.0, 3.6)), int(span + height * rng.uniform(1.0, 3.5)))
    h, w = canvas
    top0 = int(rng.integers(0, max(1, h - height - 2)))
    left = int(rng.integers(0, max(1, w - span)))
    fg = rng.uniform(0, 1, 3)
    img = _texture(rng, h, w)
    if abs(fg.mean() - img.mean()) < 0.35:  # keep the digits readable
        fg = np.clip(img.mean((0, 1)) + np.sign(0.5 - img.mean()) * rng.uniform(0.4, 0.6), 0, 1) * np.ones(3)
    boxes = []
    for k, (ink, dw) in enumerate(zip(inks, widths)):
        top = int(np.clip(top0 + rng.integers(-2, 3), 0, h - height))
        alpha = np.clip(_resize_gray(ink, height, dw), 0, 1)[..., None]
        x0, x1 = max(0, left), min(w, left + dw)
        if x1 > x0:
            region = img[top:top + height, x0:x1]
            img[top:top + height, x0:x1] = region * (1 - alpha[:, x0 - left:x1 - left]) + fg * alpha[:, x0 - left:x1 - left]
        boxes.append([left, top, dw, height])
        left += dw + (gaps[k] if k < len(gaps) else 0)
    img = img + rng.normal(0, rng.uniform(0.01, 0.05), img.shape)
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8), np.array(boxes, dtype=np.float64)


def _mnist_digits(train: bool) -> tuple[np.ndarray, np.ndarray]:
    from .data import mnist_tensors

    images, labels = mnist_tensors(train)
    return images[:, 0].numpy(), labels.numpy()


def synthetic_photos(n: int, seed: int = 0, train: bool = True,
                     length_probs: Sequence[float] = LENGTH_PROBS) -> list[tuple[np.ndarray, DigitRecord]]:
    """``n`` raw synthetic "photographs" with their :class:`DigitRecord` (names ``1.png`` …).

    Deterministic in ``seed``; MNIST's training digits for ``train=True``, its test digits otherwise.
    """
    if len(length_probs) != MAX_DIGITS or abs(sum(length_probs) - 1) > 1e-6:
        raise ValueError(f"length_probs must be {MAX_DIGITS} probabilities summing to 1, got {length_probs}")
    images, labels = _mnist_digits(train)
    rng = np.random.default_rng([seed, int(train)])
    out = []
    for i in range(n):
        k = int(rng.choice(MAX_DIGITS, p=length_probs)) + 1
        idx = rng.integers(0, len(images), k)
        photo, boxes = compose_house_number(images[idx], rng)
        out.append((photo, DigitRecord(f"{i + 1}.png", boxes, [int(labels[j]) for j in idx])))
    return out


def write_synthetic_archive(raw: str | Path, split: str, n: int, seed: int = 0, tar: bool = True,
                            extra_digits: int = 0) -> Path:
    """Write a synthetic split in SVHN's exact on-disk format under ``raw``.

    PNGs ``<split>/1.png …`` and ``<split>/digitStruct.mat``; with ``tar=True`` packed as
    ``<split>.tar.gz`` (and the folder removed), as the official archives are. The last
    ``extra_digits`` photographs get six digits (to exercise the "more than five" rule).
    Returns the archive (or folder) path.
    """
    import shutil

    check_choice("split", split, SPLITS)
    raw = Path(raw)
    folder = raw / split
    folder.mkdir(parents=True, exist_ok=True)
    photos = synthetic_photos(n, seed, train=split != "test")
    if extra_digits:
        images, labels = _mnist_digits(split != "test")
        rng = np.random.default_rng([seed, 6])
        for j in range(extra_digits):
            idx = rng.integers(0, len(images), MAX_DIGITS + 1)
            photo, boxes = compose_house_number(images[idx], rng)
            photos.append((photo, DigitRecord(f"{len(photos) + 1}.png", boxes, [int(labels[i]) for i in idx])))
    for photo, rec in photos:
        Image.fromarray(photo).save(folder / rec.name)
    write_digit_struct(folder / "digitStruct.mat", [rec for _, rec in photos])
    if not tar:
        return folder
    archive = raw / f"{split}.tar.gz"
    with tarfile.open(archive, "w:gz") as t:
        t.add(folder, arcname=split)
    shutil.rmtree(folder)
    return archive


@lru_cache(maxsize=8)
def synthetic_house_numbers(n: int, seed: int = 0, train: bool = True, size: int = 64,
                            loose: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The stand-in dataset: ``n`` synthetic photos put through the real preprocessing.

    ``loose=False`` crops the 30%-expanded box (the 64-pixel recipe), ``loose=True`` the
    looser window of the 128-pixel recipe; either is resized to ``size``. Returns images uint8
    (n, size, size, 3) and labels uint8 (n, 5) (``BLANK`` = 10), like :func:`load_prepared`.
    Deterministic in ``seed``; cached, so treat the arrays as read-only.
    """
    if size <= 0:
        raise ValueError(f"size must be positive, got {size}")
    images = np.zeros((n, size, size, 3), dtype=np.uint8)
    labels = np.zeros((n, MAX_DIGITS), dtype=np.uint8)
    for i, (photo, rec) in enumerate(synthetic_photos(n, seed, train)):
        window = crop_window(rec.boxes, (photo.shape[1], photo.shape[0]), factor=LOOSE_FACTOR if loose else 1.0)
        images[i] = crop_resize(photo, window, size)
        labels[i] = encode_digits(rec.digits)
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels
