"""The synthetic stand-in: house numbers composed from MNIST digits, in SVHN's format and labels.

A "photograph" is a wall (:mod:`.textures`) with a number of one to five MNIST digits on it,
drawn as a house number would be: one height, slant and stroke weight for the whole number,
small jitter per digit, spacing from touching to well apart, a colour and contrast of its own,
sometimes on a plaque. Around it sits clutter that is not part of the label: neighbouring
digits (the next door's number, a second line) and bars (frames, edges). Then blur and noise.
The photograph is wide enough for the loose 128-pixel window; the loose crops then cut that
window where a photograph framed closer around its number would end (:func:`clipped_window`),
so the number sits off-centre and at a size of its own in each loose crop, as in SVHN, whose
photographs are framed around their numbers and cut the loose window at their edges.
"""

from __future__ import annotations

import multiprocessing
import os
import tarfile
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from .._checks import check_choice
from .crops import LOOSE_FACTOR, crop_resize, crop_window, sequence_box
from .digitstruct import SPLITS, DigitRecord, write_digit_struct
from .labels import MAX_DIGITS, encode_digits
from .textures import background

#: How many digits a number has (1 to 5). As in SVHN, most numbers have two or three digits and
#: five-digit ones are rare; long numbers are also the hardest, squeezed into a square crop.
LENGTH_PROBS = (0.2, 0.45, 0.25, 0.08, 0.02)
#: Digit height in the photograph, in pixels (SVHN's digits are mostly 15–40 px tall).
HEIGHT_RANGE = (16, 33)
#: The loose window's half-size in units of the number's box: (1 + 30%) × LOOSE_FACTOR / 2.
_LOOSE_HALF = 1.3 * LOOSE_FACTOR / 2
#: Spare digits each photograph may draw around its number as clutter.
N_DISTRACTORS = 6
#: How a loose crop is framed: "clipped" cuts the loose window at the edges of a photograph
#: framed around its number (:func:`clipped_window`); "centred" keeps the whole window, so the
#: number sits at the same place and size in every loose crop (the stand-in before 2026-12).
PLACEMENTS = ("clipped", "centred")
#: The room a "clipped" photograph leaves beyond the number on each side, as a share of the
#: loose window's overhang there, drawn per side. At 0.2 the tight window still fits (its
#: overhang is 0.15 / 0.8 of the loose one's). Our choice: SVHN's margins are not measured here.
ROOM_RANGE = (0.2, 1.0)


def _ink(digit: np.ndarray, threshold: float = 0.1) -> np.ndarray:
    """Crop a digit image to its ink."""
    rows, cols = np.nonzero(digit > threshold)
    if len(rows) == 0:
        raise ValueError("digit must hold some ink (values above 0.1), got a blank image")
    return digit[rows.min():rows.max() + 1, cols.min():cols.max() + 1]


def _bold(ink: np.ndarray) -> np.ndarray:
    """A heavier stroke: the maximum over the 3×3 neighbourhood (a dilation)."""
    p = np.pad(ink, 1)
    h, w = ink.shape
    return np.max([p[dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)], axis=0)


def render_glyph(ink: np.ndarray, height: int, width: int, slant: float) -> np.ndarray:
    """Resize a digit's ink to (height, width) and slant it: x moves by ``slant`` × (rows above
    the middle). Returns the alpha mask (height, width + |slant|·height) in [0, 1]."""
    pad = int(np.ceil(abs(slant) * height))
    ih, iw = ink.shape
    # PIL's AFFINE maps each output pixel (x, y) to the input point (a x + b y + c, d x + e y + f)
    sx, sy = iw / width, ih / height
    data = (sx, sx * slant, -sx * (pad / 2 + slant * height / 2), 0.0, sy, 0.0)
    img = Image.fromarray(ink.astype(np.float32), mode="F")
    out = img.transform((width + pad, height), Image.AFFINE, data, resample=Image.BILINEAR)
    return np.clip(np.asarray(out), 0, 1)


