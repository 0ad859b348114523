"""The benchmark command: a tiny --quick run writes valid records and tables, and resumes."""

import csv
import json

import pytest
import torch

from stn_course import benchmark


pytestmark = pytest.mark.usefixtures("one_thread")


REQUIRED = {"command", "git_commit", "device", "device_name", "torch_version", "seed", "schedule", "steps",
            "wall_time_s", "images_per_s", "val_error", "test_error", "model", "distortion", "params"}


def test_quick_table1_run_writes_valid_results(tmp_path, capsys):
    argv = ["table1", "--quick", "--models", "cnn", "ST-FCN Aff", "--distortions", "R", "--seeds", "1",
            "--device", "cpu", "--no-progress", "--out", str(tmp_path)]
    assert benchmark.main(argv) == 0
    files = sorted(tmp_path.glob("*.json"))
    assert [f.name for f in files] == ["cnn_R_quick_seed0.json", "st-fcn-aff_R_quick_seed0.json"]
    for f in files:
        record = json.loads(f.read_text())
        assert REQUIRED <= record.keys(), REQUIRED - record.keys()
        assert record["steps"] == benchmark.SCHEDULES["quick"].steps
        assert record["command"] == "python -m stn_course.benchmark " + " ".join(argv)
        assert 0 <= record["test_error"] <= 100 and 0 <= record["val_error"] <= 100
        assert record["images_per_s"] > 0 and record["device"] == "cpu"
        assert record["torch_version"] == torch.__version__
        assert len(record["curves"]["val_error"]) == len(record["curves"]["val_steps"]) > 0
    assert not list((tmp_path / "checkpoints").glob("*.pt"))  # finished runs clean up
    rows = list(csv.DictReader((tmp_path / "table1.csv").open()))
    assert {(r["model"], r["distortion"], r["schedule"], r["n"]) for r in rows} == {
        ("cnn", "R", "quick", "1"), ("st-fcn-aff", "R", "quick", "1")}
    md = (tmp_path / "table1.md").read_text()
    assert "| CNN |" in md and "| ST-FCN Aff |" in md
    # running the same command again skips the finished runs (and rewrites the same tables)
    before = {f.name: f.read_text() for f in files}
    assert benchmark.main(argv) == 0
    assert {f.name: f.read_text() for f in sorted(tmp_path.glob("*.json"))} == before
    assert "test error" in capsys.readouterr().out


def test_aggregate_mean_and_std():
    runs = [{"model": "cnn", "d": "R", "seed": s, "err": e} for s, e in enumerate([1.0, 2.0, 3.0])]
    (row,) = benchmark.aggregate(runs, ["model", "d"], "err")
    assert row["mean"] == pytest.approx(2.0) and row["std"] == pytest.approx(1.0) and row["n"] == 3
    assert row["seeds"] == [0, 1, 2]


def test_subcommand_registry_accepts_new_tables(tmp_path):
    seen = {}
    benchmark.register("tableX", "a test table", lambda p: p.add_argument("--k", type=int),
                       lambda args: seen.setdefault("k", args.k) and 0)
    try:
        assert benchmark.main(["tableX", "--k", "7"]) == 0
        assert seen == {"k": 7}
    finally:
        del benchmark.SUBCOMMANDS["tableX"]


def test_unknown_model_is_refused(tmp_path):
    with pytest.raises(ValueError, match="model must be one of"):
        benchmark.main(["table1", "--quick", "--models", "vgg", "--out", str(tmp_path)])
