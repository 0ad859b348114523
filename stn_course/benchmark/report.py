"""Tables for the book: HTML that renders the same in Jupyter and in the built book, and the
best-obtained runs of each cell with a footnote that says how they were obtained."""

from __future__ import annotations

import html
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Record = Mapping[str, Any]


@dataclass(frozen=True)
class HTMLTable:
    """An HTML table; Jupyter and myst-nb show it through ``_repr_html_``."""

    html: str

    def _repr_html_(self) -> str:
        return self.html

    def __str__(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return f"<HTMLTable: {self.html.count('<tr>') - 1} rows>"


def html_table(header: Sequence[str], rows: Sequence[Sequence[str]], caption: str = "") -> HTMLTable:
    """A table with one header row. Header and cells are HTML fragments (``<b>``, ``<sup>``);
    the caption is text and is escaped. Every row must have one cell per header."""
    for i, row in enumerate(rows):
        if len(row) != len(header):
            raise ValueError(f"rows[{i}] must have {len(header)} cells like the header, got {len(row)}")
    pad = 'style="padding: 2px 10px; text-align: left"'
    head = "".join(f"<th {pad}>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td {pad}>{c}</td>" for c in row) + "</tr>" for row in rows)
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return HTMLTable(f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def best_groups(runs: Iterable[Record], cell: Callable[[Record], Hashable], group: Callable[[Record], Hashable],
                rank: Callable[[list[Record]], Any]) -> dict[Hashable, list[Record]]:
    """For each table cell (``cell(run)``), the runs of the group (``group(run)``: one way of
    obtaining it, e.g. one schedule on one kind of device) that ``rank`` puts highest."""
    groups: dict[Hashable, dict[Hashable, list[Record]]] = {}
    for r in runs:
        groups.setdefault(cell(r), {}).setdefault(group(r), []).append(r)
    return {c: max(by_group.values(), key=rank) for c, by_group in groups.items()}


class Footnotes:
    """Letters a, b, c … for the distinct ways cells were obtained, in order of first use."""

    def __init__(self) -> None:
        self.letters: dict[str, str] = {}

    def mark(self, how: str) -> str:
        """The letter of ``how`` (a new one the first time)."""
        if how not in self.letters:
            if len(self.letters) >= 26:
                raise ValueError("more than 26 distinct footnotes in one table")
            self.letters[how] = "abcdefghijklmnopqrstuvwxyz"[len(self.letters)]
        return self.letters[how]

    def html(self) -> str:
        """The footnotes as HTML lines: "<sup>a</sup> how …"."""
        return "<br>".join(f"<sup>{letter}</sup> {html.escape(how)}" for how, letter in self.letters.items())
