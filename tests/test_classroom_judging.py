"""Judging answers as a careful examiner would (issue 24): finite values, types and shapes before values."""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import nbformat
import pytest
import torch

from stn_course import classroom
from stn_course.classroom import Hidden
from stn_course.classroom.assignments import Submission
from stn_course.classroom.grading import grade_class
from stn_course.classroom.reports import Score, read_csv, write_csv, write_feedback
from stn_course.classroom.trusted import judge, load_references
from stn_course.exercises import Case, compare_plain


def _hidden() -> Hidden:
    return Hidden("f", lambda x: x, lambda g: [])


@pytest.mark.parametrize("bad", [float("nan"), math.inf, -math.inf, torch.tensor(float("nan"))])
def test_a_non_finite_number_never_matches_a_finite_answer(bad):
    problem = compare_plain(bad, 0.5)
    assert problem is not None and "finite" in problem
    verdict = judge(_hidden(), [Case("one")], [0.5], [("ok", bad)])
    assert not verdict.passed and "expected a finite number" in verdict.feedback


def test_a_tensor_with_nan_or_inf_never_matches_finite_values():
    want = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    for bad in (float("nan"), math.inf):
        got = want.clone()
        got[1, 0] = bad
        assert compare_plain(got, want).startswith("expected finite values, got ")
        assert "(1, 0)" in compare_plain(got, want)
    assert compare_plain(torch.tensor([float("nan")]), torch.tensor([float("nan")])) is None  # NaN where NaN is due


def test_types_are_checked_before_values():
    assert compare_plain(True, 1.0) == "expected a number, got True"
    assert compare_plain(4.0, 4) == "expected an int, got 4.0"
    assert compare_plain(True, 1) == "expected an int, got True"
    assert compare_plain(1, True).startswith("expected a bool")
    assert compare_plain(torch.tensor([True, False]), torch.tensor([1.0, 0.0])).startswith("expected a tensor of dtype")
    assert compare_plain(torch.zeros(2, 3), torch.zeros(3, 2)) == "expected shape (3, 2), got (2, 3)"
    assert compare_plain(0.5, 0.5) is None and compare_plain(3, 3) is None
    assert compare_plain(torch.tensor(0.25), 0.25) is None


FIXTURE_DIR = Path(__file__).resolve().parent / "classroom_fixture"
CHAPTER = "00_fixture"


def _setup() -> classroom.Setup:
    chapter = classroom.read_chapter(FIXTURE_DIR / f"{CHAPTER}.ipynb")
    return classroom.Setup({CHAPTER: chapter}, load_references(FIXTURE_DIR / "instructor"))


@pytest.mark.parametrize("text", [
    '{"cells": [{"cell_type": "code", "source": 5, "metadata": {}, "outputs": [], "execution_count": null}], '
    '"metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
    '{"cells": 5, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
    '[1, 2]'])
def test_a_malformed_notebook_is_rejected_in_its_own_rows_only(tmp_path, text):
    bad = tmp_path / "bad" / f"{CHAPTER}.ipynb"
    bad.parent.mkdir()
    bad.write_text(text, encoding="utf-8")
    subs = [Submission("bad", CHAPTER, bad), Submission("gone", CHAPTER, None)]
    rows = grade_class(subs, _setup())
    assert [r.student for r in rows] == ["bad", "bad", "gone", "gone"]
    assert all(r.points == 0 and r.feedback.startswith("could not read the notebook: ") for r in rows[:2])
    assert all(r.feedback == "no submission" for r in rows[2:])


def _score(student: str, feedback: str = "ok", **kw) -> Score:
    return Score(student, CHAPTER, kw.pop("exercise", "ex-a"), 1.0, 2.0, feedback, **kw)


def test_feedback_files_never_collide(tmp_path):
    students = ["a b", "a_b", "a/b", "Ann", "ann", "..", "a_b-" + "0" * 8]
    written = write_feedback([_score(s, f"for {s}") for s in students], tmp_path)
    assert len(written) == len(students) == len({p.name.lower() for p in written})
    assert {p.parent for p in written} == {tmp_path}
    for student, path in zip(students, written):
        assert path.read_text(encoding="utf-8").startswith(f"# Feedback for {student}\n")
    assert (tmp_path / "a_b.md").is_file() and (tmp_path / "Ann.md").is_file()  # plain ids keep their names