def _ink_box(alpha: np.ndarray, left: int, top: int) -> list[int]:
    """(left, top, width, height) of the ink (alpha > 0.25) of a glyph placed at (left, top)."""
    rows, cols = np.nonzero(alpha > 0.25)
    return [left + int(cols.min()), top + int(rows.min()), int(cols.max() - cols.min() + 1),
            int(rows.max() - rows.min() + 1)]


def _paint(img: np.ndarray, alpha: np.ndarray, colour: np.ndarray, left: int, top: int) -> None:
    """Blend ``colour`` into ``img`` (H, W, 3) through ``alpha`` placed at (left, top), clipped to the image."""
    h, w = img.shape[:2]
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + alpha.shape[0], h), min(left + alpha.shape[1], w)
    if y1 <= y0 or x1 <= x0:
        return
    a = alpha[y0 - top:y1 - top, x0 - left:x1 - left, None]
    img[y0:y1, x0:x1] = img[y0:y1, x0:x1] * (1 - a) + colour * a


def _ink_colour(rng: np.random.Generator, wall: np.ndarray) -> np.ndarray:
    """A colour for digits on ``wall``, at a random contrast (0.25–0.8) in brightness, either polarity."""
    lum = float(wall.mean())
    contrast = rng.uniform(0.25, 0.8)
    sign = 1.0 if lum + contrast <= 1.0 and (lum - contrast < 0 or rng.random() < 0.5) else -1.0
    return np.clip(lum + sign * contrast + rng.normal(0, 0.12, 3), 0, 1)


def _layout(inks: Sequence[np.ndarray], rng: np.random.Generator, height: int, slant: float, bold: bool):
    """Glyphs of one number and their (left, top) offsets relative to the number's origin."""
    gap = rng.uniform(-0.05, 0.35)
    glyphs, x = [], 0
    for ink in inks:
        h = int(round(height * rng.uniform(0.93, 1.07)))
        w = max(3, int(round(h * ink.shape[1] / ink.shape[0] * rng.uniform(0.85, 1.2))))
        alpha = render_glyph(_bold(ink) if bold else ink, h, w, slant)
        glyphs.append((alpha, x, int(round(rng.uniform(-0.06, 0.06) * height + (height - h) / 2))))
        x += alpha.shape[1] - int(np.ceil(abs(slant) * h)) + int(round(height * (gap + rng.uniform(-0.04, 0.04))))
    return glyphs


def _extent(glyphs) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the laid-out glyphs relative to the number's origin."""
    return (min(x for _, x, _ in glyphs), min(y for _, _, y in glyphs),
            max(x + a.shape[1] for a, x, _ in glyphs), max(y + a.shape[0] for a, _, y in glyphs))


