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


def health_table(records: Iterable[Record], label: Callable[[Record], Sequence[str]], label_header: Sequence[str],
                 caption: str = "") -> HTMLTable:
    """One row per transformer of every record that holds a measured ``transformer_health``:
    ``label(record)``'s cells, then the transformer, its status, θ's largest spread over the
    held-out inputs and its live localisation units (before the head, and all)."""
    rows = []
    for r in records:
        h = r.get("transformer_health") or {}
        for k, p in enumerate(h.get("transformers", [])):
            status = p["status"] if p["status"] == "alive" else f"<b>{p['status']}</b>"
            live, total = p["head_units"] if p.get("head_units") else ("—", "—")
            share = "—" if p["live_share"] is None else f"{p['live_share']:.0%}"
            rows.append([*label(r), str(k + 1), status, f"{max(p['theta_std']):.2g}", f"{live}/{total}", share])
    header = [*label_header, "transformer", "status", "θ's largest spread", "units live before the head",
              "all units live"]
    return html_table(header, rows, caption)


def health_reading(records: Iterable[Record]) -> str:
    """A sentence that counts the measured transformers by status, e.g. "Of the 6 transformers
    measured, 4 are alive, 1 nearly constant and 1 dead (θ the same for every input).";
    "" when none was measured."""
    statuses = [p["status"] for r in records for p in (r.get("transformer_health") or {}).get("transformers", [])]
    if not statuses:
        return ""
    dead = " (θ the same for every input)" if "dead" in statuses else ""
    if len(statuses) == 1:
        return f"The one transformer measured is {statuses[0]}{dead}."
    counts = [(statuses.count(s), s) for s in ("alive", "nearly constant", "dead") if statuses.count(s)]
    if len(counts) == 1:
        return f"All {len(statuses)} transformers measured are {counts[0][1]}{dead}."
    parts = [f"{n} {'is' if n == 1 else 'are'} {s}" if i == 0 else f"{n} {s}" for i, (n, s) in enumerate(counts)]
    listed = ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"Of the {len(statuses)} transformers measured, {listed}{dead}."
