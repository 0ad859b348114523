"""The book's Sphinx extensions, without a build: the execution cache follows results/, figures
are numbered per chapter, a chapter's run time says how busy the build machine was."""

from __future__ import annotations

import json
import subprocess
import sys
import time
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


def test_the_run_time_says_how_busy_the_build_machine_was():
    idle = stn_book_reading.Run(wall_s=26.4, cpu_s=25.1, load=1.2, cores=2)
    busy = stn_book_reading.Run(wall_s=488.0, cpu_s=26.2, load=3.9, cores=2)
    assert stn_book_reading.run_phrase(26.4, idle) == ("running all its cells took 26 s in quick mode when this page "
                                                       "was built, on a 2-core machine that had a core to spare")
    phrase = stn_book_reading.run_phrase(488.0, busy)
    assert phrase.startswith("running all its cells in quick mode took 26 s of processor time")
    assert "busy with other work" in phrase and "the clock showed 488 s" in phrase
    assert "not recorded" in stn_book_reading.run_phrase(488.0, None)


def test_a_recorded_run_belongs_to_one_execution(tmp_path):
    app = SimpleNamespace(env=SimpleNamespace(mystnb_config=SimpleNamespace(execution_cache_path=str(tmp_path))))
    folder = stn_book_reading._runs_dir(app)
    folder.mkdir()
    (folder / "book__09_mnist_benchmark.json").write_text(
        '{"wall_s": 44.05, "cpu_s": 40.2, "load": 0.8, "cores": 2}')
    assert stn_book_reading._recorded_run(app, "book/09_mnist_benchmark", 44.05).cpu_s == 40.2
    assert stn_book_reading._recorded_run(app, "book/09_mnist_benchmark", 51.0) is None  # executed again since
    assert stn_book_reading._recorded_run(app, "book/10_svhn", 74.1) is None


def test_the_kernels_processor_time_is_measured(tmp_path, monkeypatch):
    """Between source-read and doctree-read the build runs the notebook in a kernel, a child
    process; its processor time is what the record keeps, not the build's own."""
    app = SimpleNamespace(env=SimpleNamespace(docname="book/03_grid_generator",
                                              mystnb_config=SimpleNamespace(execution_cache_path=str(tmp_path))))
    stn_book_reading._before_reading(app, "book/03_grid_generator", [""])
    subprocess.run([sys.executable, "-c", "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.5: pass"],
                   check=True)
    monkeypatch.setattr(stn_book_reading, "_exec_data", lambda app, docname: {"runtime": 0.9, "mtime": time.time()})
    stn_book_reading._record_run(app, None)
    run = stn_book_reading._recorded_run(app, "book/03_grid_generator", 0.9)
    assert run is not None and 0.45 <= run.cpu_s < 5 and run.cores >= 1 and run.load >= 0


def test_outputs_from_the_cache_are_not_timed_again(tmp_path, monkeypatch):
    app = SimpleNamespace(env=SimpleNamespace(docname="book/04_sampler",
                                              mystnb_config=SimpleNamespace(execution_cache_path=str(tmp_path))))
    monkeypatch.setattr(stn_book_reading, "_exec_data", lambda app, docname: {"runtime": 13.0, "mtime": time.time() - 3600})
    stn_book_reading._before_reading(app, "book/04_sampler", [""])
    stn_book_reading._record_run(app, None)
    assert not (tmp_path / "stn_runs").exists()


def test_a_change_to_the_books_css_or_scripts_rewrites_every_page(tmp_path):
    """The digest is an "html" config value: Sphinx rewrites every page when it changes."""
    (tmp_path / "stn_book.css").write_text("table { max-width: 100%; }")
    before = stn_book_reading.static_digest(tmp_path)
    (tmp_path / "stn_tables.js").write_text("// new")
    added = stn_book_reading.static_digest(tmp_path)
    (tmp_path / "stn_book.css").write_text("table { max-width: 90%; }")
    assert len({before, added, stn_book_reading.static_digest(tmp_path)}) == 3
    assert stn_book_reading.static_digest() == stn_book_reading.static_digest(stn_book_reading.STATIC)