def _clutter(img: np.ndarray, rng: np.random.Generator, box: tuple[int, int, int, int], height: int,
             distractors: Sequence[np.ndarray], slant: float) -> None:
    """Draw what surrounds a number but is not part of it, outside ``box`` (x0, y0, x1, y1):
    neighbouring digits beside it or on a line above or below, and bars (frames, edges)."""
    h, w = img.shape[:2]
    x0, y0, x1, y1 = box
    pool = list(distractors)
    while pool and rng.random() < 0.75:
        where = rng.choice(["left", "right", "above", "below"])
        size = int(height * rng.uniform(0.5, 1.1))
        k = min(len(pool), int(rng.integers(1, 4)))
        glyphs = _layout([_ink(d) for d in pool[:k]], rng, size, slant * rng.uniform(0.5, 1.5), False)
        del pool[:k]
        gx0, gy0, gx1, gy1 = _extent(glyphs)
        margin = int(height * rng.uniform(0.5, 1.5))
        if where == "left":
            left, top = x0 - margin - gx1, int(rng.integers(y0 - size, y1))
        elif where == "right":
            left, top = x1 + margin - gx0, int(rng.integers(y0 - size, y1))
        elif where == "above":
            left, top = int(rng.integers(x0 - (gx1 - gx0), x1)), y0 - margin - gy1
        else:
            left, top = int(rng.integers(x0 - (gx1 - gx0), x1)), y1 + margin - gy0
        colour = _ink_colour(rng, img)
        for alpha, dx, dy in glyphs:
            _paint(img, alpha, colour, left + dx, top + dy)
    for _ in range(int(rng.integers(0, 3))):   # bars: a door frame, a pipe, the edge of a sign
        colour = _ink_colour(rng, img)
        thick = int(rng.integers(1, max(2, height // 4)))
        if rng.random() < 0.5:
            x = int(rng.choice([rng.integers(0, max(1, x0 - thick)), rng.integers(min(x1 + 1, w - 1), w)]))
            _paint(img, np.ones((h, thick)), colour, x, 0)
        else:
            y = int(rng.choice([rng.integers(0, max(1, y0 - thick)), rng.integers(min(y1 + 1, h - 1), h)]))
            _paint(img, np.ones((thick, w)), colour, 0, y)


def compose_house_number(digits: Sequence[np.ndarray], rng: np.random.Generator,
                         distractors: Sequence[np.ndarray] = ()) -> tuple[np.ndarray, np.ndarray]:
    """Draw MNIST digits (each (28, 28) in [0, 1]) as a house number on a wall.

    Height, slant, stroke weight, spacing, jitter, colours, wall, plaque, clutter, blur and
    noise are drawn from ``rng``; ``distractors`` are more digits (28, 28) that may be drawn
    around the number as clutter. The photograph leaves room for the loose window on every
    side. Returns the photograph uint8 (H, W, 3) and the digit boxes (k, 4) of (left, top,
    width, height), tight around each digit's ink — the annotation SVHN would give.
    """
    if not 1 <= len(digits) <= MAX_DIGITS + 1:
        raise ValueError(f"digits must hold 1 to {MAX_DIGITS + 1} images, got {len(digits)}")
    height = int(rng.integers(*HEIGHT_RANGE))
    slant = rng.uniform(-0.3, 0.3)
    glyphs = _layout([_ink(np.asarray(d, dtype=np.float32)) for d in digits], rng, height, slant, rng.random() < 0.3)
    gx0, gy0, gx1, gy1 = _extent(glyphs)
    span_w, span_h = gx1 - gx0, gy1 - gy0
    # room for the loose window around the number's box, plus a margin
    need_w, need_h = 2 * _LOOSE_HALF * span_w, 2 * _LOOSE_HALF * span_h
    w, h = int(need_w * rng.uniform(1.05, 1.3)) + 6, int(need_h * rng.uniform(1.05, 1.3)) + 6
    left = int(np.ceil(2 + rng.uniform(0, w - 5 - need_w) + (_LOOSE_HALF - 0.5) * span_w)) - gx0
    top = int(np.ceil(2 + rng.uniform(0, h - 5 - need_h) + (_LOOSE_HALF - 0.5) * span_h)) - gy0
    img = background(rng, h, w).astype(np.float32)
    box = (left + gx0, top + gy0, left + gx1, top + gy1)
    if rng.random() < 0.35:   # a plaque behind the number
        grow = int(height * rng.uniform(0.15, 0.5))
        plate = np.ones((box[3] - box[1] + 2 * grow, box[2] - box[0] + 2 * grow))
        _paint(img, plate, np.clip(rng.uniform(0, 1, 3) * 0.3 + rng.uniform(0, 0.7), 0, 1), box[0] - grow, box[1] - grow)
    _clutter(img, rng, box, height, distractors, slant)
    colour = _ink_colour(rng, img[box[1]:box[3], box[0]:box[2]])
    boxes = []
    for alpha, dx, dy in glyphs:
        _paint(img, alpha, colour, left + dx, top + dy)
        boxes.append(_ink_box(alpha, left + dx, top + dy))
    photo = Image.fromarray((np.clip(img, 0, 1) * 255).round().astype(np.uint8))
    if rng.random() < 0.6:
        photo = photo.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2)))
    noisy = np.asarray(photo, dtype=np.float32) + rng.uniform(1, 10) * rng.standard_normal((h, w, 3), np.float32)
    return np.clip(noisy, 0, 255).round().astype(np.uint8), np.array(boxes, dtype=np.float64)


