"""The book's Sphinx extensions, without a build: the execution cache follows results/."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import stn_book_assets  # noqa: E402


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