def test_csv_cells_that_could_be_formulas_are_escaped(tmp_path):
    attacks = ['=HYPERLINK("http://x","y")', "+1+2", "-3", "@SUM(A1)", "\tx", "\rx", "'=already"]
    scores = [_score(a, feedback=a, notes=a, exercise=f"ex-{i}") for i, a in enumerate(attacks)]
    path = tmp_path / "grades.csv"
    write_csv(scores, path)
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))[1:]
    for row in rows:
        for i in (0, 5, 6):
            assert row[i].startswith("'"), row
    assert [r[3] for r in rows] == ["1"] * len(attacks)
    assert read_csv(path) == scores  # merging shards reads the exact values back


def test_links_are_refused_not_graded_as_the_learners_work(tmp_path):
    own = tmp_path / "subs" / "correct" / f"{CHAPTER}.ipynb"
    own.parent.mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(), own)
    (tmp_path / "subs" / "follower").symlink_to(own.parent)           # a folder that is a symbolic link
    (tmp_path / "subs" / "filelink").mkdir()
    (tmp_path / "subs" / "filelink" / f"{CHAPTER}.ipynb").symlink_to(own)  # a file that is one
    (tmp_path / "subs" / "hard").mkdir()
    os.link(own, tmp_path / "subs" / "hard" / f"{CHAPTER}.ipynb")     # a hard-linked copy
    subs = classroom.find_submissions(tmp_path / "subs", ["follower", "filelink", "hard"], [CHAPTER])
    rows = grade_class(subs, _setup())
    assert [r.student for r in rows] == ["follower", "follower", "filelink", "filelink", "hard", "hard"]
    assert all(r.points == 0 and r.feedback.startswith("refused: ") for r in rows), [r.feedback for r in rows]
    assert "symbolic link" in rows[0].feedback and "hard link" in rows[4].feedback


@pytest.mark.parametrize("want, got", [(0.123456, 0.5), (6, 5), ("secret", "guess"),
                                       (torch.tensor([0.123456, 2.0]), torch.tensor([0.5, 2.0])),
                                       ([1.0, {"k": 0.123456}], [1.0, {"k": 0.5}])])
def test_feedback_never_shows_a_hidden_expected_value(want, got):
    case = Case("a 3×4 image at (x, y) = (1.250, 2.500)")
    verdict = judge(_hidden(), [case], [want], [("ok", got)])
    assert not verdict.passed and verdict.feedback.startswith("hidden case 1/1 (a 3×4 image")
    for secret in ("0.123456", "0.123", "6", "secret", "0.623", "0.376"):
        assert secret not in verdict.feedback.replace("1/1", ""), verdict.feedback
    assert "got" in verdict.feedback
    fixed = judge(_hidden(), [case], [want], [("ok", got)], show_inputs=False)
    assert fixed.feedback.startswith("hidden case 1/1: ") and "1.250" not in fixed.feedback