@lru_cache(maxsize=2)
def _mnist_digits(train: bool) -> tuple[np.ndarray, np.ndarray]:
    from ..data import mnist_tensors

    images, labels = mnist_tensors(train)
    return images[:, 0].numpy(), labels.numpy()


def _photo(i: int, seed: int, train: bool, digits: tuple[np.ndarray, np.ndarray],
           length_probs: Sequence[float]) -> tuple[np.ndarray, DigitRecord]:
    """Photograph number ``i`` (0-based) of a stand-in set: its own generator, seeded by
    (seed, train, i), so any photograph can be made alone, in any order, in any process."""
    images, labels = digits
    rng = np.random.default_rng([seed, int(train), i])
    k = int(rng.choice(MAX_DIGITS, p=length_probs)) + 1
    idx = rng.integers(0, len(images), k + N_DISTRACTORS)
    photo, boxes = compose_house_number(images[idx[:k]], rng, distractors=images[idx[k:]])
    return photo, DigitRecord(f"{i + 1}.png", boxes, [int(labels[j]) for j in idx[:k]])


def _check_length_probs(length_probs: Sequence[float]) -> None:
    if len(length_probs) != MAX_DIGITS or abs(sum(length_probs) - 1) > 1e-6 or min(length_probs) < 0:
        raise ValueError(f"length_probs must be {MAX_DIGITS} non-negative probabilities summing to 1, "
                         f"got {tuple(length_probs)}")


def synthetic_photos(n: int, seed: int = 0, train: bool = True,
                     length_probs: Sequence[float] = LENGTH_PROBS) -> list[tuple[np.ndarray, DigitRecord]]:
    """``n`` raw synthetic "photographs" with their :class:`DigitRecord` (names ``1.png`` …).

    Deterministic in ``seed``, and photograph i is the same whatever ``n`` (a larger set starts
    with the smaller one); MNIST's training digits for ``train=True``, its test digits otherwise.
    """
    _check_length_probs(length_probs)
    digits = _mnist_digits(train)
    return [_photo(i, seed, train, digits, length_probs) for i in range(n)]


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


def clipped_window(boxes: np.ndarray, image_size: tuple[int, int], room: Sequence[float]) -> np.ndarray:
    """The loose window (x0, y0, x1, y1) cut where a photograph framed closer around its number ends.

    ``boxes`` (k, 4) are the digit boxes, ``image_size`` (W, H); ``room`` (left, top, right,
    bottom), each in [0, 1], keeps that share of the loose window's overhang beyond the number's
    box on each side: 1 is the whole loose window, 0 the number's box.
    """
    room = np.asarray(room, dtype=np.float64)
    if room.shape != (4,) or room.min() < 0 or room.max() > 1:
        raise ValueError(f"room must be 4 shares (left, top, right, bottom) in [0, 1], got {room.tolist()}")
    box = sequence_box(boxes)
    return box + room * (crop_window(boxes, image_size, factor=LOOSE_FACTOR) - box)


def _window(i: int, seed: int, train: bool, rec: DigitRecord, image_size: tuple[int, int], loose: bool,
            placement: str) -> np.ndarray:
    """The crop window of photograph ``i``; a clipped loose one draws its room from its own generator."""
    if not loose:
        return crop_window(rec.boxes, image_size)
    if placement == "centred":
        return crop_window(rec.boxes, image_size, factor=LOOSE_FACTOR)
    room = np.random.default_rng([seed, int(train), i, 1]).uniform(*ROOM_RANGE, 4)
    return clipped_window(rec.boxes, image_size, room)


