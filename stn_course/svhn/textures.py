"""Backgrounds for the stand-in, made in code: stucco, bricks, wooden siding, plaster and stone.

Each generator draws everything from a NumPy ``Generator`` and returns a float image
(H, W, 3) with values around [0, 1] (the caller clips). They imitate what sits behind a house
number in Street View: walls, boards, doors, lit unevenly.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

KINDS = ("stucco", "bricks", "siding", "stone")


def _upsample(a: np.ndarray, h: int, w: int) -> np.ndarray:
    """Bilinear resize of a 2D float array to (h, w)."""
    return np.asarray(Image.fromarray(a.astype(np.float32), mode="F").resize((w, h), Image.BILINEAR))


def fractal_noise(rng: np.random.Generator, h: int, w: int, octaves: int = 4, persistence: float = 0.5) -> np.ndarray:
    """Smooth noise (h, w), roughly in [-1, 1]: octaves of upsampled white noise, each finer and
    ``persistence`` times weaker than the last (the "natural" look of plaster, stone, foliage)."""
    out = np.zeros((h, w), dtype=np.float32)
    amp, cells, total = 1.0, int(rng.integers(2, 5)), 0.0
    for _ in range(octaves):
        out += amp * _upsample(rng.normal(0, 1, (cells, max(2, cells * w // max(h, 1)))), h, w)
        total += amp
        amp, cells = amp * persistence, cells * 2
    return out / total


def _colour(rng: np.random.Generator) -> np.ndarray:
    """A wall colour: mostly muted, sometimes saturated."""
    grey = rng.uniform(0.1, 0.9)
    tint = rng.normal(0, rng.choice([0.05, 0.2]), 3)
    return np.clip(grey + tint, 0, 1)


def _stucco(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    return _colour(rng) + rng.uniform(0.03, 0.15) * fractal_noise(rng, h, w)[..., None]


def _stone(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    base = _colour(rng)
    coarse = fractal_noise(rng, h, w, octaves=5, persistence=0.7)[..., None]
    speckle = rng.uniform(0.02, 0.06) * rng.standard_normal((h, w, 1), np.float32)
    return base + rng.uniform(0.1, 0.25) * coarse + speckle


def _bricks(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    row = int(rng.integers(5, 13))
    length = int(row * rng.uniform(2.0, 3.5))
    yy, xx = np.mgrid[0:h, 0:w]
    course = yy // row
    xs = xx + (course % 2) * (length // 2)
    brick_id = course * (w // length + 2) + xs // length
    shade = rng.normal(0, 0.06, int(brick_id.max()) + 1)[brick_id]
    base = _colour(rng)
    img = base + shade[..., None] + 0.04 * fractal_noise(rng, h, w)[..., None]
    mortar = ((yy % row) == 0) | ((xs % length) == 0)
    mortar_colour = np.clip(base + rng.choice([-1, 1]) * rng.uniform(0.15, 0.35), 0, 1)
    img[mortar] = mortar_colour
    return img


def _siding(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    board = int(rng.integers(6, 16))
    yy = np.arange(h, dtype=np.float32)[:, None]
    grain = 0.05 * np.sin(2 * np.pi * (yy / rng.uniform(1.5, 4)) + 3 * fractal_noise(rng, h, w, octaves=3))
    edge = np.where((np.arange(h) % board) < 1, -rng.uniform(0.1, 0.3), 0.0)[:, None]
    return _colour(rng) + (grain + edge)[..., None]


_GENERATORS = {"stucco": _stucco, "bricks": _bricks, "siding": _siding, "stone": _stone}


def background(rng: np.random.Generator, h: int, w: int, kind: str | None = None) -> np.ndarray:
    """A wall (h, w, 3), float, lit unevenly: a random (or the given) kind of :data:`KINDS`,
    times a linear light gradient, sometimes with a shadow across it."""
    kind = kind or KINDS[int(rng.integers(len(KINDS)))]
    img = _GENERATORS[kind](rng, h, w)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32) / max(h, w)
    light = 1 + rng.normal(0, 0.2) * (xx - 0.5) + rng.normal(0, 0.2) * (yy - 0.5)
    if rng.random() < 0.3:  # a shadow edge across the wall
        angle = rng.uniform(0, np.pi)
        side = np.cos(angle) * (xx - rng.uniform(0, w / max(h, w))) + np.sin(angle) * (yy - rng.uniform(0, h / max(h, w)))
        light = light * np.where(side > 0, rng.uniform(0.5, 0.85), 1.0)
    return img * light[..., None]
