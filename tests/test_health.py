"""Transformer health: live localisation units, θ's spread, the distance between transformers."""

import json

import pytest
import torch
from torch import nn

from stn_course import benchmark, health
from stn_course.localization import FCLocalization
from stn_course.models import ParallelTransformers, build_addition_model, build_model
from stn_course.transformer import SpatialTransformer


def fc_transformer(hidden: int = 4) -> SpatialTransformer:
    return SpatialTransformer(FCLocalization((1, 6, 6), "affine", hidden=(hidden,)), "affine")


def test_a_freshly_built_transformer_is_dead_since_its_head_starts_at_the_identity_for_every_input():
    torch.manual_seed(0)
    model = build_model("st-cnn-aff", "R")
    h = health.transformer_health(model, torch.rand(20, 1, 28, 28))
    [t] = h["transformers"]
    assert h["status"] == t["status"] == "dead" and h["n"] == 20
    assert t["theta_std"] == [0.0] * 6
    assert t["theta_mean"] == pytest.approx([1, 0, 0, 0, 1, 0])
    assert t["name"] == "transformer"


def test_zeroed_localisation_units_are_counted_dead_and_warned_about():
    torch.manual_seed(0)
    st = fc_transformer(hidden=4)
    linear, head = st.localization.features[1], st.localization.head.linear
    nn.init.normal_(head.weight)  # a head that would let θ follow the input …
    with torch.no_grad():
        linear.weight.zero_()
        linear.bias.copy_(torch.tensor([-1.0, -1.0, -1.0, 0.5]))  # … but units 0-2 never fire, unit 3 always
    h = health.transformer_health(st, torch.rand(30, 1, 6, 6))
    [t] = h["transformers"]
    assert t["live_units"] == {"features.2": [1, 4]} and t["live_share"] == 0.25 and t["head_units"] == [1, 4]
    assert t["status"] == "dead"  # the one live unit is a constant: θ still ignores the input
    [warning] = health.health_warnings(h)
    assert "'(model)' is dead" in warning and "25% of its localisation units live (1/4 before the head)" in warning


def test_theta_spread_is_the_standard_deviation_of_what_the_localisation_net_returns():
    torch.manual_seed(1)
    st = fc_transformer(hidden=8)
    nn.init.normal_(st.localization.head.linear.weight)
    x = torch.rand(40, 1, 6, 6)
    h = health.transformer_health(st, x, batch_size=7)  # batches of 7 give the same numbers as one of 40
    with torch.no_grad():
        theta = st.localization(x)
    [t] = h["transformers"]
    assert t["theta_std"] == pytest.approx(theta.std(0).tolist(), rel=1e-5)
    assert t["theta_mean"] == pytest.approx(theta.mean(0).tolist(), rel=1e-5, abs=1e-6)
    assert t["status"] == "alive" and health.health_warnings(h) == []


def test_status_thresholds():
    assert health.status([0.0, 5e-6]) == "dead"
    assert health.status([0.0, 0.003]) == "nearly constant"
    assert health.status([0.0, 0.2]) == "alive"


def test_two_transformers_report_their_mean_distance():
    torch.manual_seed(0)
    a, b = fc_transformer(), fc_transformer()
    with torch.no_grad():  # constant θs 0.3 apart in translation x and 0.4 in y: distance 0.5 for every image
        b.localization.head.linear.bias.add_(torch.tensor([0, 0, 0.3, 0, 0, 0.4]))
    model = ParallelTransformers([a, b])
    h = health.transformer_health(model, torch.rand(10, 1, 6, 6))
    assert [t["name"] for t in h["transformers"]] == ["transformers.0", "transformers.1"]
    [pair] = h["pairs"]
    assert (pair["a"], pair["b"]) == (0, 1) and pair["mean_distance"] == pytest.approx(0.5)


def test_health_leaves_the_model_in_its_mode_and_refuses_bad_input():
    model = build_addition_model("2x-st-cnn").train()
    health.transformer_health(model, torch.rand(4, 2, 42, 42))
    assert model.training
    with pytest.raises(ValueError, match="inputs must be a batch"):
        health.transformer_health(model, torch.rand(1, 2, 42, 42))
    with pytest.raises(TypeError, match="inputs"):
        health.transformer_health(model, torch.zeros(4, 2, 42, 42, dtype=torch.long))
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        health.find_transformers("st-cnn")


def test_record_fields_warn_on_a_dead_transformer_and_stay_empty_without_one(capsys):
    torch.manual_seed(0)
    assert benchmark.health_fields(build_model("cnn", "R"), torch.rand(8, 1, 28, 28), "cnn_R") == {}
    fields = benchmark.health_fields(build_model("st-cnn-aff", "R"), torch.rand(8, 1, 28, 28), "st_R")
    assert fields["transformer_health"]["status"] == "dead" and len(fields["warnings"]) == 1
    assert "warning: st_R: transformer 'transformer' is dead" in capsys.readouterr().err


def test_summary_reads_as_a_table_cell():
    assert health.summary(None) == "—"
    h = {"n": 5, "transformers": [{"status": "alive", "theta_std": [0.1, 0.25], "live_share": 0.5,
                                   "head_units": [3, 8]}]}
    assert health.summary(h) == "alive, θ σ 0.25, 50% live (3/8 before the head)"


def test_the_health_command_adds_health_to_an_older_record_from_its_saved_weights(tmp_path, capsys):
    argv = ["table1", "--quick", "--models", "st-cnn-aff", "--distortions", "R", "--device", "cpu",
            "--no-progress", "--save-weights", "--out", str(tmp_path)]
    assert benchmark.main(argv) == 0
    path = tmp_path / "st-cnn-aff_R_quick_seed0.json"
    record = json.loads(path.read_text())
    older = {k: v for k, v in record.items() if k not in ("transformer_health", "warnings")}
    path.write_text(json.dumps(older))
    assert benchmark.main(["health", str(tmp_path)]) == 0  # without --write: reports only
    assert "transformer_health" not in json.loads(path.read_text())
    assert benchmark.main(["health", str(tmp_path), "--write"]) == 0
    updated = json.loads(path.read_text())
    h = updated["transformer_health"]
    assert h["n"] == 1000 and "table1_splits('R', seed=0)" in h["inputs"] and len(h["transformers"]) == 1
    assert updated["health_provenance"]["command"].startswith("python -m stn_course.benchmark health")
    assert {k: v for k, v in updated.items() if k not in ("transformer_health", "warnings", "health_provenance")} == older
    assert "st-cnn-aff_R_quick_seed0" in capsys.readouterr().out


def test_the_book_reads_the_health_of_the_records_in_a_sentence_and_a_table():
    def records(*statuses):
        return [{"run_id": "r", "transformer_health": {"n": 9, "transformers": [
            {"status": s, "theta_std": [0.0, 0.5 if s == "alive" else 0.0], "live_share": 0.25,
             "head_units": [2, 8]} for s in statuses]}}]

    reading = benchmark.report.health_reading
    assert reading([{"run_id": "cnn"}]) == ""
    assert reading(records("dead")) == "The one transformer measured is dead (θ the same for every input)."
    assert reading(records("alive", "alive")) == "All 2 transformers measured are alive."
    assert reading(records("alive", "dead", "nearly constant", "alive")) == (
        "Of the 4 transformers measured, 2 are alive, 1 nearly constant and 1 dead (θ the same for every input).")
    table = str(benchmark.report.health_table(records("alive", "dead"), lambda r: [r["run_id"]], ["run"]))
    assert table.count("<tr>") == 3 and "<b>dead</b>" in table and "2/8" in table and "0.5" in table