def _crops(start: int, stop: int, seed: int, train: bool, size: int, loose: bool,
           placement: str = "clipped") -> tuple[np.ndarray, np.ndarray]:
    """Photographs ``start``..``stop - 1`` cropped and resized: uint8 (k, size, size, 3), labels (k, 5)."""
    digits = _mnist_digits(train)
    images = np.zeros((stop - start, size, size, 3), dtype=np.uint8)
    labels = np.zeros((stop - start, MAX_DIGITS), dtype=np.uint8)
    for j, i in enumerate(range(start, stop)):
        photo, rec = _photo(i, seed, train, digits, LENGTH_PROBS)
        window = _window(i, seed, train, rec, (photo.shape[1], photo.shape[0]), loose, placement)
        images[j] = crop_resize(photo, window, size)
        labels[j] = encode_digits(rec.digits)
    return images, labels


def number_boxes(n: int, seed: int = 0, train: bool = True, loose: bool = False,
                 placement: str = "clipped") -> np.ndarray:
    """Where the number lies in each of the first ``n`` crops of :func:`synthetic_house_numbers`
    (same arguments): (n, 4) boxes (x0, y0, x1, y1) around all its digits, in the crop's
    normalised coordinates (−1 and 1 are the crop's edges, as :func:`~stn_course.grid.affine_grid`'s)."""
    check_choice("placement", placement, PLACEMENTS)
    digits = _mnist_digits(train)
    out = np.zeros((n, 4))
    for i in range(n):
        photo, rec = _photo(i, seed, train, digits, LENGTH_PROBS)
        x0, y0, x1, y1 = _window(i, seed, train, rec, (photo.shape[1], photo.shape[0]), loose, placement)
        scale = np.array([x1 - x0, y1 - y0, x1 - x0, y1 - y0])
        out[i] = 2 * (sequence_box(rec.boxes) - np.array([x0, y0, x0, y0])) / scale - 1
    return out


def _workers(n: int, workers: int | None) -> int:
    if workers is None:
        workers = min(os.cpu_count() or 1, 8) if n >= 2_000 else 1
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive int or None, got {workers!r}")
    return workers


@lru_cache(maxsize=8)
def synthetic_house_numbers(n: int, seed: int = 0, train: bool = True, size: int = 64,
                            loose: bool = False, workers: int | None = None,
                            placement: str = "clipped") -> tuple[np.ndarray, np.ndarray]:
    """The stand-in dataset: ``n`` synthetic photos put through the real preprocessing.

    ``loose=False`` crops the 30%-expanded box (the 64-pixel recipe), ``loose=True`` the
    looser window of the 128-pixel recipe (the same centre, :data:`LOOSE_FACTOR` times larger,
    so the number is smaller and the clutter around it is in view); either is resized to
    ``size``. ``placement`` (:data:`PLACEMENTS`) frames the loose crops: "clipped" cuts the
    window at a closer photograph's edges (:func:`clipped_window`, room drawn from
    :data:`ROOM_RANGE`), so the number's place and size vary; "centred" keeps it whole.
    Returns images uint8 (n, size, size, 3) and labels uint8 (n, 5) (``BLANK`` = 10), like
    :func:`load_prepared`. Deterministic in ``seed`` and independent of ``workers``
    (processes; None: all cores for 2,000 numbers or more). Cached, so treat the arrays as read-only.
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if not isinstance(size, int) or size <= 0:
        raise ValueError(f"size must be a positive int, got {size!r}")
    check_choice("placement", placement, PLACEMENTS)
    workers = _workers(n, workers)
    if workers == 1:
        images, labels = _crops(0, n, seed, train, size, loose, placement)
    else:
        _mnist_digits(train)   # load MNIST once, before the workers start
        bounds = np.linspace(0, n, 4 * workers + 1).astype(int)
        jobs = [(int(a), int(b), seed, train, size, loose, placement)
                for a, b in zip(bounds, bounds[1:]) if b > a]
        context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
        with context.Pool(workers) as pool:
            parts = pool.starmap(_crops, jobs)
        images = np.concatenate([p[0] for p in parts])
        labels = np.concatenate([p[1] for p in parts])
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels
