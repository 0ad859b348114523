"""Student notebooks, verification and the exercise list (stn_course.classroom) on a fixture chapter.

Grading is tested in `tests/test_classroom_grading.py`.

The fixture `tests/classroom_fixture/00_fixture.ipynb` is a two-exercise chapter in the
course's exercise format (a check with a hidden-test region, a hidden test cell, a worked
example inside a solution wrapper), small enough that kernels dominate the cost.
"""

from __future__ import annotations

import asyncio
import html
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from stn_course import classroom

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_DIR = ROOT / "tests" / "classroom_fixture"
FIXTURE = FIXTURE_DIR / "00_fixture.ipynb"
SOLUTION_LINES = ("return x * x", "return sum(xs) / len(xs)")


@pytest.fixture(scope="module")
def chapter():
    return classroom.read_chapter(FIXTURE)


@pytest.fixture(scope="module")
def student(chapter):
    return classroom.student_notebook(chapter)


def test_fixture_follows_the_format(chapter):
    assert classroom.problems(chapter) == []
    assert list(chapter.exercises) == ["ex-fixture-square", "ex-fixture-mean"]
    square, mean = chapter.exercises.values()
    assert (square.title, square.points, len(square.checks), square.hidden) == ("Square a number", 2, 1, [])
    assert (mean.points, len(mean.checks), len(mean.hidden)) == (3, 1, 1)
    assert chapter.roles.count("inside") == 1  # the worked example inside the solution wrapper


def test_student_notebook_replaces_solutions_by_stubs_with_hints(chapter, student):
    text = "\n".join(c.source for c in student.cells)
    for line in SOLUTION_LINES:
        assert line not in text
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", "solution-start", "solution-end",
                   "a worked example inside the solution", "mean_of([2.0, 4.0])", "opposite numbers"):
        assert marker not in text, marker
    stubs = [c.source for c in student.cells if classroom.is_solution_cell(c)]
    assert stubs == [
        "def square(x):\n    # YOUR CODE HERE\n    raise NotImplementedError(\"Exercise 'Square a number': "
        "multiply `x` by itself.\")",
        "def mean_of(xs):\n    # YOUR CODE HERE\n    raise NotImplementedError(\"Exercise 'The mean of a "
        "list': add them up and divide by how many there are\")",
    ]
    # the exercise text and the visible checks stay; outputs are cleared; the chapter is recorded
    assert sum("{exercise}" in c.source for c in student.cells) == 2
    assert sum(classroom.is_check_cell(c) for c in student.cells) == 2
    assert all(c.outputs == [] and c.execution_count is None for c in student.cells if c.cell_type == "code")
    assert student.metadata["stn_course"] == {"chapter": "00_fixture", "edition": "student"}
    assert len(student.cells) == len(chapter.nb.cells) - 6  # 2×(start, end), inside, hidden
    for cell in student.cells:
        if cell.cell_type == "code":
            compile(cell.source, "<cell>", "exec")
    assert classroom.leaks(chapter, student) == []


def test_stub_source_follows_nbgrader_rules():
    src = "def f(x):\n    y = 1\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n\n" \
          "if True:\n        ### BEGIN SOLUTION\n        z = 2\n        ### END SOLUTION\nprint(1)"
    assert classroom.stub_source(src, "hint") == (
        "def f(x):\n    y = 1\n    # YOUR CODE HERE\n    raise NotImplementedError('hint')\n\n"
        "if True:\n        # YOUR CODE HERE\n        raise NotImplementedError('hint')\nprint(1)")
    assert classroom.stub_source("x = 1", "it's") == "# YOUR CODE HERE\nraise NotImplementedError(\"it's\")"
    for bad in ("### BEGIN SOLUTION\nx", "x\n### END SOLUTION",
                "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION"):
        with pytest.raises(ValueError, match="SOLUTION"):
            classroom.stub_source(bad, "h")


def test_student_notebook_drops_solution_blocks_and_reports_broken_format():
    md = nbformat.v4.new_markdown_cell
    code = nbformat.v4.new_code_cell
    nb = nbformat.v4.new_notebook(cells=[
        md("```{exercise} Add\n:label: ex-add\n\nWrite `add`.\n```\n\n```{solution} ex-add\n"
           "Use `a + b`.\n```"),
        code("def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION",
             metadata={"tags": ["exercise-solution"]}),
        code("x = 1  ### BEGIN SOLUTION"),
    ])
    chapter = classroom.read_chapter(nb)
    found = classroom.problems(chapter)
    assert any("nbgrader metadata lacks 'grade_id'" in p for p in found)
    assert any("no check cell" in p for p in found)
    assert any("solution markers in a cell that is not a solution cell" in p for p in found)
    nb.cells.pop()
    student = classroom.student_notebook(classroom.read_chapter(nb))
    assert student.cells[0].source == "```{exercise} Add\n:label: ex-add\n\nWrite `add`.\n```"
    assert "a + b" not in student.cells[1].source


def test_exercise_table_takes_goal_time_and_points_from_the_chapter():
    table = classroom.exercise_table([FIXTURE])
    lines = table.splitlines()
    assert lines[2] == ("| 0. A fixture chapter | Square a number (`ex-fixture-square`) | Write `square(x)` "
                        "that returns the square of a number | 2 | ≈ 10 min |")  # estimated: 1 line
    assert lines[3] == ("| 0. A fixture chapter | The mean of a list (`ex-fixture-mean`) | Turn a formula "
                        "into a function | 3 | 10 min |")  # from the cell's stn_course metadata
    assert lines[-1] == "Total working time ≈ 0.3 h."


