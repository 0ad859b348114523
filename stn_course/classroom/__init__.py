"""Teaching a class from the book: student notebooks, automatic grading, the exercise list.

Exercises are written once, inside the chapters, in one format (see the team brief): an
``{exercise}`` markdown cell, a solution code cell tagged ``exercise-solution`` whose body sits
between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (wrapped in ``{solution-start}`` /
``{solution-end}`` markdown cells for sphinx-exercise), and a check cell tagged
``exercise-check`` whose nbgrader metadata carries its ``points``. Everything here works on
that format, so ``nbgrader generate_assignment`` and this package produce the same stubs.

Command line (``python -m stn_course.classroom <command> --help`` for the options)::

    student   book/04_sampler.ipynb ... --out student/     # notebooks for learners
    grade     --roster r.csv --submissions subs/ --chapter 04_sampler --out grades/grades.csv
    merge     grades/part*.csv --out grades/grades.csv     # the CSVs of grading shards
    audit     book/*.ipynb --student student/               # no reference solution where learners look
    exercises book/*.ipynb                                  # the exercise list (Markdown)
    verify    book/04_sampler.ipynb                         # stubs fail, reference passes
    student-book [jupyter-book options]                     # the book without solutions

Grading runs each submission in a bubblewrap sandbox and judges the learner's functions on
hidden inputs against the instructor's reference solutions (``instructor/`` in the course
repository, outside this package), in the grader's own process.

Loaded as a Sphinx extension (``stn_course.classroom``), the package removes every solution
from the rendered book: that is how ``student-book`` builds the student edition.

An exercise may carry optional metadata ``{"stn_course": {"hint": ..., "goal": ...,
"minutes": ...}}`` on its solution (or exercise) cell; without it the hint comes from a
"Hint:" paragraph of the exercise text, the goal from the text's first sentence and the time
is estimated from the length of the reference solution.

One module per concern: ``markers`` (the format), ``chapters`` (reading it), ``student`` (stubs),
``audit`` (no solution in what learners get), ``assignments`` (roster, chapters, submissions),
``sandbox`` (bubblewrap and limits), ``kernel`` (cells under limits), ``trusted`` (hidden
inputs, references, the comparison), ``grading``, ``reports`` (CSV, feedback files, shards),
``verification``, ``table`` (the exercise list), ``sphinx`` (the student edition) and ``cli``.
"""

from .audit import package_leaks, student_notebook_leaks
from .chapters import (Chapter, Directive, Exercise, chapter_paths, directives, has_exercises, is_check_cell,
                       is_hidden_cell, is_solution_cell, problems, read_chapter)
from .cli import main
from .assignments import Submission, check_chapters, find_submissions, read_manifest, read_roster, unlisted
from .grading import PRELOAD, Setup, grade_class, grade_submission
from .kernel import CellResult, Kernel, kernel_env, sandbox_env
from .reports import CSV_FIELDS, Score, merge_csv, read_csv, totals, write_csv, write_feedback
from .sandbox import Limits, Sandbox, Workspace, find_sandbox
from .trusted import Hidden, Verdict, load_references
from .sphinx import build_student_book, setup, student_book_config
from .markers import (BEGIN_HIDDEN, BEGIN_SOLUTION, CHECK_TAG, CODE_STUB_COMMENT, DEFAULT_HINT, END_HIDDEN,
                      END_SOLUTION, HIDDEN_TAG, SOLUTION_TAG, SOLUTION_TEXT_TAG, TEXT_STUB, remove_hidden_tests,
                      stub_source)
from .student import leaks, stub_message, student_notebook, write_student_notebooks
from .table import exercise_table
from .verification import Verification, cell_names, needed_cells, verify

__all__ = [
    # markers: the exercise format
    "SOLUTION_TAG", "SOLUTION_TEXT_TAG", "CHECK_TAG", "HIDDEN_TAG", "BEGIN_SOLUTION", "END_SOLUTION", "BEGIN_HIDDEN",
    "END_HIDDEN", "CODE_STUB_COMMENT", "TEXT_STUB", "DEFAULT_HINT",
    "Directive", "directives", "is_solution_cell", "is_hidden_cell", "is_check_cell", "Exercise",
    "Chapter", "read_chapter", "has_exercises", "chapter_paths", "problems",
    # student notebooks
    "stub_source", "remove_hidden_tests", "stub_message", "student_notebook", "leaks",
    "write_student_notebooks",
    # the class, the sandbox, the kernel, trusted checks, grading and its reports
    "Submission", "read_roster", "read_manifest", "check_chapters", "find_submissions", "unlisted",
    "Limits", "Sandbox", "Workspace", "find_sandbox", "CellResult", "kernel_env", "sandbox_env", "Kernel",
    "Hidden", "Verdict", "load_references", "PRELOAD", "Setup", "grade_submission", "grade_class",
    "Score", "CSV_FIELDS", "write_csv", "read_csv", "merge_csv", "write_feedback", "totals",
    "package_leaks", "student_notebook_leaks",
    # verification
    "Verification", "cell_names", "needed_cells", "verify",
    # the exercise list, the student edition (``setup``: the Sphinx extension), the command line
    "exercise_table", "setup", "student_book_config", "build_student_book", "main",
]
