"""A fake class for the fixture chapter: one learner per way a grader can be fooled or a notebook can fail.

``write_class(root)`` lays out what an instructor would have::

    root/course/book/00_fixture.ipynb        the instructor's chapter (a copy)
    root/course/instructor/fixture.py        its reference solutions (a copy)
    root/class/roster.csv                    the class list
    root/class/submissions/<learner>/...     what the learners handed in

The attackers look for their targets the way a learner could: in the folder their code runs
in and the two folders above it. ``EXPECTED`` is what the instructor expects each learner to
score, out of 5 (square: 2 points; mean: 2 visible + 1 hidden).
"""

from __future__ import annotations

import copy
import re
import shutil
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
CHAPTER = "00_fixture"
SQUARE, MEAN = "    return x * x", "    return sum(xs) / len(xs)"

FIND = '''import glob, json, os

def _find(pattern):
    """Files matching pattern in the working folder and the two folders above it."""
    hits, d = [], os.getcwd()
    for _ in range(3):
        if d != os.path.dirname(d):
            hits += glob.glob(os.path.join(d, "**", pattern), recursive=True)
        d = os.path.dirname(d)
    return sorted(set(hits))
'''

OVERWRITE_CLASSMATE = FIND + '''
for p in _find("00_fixture*.ipynb"):
    if os.sep + "correct" + os.sep in p:
        with open(p, "w") as f:
            f.write("{ not a notebook any more")
'''

EDIT_INSTRUCTOR = FIND + '''
for p in _find("*.ipynb"):
    if os.sep + "submissions" + os.sep in p:
        continue
    nb = json.load(open(p))
    for c in nb["cells"]:
        if c["metadata"].get("nbgrader", {}).get("grade"):
            c["source"] = "print('ok')"
    json.dump(nb, open(p, "w"))
for p in _find("fixture.py"):
    with open(p, "a") as f:
        f.write("\\nsquare = mean_of = lambda *a: 0\\n")
'''

COPY_CLASSMATE = FIND + '''
for p in _find("00_fixture.ipynb"):
    if os.sep + "correct" + os.sep in p:
        for c in json.load(open(p))["cells"]:
            if "exercise-solution" in c["metadata"].get("tags", []):
                exec("".join(c["source"]), globals())
'''

IMPORT_REFERENCE = FIND + '''
import sys
for p in _find("fixture.py"):  # the instructor's reference module
    sys.path.insert(0, os.path.dirname(p))
    from fixture import mean_of, square
for p in _find("00_fixture.ipynb"):  # or the instructor's chapter itself
    if os.sep + "submissions" + os.sep not in p:
        for c in json.load(open(p))["cells"]:
            if "exercise-solution" in c["metadata"].get("tags", []):
                exec("".join(c["source"]), globals())
'''

MONKEYPATCH = '''import stn_course.exercises as E

def _pass(*args, **kwargs):
    print("✓ all cases pass")

run_cases = E.run_cases = _pass
E.compare = lambda *args, **kwargs: None
'''

INPUT_TRANSFORMER = '''def _blank_checks(lines):
    text = "".join(lines)
    return [] if ("run_cases" in text or "assert" in text or "check" in text) else lines

get_ipython().input_transformers_cleanup.append(_blank_checks)
'''