def test_cli_writes_student_notebooks(tmp_path):
    assert classroom.main(["student", str(FIXTURE), "--out", str(tmp_path)]) == 0
    written = nbformat.read(tmp_path / FIXTURE.name, as_version=4)
    assert written == classroom.student_notebook(classroom.read_chapter(FIXTURE))


def test_needed_cells_follow_names_mutations_and_global_state():
    code, md = nbformat.v4.new_code_cell, nbformat.v4.new_markdown_cell
    nb = nbformat.v4.new_notebook(cells=[
        code("%matplotlib inline\nimport math\nimport random"),  # 0: binds random
        code("random.seed(0)"),                                  # 1: global state only
        code("table = [1, 2]\nbig = list(range(1000))"),         # 2: binds table
        code("table.append(3)"),                                 # 3: mutates table
        code("print(len(big), table)\nsquares = [b * b for b in big]"),  # 4: not needed
        code("def unrelated(table):\n    return table"),        # 5: `table` is its parameter
        code("random.seed(1)\nnoise = [random.random() for _ in big]"),  # 6: seeds, but does more
        md("```{exercise} Pick\n:label: ex-pick\n```"),
        code("def pick():\n    ### BEGIN SOLUTION\n    return random.choice(table)\n    ### END SOLUTION",
             metadata={"tags": ["exercise-solution"]}),
        code("assert pick() in (1, 2, 3)", metadata={"tags": ["exercise-check"]}),
        code("print(pick())"),                                   # after the last check
    ])
    assert classroom.needed_cells(classroom.read_chapter(nb)) == {0, 1, 2, 3, 8, 9}


def test_verify_runs_the_fixture_both_ways():
    report = classroom.verify(FIXTURE, cell_timeout=120, prune=True)
    assert report.errors == [] and report.notes == []
    assert report.cells_skipped == 0  # everything up to the last check is needed here
    assert report.stub_feedback["ex-fixture-square"] == (
        "square: not attempted yet — replace the `raise NotImplementedError` with your code. "
        "multiply x by itself")


def test_student_edition_build_removes_solutions_and_hidden_tests(tmp_path):
    shutil.copy(FIXTURE, tmp_path)
    (tmp_path / "_config.yml").write_text(
        "title: Fixture book\nexecute:\n  execute_notebooks: 'off'\nparse:\n  myst_enable_extensions: "
        "[colon_fence, dollarmath]\nsphinx:\n  extra_extensions: [sphinx_exercise]\n")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: index\nchapters:\n  - file: 00_fixture\n")
    (tmp_path / "index.md").write_text("# Fixture book\n")
    out = tmp_path / "_build" / "student"
    proc = subprocess.run([sys.executable, "-m", "stn_course.classroom", "student-book", "--root", str(tmp_path),
                           "--out", str(out), "--", "-W"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    page = (out / "_build" / "html" / "00_fixture.html").read_text(encoding="utf-8")
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    for gone in (*SOLUTION_LINES, "def square(x)", "a worked example", "HIDDEN TESTS", "mean_of([2.0, 4.0])",
                 "opposite numbers", "Solution to"):
        assert gone not in text, gone
    for kept in ("Fixture book — student edition", "Square a number", "Write square(x) that returns the square",
                 'run_cases("square", square', 'run_cases("mean_of", mean_of, [Case("three numbers"'):
        assert kept in text, kept


def test_student_book_config_is_the_book_config_plus_the_extension():
    book = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    student = classroom.student_book_config(ROOT)
    assert student["title"] == f"{book['title']} — student edition"
    assert student["sphinx"]["extra_extensions"] == [*book["sphinx"].get("extra_extensions", []),
                                                     "stn_course.classroom"]
    for name, rel in book["sphinx"].get("local_extensions", {}).items():
        assert Path(student["sphinx"]["local_extensions"][name]) == (ROOT / rel).resolve()
    if not book.get("execute", {}).get("cache"):
        assert student["execute"]["cache"] == str(ROOT / "_build" / ".jupyter_cache")

    def without(cfg, *keys):
        return {k: v for k, v in cfg.items() if k not in keys}

    assert without(student, "title", "sphinx", "execute") == without(book, "title", "sphinx", "execute")
    assert without(student["sphinx"], "extra_extensions", "local_extensions") == \
        without(book["sphinx"], "extra_extensions", "local_extensions")
    assert without(student["execute"], "cache") == without(book.get("execute", {}), "cache")


def test_instructor_guide_is_in_the_book():
    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    assert re.search(r"(?m)^\s*- file: book/instructor_guide\s*$", toc)
    guide = (ROOT / "book" / "instructor_guide.md").read_text(encoding="utf-8")
    assert guide.startswith("---\nfile_format: mystnb\n")  # executed at build: the table stays true
    assert "classroom.exercise_table(classroom.chapter_paths(Path.cwd()))" in guide


def test_cells_using_an_unfinished_exercise_skip_with_a_message(student):
    async def run(cells):
        async with classroom.Kernel(FIXTURE_DIR) as kernel:
            return [await kernel.run(c.source, 60) for c in cells if c.cell_type == "code"]

    last = asyncio.run(run(student.cells))[-1]
    assert last.ok and last.stdout.startswith("⏭ skipped: this cell uses `square`, `mean_of`, whose exercise is not "
                                              "finished yet")
    solved = classroom.read_chapter(FIXTURE).nb.cells
    assert asyncio.run(run(solved))[-1].stdout == "144 1.5\n"


def test_every_book_stub_carries_its_exercise_hint():
    for path in classroom.chapter_paths(ROOT / "book"):
        for ex in classroom.read_chapter(path).exercises.values():
            if ex.solutions:
                assert ex.hint != classroom.DEFAULT_HINT and len(ex.hint) > 30, (path.name, ex.label)
