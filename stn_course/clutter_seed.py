"""TC's clutter drawn from a seed, the same in Python and in the page (``static/recipes.js``).

The TC recipe (:func:`stn_course.distortions.cluttered`) draws its clutter with a
``torch.Generator``, which JavaScript cannot replay. The invariance explorer needs clutter that
a reader can redraw in the static book ("new clutter") and that Python renders identically, so
it draws the layout here with xorshift32 (Marsaglia 2003: three shifts and xors of a 32-bit
state), small enough to write again in a few lines of JavaScript, and renders it with the
recipe's own :func:`~stn_course.distortions.cluttered` (``params=``).

A layout is what :func:`~stn_course.distortions.sample_cluttered` returns for one digit: per
piece, which pool digit it comes from, where in that digit's central box it is cut and where
on the canvas it lands. Piece k is drawn k-th from the seed, so adding pieces never moves the
ones already there.
"""

from __future__ import annotations

import torch

from ._checks import check_int

__all__ = ["MAX_SEED", "Xorshift32", "clutter_layout"]

MAX_SEED = 2**32 - 1
_MASK = 0xFFFFFFFF


class Xorshift32:
    """A 32-bit xorshift generator; ``Xorshift32(seed).next()`` is the page's ``xorshift32(seed)()``.

    The seed (an int in [0, 2³² − 1]) is spread over the state by a multiply-add mod 2³² (a zero
    state would stay zero; it is replaced by 1), then the state is stepped four times, so that
    neighbouring seeds give unrelated first draws.
    """

    def __init__(self, seed: int) -> None:
        check_int("seed", seed, 0)
        if seed > MAX_SEED:
            raise ValueError(f"seed must be an int in [0, {MAX_SEED}], got {seed}")
        self.state = (seed * 0x9E3779B1 + 0x6D2B79F5) & _MASK or 1
        for _ in range(4):
            self.next()

    def next(self) -> int:
        """The next 32-bit value, in [0, 2³²)."""
        x = self.state
        x ^= (x << 13) & _MASK
        x ^= x >> 17
        x ^= (x << 5) & _MASK
        self.state = x
        return x

    def integer(self, low: int, high: int) -> int:
        """An integer uniform in [low, high] (inclusive): ``low + ⌊u · (high − low + 1) / 2³²⌋``."""
        return low + ((self.next() * (high - low + 1)) >> 32)


def clutter_layout(seed: int, pieces: int, pool_size: int, own: int = -1, *, in_size: int = 28,
                   out_size: int = 60, clutter_size: int = 6, crop_box: tuple[int, int] = (4, 24)) -> dict:
    """TC parameters for one digit, drawn from ``seed``: ``params=`` for :func:`distortions.cluttered`.

    Per piece, in this order: the pool digit (``own`` + a step in [1, pool_size − 1], mod
    pool_size, so never the digit itself; any of the pool when ``own`` is −1, a drawn digit),
    the crop's top-left inside ``crop_box`` (x, then y), and where it lands on the canvas (x, y).

    Returns:
        ``clutter_index`` (1, pieces), ``crop_position`` and ``clutter_position`` (1, pieces, 2),
        long; ``position`` (the digit's place) is the caller's.
    """
    check_int("pieces", pieces, 0)
    if check_int("pool_size", pool_size, 1) < 2 and own >= 0:
        raise ValueError(f"pool_size must be at least 2 when own >= 0 (clutter comes from other digits), "
                         f"got {pool_size}")
    if not -1 <= check_int("own", own) < pool_size:
        raise ValueError(f"own must be -1 (a drawn digit) or an index in 0..{pool_size - 1}, got {own}")
    lo, hi = crop_box
    if not (0 <= lo and hi <= in_size and hi - lo >= clutter_size and out_size >= clutter_size):
        raise ValueError(f"crop_box must be [lo, hi) inside [0, {in_size}] and at least clutter_size={clutter_size} "
                         f"wide, and out_size={out_size} at least clutter_size, got crop_box={tuple(crop_box)}")
    g = Xorshift32(seed)
    index, crop, place = [], [], []
    for _ in range(pieces):
        index.append((own + g.integer(1, pool_size - 1)) % pool_size if own >= 0 else g.integer(0, pool_size - 1))
        crop.append([g.integer(lo, hi - clutter_size), g.integer(lo, hi - clutter_size)])
        place.append([g.integer(0, out_size - clutter_size), g.integer(0, out_size - clutter_size)])
    return {"clutter_index": torch.tensor(index, dtype=torch.long).view(1, pieces),
            "crop_position": torch.tensor(crop, dtype=torch.long).view(1, pieces, 2),
            "clutter_position": torch.tensor(place, dtype=torch.long).view(1, pieces, 2)}