EXIT = "import os\nos._exit(1)\n"
IGNORE_INTERRUPTS = ("import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                     "while True:\n    time.sleep(0.05)\n")
HUGE_OUTPUT = "for _ in range(200_000):\n    print('x' * 1000)\n"

# what the instructor expects each learner to score (out of 5)
EXPECTED = {
    "untouched": 0, "correct": 5, "partly": 2, "overwriter": 5, "editor": 0, "copier": 0,
    "renamer": 0, "stripper": 5, "patcher": 0, "transformer": 0, "importer": 0, "duplicator": 5,
    "missing": 0, "exiter": 3, "shouter": 5, "looper": 3,
}
# graded one after another, the attackers before their victims (as in the class)
ORDER = ["editor", "copier", "importer", "overwriter", "untouched", "correct", "partly", "renamer",
         "stripper", "patcher", "transformer", "duplicator", "exiter", "shouter", "looper"]


def _fill(nb, square: str | None, mean: str | None):
    """Replace the stubs' `raise NotImplementedError` by the given bodies."""
    for cell in nb.cells:
        for name, body in (("square", square), ("mean_of", mean)):
            if body is not None and f"def {name}(" in cell.source and "NotImplementedError" in cell.source:
                cell.source = re.sub(r"    # YOUR CODE HERE\n    raise NotImplementedError\(.*\)", body, cell.source)
    return nb


def _solution_cell(nb, name: str):
    return next(c for c in nb.cells if c.cell_type == "code" and f"def {name}(" in c.source)


def _insert_after_first_code_cell(nb, source: str):
    first = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    nb.cells.insert(first + 1, nbformat.v4.new_code_cell(source))
    return nb


def _checks(nb):
    return [c for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")]


def learners(student_nb) -> dict[str, list[tuple[str, nbformat.NotebookNode]]]:
    """Each learner's files: (path below their folder, notebook)."""
    def fresh():
        return copy.deepcopy(student_nb)

    name = f"{CHAPTER}.ipynb"
    out = {
        "untouched": [(name, fresh())],
        "correct": [(name, _fill(fresh(), SQUARE, MEAN))],
        "partly": [(name, _fill(fresh(), SQUARE, "    return sum(xs)"))],
        "overwriter": [(name, _insert_after_first_code_cell(_fill(fresh(), SQUARE, MEAN), OVERWRITE_CLASSMATE))],
        "editor": [(name, _insert_after_first_code_cell(fresh(), EDIT_INSTRUCTOR))],
        "patcher": [(name, _insert_after_first_code_cell(fresh(), MONKEYPATCH))],
        "transformer": [(name, _insert_after_first_code_cell(fresh(), INPUT_TRANSFORMER))],
        "shouter": [(name, _insert_after_first_code_cell(_fill(fresh(), SQUARE, MEAN), HUGE_OUTPUT))],
    }
    copier = fresh()
    _solution_cell(copier, "square").source = COPY_CLASSMATE
    _solution_cell(copier, "mean_of").source = "# copied above"
    out["copier"] = [(name, copier)]
    importer = fresh()
    _solution_cell(importer, "square").source = IMPORT_REFERENCE
    out["importer"] = [(name, importer)]
    renamer = fresh()  # an invisible character: an unknown chapter, so (before) its own checks counted
    renamer.metadata["stn_course"]["chapter"] = CHAPTER + "\u200b"
    for cell in _checks(renamer):
        cell.source, cell.metadata["nbgrader"]["points"] = "print('ok')", 100
    out["renamer"] = [(name, renamer)]
    stripper = _fill(fresh(), SQUARE, MEAN)  # e.g. a round trip through another editor
    stripper.metadata = nbformat.NotebookNode()
    for cell in stripper.cells:
        cell.metadata = nbformat.NotebookNode()
    out["stripper"] = [(name, stripper)]
    out["duplicator"] = [(name, _fill(fresh(), SQUARE, MEAN)),
                         (f"{CHAPTER} (1).ipynb", _fill(fresh(), SQUARE, "    return sum(xs)"))]
    exiter = _fill(fresh(), SQUARE, MEAN)
    _solution_cell(exiter, "square").source = EXIT + _solution_cell(exiter, "square").source
    out["exiter"] = [(name, exiter)]
    looper = _fill(fresh(), SQUARE, MEAN)
    _solution_cell(looper, "square").source = IGNORE_INTERRUPTS + _solution_cell(looper, "square").source
    out["looper"] = [(name, looper)]
    return out


def write_class(root: Path, student_nb, which=None, expected=None) -> dict[str, Path]:
    """Write the course copy, the roster and the submissions under ``root``; return the folders.

    ``which``/``expected``: another class (:func:`limit_learners`, :data:`EXPECTED_LIMITS`)."""
    which, expected = which or learners, expected or EXPECTED
    course, klass = root / "course", root / "class"
    (course / "book").mkdir(parents=True)
    (course / "instructor").mkdir()
    shutil.copy(HERE / f"{CHAPTER}.ipynb", course / "book")
    reference = HERE / "instructor" / "fixture.py"
    if reference.exists():
        shutil.copy(reference, course / "instructor")
    subs = klass / "submissions"
    for learner, files in which(student_nb).items():
        for rel, nb in files:
            (subs / learner).mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, subs / learner / rel)
    (klass / "roster.csv").write_text("id,name\n" + "".join(f"{n},{n.title()}\n" for n in expected),
                                      encoding="utf-8")
    return {"course": course, "book": course / "book", "instructor": course / "instructor", "class": klass,
            "submissions": subs, "roster": klass / "roster.csv"}


# The second red team's attacks on the limits and on the learner's own work (issue 24, findings 2, 8, 9, 11),
# graded beside an honest, a partial and an untouched learner.
DELEGATE = "    import math, stn_course.geometry as G\n    return G.degrees(x) * x * math.pi / 180"  # x·x, by the package
FLOOD = '''import time
_kernel = get_ipython().kernel
_end = time.monotonic() + 40
while time.monotonic() < _end:  # messages on the output channel that belong to no cell of ours
    _kernel.session.send(_kernel.iopub_socket, "stream", {"name": "stdout", "text": "x"},
                         parent={"header": {"msg_id": "elsewhere"}})
'''
SLOW_START = "import time\ntime.sleep(3)\n"
MEMORY_HOG = '''import subprocess, sys
_kids = [subprocess.Popen([sys.executable, "-c", "b = b'x' * (500 * 2**20); import time; time.sleep(40)"])
         for _ in range(4)]  # 2 GB together, 0.5 GB each: under the limit per process, over the class's 1.5 GiB in all
'''
WAIT = "import time\ntime.sleep(4)\n"
DISK_HOG = "for _i in range(10):\n    open(f'junk{_i}.bin', 'wb').write(b'x' * (60 * 2**20))\nimport time\ntime.sleep(2)\n"
TMP_HOG = "for _i in range(5):\n    open(f'/tmp/junk{_i}.bin', 'wb').write(b'x' * (60 * 2**20))\n"
FORK_BOMB = "import subprocess\n_kids = [subprocess.Popen(['sleep', '20']) for _ in range(300)]\nprint(len(_kids), 'children')\n"
SHADOW = "    raise ValueError(open('/etc/shadow').read())"

EXPECTED_LIMITS = {
    "correct": 5, "partly": 2, "untouched": 0, "delegator": 3, "flooder": 5, "restarter": 0,
    "memory_hog": 0, "disk_hog": 0, "tmp_hog": 5, "forker": 5, "shadow": 3,
}


def limit_learners(student_nb) -> dict[str, list[tuple[str, nbformat.NotebookNode]]]:
    """The learners of :data:`EXPECTED_LIMITS`: their files, as :func:`learners` gives them."""
    def fresh():
        return copy.deepcopy(student_nb)

    def solved():
        return _fill(fresh(), SQUARE, MEAN)

    name = f"{CHAPTER}.ipynb"
    restarter = solved()
    for _ in range(15):  # each kills the kernel: the cells before it are replayed, 3 s each time
        _insert_after_first_code_cell(restarter, EXIT)
    _insert_after_first_code_cell(restarter, SLOW_START)
    memory_hog = solved()
    for _ in range(6):  # the children take a while to fill their memory
        _insert_after_first_code_cell(memory_hog, WAIT)
    _insert_after_first_code_cell(memory_hog, MEMORY_HOG)
    return {
        "correct": [(name, solved())],
        "partly": [(name, _fill(fresh(), SQUARE, "    return sum(xs)"))],
        "untouched": [(name, fresh())],
        "delegator": [(name, _fill(fresh(), DELEGATE, MEAN))],
        "flooder": [(name, _insert_after_first_code_cell(solved(), FLOOD))],
        "restarter": [(name, restarter)],
        "memory_hog": [(name, memory_hog)],
        "disk_hog": [(name, _insert_after_first_code_cell(solved(), DISK_HOG))],
        "tmp_hog": [(name, _insert_after_first_code_cell(solved(), TMP_HOG))],
        "forker": [(name, _insert_after_first_code_cell(solved(), FORK_BOMB))],
        "shadow": [(name, _fill(fresh(), SHADOW, MEAN))],
    }
