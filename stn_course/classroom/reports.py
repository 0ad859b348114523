"""The grades: the class CSV, one feedback file per learner, merging the CSVs of shards, the terminal summary."""

from __future__ import annotations

import csv
import hashlib
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass, fields
from pathlib import Path

__all__ = ["Score", "CSV_FIELDS", "write_csv", "read_csv", "merge_csv", "write_feedback", "totals"]


@dataclass
class Score:
    """One row of the grades: a learner's points for one exercise of one chapter.

    ``notes`` are about the whole notebook (duplicates, a missing file, a cell that killed the
    kernel); ``sandbox`` says how the submission was isolated.
    """

    student: str
    chapter: str
    exercise: str
    points: float
    max: float
    feedback: str
    notes: str = ""
    sandbox: str = ""


CSV_FIELDS = [f.name for f in fields(Score)]
_NUMBERS = {"points", "max"}
_FORMULA = ("=", "+", "-", "@", "\t", "\r", "'")  # what a spreadsheet reads as a formula, and the escape itself


def _escape(cell: str) -> str:
    """A text cell a spreadsheet shows as text: one that could start a formula gets a leading ``'``."""
    return "'" + cell if cell.startswith(_FORMULA) else cell


def _unescape(cell: str) -> str:
    return cell[1:] if cell.startswith("'") else cell


def write_csv(scores: Iterable[Score], path: str | os.PathLike) -> None:
    """The class CSV: one row per learner, chapter and exercise."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_FIELDS)
        for s in scores:
            row = [_escape(str(v)) for v in astuple(s)]
            row[3], row[4] = f"{s.points:g}", f"{s.max:g}"
            writer.writerow(row)


def read_csv(path: str | os.PathLike) -> list[Score]:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != CSV_FIELDS:
            raise ValueError(f"{path}: expected the columns {CSV_FIELDS}, got {reader.fieldnames}")
        return [Score(**{k: float(v) if k in _NUMBERS else _unescape(v) for k, v in row.items()}) for row in reader]


def merge_csv(parts: Sequence[str | os.PathLike], out: str | os.PathLike) -> list[Score]:
    """Merge the CSVs of grading shards into one; a row graded by two shards is an error."""
    merged: dict[tuple[str, str, str], Score] = {}
    for part in parts:
        for s in read_csv(part):
            key = (s.student, s.chapter, s.exercise)
            if key in merged:
                raise ValueError(f"{part}: {key} was already graded by another shard")
            merged[key] = s
    scores = sorted(merged.values(), key=lambda s: (s.student, s.chapter))
    write_csv(scores, out)
    return scores


def totals(scores: Iterable[Score]) -> dict[tuple[str, str], tuple[float, float]]:
    """(student, chapter) → (points, max)."""
    out: dict[tuple[str, str], tuple[float, float]] = {}
    for s in scores:
        got, most = out.get((s.student, s.chapter), (0.0, 0.0))
        out[(s.student, s.chapter)] = (got + s.points, most + s.max)
    return out


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.@-]+", "_", name).strip(".") or "_"


def _file_names(students: Iterable[str]) -> dict[str, str]:
    """A distinct file stem per learner: the id where it is a safe name, else the safe name and a hash of the id.

    ``a b`` and ``a_b`` (or ``Ann`` and ``ann`` on a case-insensitive disk) never share a file.
    """
    names: dict[str, str] = {}
    used: set[str] = set()
    for student in students:
        stem, digits = _safe(student), 8
        if stem != student:
            stem = f"{stem}-{hashlib.sha256(student.encode()).hexdigest()[:digits]}"
        while stem.lower() in used:
            digits += 8
            stem = f"{_safe(student)}-{hashlib.sha256(student.encode()).hexdigest()[:digits]}"
        used.add(stem.lower())
        names[student] = stem
    return names


def write_feedback(scores: Sequence[Score], folder: str | os.PathLike) -> list[Path]:
    """One Markdown file per learner (``<folder>/<student>.md``): their points and feedback, chapter by chapter."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    by_student: dict[str, list[Score]] = {}
    for s in scores:
        by_student.setdefault(s.student, []).append(s)
    written = []
    stems = _file_names(sorted(by_student, key=lambda s: (_safe(s) != s, s)))  # plain ids keep their own name
    for student, rows in by_student.items():
        lines = [f"# Feedback for {student}", ""]
        sums = totals(rows)
        for chapter in dict.fromkeys(r.chapter for r in rows):
            got, most = sums[(student, chapter)]
            lines += [f"## {chapter}: {got:g}/{most:g}", ""]
            notes = next((r.notes for r in rows if r.chapter == chapter and r.notes), "")
            if notes:
                lines += [f"Notes: {notes}", ""]
            lines += [f"- **{r.exercise}** ({r.points:g}/{r.max:g}): {r.feedback}" for r in rows if r.chapter == chapter]
            lines.append("")
        path = folder / f"{stems[student]}.md"
        path.write_text("\n".join(lines), encoding="utf-8")
        written.append(path)
    return written
