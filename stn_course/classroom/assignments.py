"""Who must hand in what, and what they handed in: the roster, the chapters assigned, the submissions folder.

The chapter of a submission is the instructor's: the chapters asked for on the command line
or in a class manifest, never a notebook's metadata. Submissions are found in the layouts
instructors use: ``<folder>/<learner>/<chapter>.ipynb`` (ours) and nbgrader's
``submitted/<learner>/<assignment>/<chapter>.ipynb``. A learner on the roster without a
file for a chapter gets a row that says so; several files for one chapter are flagged and
only one is graded.
"""

from __future__ import annotations

import csv
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Submission", "read_roster", "read_manifest", "check_chapters", "find_submissions"]

_ID_COLUMNS = ("id", "student", "username", "login")


@dataclass
class Submission:
    """One learner's work for one chapter: the file to grade (None: nothing handed in) and notes.

    ``refused`` is why the file is not graded at all (a link: someone else's work), else empty.
    """

    student: str
    chapter: str
    path: Path | None
    notes: list[str] = field(default_factory=list)
    refused: str = ""


def read_roster(path: str | os.PathLike) -> tuple[list[str], list[str]]:
    """The learners' ids in a roster CSV (column ``id``, ``student``, ``username`` or ``login``),
    and notes about repeated ids (each learner is graded once)."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        column = next((c for c in (reader.fieldnames or []) if c.strip().lower() in _ID_COLUMNS), None)
        if column is None:
            raise ValueError(f"roster: {path} needs a column named one of {', '.join(_ID_COLUMNS)}; "
                             f"got columns {reader.fieldnames}")
        ids = [row[column].strip() for row in reader if (row.get(column) or "").strip()]
    unique = list(dict.fromkeys(ids))
    notes = [f"roster: {i!r} is listed {ids.count(i)} times (graded once)" for i in unique if ids.count(i) > 1]
    return unique, notes


def read_manifest(path: str | os.PathLike) -> dict[str, list[str]]:
    """A class manifest (JSON or YAML): ``{"assignments": {"ps1": ["04_sampler", ...], ...}}``."""
    text = Path(path).read_text(encoding="utf-8")
    if str(path).endswith((".yml", ".yaml")):
        import yaml

        data = yaml.safe_load(text)
    else:
        data = json.loads(text)
    assignments = data.get("assignments") if isinstance(data, dict) else None
    if not isinstance(assignments, dict) or not all(isinstance(v, list) for v in assignments.values()):
        raise ValueError(f"manifest: {path} must hold {{'assignments': {{name: [chapter, ...]}}}}, got {data!r:.200}")
    return {str(k): [str(c) for c in v] for k, v in assignments.items()}


def check_chapters(asked: list[str], known: list[str]) -> None:
    """Refuse chapters the instructor's book does not have (with their references)."""
    unknown = [c for c in asked if c not in known]
    if unknown:
        raise ValueError(f"unknown chapter(s) {', '.join(map(repr, unknown))}: the chapters with reference "
                         f"solutions are {', '.join(known) or 'none'}")
    if not asked:
        raise ValueError("chapters: name at least one chapter to grade (--chapter or --manifest)")


def _matches(stem: str, chapter: str) -> bool:
    """``04_sampler``, ``04_sampler (1)``, ``04_sampler-final``: a file for chapter ``04_sampler``."""
    return stem == chapter or bool(re.fullmatch(re.escape(chapter) + r"[^A-Za-z0-9].*", stem))


def _candidates(folder: Path, chapter: str) -> list[Path]:
    if not folder.is_dir():
        return []
    found = [p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
             and (p.is_file() or p.is_symlink()) and _matches(p.stem, chapter)]  # a link is found, then refused
    # the exact name first, then the newest
    return sorted(found, key=lambda p: (p.stem != chapter, -p.lstat().st_mtime, str(p)))


def linked(folder: Path, path: Path) -> str:
    """Why ``path`` (under ``folder``) is not the learner's own file: a symbolic link on the way or a hard link."""
    part = path
    while part != folder and folder in part.parents:
        if part.is_symlink():
            return f"refused: {part.relative_to(folder)} is a symbolic link (to {os.readlink(part)}), not the learner's own file"
        part = part.parent
    if path.exists() and path.lstat().st_nlink > 1:
        return (f"refused: {path.relative_to(folder)} is a hard link ({path.lstat().st_nlink} names for one file), "
                "maybe someone else's file")
    return ""


def find_submissions(folder: str | os.PathLike, students: list[str], chapters: list[str]) -> list[Submission]:
    """One :class:`Submission` per learner and chapter, in roster order.

    A learner's folder or file that is a link (symbolic or hard) is refused with a reason:
    submissions are read as data, never followed to a classmate's work.
    """
    folder = Path(folder)
    out = []
    for student in students:
        for chapter in chapters:
            if (folder / student).is_symlink():
                out.append(Submission(student, chapter, None, [], linked(folder, folder / student)))
                continue
            found = _candidates(folder / student, chapter)
            if not found:
                out.append(Submission(student, chapter, None, [f"no submission: no {chapter}.ipynb in "
                                                               f"{folder.name}/{student}/"]))
                continue
            notes = []
            if len(found) > 1:
                names = ", ".join(str(p.relative_to(folder / student)) for p in found)
                notes.append(f"duplicate: {len(found)} files for this chapter ({names}); graded "
                             f"{found[0].relative_to(folder / student)} only")
            elif found[0].stem != chapter:
                notes.append(f"file name {found[0].name!r} differs from {chapter}.ipynb: graded as {chapter}")
            out.append(Submission(student, chapter, found[0], notes, linked(folder, found[0])))
    return out


def unlisted(folder: str | os.PathLike, students: list[str]) -> list[str]:
    """Folders in the submissions folder that belong to no learner on the roster."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name not in students)
