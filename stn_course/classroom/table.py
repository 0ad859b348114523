"""The exercise list of the instructor guide: a Markdown table with every exercise's goal, points and time."""

from __future__ import annotations

import os
from collections.abc import Iterable

from .chapters import read_chapter

def exercise_table(paths: Iterable[str | os.PathLike]) -> str:
    """A Markdown table of every exercise: chapter, exercise, learning goal, points, time.

    Open questions (an exercise with neither solution nor check) are listed too.
    """
    rows = ["| Chapter | Exercise | Learning goal | Points | Time |",
            "|---|---|---|---|---|"]
    total_min = 0
    for path in paths:
        chapter = read_chapter(path)
        for ex in chapter.exercises.values():
            total_min += ex.minutes
            time_txt = f"≈ {ex.minutes} min" if ex.minutes_estimated else f"{ex.minutes} min"
            points = f"{ex.points:g}" if ex.checks else "open question"
            cells = [chapter.title, f"{ex.title} (`{ex.label}`)", ex.goal, points, time_txt]
            rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    rows.append(f"\nTotal working time ≈ {total_min / 60:.1f} h.")
    return "\n".join(rows)
