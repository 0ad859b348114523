"""MNIST addition (appendix A.1): the four parameter-matched models, parallel transformers, where
each transformer looks, and the benchmark command's records."""

import json

import pytest
import torch

from stn_course import benchmark, models
from stn_course.benchmark import addition as A
from stn_course.models import ADDITION_MODELS, ParallelTransformers, build_addition_model

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("name", ADDITION_MODELS + models.ADDITION_VARIANTS)
def test_models_map_two_channels_to_nineteen_sums_and_match_the_budget(name):
    torch.manual_seed(0)
    model = build_addition_model(name)
    assert model(torch.rand(3, 2, 42, 42)).shape == (3, 19)
    counts = models.addition_param_counts([name])[name]
    assert counts["total"] == models.count_parameters(model)
    assert abs(counts["total"] - models.addition_budget()) / models.addition_budget() < 0.02
    # a localisation net on both channels has 36,396 parameters; on one channel 500 fewer (its first conv's 5 × 5 × 20)
    per_net = 35_896 if name.endswith("-own") else 36_396
    assert counts["localization"] == per_net * models.ADDITION_TRANSFORMERS[name]


def test_in_the_own_channel_variant_each_localisation_net_sees_only_its_channel():
    torch.manual_seed(0)
    model = build_addition_model("2x-st-cnn-own").eval()
    for t in A.transformers_of(model):
        torch.nn.init.normal_(t.localization.net.net.head.linear.weight)  # let θ follow the input
    x = torch.rand(4, 2, 42, 42)
    y = x.clone()
    y[:, 1] = torch.rand(4, 42, 42)  # change channel 2 only
    with torch.no_grad():
        first, second = (torch.stack([t.localization(v) for v in (x, y)]) for t in A.transformers_of(model))
    assert torch.equal(first[0], first[1])  # transformer 1 looks at channel 1 alone
    assert not torch.allclose(second[0], second[1])  # transformer 2 sees the change
    assert models.normalize_addition_name("2×ST-CNN-own") == "2x-st-cnn-own"


def test_the_budget_is_the_cnn_baseline_counted_by_hand():
    conv1, conv2 = (2 * 81 + 1) * 32, (32 * 49 + 1) * 64
    linear = (64 * 10 * 10 + 1) * 19  # 42 → 21 → 10 after two poolings
    assert models.addition_budget() == conv1 + conv2 + linear == 227_251


def test_building_is_deterministic_for_a_seed():
    torch.manual_seed(3)
    a = build_addition_model("2x-st-cnn")
    torch.manual_seed(3)
    b = build_addition_model("2×ST-CNN")
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


def test_two_transformers_stack_their_outputs_as_channels():
    torch.manual_seed(0)
    model = build_addition_model("2x-st-cnn")
    x = torch.rand(2, 2, 42, 42)
    stacked = model.transformer(x)  # both start at the identity: the same half-size copy of x, twice
    assert stacked.shape == (2, 4, 21, 21)
    assert torch.allclose(stacked[:, :2], stacked[:, 2:])
    expected = torch.nn.functional.interpolate(x, size=(21, 21), mode="bilinear", align_corners=False)
    assert torch.allclose(stacked[:, :2], expected, atol=1e-6)
    names = [n for n, _ in model.named_parameters() if "localization" in n.split(".")]
    assert {n.split(".")[2] for n in names} == {"0", "1"}  # each has its own localisation net (loc_lr_scale finds both)


def test_bad_names_and_transformers_are_refused_by_name():
    with pytest.raises(ValueError, match="model must be one of"):
        build_addition_model("3x-st-cnn")
    with pytest.raises(TypeError, match="model name must be a str"):
        build_addition_model(2)
    with pytest.raises(TypeError, match="transformers must be a non-empty sequence"):
        ParallelTransformers([])


def test_window_centres_and_which_digit_each_transformer_is_nearer():
    torch.manual_seed(0)
    model = build_addition_model("2x-st-cnn")
    centres = A.window_centres(model, torch.rand(5, 2, 42, 42))
    assert centres.shape == (2, 5, 2) and torch.allclose(centres, torch.full_like(centres, 21.0))  # identity: the centre
    assert A.window_centres(build_addition_model("cnn"), torch.rand(5, 2, 42, 42)).shape == (0, 5, 2)
    # by hand: a window at (10, 21); digit 1 put 11 px left of the centre, digit 2 11 px right (and 3 px down)
    shares = A.attention_shares(torch.tensor([[[10.0, 21.0]]]), torch.tensor([[[-11.0, 0.0], [11.0, 3.0]]]))
    assert shares == [{"nearer_channel_1": 100.0, "distance_channel_1": 0.0,
                       "distance_channel_2": pytest.approx((22.0 ** 2 + 3.0 ** 2) ** 0.5)}]


def test_the_training_pairs_and_their_fresh_distortions():
    train, val, test, augment, shifts = A.addition_data(eval_subset=20, train_subset=64)
    assert train[0].shape == (64, 2, 28, 28) and train[1].max() <= 18
    assert val[0].shape == test[0].shape == (20, 2, 42, 42) and shifts.shape == (20, 2, 2)
    x = augment(train[0][:8], torch.Generator().manual_seed(0))
    assert x.shape == (8, 2, 42, 42)
    assert torch.equal(x, augment(train[0][:8], torch.Generator().manual_seed(0)))
    # each channel keeps its own digit's ink (RTS moves and scales it; the sum is about scale² × the original's)
    assert torch.allclose(x.sum((2, 3)) > 0, train[0][:8].sum((2, 3)) > 0)


def test_quick_addition_run_writes_a_record_with_provenance(tmp_path, capsys):
    schedule = A.SCHEDULES["quick"]
    tiny = type(schedule)(**{**schedule.__dict__, "steps": 4, "eval_every": 2, "train_subset": 256,
                             "eval_subset": 50, "batch_size": 16})
    record = A.run_addition_cell("2x-st-cnn", 0, tiny, tmp_path, device=torch.device("cpu"), progress=False,
                                 save_weights=True, command="test")
    for key in ("git_commit", "git_dirty", "device_name", "images_per_s", "wall_time_s", "test_error", "params",
                "attention", "weights", "schedule_settings"):
        assert key in record, key
    assert len(record["attention"]) == 2 and record["test_n"] == 50 and record["steps"] == 4
    h = record["transformer_health"]
    assert len(h["transformers"]) == 2 and len(h["pairs"]) == 1 and h["n"] == 50
    assert (tmp_path / record["weights"]).exists() and not A.is_full_length(record)
    again = A.run_addition_cell("2x-st-cnn", 0, tiny, tmp_path, device=torch.device("cpu"), progress=False)
    assert again == json.loads((tmp_path / "2x-st-cnn_quick_seed0.json").read_text())  # skipped: read back
    assert again["test_error"] == record["test_error"] and again["finished_at"] == record["finished_at"]
    md, _ = A.write_addition_table(tmp_path)
    assert "| 2×ST-CNN |" in md.read_text()
    assert benchmark.main(["addition", "--report", "--out", str(tmp_path)]) == 0
    assert "wrote" in capsys.readouterr().out
