"""The book's Sphinx extensions, without a build: the execution cache follows results/, figures
are numbered per chapter."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import stn_book_assets  # noqa: E402
import stn_book_reading  # noqa: E402


class FakeEnv:
    """The parts of Sphinx's BuildEnvironment the handler reads: found_docs, doc2path, mystnb_config."""

    def __init__(self, cache: Path):
        self.found_docs = {"book/intro", "book/09_mnist_benchmark", "book/11_several_transformers"}
        self.mystnb_config = SimpleNamespace(execution_cache_path=str(cache))

    def doc2path(self, docname: str) -> str:
        return f"/repo/{docname}{'.md' if docname == 'book/intro' else '.ipynb'}"


@pytest.fixture
def results(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "results"
    (folder / "addition").mkdir(parents=True)
    (folder / "addition" / "cnn_efficient_seed0.json").write_text('{"test_error": 68.03}')
    monkeypatch.setattr(stn_book_assets, "RESULTS_DIR", folder)
    return folder


def _outdated(env) -> list[str]:
    return stn_book_assets._rerun_after_new_records(None, env, set(), set(), set())


def test_new_records_empty_the_cache_and_rerun_every_notebook(results, tmp_path):
    cache = tmp_path / "_build" / ".jupyter_cache"
    (cache / "executed").mkdir(parents=True)
    env = FakeEnv(cache)
    assert _outdated(env) == []  # the first build reads everything anyway
    assert _outdated(env) == [] and cache.exists()  # nothing changed
    (results / "addition" / "cnn_efficient_seed0.json").write_text('{"test_error": 21.5}')
    assert _outdated(env) == ["book/09_mnist_benchmark", "book/11_several_transformers"]
    assert not cache.exists()
    assert _outdated(env) == []  # the new digest is remembered


def test_the_digest_sees_names_and_bytes_of_every_file(results):
    before = stn_book_assets.results_digest()
    (results / "addition" / "weights").mkdir()
    (results / "addition" / "weights" / "st.pt").write_bytes(b"\x00\x01")
    added = stn_book_assets.results_digest()
    (results / "addition" / "weights" / "st.pt").rename(results / "addition" / "weights" / "st2.pt")
    renamed = stn_book_assets.results_digest()
    assert len({before, added, renamed}) == 3
    assert stn_book_assets.results_digest(results / "missing") == ""


# -- scripts/stn_book_reading.py: numbers per chapter, and an honest run time -----------------

def test_figures_and_exercises_are_numbered_within_their_chapter():
    # what Sphinx assigns when no toctree is numbered: one count across the whole book
    sphinx = {"book/01_invariance": {"figure": {"fig-a": (1,), "fig-b": (2,)}, "exercise": {"ex-a": (1,)}},
              "book/09_mnist_benchmark": {"figure": {"fig-late": (73,), "fig-early": (72,)},
                                          "exercise": {"ex-b": (31,), "ex-c": (32,)}, "table": {"tab": (4,)}},
              "book/instructor_guide": {"figure": {"fig-guide": (80,)}}}
    chapters = {"book/01_invariance": 1, "book/09_mnist_benchmark": 9}
    got = stn_book_reading.number_per_chapter(sphinx, chapters)
    assert got["book/09_mnist_benchmark"] == {"figure": {"fig-early": (9, 1), "fig-late": (9, 2)},
                                              "exercise": {"ex-b": (9, 1), "ex-c": (9, 2)}, "table": {"tab": (9, 1)}}
    assert got["book/01_invariance"]["figure"] == {"fig-a": (1, 1), "fig-b": (1, 2)}
    assert got["book/instructor_guide"] == {"figure": {"fig-guide": (1,)}}  # no chapter: counted on its own page


@pytest.mark.parametrize("title, number", [("9. The MNIST benchmark", 9), ("10. SVHN: reading house numbers", 10),
                                           ("Prerequisites and notation", None), ("2015 in review", None)])
def test_a_chapter_is_a_page_whose_title_starts_with_its_number(title, number):
    assert stn_book_reading.chapter_number(title) == number
