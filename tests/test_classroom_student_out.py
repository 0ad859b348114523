"""`classroom student` never writes over reference solutions, nor over a learner's work without --force."""

import shutil
from pathlib import Path

import nbformat

from stn_course.classroom.cli import main

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = ROOT / "book" / "02_coordinates.ipynb"


def test_out_book_is_refused_and_the_reference_survives(tmp_path, capsys):
    book = tmp_path / "book"
    book.mkdir()
    shutil.copy(CHAPTER, book)
    before = (book / CHAPTER.name).read_bytes()
    assert main(["student", str(book / CHAPTER.name), "--out", str(book)]) == 2
    assert "--out" in capsys.readouterr().err
    assert (book / CHAPTER.name).read_bytes() == before


def test_a_learners_work_needs_force(tmp_path, capsys):
    out = tmp_path / "student"
    assert main(["student", str(CHAPTER), "--out", str(out)]) == 0
    assert main(["student", str(CHAPTER), "--out", str(out)]) == 0  # unchanged: may be rewritten
    nb = nbformat.read(out / CHAPTER.name, as_version=4)
    nb.cells[-1].source += "\nmy notes"
    nbformat.write(nb, out / CHAPTER.name)
    assert main(["student", str(CHAPTER), "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    assert "my notes" in (out / CHAPTER.name).read_text()
    assert main(["student", str(CHAPTER), "--out", str(out), "--force"]) == 0
    assert "my notes" not in (out / CHAPTER.name).read_text()
