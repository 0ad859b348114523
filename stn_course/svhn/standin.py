"""The synthetic stand-in: house numbers composed from MNIST digits, in SVHN's format and labels."""

from __future__ import annotations

import tarfile
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .._checks import check_choice
from .crops import LOOSE_FACTOR, crop_resize, crop_window
from .digitstruct import SPLITS, DigitRecord, write_digit_struct
from .labels import MAX_DIGITS, encode_digits

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
    from ..data import mnist_tensors

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
