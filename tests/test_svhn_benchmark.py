"""``python -m stn_course.benchmark table2``: records, labels, skipping finished runs, the data check."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from stn_course import benchmark, svhn
from stn_course.svhn import models as svhn_models
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
        # ST-CNN Multi's four transformers each get their health; the CNN has none
        assert len(r.get("transformer_health", {}).get("transformers", [])) == (4 if r["model"] == "st-multi" else 0)
    assert not list((tiny_run / "checkpoints").glob("*.pt"))   # removed once a run is finished


def test_table_marks_the_source(tiny_run):
    md = (tiny_run / "table2.md").read_text()
    ours, paper = md.split("## The paper's Table 2")
    assert "## synthetic stand-in, NOT SVHN: `small` architecture, schedule `quick3`" in ours
    assert "| CNN |" in ours and "| ST-CNN Multi |" in ours
    assert "ST-CNN Single" not in ours   # not run: no row
    assert "| ST-CNN Multi | 3.60 | 3.90 |" in paper and "| Maxout CNN | 4.00 | — |" in paper
    csv = (tiny_run / "table2.csv").read_text().splitlines()
    assert csv[0].startswith("source,model,size,crops,arch,schedule") and len(csv) == 3
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


def _record(model, size, error, *, source="synthetic", device="cpu", schedule="efficient", steps=5_000, n_test=5_000,
            arch="small", pixels=48, placement=None):
    r = {"table": "table2", "model": model, "size": size, "test_error": error, "source": source, "device": device,
         "schedule": schedule, "steps": steps, "batch_size": 64, "images_seen": steps * 64, "n_test": n_test,
         "arch": arch, "image_pixels": pixels, "crop_pixels": 40}
    return {**r, "loose_placement": placement} if placement else r


def test_book_table_renders_every_model_with_a_footnote_per_provenance():
    runs = [_record("cnn", "64px", 12.34), _record("st-single", "64px", 11.0),
            _record("cnn", "128px", 30.0, placement="clipped"),
            _record("cnn", "64px", 50.0, schedule="quick", steps=300),                       # a worse-obtained group
            _record("st-multi", "128px", 4.5, source="svhn", device="cuda", schedule="fast", steps=6_000,
                    arch="paper", pixels=128)]
    table, notes = table2.book_table(runs)
    html = str(table)
    assert html.startswith("<table><caption>") and html.count("<tr>") == 1 + len(table2.PAPER_TABLE2)
    assert "<td" in html and "|" not in html   # a real table, not markdown pipes
    row = lambda title: html.split(f">{title}</td>")[1].split("</tr>")[0]   # noqa: E731
    assert "<b>12.3</b><sup>a</sup>" in row("CNN") and "4.0" in row("CNN") and "5.6" in row("CNN")
    assert "<b>30.0</b><sup>b</sup>" in row("CNN")
    assert "<b>4.5</b><sup>c</sup>" in row("ST-CNN Multi") and "not yet run" in row("ST-CNN Multi")
    assert "not built here" in row("DRAM") and "3.9" in row("DRAM")
    assert list(notes.letters.values()) == ["a", "b", "c"]
    # a column whose runs all rendered the crop at 48 px says so; one with a native-size run does not
    assert "ours 64 px crop at 48 px" in html and "ours 128 px<" in html and "paper 64 px" in html
    a, b, c = notes.letters
    assert a == "synthetic stand-in, CPU, efficient (full length: 0.32M images), small width at 48 px, 1 seed"
    assert b == "synthetic stand-in, loose crops clipped, CPU, efficient (full length: 0.32M images), small width at 48 px, 1 seed"
    assert c.startswith("SVHN, GPU, fast (full length: 0.38M images), paper width at 128 px")
    assert "<sup>a</sup> synthetic stand-in" in notes.html()


def test_loose_column_switches_to_clipped_crops_only_once_every_model_has_a_full_length_run_on_them():
    centred = [_record(k, "128px", e) for k, e in (("cnn", 29.0), ("st-single", 28.8), ("st-multi", 17.7))]
    assert [table2.placement_of(r) for r in centred] == ["centred"] * 3   # records from before the framing existed
    assert table2.placement_of(_record("cnn", "64px", 12.0)) is None
    some = [_record("st-single", "128px", 20.0, placement="clipped"),
            _record("cnn", "128px", 25.0, placement="clipped", schedule="efficient1500", steps=1_500)]   # a probe
    assert table2.shown_placement(centred + some) == "centred"
    best = table2.best_cells(centred + some)
    assert {k: rows[0]["test_error"] for k, rows in best.items()} == {("cnn", "128px"): 29.0,
                                                                      ("st-single", "128px"): 28.8,
                                                                      ("st-multi", "128px"): 17.7}
    done = some + [_record(k, "128px", e, placement="clipped") for k, e in (("cnn", 31.0), ("st-multi", 19.0))]
    assert table2.shown_placement(centred + done) == "clipped"
    best = table2.best_cells(centred + done)
    assert {k: rows[0]["test_error"] for k, rows in best.items()} == {("cnn", "128px"): 31.0,
                                                                      ("st-single", "128px"): 20.0,
                                                                      ("st-multi", "128px"): 19.0}


def test_reading_says_whether_a_transformer_beat_the_cnn_beyond_the_noise():
    def health(*statuses):
        return {"transformers": [{"status": s} for s in statuses]}

    runs = [_record("cnn", "128px", 30.0), _record("st-single", "128px", 20.0), _record("st-multi", "128px", 29.5),
            _record("cnn", "64px", 10.0), _record("st-single", "64px", 14.0)]
    text = table2.reading(runs)
    # loose crops first, the answer first: who gains, by how many times the noise of the
    # difference (one seed: the test sets' binomial errors, 0.65 and 0.57 points, 0.86 together)
    assert text.startswith("On the loose crops only ST-CNN Single gains: 20.0 % against the CNN's 30.0 % "
                           "(the difference is 11.6 times its noise).")
    assert "ST-CNN Multi ties with the CNN (29.5 %, within twice the noise)." in text
    assert "On the tight crops no transformer beats the CNN's 10.0 % beyond the noise. ST-CNN Single does worse (14.0 %)." in text
    assert text.index("loose") < text.index("tight")
    assert text.endswith("Every cell compared is one seed, whose noise counts the test set alone: the spread between "
                         "seeds is not known.")
    # three seeds each: the seeds' spread joins the noise. ST-CNN Single's 26 ± 2 against the CNN's
    # 30 ± 2: each cell's noise is hypot(0.6, 2 / √3) ≈ 1.3, the difference's 1.86, and 4 points are
    # 2.1 times it, a gain; with a spread of 4 the same 4 points are within twice the noise
    seeded = [_record(k, "128px", e) | {"seed": s} for k, es in (("cnn", (28, 30, 32)), ("st-single", (24, 26, 28)))
              for s, e in enumerate(es)]
    text = table2.reading(seeded)
    assert text.startswith("On the loose crops ST-CNN Single gains: 26.0 % against the CNN's 30.0 % (the difference "
                           "is 2.1 times its noise).") and text.endswith("means over 3 seeds; their noise counts the "
                                                                       "test set and the seeds' spread.")
    wide = [_record(k, "128px", e) | {"seed": s} for k, es in (("cnn", (26, 30, 34)), ("st-single", (22, 26, 30)))
            for s, e in enumerate(es)]
    assert "ST-CNN Single ties with the CNN (26.0 %, within twice the noise)." in table2.reading(wide)
    # a transformer whose θ hardly depends on its input is called what it is, from the recorded health
    runs[2]["transformer_health"] = health("nearly constant")
    assert "ST-CNN Multi learns one fixed window and ties with the CNN" in table2.reading(runs)
    runs[2]["transformer_health"] = health("nearly constant", "alive")  # one of four alive: not a fixed window
    assert "ST-CNN Multi ties with the CNN" in table2.reading(runs)
    assert table2.reading([]) == "No Table 2 run has been recorded yet."


def test_without_a_gpu_the_cpu_sized_width_and_side_are_chosen_and_said(tmp_path, capsys):
    out = tmp_path / "t2"
    args = ["table2", "--synthetic", "--schedule", "quick", "--steps", "2", "--n-synthetic", "32", "16", "16",
            "--sizes", "128px", "--models", "cnn", "--no-progress", "--threads", "1", "--device", "cpu", "--out", str(out)]
    assert benchmark.main(args) == 0
    said = capsys.readouterr().out
    assert "architecture: small (no GPU: the CPU-sized width" in said
    assert f"crops rendered at {table2.CPU_SIDE}×{table2.CPU_SIDE} px" in said
    r = json.loads((out / f"synthetic_cnn_128px@{table2.CPU_SIDE}+clipped_small_quick2_seed0.json").read_text())
    assert (r["arch"], r["image_pixels"], r["crop_pixels"]) == ("small", table2.CPU_SIDE, 40)
    assert r["loose_placement"] == "clipped" and table2.placement_of(r) == "clipped"
    assert "| model | 128px clipped |" in (out / "table2.md").read_text()   # the column names the framing
    assert "window_tracking" not in r   # a CNN has no window
    assert benchmark.main(args + ["--seed-list", "2"]) == 0   # an explicit seed, beside the first
    assert sorted(p.name for p in out.glob("*.json")) == [f"synthetic_cnn_128px@{table2.CPU_SIDE}+clipped_small_quick2_seed{s}.json"
                                                          for s in (0, 2)]


def test_a_clipped_loose_run_records_how_its_window_follows_the_numbers(tmp_path):
    out = tmp_path / "t2"
    args = ["table2", "--synthetic", "--schedule", "quick", "--steps", "2", "--n-synthetic", "32", "16", "16",
            "--sizes", "128px", "--models", "st-single", "--no-progress", "--threads", "1", "--device", "cpu",
            "--out", str(out)]
    assert benchmark.main(args) == 0
    r = json.loads(next(out.glob("*.json")).read_text())
    tracking = r["window_tracking"]
    assert tracking["n"] == table2.TRACKING_NUMBERS and set(table2.TRACKED) <= set(tracking)
    # recomputed from the trained weights, the same numbers
    model = table2.build_svhn_model("st-single", r["crop_pixels"], r["arch_settings"])
    torch.manual_seed(0)
    untrained = table2.record_tracking(model, r, 50)
    # an untrained transformer is the identity for every crop: a window of the whole crop that follows nothing
    assert untrained["window width"] == pytest.approx(1) and untrained["window height"] == pytest.approx(1)
    assert all(math.isnan(untrained[k]) for k in table2.TRACKED) and untrained["window moves"] is False


def test_errors_by_length_counts_each_length_separately():
    from stn_course.svhn.models import build_svhn_model

    B = table2.svhn.BLANK
    labels = torch.tensor([[1, B, B, B, B], [2, B, B, B, B], [3, 4, B, B, B], [5, 6, 7, B, B]])

    class Oracle(torch.nn.Module):   # reads every number right but the first one-digit number
        def forward(self, x):
            target = labels[: len(x)].clone()
            target[0, 0] = 9
            return torch.nn.functional.one_hot(target, 11).float()

    assert table2.errors_by_length(Oracle(), torch.zeros(4, 3, 8, 8), labels) == {1: (2, 50.0), 2: (1, 0.0),
                                                                                 3: (1, 0.0)}
    with pytest.raises(ValueError, match="labels must have shape"):
        table2.errors_by_length(build_svhn_model("cnn", 40, "small"), torch.zeros(2, 3, 40, 40), labels)


def test_a_record_rebuilds_its_own_architecture_after_the_defaults_change(tmp_path, monkeypatch):
    """load_model builds the layer sizes a run trained with (its arch_settings), not what "small"
    names today: a change of SMALL_ARCH must not break the weights of earlier records."""
    assert benchmark.main([*ARGS, "--models", "cnn", "--save-weights", "--out", str(tmp_path)]) == 0
    record = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert record["arch_settings"]["channels"] == list(svhn_models.SMALL_ARCH.channels)
    trained = table2.load_model(record, tmp_path)
    narrower = svhn_models.SVHNArch(channels=(8, 8), pool=(True, True), fc=(16,), num_st=1, batch_norm=True)
    monkeypatch.setattr(svhn_models, "SMALL_ARCH", narrower)
    again = table2.load_model(record, tmp_path)
    x = torch.rand(2, 3, record["crop_pixels"], record["crop_pixels"])
    torch.testing.assert_close(again(x), trained(x))


def test_number_boxes_lie_where_the_crop_shows_the_number():

    # a centred loose crop holds the number in its middle 1 / (1.3 × 2) of each side
    boxes = svhn.number_boxes(20, seed=2, train=False, loose=True, placement="centred")
    half = 1 / (1.3 * svhn.LOOSE_FACTOR)
    np.testing.assert_allclose(boxes, np.tile([-half, -half, half, half], (20, 1)), atol=1e-9)
    tight = svhn.number_boxes(20, seed=2, train=False)
    np.testing.assert_allclose(tight, np.tile([-1 / 1.3, -1 / 1.3, 1 / 1.3, 1 / 1.3], (20, 1)), atol=1e-9)
    # in the 40-pixel centre crop of a 48-pixel image, coordinates grow by 48 / 40
    record = {"source": "synthetic", "size": "128px", "image_pixels": 48, "crop_pixels": 40,
              "loose_placement": "centred"}
    np.testing.assert_allclose(table2.test_number_boxes(record, 20).numpy(), 1.2 * boxes, atol=1e-6)
    # clipped: the number's box moves and changes size from one crop to the next
    clipped = svhn.number_boxes(200, seed=0, train=False, loose=True)
    assert clipped[:, 0].std() > 0.05 and (clipped[:, 2] - clipped[:, 0]).std() > 0.05


def test_window_tracking_measures_how_the_windows_follow_the_numbers():
    gen = torch.Generator().manual_seed(0)
    centre = torch.rand(50, 2, generator=gen) - 0.5
    size = torch.rand(50, 2, generator=gen) * 0.5 + 0.3
    boxes = torch.cat([centre - size / 2, centre + size / 2], 1)
    following = torch.zeros(50, 2, 3)
    following[:, 0, 0], following[:, 1, 1] = size[:, 0] * 0.9, -size[:, 1]   # a mirrored height still has a length
    following[:, :, 2] = centre + 0.1
    got = table2.window_tracking(following, boxes)
    assert list(got) == list(table2.TRACKED)
    assert all(abs(v - 1) < 1e-9 for v in got.values()), got
    fixed = torch.eye(2, 3).expand(50, 2, 3)
    assert all(math.isnan(v) for v in table2.window_tracking(fixed, boxes).values())
    against = following.clone()
    against[:, 0, 2] = -centre[:, 0]
    assert abs(table2.window_tracking(against, boxes)["centre x"] + 1) < 1e-9
    with pytest.raises(ValueError, match="boxes must have shape"):
        table2.window_tracking(following, boxes[:10])


def test_tracking_reading_says_what_each_window_follows():
    nan = math.nan
    text = table2.tracking_reading({
        "ST-CNN Single": {"centre x": 0.8, "centre y": 0.3, "width": 0.9, "height": 0.1},
        "ST-CNN Multi": {"centre x": 0.1, "centre y": -0.2, "width": 0.05, "height": 0.0},
        "old": {"centre x": nan, "centre y": nan, "width": nan, "height": nan}})
    assert ("ST-CNN Single's window follows the number's centre x (0.80), width (0.90); weakly its centre y (0.30); "
            "but not its height (0.10).") in text
    assert "ST-CNN Multi's window follows none of the number's centre x (0.10), centre y (-0.20), width (0.05), height (0.00)." in text
    assert "old: every number sits at the same place and size in these crops" in text
    # a window that never moves follows nothing, whatever the numbers do; keys beyond TRACKED are not read
    dead = {"n": 500, "centre x": nan, "centre y": nan, "width": nan, "height": nan, "window moves": False,
            "window width": 1.0}
    assert table2.tracking_reading({"dead": dead}) == "dead's window is the same for every crop: it follows nothing."


def test_width_by_length_reads_the_mean_width_of_each_length_and_their_correlation():
    B = svhn.BLANK
    labels = torch.tensor([[1, B, B, B, B], [2, 3, B, B, B], [4, 5, 6, B, B], [7, B, B, B, B]])
    half = torch.tensor([0.2, 0.4, 0.6, 0.4]) / 2     # half-widths in normalised coordinates (width 2)
    boxes = torch.stack([-half * 2, -half, half * 2, half], 1)   # widths 0.4, 0.8, 1.2, 0.8 → shares 0.2, 0.4, 0.6, 0.4
    means, corr = table2.width_by_length(boxes, labels)
    assert means == pytest.approx({1: 0.3, 2: 0.4, 3: 0.6})
    # by hand: lengths (1, 2, 3, 1), shares (0.2, 0.4, 0.6, 0.4): deviations (-0.75, 0.25, 1.25, -0.75), (-0.2, 0, 0.2, 0)
    assert corr == pytest.approx(0.4 / math.sqrt(2.75 * 0.08))
    with pytest.raises(ValueError, match="labels must have shape"):
        table2.width_by_length(boxes, labels[:2])


def test_the_goodfellow_window_leaves_a_loose_number_no_wider_for_being_longer():
    # the crop grows the number's box by one factor in x and y and resizes it to a square:
    # a five-digit number fills about as much of the crop's width as a one-digit one
    boxes = svhn.number_boxes(300, seed=0, train=False, loose=True)
    _, labels = svhn.synthetic_house_numbers(300, seed=0, train=False, size=16, loose=True)
    means, corr = table2.width_by_length(boxes, labels)
    assert abs(corr) < 0.3, (means, corr)
    text = table2.length_reading(means, corr)
    assert text.startswith("A number's length hardly changes its width in these crops")
    assert table2.length_reading({1: 0.2, 5: 0.8}, 0.9).startswith("A longer number is wider in these crops")


def test_with_weights_keeps_the_records_whose_weights_file_is_there(tmp_path):
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "a.pt").write_bytes(b"")
    records = [{"run_id": "a", "weights": "weights/a.pt"}, {"run_id": "b", "weights": "weights/b.pt"}, {"run_id": "c"}]
    assert [r["run_id"] for r in table2.with_weights(records, tmp_path)] == ["a"]
