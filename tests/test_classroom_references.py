"""The instructor's reference modules (instructor/) grade the book's exercises: solutions pass, stubs fail.

The kernel-side harness runs here in-process on the functions the chapters' solution cells
define (the same code a learner's kernel runs), so every chapter is covered without a kernel.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from stn_course import classroom, grid
from stn_course.classroom.trusted import draw, harness, judge, read_outputs, write_inputs

ROOT = Path(__file__).resolve().parents[1]
REFERENCES = classroom.load_references(ROOT / "instructor")
CHAPTERS = classroom.chapter_paths(ROOT / "book")


def _grade_in_process(hidden, namespace, tmp_path, seed=3):
    cases, expected = draw(hidden, seed)
    inputs, outputs = tmp_path / "inputs.pt", tmp_path / "outputs.pt"
    write_inputs(cases, inputs)
    exec(harness(hidden, inputs, outputs), namespace)
    return judge(hidden, cases, expected, read_outputs(outputs))


def _namespace(chapter, stubs: bool):
    """The functions a chapter's solution cells define (or their stubs), as in a learner's kernel."""
    ns = {"torch": torch, "math": math, "np": np, "nn": nn, "F": F, "grid": grid, "__name__": "__main__"}
    for i, cell in enumerate(chapter.nb.cells):
        if chapter.roles[i] == "solution" and cell.cell_type == "code":
            source = classroom.stub_source(cell.source, "stub") if stubs else cell.source
            exec(source, ns)
    return ns


def test_every_chapter_with_exercises_has_its_references():
    assert sorted(REFERENCES) == sorted(p.stem for p in CHAPTERS)
    for path in CHAPTERS:
        chapter = classroom.read_chapter(path)
        graded = {label for label, ex in chapter.exercises.items() if ex.checks}
        assert set(REFERENCES[path.stem]) == graded, path.stem


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_book_solutions_pass_the_hidden_cases_and_stubs_do_not(path, tmp_path):
    chapter = classroom.read_chapter(path)
    solved, stubbed = _namespace(chapter, stubs=False), _namespace(chapter, stubs=True)
    for label, hidden in REFERENCES[path.stem].items():
        for seed in (1, 2):
            verdict = _grade_in_process(hidden, solved, tmp_path, seed)
            assert verdict.passed, (label, verdict.feedback)
        verdict = _grade_in_process(hidden, stubbed, tmp_path)
        assert not verdict.passed and "NotImplementedError" in verdict.feedback, (label, verdict.feedback)


def test_wrong_answers_missing_functions_and_the_package_own_functions_fail(tmp_path):
    hidden = REFERENCES["02_coordinates"]["ex-coords-compose"]
    wrong = {"compose": lambda first, second: classroom_compose_backwards(first, second), "__name__": "__main__"}
    verdict = _grade_in_process(hidden, wrong, tmp_path)
    assert not verdict.passed and re.match(r"hidden case 1/3 \(a batch of 1 pairs of random θ\): values differ",
                                           verdict.feedback)
    assert _grade_in_process(hidden, {}, tmp_path).feedback.startswith("`compose` is not defined after the notebook ran")
    assert "is a int, not a function" in _grade_in_process(hidden, {"compose": 3}, tmp_path).feedback
    from stn_course.svhn import crop_window  # an exercise's answer the package ships under its name

    window = REFERENCES["10_svhn"]["ex-svhn-crop-window"]
    verdict = _grade_in_process(window, {"crop_window": crop_window}, tmp_path)
    assert not verdict.passed and "the package's solution, not your own code" in verdict.feedback


def classroom_compose_backwards(first, second):
    a1, t1 = first[:, :, :2], first[:, :, 2:]
    a2, t2 = second[:, :, :2], second[:, :, 2:]
    return torch.cat([a2 @ a1, a2 @ t1 + t2], dim=2)  # the wrong order


def test_the_package_and_the_student_notebooks_hold_no_reference_solution(tmp_path):
    assert classroom.package_leaks(CHAPTERS) == []
    fake = tmp_path / "pkg"
    fake.mkdir()
    (fake / "ch06.py").write_text("def _reference_compose(theta1, theta2):\n"
                                  "    a1, t1 = theta1[:, :, :2], theta1[:, :, 2:]\n"
                                  "    a2, t2 = theta2[:, :, :2], theta2[:, :, 2:]\n", encoding="utf-8")
    found = classroom.package_leaks([ROOT / "book" / "06_spatial_transformer.ipynb"], fake)
    assert found == [f"{fake / 'ch06.py'}: defines '_reference_compose'",
                     f"{fake / 'ch06.py'}: holds the solution of 06_spatial_transformer's exercise 'ex-st-compose-theta'"]
    student = tmp_path / "student"
    assert classroom.main(["student", *map(str, CHAPTERS), "--out", str(student)]) == 0
    assert classroom.main(["audit", *map(str, CHAPTERS), "--student", str(student)]) == 0
    leaky = nbformat.read(student / CHAPTERS[0].name, as_version=4)
    leaky.cells.append(nbformat.v4.new_code_cell(classroom.read_chapter(CHAPTERS[0]).nb.cells[
        next(iter(classroom.read_chapter(CHAPTERS[0]).exercises.values())).solutions[0]].source))
    nbformat.write(leaky, student / CHAPTERS[0].name)
    found = classroom.student_notebook_leaks(CHAPTERS, student)
    assert found and all(line.startswith(str(student / CHAPTERS[0].name)) for line in found)
