"""Every chapter with exercises works in class: format, student version, stubs, nbgrader.

Cost: each chapter is executed at most once here, by `classroom.verify(prune=True)`: it runs
the cells the exercises depend on (static analysis) up to the last check cell, each solution
first as its stub (checks must fail), then as the reference (checks must pass). The student
notebook's cells before its first stub are asserted to be the chapter's own cells, which
nbval (`pytest --nbval-lax book`, part of the CI command) executes in full, so together they
show that the student version runs up to its first stub. nbgrader runs once over all
chapters. The fixture chapter goes through the same machinery so that it is tested even
before any chapter has exercises.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import nbformat
import pytest

from stn_course import classroom

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "classroom_fixture" / "00_fixture.ipynb"
CHAPTERS = classroom.chapter_paths(ROOT / "book")
ALL = [*CHAPTERS, FIXTURE]


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_exercise_format_and_no_solution_in_student_version(path):
    chapter = classroom.read_chapter(path)
    assert classroom.problems(chapter) == []
    student = classroom.student_notebook(chapter)
    assert classroom.leaks(chapter, student) == []
    assert not any("BEGIN SOLUTION" in c.source or "HIDDEN TESTS" in c.source for c in student.cells)
    assert len(chapter.exercises) >= (1 if path == FIXTURE else 2)


@pytest.mark.slow
@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_student_prefix_runs_stubs_fail_reference_passes(path):
    report = classroom.verify(path, cell_timeout=900, prune=True)  # the book build's limit per cell
    assert report.errors == []
    for note in report.notes:  # the dependency analysis missed something: correct but slower
        warnings.warn(f"{path.name}: {note}")
    chapter = classroom.read_chapter(path)
    # every exercise's checks were run against its stub, and failed
    assert set(report.stub_feedback) == {label for label, ex in chapter.exercises.items() if ex.checks}
    for label, feedback in report.stub_feedback.items():
        assert feedback, label


def _normalise_stub(source: str) -> str:
    return re.sub(r"raise NotImplementedError\(.*\)", "raise NotImplementedError()", source)


def test_nbgrader_generate_assignment_makes_the_same_stubs(tmp_path):
    source = tmp_path / "source" / "ps"
    source.mkdir(parents=True)
    for path in ALL:
        shutil.copy(path, source / path.name)
    bindir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"}  # nbgrader runs alembic
    # the instructor guide's config: nbgrader keeps markdown, so it drops the solutions' prose by tag
    (tmp_path / "nbgrader_config.py").write_text(
        'c = get_config()\nc.Exporter.preprocessors = ["nbconvert.preprocessors.TagRemovePreprocessor"]\n'
        f'c.TagRemovePreprocessor.enabled = True\nc.TagRemovePreprocessor.remove_cell_tags = {{"{classroom.SOLUTION_TEXT_TAG}"}}\n')
    proc = subprocess.run([str(bindir / "nbgrader"), "generate_assignment", "ps", f"--course-dir={tmp_path}",
                           "--force"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for path in ALL:
        chapter = classroom.read_chapter(source / path.name)  # the very file nbgrader read
        released = nbformat.read(tmp_path / "release" / "ps" / path.name, as_version=4)
        prose = [classroom.SOLUTION_TEXT_TAG in c.metadata.get("tags", []) for c in chapter.nb.cells]
        assert len(released.cells) == len(chapter.nb.cells) - sum(prose)  # nbgrader keeps every other cell
        shown = "\n".join(c.source for c in released.cells)
        leaked = [c.source[:60] for c, p in zip(chapter.nb.cells, prose) if p and c.source in shown]
        assert not leaked, f"{path.name}: the solutions' prose reached nbgrader's release: {leaked}"
        roles = [role for role, p in zip(chapter.roles, prose) if not p]
        # ours also drops the solution wrappers, what is inside them, {solution} texts and hidden test cells
        kept = [c for c, role in zip(released.cells, roles)
                if role not in ("solution-start", "solution-end", "inside", "hidden", "solution-text")]
        ours = classroom.student_notebook(chapter).cells
        assert [(c.cell_type, _normalise_stub(c.source)) for c in kept] == \
            [(c.cell_type, _normalise_stub(c.source)) for c in ours]
        stubs = sum(c.source.count("raise NotImplementedError()") for c in released.cells)
        regions = sum(max(1, chapter.nb.cells[i].source.count("BEGIN SOLUTION"))
                      for ex in chapter.exercises.values() for i in ex.solutions)
        assert stubs == regions > 0


def test_nbgrader_autograde_scores_our_notebooks(tmp_path):
    """nbgrader's own grading on a chapter in our format: a solved notebook scores full marks, the stubs none."""
    source = tmp_path / "source" / "ps"
    source.mkdir(parents=True)
    shutil.copy(FIXTURE, source / FIXTURE.name)
    bindir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"}

    def nbgrader(*args):  # run in the course directory, where the gradebook lives
        proc = subprocess.run([str(bindir / "nbgrader"), *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]

    nbgrader("generate_assignment", "ps", "--force")
    released = nbformat.read(tmp_path / "release" / "ps" / FIXTURE.name, as_version=4)
    for student, bodies in (("ann", ("return x * x", "return sum(xs) / len(xs)")), ("bob", None)):
        nb = nbformat.from_dict(released)
        if bodies:
            solutions = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
            for cell, body in zip(solutions, bodies):
                cell.source = cell.source.replace("raise NotImplementedError()", body)
        (tmp_path / "submitted" / student / "ps").mkdir(parents=True)
        nbformat.write(nb, tmp_path / "submitted" / student / "ps" / FIXTURE.name)
    nbgrader("autograde", "ps", "--force")
    nbgrader("export", "--to", str(tmp_path / "grades.csv"))
    with open(tmp_path / "grades.csv", newline="", encoding="utf-8") as f:
        scores = {row["student_id"]: (float(row["score"]), float(row["max_score"])) for row in csv.DictReader(f)}
    assert scores == {"ann": (5.0, 5.0), "bob": (0.0, 5.0)}
    graded = nbformat.read(tmp_path / "autograded" / "bob" / "ps" / FIXTURE.name, as_version=4)
    assert "skipped: this cell uses `square`, `mean_of`" in str(graded.cells[-1].outputs)  # no crash after a stub
