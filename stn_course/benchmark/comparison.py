"""What Table 1 says, in sentences computed from the records, each comparison with its noise.

A cell's noise is the standard error of its mean test error, in points: the binomial error of
one test set, ``sqrt(p (1 - p) / n)``, and, where several seeds were run, the seeds' spread,
``std / sqrt(seeds)``, added in quadrature. Two errors differ *beyond the noise* when their
difference is more than twice the noise of the difference; with one seed the spread between
seeds is unknown, and the sentences say so. Two models tested on the same test set share part of
its binomial error, so the noise of their difference is, if anything, overstated here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..models import DISTORTIONS, MODEL_NAMES, PAPER_NAMES
from .records import mean_std

Record = Mapping[str, Any]

__all__ = ["Cell", "cell_of", "noise_between", "versus_base", "versus_base_reading", "versus_paper_reading"]


@dataclass(frozen=True)
class Cell:
    """The runs of one table cell: mean test error (%), its noise (points) and the number of seeds."""

    mean: float
    noise: float
    seeds: int


def cell_of(records: Sequence[Record]) -> Cell:
    """The :class:`Cell` of one model × distortion's runs (each with ``test_error`` and ``test_n``)."""
    if not records:
        raise ValueError("records must hold at least one run, got none")
    mean, std = mean_std([r["test_error"] for r in records])
    p, n = mean / 100, min(r["test_n"] for r in records)
    binomial = 100 * math.sqrt(p * (1 - p) / n)
    spread = std / math.sqrt(len(records)) if len(records) > 1 else 0.0
    return Cell(mean, math.hypot(binomial, spread), len(records))


def noise_between(a: Cell, b: Cell) -> float:
    """The noise (points) of the difference of two cells' means."""
    return math.hypot(a.noise, b.noise)


def _verdict(better: Cell, worse: Cell) -> int:
    """+1 when ``better`` has the lower error beyond twice the noise, -1 for the reverse, 0 within it."""
    d = worse.mean - better.mean
    return 0 if abs(d) <= 2 * noise_between(better, worse) else (1 if d > 0 else -1)


def versus_base(runs: Iterable[Record], schedule: str) -> list[tuple[str, str, str, Cell, Cell, int]]:
    """Every transformer model against its base network (ST-CNN … against CNN, ST-FCN … against
    FCN) on each distortion, for the runs of one ``schedule``: (distortion, transformer model,
    base model, transformer cell, base cell, verdict) with verdict +1 (the transformer is better
    beyond the noise), 0 (within it), -1 (the base network is better beyond it)."""
    by: dict[tuple[str, str], list[Record]] = {}
    for r in runs:
        if r["schedule"] == schedule:
            by.setdefault((r["model"], r["distortion"]), []).append(r)
    out = []
    for d in DISTORTIONS:
        for base in ("fcn", "cnn"):
            for st in (m for m in MODEL_NAMES if m.startswith(f"st-{base}-")):
                if (st, d) in by and (base, d) in by:
                    t, b = cell_of(by[(st, d)]), cell_of(by[(base, d)])
                    out.append((d, st, base, t, b, _verdict(t, b)))
    return out


def _names(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def versus_base_reading(comparisons: Sequence[tuple[str, str, str, Cell, Cell, int]], schedule: str) -> str:
    """Sentences for :func:`versus_base`: how many comparisons the transformer wins, ties and
    loses beyond the noise, naming the ties and the losses."""
    if not comparisons:
        return f"No transformer model has been run beside its base network with `{schedule}` yet."
    wins = [c for c in comparisons if c[5] > 0]
    ties = [c for c in comparisons if c[5] == 0]
    losses = [c for c in comparisons if c[5] < 0]
    text = [f"With `{schedule}` the transformer version beats its base network beyond the noise in "
            f"{len(wins)} of {len(comparisons)} comparisons."]
    if ties:
        text.append(f"{len(ties)} {'is' if len(ties) == 1 else 'are'} within the noise: "
                    + _names([f"{PAPER_NAMES[st]} on {d} ({t.mean:.2f} % against {b.mean:.2f} %)"
                              for d, st, _, t, b, _ in ties]) + ".")
    if losses:
        text.append("The base network is better beyond the noise with "
                    + _names([f"{PAPER_NAMES[st]} on {d} ({t.mean:.2f} % against {PAPER_NAMES[base]}'s {b.mean:.2f} %)"
                              for d, st, base, t, b, _ in losses]) + ".")
    cells = {(m, d): x for d, st, base, t, b, _ in comparisons for m, x in ((st, t), (base, b))}
    single = sum(1 for x in cells.values() if x.seeds == 1)
    if single:
        text.append(f"Of the {len(cells)} cells compared, {single} have one seed, whose noise counts the test "
                    "set alone: the spread between seeds is not known there.")
    return " ".join(text)


def versus_paper_reading(cells: Mapping[tuple[str, str], Cell], paper: Mapping[str, Mapping[str, float]],
                         label: str) -> str:
    """How ``label`` cells (model, distortion) → :class:`Cell` compare with the paper's numbers:
    the median ratio and its range, the cells at or below the paper's, and those above it but
    within twice their noise (the paper's own noise, a mean of three runs, is not reported)."""
    pairs = [(m, d, c, paper[m][d]) for (m, d), c in cells.items() if d in paper.get(m, {})]
    if not pairs:
        return ""
    ratios = sorted(c.mean / p for *_, c, p in pairs)
    mid = len(ratios) // 2
    median = ratios[mid] if len(ratios) % 2 else (ratios[mid - 1] + ratios[mid]) / 2
    at = [f"{PAPER_NAMES[m]} on {d}" for m, d, c, p in pairs if c.mean <= p]
    near = [f"{PAPER_NAMES[m]} on {d}" for m, d, c, p in pairs if p < c.mean <= p + 2 * c.noise]
    text = (f"Over the {len(pairs)} {label} cells our error is a median {median:.2f}× the paper's "
            f"({ratios[0]:.2f}× to {ratios[-1]:.2f}×); {len(at)} {'is' if len(at) == 1 else 'are'} at or below it"
            + (f" ({_names(at)})" if at else ""))
    if near:
        text += f", and {len(near)} more within twice {'its' if len(near) == 1 else 'their'} noise of it ({_names(near)})"
    return text + "."