def test_a_fixed_seed_hides_the_inputs_in_feedback(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setattr(classroom.cli, "grade_class", lambda subs, setup, jobs: seen.setdefault("setup", setup) and [])
    root = Path(__file__).resolve().parent / "classroom_fixture"
    args = ["grade", "--submissions", str(tmp_path), "--chapter", CHAPTER, "--source", str(root),
            "--references", str(root / "instructor"), "--out", str(tmp_path / "g.csv"), "--no-sandbox"]
    assert classroom.main([*args, "--seed", "7"]) == 0
    assert seen.pop("setup").show_inputs is False
    assert classroom.main(args) == 0
    assert seen["setup"].show_inputs is True


def test_errors_in_ordinary_cells_are_reported():
    from stn_course.classroom.grading import _cell_note
    from stn_course.classroom.kernel import CellResult

    setup = _setup()
    note = _cell_note(1, CellResult("error", "ModuleNotFoundError", "No module named 'stn_course'"), setup)
    assert note == "code cell 1 raised ModuleNotFoundError: No module named 'stn_course'"
    assert _cell_note(2, CellResult("error", "NotImplementedError", "stub"), setup) == ""
    assert _cell_note(3, CellResult("ok"), setup) == ""


def test_results_too_big_to_compare_are_refused_cheaply(tmp_path):
    import time

    from stn_course.classroom.trusted import read_outputs

    shared: list = [1.0]
    for _ in range(60):  # 60 levels of one list held twice: 2**60 items to walk
        shared = [shared, shared]
    wide: list = [0.5]
    for _ in range(25):
        wide = [wide] * 8
    huge = torch.zeros(1).expand(2**31)  # 8 bytes of storage, 2**31 elements
    for i, bad in enumerate([[("ok", huge)], [("ok", shared)], [("ok", wide)]]):
        path = tmp_path / f"r{i}.pt"
        torch.save(bad, path)
        assert path.stat().st_size < 100_000
        t0 = time.monotonic()
        got = read_outputs(path)
        verdict = judge(_hidden(), [Case("one")], [0.5], got)
        assert time.monotonic() - t0 < 5
        assert not verdict.passed and "was refused unread" in verdict.feedback, verdict.feedback
    fine = tmp_path / "fine.pt"
    torch.save([("ok", [torch.zeros(3), {"a": 1.0}])], fine)
    (status, (tensor, plain)), = read_outputs(fine)
    assert status == "ok" and torch.equal(tensor, torch.zeros(3)) and plain == {"a": 1.0}


def _delegations():
    """A learner's `crop_window` that hands the work to the package's own, four ways (issue 24, finding 2)."""
    import functools

    from stn_course.svhn import crops

    def wrapper(*args, **kwargs):  # a def of their own that calls the package
        return crops.crop_window(*args, **kwargs)

    renamed = functools.partial(crops.crop_window)
    disguised = functools.wraps(crops.crop_window)(lambda *a, **k: crops.crop_window(*a, **k))
    disguised.__module__ = "__main__"
    return {"def": wrapper, "lambda": lambda *a, **k: crops.crop_window(*a, **k), "partial": renamed,
            "__module__": disguised}


@pytest.mark.parametrize("how", ["def", "lambda", "partial", "__module__"])
def test_a_function_that_delegates_to_the_package_scores_nothing(how, tmp_path):
    from stn_course.classroom.trusted import draw, harness, read_outputs, write_inputs

    root = Path(__file__).resolve().parents[1]
    window = load_references(root / "instructor")["10_svhn"]["ex-svhn-crop-window"]
    cases, expected = draw(window, 1)
    inputs, outputs = tmp_path / "in.pt", tmp_path / "out.pt"
    write_inputs(cases, inputs)
    exec(harness(window, inputs, outputs), {"crop_window": _delegations()[how], "__name__": "__main__"})
    verdict = judge(window, cases, expected, read_outputs(outputs))
    assert not verdict.passed, verdict.feedback
    assert "stn_course.svhn.crops.crop_window" in verdict.feedback and "not your own code" in verdict.feedback
    exec(harness(window, inputs, outputs), {"crop_window": window.reference, "__name__": "__main__"})
    assert judge(window, cases, expected, read_outputs(outputs)).passed  # the instructor's own passes


def test_the_supervisor_kills_the_whole_tree_at_the_deadline_from_outside():
    """A wall clock no flood or restart can extend (finding 8): a thread of the grader kills every process."""
    import subprocess
    import sys
    import time

    import psutil

    from stn_course.classroom.supervisor import Supervisor

    code = ("import signal, subprocess, sys, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
            "kids = [subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']) for _ in range(3)]\n"
            "print(' '.join(str(k.pid) for k in kids), flush=True)\ntime.sleep(120)\n")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    kids = [int(pid) for pid in parent.stdout.readline().split()]
    supervisor = Supervisor(time.monotonic() + 1.0, None, None)
    supervisor.watch(parent.pid)
    try:
        assert parent.wait(timeout=60) != 0
        assert supervisor.reason == "wall clock"
        for pid in kids:
            assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    finally:
        supervisor.close()
        supervisor.kill()


def test_the_supervisor_sums_memory_over_the_process_tree():
    """Memory for the submission as a whole (finding 9): three children of 150 MB pass 300 MB together."""
    import subprocess
    import sys
    import time

    from stn_course.classroom.supervisor import Supervisor

    code = ("import subprocess, sys, time\n"
            "kids = [subprocess.Popen([sys.executable, '-c', \"b = b'x' * (150 * 2**20); import time; "
            "time.sleep(120)\"]) for _ in range(3)]\ntime.sleep(120)\n")
    parent = subprocess.Popen([sys.executable, "-c", code])
    supervisor = Supervisor(None, 300 * 2**20, None)
    supervisor.watch(parent.pid)
    try:
        assert parent.wait(timeout=90) != 0
        assert supervisor.reason.startswith("memory")
    finally:
        supervisor.close()
        supervisor.kill()


def test_limits_name_the_argument_they_refuse():
    from stn_course.classroom.sandbox import Limits

    with pytest.raises(ValueError, match=r"tmp_size: expected a positive whole number of bytes, got -1"):
        Limits(tmp_size=-1)
    with pytest.raises(ValueError, match=r"processes: expected a positive whole number or None, got 0"):
        Limits(processes=0)


# ------------------------------------------------------- functional equivalents (issue 24, audit)

def test_audit_finds_package_functions_by_what_they_compute():
    """`audit --references` reports functional equivalents, not only copied lines: chapter 2's
    `to_norm` is what `geometry.pixel_to_norm` computes, though no line of one is in the other."""
    from stn_course.classroom.equivalents import functional_equivalents

    root = Path(__file__).resolve().parents[1]
    refs = load_references(root / "instructor")
    found = {(e.label, e.function): e.allowed for e in functional_equivalents({"02_coordinates": refs["02_coordinates"]})}
    assert found[("ex-coords-to-norm", "stn_course.geometry.pixel_to_norm")] is False
    assert ("ex-coords-to-norm", "stn_course.geometry.norm_to_pixel") not in found  # the inverse is no answer


def test_an_allowed_module_that_holds_the_answer_is_a_hole_the_audit_reports(tmp_path):
    """Chapter 7 allowed all of `stn_course.grid` for `homography_grid`, which holds
    `projective_grid`: calling it scored full marks. Allowing the one function closes it."""
    from dataclasses import replace

    from stn_course.classroom.equivalents import functional_equivalents
    from stn_course.classroom.trusted import draw, harness, read_outputs, write_inputs
    from stn_course import grid

    root = Path(__file__).resolve().parents[1]
    now = load_references(root / "instructor")["07_beyond_affine"]["ex-beyond-homography-grid"]
    before = replace(now, allow=("stn_course.grid",))
    equivalents = {e.function: e.allowed for e in functional_equivalents({"07_beyond_affine": {"h": before}})}
    assert equivalents["stn_course.grid.projective_grid"] is True
    equivalents = {e.function: e.allowed for e in functional_equivalents({"07_beyond_affine": {"h": now}})}
    assert equivalents["stn_course.grid.projective_grid"] is False

    def graded(hidden, fn, name):
        tmp = tmp_path / name
        tmp.mkdir()
        cases, expected = draw(hidden, 3)
        write_inputs(cases, tmp / "in.pt")
        exec(harness(hidden, tmp / "in.pt", tmp / "out.pt"), {"homography_grid": fn, "__name__": "__main__"})
        return judge(hidden, cases, expected, read_outputs(tmp / "out.pt"))

    delegate = lambda h, size: grid.projective_grid(h, size)  # noqa: E731
    assert graded(before, delegate, "before").passed  # the hole
    verdict = graded(now, delegate, "now")
    assert not verdict.passed and "stn_course.grid.projective_grid" in verdict.feedback
    assert graded(now, now.reference, "reference").passed  # the reference builds on regular_grid
