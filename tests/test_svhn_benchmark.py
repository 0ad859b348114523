"""``python -m stn_course.benchmark table2``: records, labels, skipping finished runs, the data check."""

from __future__ import annotations

import json

import pytest

from stn_course import benchmark
from stn_course.svhn import table2

ARGS = ["table2", "--synthetic", "--arch", "small", "--schedule", "quick", "--steps", "3",
        "--n-synthetic", "64", "32", "32", "--sizes", "64px", "--scale", "0.5", "--no-progress", "--threads", "1"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("table2")
    assert benchmark.main([*ARGS, "--models", "cnn", "st-multi", "--out", str(out)]) == 0
    return out


def test_records_are_labelled_synthetic_with_provenance(tiny_run):
    records = sorted(tiny_run.glob("*.json"))
    assert [p.name for p in records] == ["synthetic_cnn_64pxx0.5_small_quick3_seed0.json",
                                         "synthetic_st-multi_64pxx0.5_small_quick3_seed0.json"]
    for path in records:
        r = json.loads(path.read_text())
        assert r["table"] == "table2" and r["synthetic"] is True and r["source"] == "synthetic"
        assert "not SVHN" in r["data"]
        assert r["steps"] == 3 and len(r["curves"]["loss"]) == 3
        assert (r["image_pixels"], r["crop_pixels"], r["n_train"], r["n_test"]) == (32, 27, 64, 32)
        assert 0 <= r["test_error"] <= 100 and 0 <= r["test_position_error"] <= 100
        for key in ("command", "git_commit", "device_name", "torch_version", "finished_at", "seed"):
            assert key in r
        assert r["command"].startswith("python -m stn_course.benchmark table2 --synthetic")
    assert not list((tiny_run / "checkpoints").glob("*.pt"))   # removed once a run is finished


def test_table_marks_the_source(tiny_run):
    md = (tiny_run / "table2.md").read_text()
    ours, paper = md.split("## The paper's Table 2")
    assert "## synthetic stand-in, NOT SVHN: `small` architecture, schedule `quick3`" in ours
    assert "| CNN |" in ours and "| ST-CNN Multi |" in ours
    assert "ST-CNN Single" not in ours   # not run: no row
    assert "| ST-CNN Multi | 3.60 | 3.90 |" in paper and "| Maxout CNN | 4.00 | — |" in paper
    csv = (tiny_run / "table2.csv").read_text().splitlines()
    assert csv[0].startswith("source,model,size,arch,schedule") and len(csv) == 3
    assert all(line.startswith("synthetic,") for line in csv[1:])


def test_finished_runs_are_skipped(tiny_run, monkeypatch):
    before = {p.name: p.read_text() for p in tiny_run.glob("*.json")}
    monkeypatch.setattr(table2.training, "fit", lambda *a, **k: pytest.fail("retrained a finished run"))
    assert benchmark.main([*ARGS, "--models", "cnn", "--out", str(tiny_run)]) == 0
    assert {p.name: p.read_text() for p in tiny_run.glob("*.json")} == before


def test_without_prepared_svhn_it_refuses_and_names_synthetic(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("STN_COURSE_DATA", str(tmp_path))
    assert benchmark.main(["table2", "--out", str(tmp_path / "out"), "--no-progress"]) == 2
    out = capsys.readouterr().out
    assert "no prepared SVHN" in out and "--synthetic" in out and "prepare_svhn.py" in out
    assert not (tmp_path / "out").exists()


def test_prepared_svhn_is_used_and_labelled_as_such(tmp_path, monkeypatch, capsys):
    """The real-data path, on an archive in SVHN's format (synthetic photos) prepared like SVHN."""
    from stn_course import svhn

    root = tmp_path / "SVHN"
    for split, n in (("train", 40), ("test", 16)):
        svhn.write_synthetic_archive(root / "raw", split, n=n, seed=1)
    svhn.prepare(root, splits=["train", "test"], sizes=[64])
    monkeypatch.setenv("STN_COURSE_DATA", str(tmp_path))
    out = tmp_path / "out"
    assert benchmark.main(["table2", "--sizes", "64px", "--models", "cnn", "--arch", "small", "--schedule", "quick",
                           "--steps", "2", "--scale", "0.5", "--out", str(out), "--no-progress"]) == 0
    assert "data: SVHN, prepared at" in capsys.readouterr().out
    r = json.loads((out / "svhn_cnn_64pxx0.5_small_quick2_seed0.json").read_text())
    assert r["source"] == "svhn" and r["synthetic"] is False
    assert (r["n_train"], r["n_val"], r["n_test"]) == (36, 4, 16)
    assert "## SVHN: `small` architecture" in (out / "table2.md").read_text()
