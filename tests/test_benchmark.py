"""The benchmark command: a tiny --quick run writes valid records and tables, and resumes."""

import argparse
import csv
import json

import pytest
import torch

from stn_course import benchmark, training


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
        # transformer health on held-out images for the model that has a transformer, none for the CNN
        assert ("transformer_health" in record) == (record["model"] == "st-fcn-aff")
    st = json.loads(files[1].read_text())["transformer_health"]
    assert st["n"] == 500 and len(st["transformers"][0]["theta_std"]) == 6
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


def test_jobs_run_cells_concurrently_and_write_the_records_of_serial_runs(tmp_path):
    argv = ["table1", "--quick", "--models", "cnn", "st-cnn-aff", "--distortions", "R", "--device", "cpu",
            "--threads", "1", "--no-progress"]
    assert benchmark.main(argv + ["--out", str(tmp_path / "serial")]) == 0
    assert benchmark.main(argv + ["--jobs", "2", "--out", str(tmp_path / "jobs")]) == 0
    serial, jobs = ({r["run_id"]: r for r in benchmark.load_runs(tmp_path / d)} for d in ("serial", "jobs"))
    assert sorted(jobs) == sorted(serial) == ["cnn_R_quick_seed0", "st-cnn-aff_R_quick_seed0"]
    for rid, record in serial.items():
        for key in ("test_error", "val_error", "best_step", "test_loss", "params", "images_seen", "curves"):
            assert jobs[rid][key] == record[key], (rid, key)
    # the two cells ran at the same time, in two processes
    first, second = jobs.values()
    assert max(first["started_at"], second["started_at"]) < min(first["finished_at"], second["finished_at"])


def test_jobs_must_be_positive(capsys):
    with pytest.raises(SystemExit):
        benchmark.main(["table1", "--quick", "--jobs", "0"])
    assert "--jobs: expected a positive integer, got '0'" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["table1", "addition", "coloc"])
def test_every_training_command_refuses_a_step_count_below_one(command, tmp_path, capsys):
    # --report would otherwise return at once: the refusal must come from parsing --steps
    with pytest.raises(SystemExit):
        benchmark.main([command, "--steps", "0", "--report", "--out", str(tmp_path)])
    assert "--steps: expected a positive integer, got '0'" in capsys.readouterr().err


def test_a_steps_override_renames_the_schedule_so_its_records_never_pass_for_full_length():
    from stn_course.benchmark import addition, cli

    args = argparse.Namespace(quick=False, schedule="efficient", steps=700)
    schedule = cli.chosen_schedule(args, addition.SCHEDULES)
    assert (schedule.name, schedule.steps, schedule.eval_every) == ("efficient700", 700, 500)
    record = {"schedule": schedule.name, "steps": schedule.steps}
    assert not addition.is_full_length(record)
    assert addition.is_full_length({"schedule": "efficient", "steps": addition.SCHEDULES["efficient"].steps})
    quick = cli.chosen_schedule(argparse.Namespace(quick=True, schedule="efficient", steps=None), addition.SCHEDULES)
    assert quick is addition.SCHEDULES["quick"]


def test_schedule_precision_resolves_per_device(monkeypatch):
    efficient = benchmark.SCHEDULES["efficient"]
    monkeypatch.setattr(training, "cpu_bf16_supported", lambda: False)
    assert efficient.amp(torch.device("cpu")) is False
    assert benchmark.precision_name(efficient.amp(torch.device("cpu")), torch.device("cpu")) == "float32"
    monkeypatch.setattr(training, "cpu_bf16_supported", lambda: True)
    assert efficient.amp(torch.device("cpu")) is True
    assert benchmark.SCHEDULES["fast"].amp(torch.device("cpu")) == "auto"
    # the recipe's point: one to two orders of magnitude fewer images than the paper's 150k steps of 256
    assert 10 <= 150_000 * 256 / (efficient.steps * efficient.batch_size) <= 100


def _record(model, d, schedule, steps, device="cpu", seed=0, err=1.0):
    return {"model": model, "distortion": d, "schedule": schedule, "steps": steps, "batch_size": 128,
            "images_seen": steps * 128, "device": device, "seed": seed, "test_error": err}


def test_best_cells_prefer_gpu_then_full_length_then_more_images():
    runs = [_record("cnn", "R", "fast1000", 1000, err=4.7),
            _record("cnn", "R", "efficient", 10_000, err=1.1),
            _record("cnn", "R", "efficient2000", 2000, device="cuda:0", err=2.0),
            _record("st-cnn-aff", "R", "fast1000", 1000, err=2.8),
            _record("st-cnn-aff", "R", "fast600", 600, err=3.5),
            _record("st-cnn-aff", "RTS", "efficient", 10_000, device="cuda:0", seed=0, err=0.6),
            _record("st-cnn-aff", "RTS", "efficient", 10_000, device="cuda:0", seed=1, err=0.8),
            _record("st-cnn-aff", "RTS", "efficient", 10_000, err=0.5)]
    best = benchmark.best_cells(runs)
    assert [r["test_error"] for r in best[("cnn", "R")]] == [1.1]  # a full CPU run beats a short GPU run
    assert [r["test_error"] for r in best[("st-cnn-aff", "R")]] == [2.8]  # the longer of two short runs
    assert sorted(r["seed"] for r in best[("st-cnn-aff", "RTS")]) == [0, 1]  # GPU first
    assert benchmark.how_obtained(best[("st-cnn-aff", "RTS")]) == "GPU, efficient (full length: 1.3M images), 2 seeds"
    assert benchmark.how_obtained(best[("st-cnn-aff", "R")]) == "CPU, fast1000 (short: 0.13M images), 1 seed"


