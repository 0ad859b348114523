"""What learners get holds no reference solution: the installed package, and the student notebooks handed out."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

import nbformat

import stn_course

from .chapters import Chapter, read_chapter
from .markers import solution_regions
from .student import leaks

__all__ = ["package_leaks", "student_notebook_leaks"]

_MIN_CHARS = 30


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _solution_lines(chapter: Chapter) -> dict[str, list[str]]:
    """Each exercise's long solution lines (comments left out), squeezed of white space."""
    out: dict[str, list[str]] = {}
    for label, ex in chapter.exercises.items():
        lines = [_squeeze(line) for i in ex.solutions for line in solution_regions(chapter.nb.cells[i].source)
                 if not line.strip().startswith("#")]
        out[label] = [line for line in lines if len(line) >= _MIN_CHARS]
    return out


def package_leaks(chapters: Iterable[str | os.PathLike | Chapter], package: str | os.PathLike | None = None) -> list[str]:
    """Reference solutions in the package learners install (empty list: none).

    Flags notebooks inside the package, names starting with ``_reference``, and any module that
    holds two or more of an exercise's long solution lines (all of them, if it has fewer).
    """
    package = Path(package or Path(stn_course.__file__).parent)
    sources = {p: p.read_text(encoding="utf-8") for p in sorted(package.rglob("*.py"))}
    found = [f"{p}: a notebook inside the package" for p in sorted(package.rglob("*.ipynb"))]
    for path, text in sources.items():
        found += [f"{path}: defines {m[1]!r}" for m in re.finditer(r"(?m)^\s*(?:def|class)\s+(_reference\w*)", text)]
    squeezed = {p: _squeeze(t) for p, t in sources.items()}
    for chapter in chapters:
        chapter = chapter if isinstance(chapter, Chapter) else read_chapter(chapter)
        for label, lines in _solution_lines(chapter).items():
            need = min(2, len(lines))
            for path, text in squeezed.items():
                if need and sum(line in text for line in lines) >= need:
                    found.append(f"{path}: holds the solution of {chapter.name}'s exercise {label!r}")
    return found


def student_notebook_leaks(chapters: Iterable[str | os.PathLike], student_dir: str | os.PathLike) -> list[str]:
    """Solution lines shown by the student notebooks in ``student_dir`` (same file names as the chapters)."""
    found = []
    for path in chapters:
        target = Path(student_dir) / Path(path).name
        if not target.exists():
            found.append(f"{target}: missing")
            continue
        nb = nbformat.read(target, as_version=4)
        found += [f"{target}: {leak}" for leak in leaks(read_chapter(path), nb)]
    return found