def test_every_ablation_schedule_says_what_it_changes():
    assert list(benchmark.ABLATION_CHANGES) == list(benchmark.ABLATION)
    recipe, last_step = benchmark.SCHEDULES["efficient"], benchmark.ABLATION["abl-ema"]
    # the last step of the ladder is the recipe itself, shortened
    for field in ("optimizer", "lr", "weight_decay", "label_smoothing", "ema", "batch_size", "loc_lr_scale"):
        assert getattr(last_step, field) == getattr(recipe, field), field


def test_html_table_is_a_real_table_and_refuses_ragged_rows():
    table = benchmark.html_table(["a", "b"], [["1", "<b>2</b>"], ["3", "4"]], "x < y")
    html = table._repr_html_()
    assert html.startswith("<table><caption>x &lt; y</caption><thead><tr>") and html.endswith("</tbody></table>")
    assert html.count("<tr>") == 3 and html.count("<td") == 4 and "<b>2</b>" in html
    with pytest.raises(ValueError, match=r"rows\[1\] must have 2 cells like the header, got 1"):
        benchmark.html_table(["a", "b"], [["1", "2"], ["3"]])


def test_footnotes_letter_each_provenance_once_in_order():
    notes = benchmark.Footnotes()
    assert [notes.mark(h) for h in ("CPU", "GPU", "CPU")] == ["a", "b", "a"]
    assert notes.html() == "<sup>a</sup> CPU<br><sup>b</sup> GPU"


def test_git_dirty_counts_code_changes_not_the_results_runs_write(tmp_path, monkeypatch):
    import importlib
    import subprocess

    prov = importlib.import_module("stn_course.benchmark.provenance")   # the module, not the function

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "table2.md").write_text("old table\n")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init")
    monkeypatch.setattr(prov, "REPO_ROOT", tmp_path)
    (tmp_path / "results" / "table2.md").write_text("a table another run rewrote\n")
    assert prov.provenance(torch.device("cpu"))["git_dirty"] is False
    (tmp_path / "code.py").write_text("x = 2\n")
    assert prov.provenance(torch.device("cpu"))["git_dirty"] is True


# ----------------------------------------------------------------------- comparisons with their noise

def _run(model, distortion, error, seed=0, schedule="efficient", n=10_000):
    return {"model": model, "distortion": distortion, "test_error": error, "seed": seed, "schedule": schedule,
            "test_n": n}


def test_a_cells_noise_is_the_test_sets_binomial_error_and_the_seeds_spread():
    one = benchmark.cell_of([_run("cnn", "R", 1.0)])
    assert one.seeds == 1 and one.mean == 1.0
    assert one.noise == pytest.approx(100 * (0.01 * 0.99 / 10_000) ** 0.5)  # 0.0995 points
    two = benchmark.cell_of([_run("cnn", "R", 1.0), _run("cnn", "R", 1.2, seed=1)])
    binomial = 100 * (0.011 * 0.989 / 10_000) ** 0.5
    spread = 0.02 / 2  # the sample variance of (1.0, 1.2) is 0.02; the mean of two seeds: 0.01
    assert two.mean == pytest.approx(1.1) and two.noise == pytest.approx((binomial ** 2 + spread) ** 0.5)
    with pytest.raises(ValueError, match="records"):
        benchmark.cell_of([])


def test_transformer_against_base_says_beyond_or_within_the_noise():
    runs = [_run("cnn", "R", 1.20), _run("st-cnn-aff", "R", 0.70),      # 0.50 points: ~3.4 noise → a win
            _run("cnn", "E", 1.00), _run("st-cnn-aff", "E", 0.90),      # 0.10 points: within
            _run("cnn", "TC", 1.20), _run("st-cnn-aff", "TC", 1.60),    # the base network better beyond it
            _run("fcn", "R", 3.0, schedule="fast1000"), _run("st-fcn-aff", "R", 2.0)]  # different schedules: no pair
    pairs = benchmark.versus_base(runs, "efficient")
    assert [(d, st, v) for d, st, _, _, _, v in pairs] == [("R", "st-cnn-aff", 1), ("E", "st-cnn-aff", 0),
                                                          ("TC", "st-cnn-aff", -1)]
    text = benchmark.versus_base_reading(pairs, "efficient")
    assert text.startswith("With `efficient` the transformer version beats its base network beyond the noise in "
                           "1 of 3 comparisons.")
    assert "1 is within the noise: ST-CNN Aff on E (0.90 % against 1.00 %)." in text
    assert "The base network is better beyond the noise with ST-CNN Aff on TC (1.60 % against CNN's 1.20 %)." in text
    assert "6 have one seed" in text
    assert "No transformer model" in benchmark.versus_base_reading([], "efficient")


def test_against_the_paper_counts_cells_at_or_within_noise_of_it():
    paper = {"cnn": {"R": 1.2, "E": 1.4}, "st-cnn-aff": {"R": 0.7}}
    cells = {("cnn", "R"): benchmark.cell_of([_run("cnn", "R", 1.1)]),            # below
             ("cnn", "E"): benchmark.cell_of([_run("cnn", "E", 1.5)]),            # above by 0.1 < 2 × 0.12
             ("st-cnn-aff", "R"): benchmark.cell_of([_run("st-cnn-aff", "R", 1.4)])}  # twice the paper's
    text = benchmark.versus_paper_reading(cells, paper, "full-length")
    assert text == ("Over the 3 full-length cells our error is a median 1.07× the paper's (0.92× to 2.00×); 1 is at "
                    "or below it (CNN on R), and 1 more within twice its noise of it (CNN on E).")
    assert benchmark.versus_paper_reading({}, paper, "short") == ""
