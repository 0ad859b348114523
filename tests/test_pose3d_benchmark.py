"""The 3D transformer's benchmark (appendix A.3): its three variants, the view-angle measurement on
the held-out probe, the posed test set, and the command's records and tables."""

import json
import math

import pytest
import torch
from torch import nn

from stn_course import benchmark, geometry, training, volumes
from stn_course.benchmark import pose3d as P
from stn_course.localization import CNN3DLocalization
from stn_course.models import count_parameters
from stn_course.transformer3d import Projection, SpatialTransformer3D

pytestmark = pytest.mark.usefixtures("one_thread")

RUN = ["pose3d", "--quick", "--steps", "2", "--threads", "1", "--no-progress", "--save-weights"]


def test_each_variant_maps_volumes_to_a_view_or_ten_logits():
    torch.manual_seed(0)
    x = torch.rand(2, 1, 28, 28, 28)
    assert P.build_pose_model("front-view")(x).shape == (2, 1, 28, 28)
    built = {v: P.build_pose_model(v) for v in ("classifier", "classifier-no-st")}
    for model in built.values():
        assert model(x).shape == (2, 10)
    assert P.transformer_of(built["classifier-no-st"]) is None
    transformer = count_parameters(P.make_transformer())
    assert count_parameters(built["classifier"]) == count_parameters(built["classifier-no-st"]) + transformer
    with pytest.raises(ValueError, match="variant must be one of"):
        P.build_pose_model("sideways")


def test_a_front_view_is_the_digit_at_its_brightness_for_both_projections():
    digits = torch.rand(3, 1, 28, 28)
    front = P.pose_digits(digits, geometry.theta3d_from().expand(3, 3, 4))
    for model in (P.build_pose_model("classifier"), P.build_pose_model("classifier-no-st")):
        # with and without the transformer's 14 output slices, the classifier reads the digit itself
        assert torch.allclose(model.classifier.gain(model.project(front)), digits, atol=1e-5)


def test_the_fixed_poses_are_those_posed_digits_draws():
    digits = torch.rand(5, 1, 28, 28)
    expected, theta = volumes.posed_digits(digits, torch.Generator().manual_seed(7), thickness=P.THICKNESS,
                                           **P.LIMITS)
    assert torch.equal(P.fixed_poses(5, 7), theta)
    assert torch.equal(P.pose_digits(digits, theta), expected)


def _probe_of(theta):
    torch.manual_seed(0)
    digits = torch.rand(len(theta), 1, 28, 28)
    return P.Probe(digits, P.pose_digits(digits, theta), theta)


def test_an_untrained_transformer_leaves_the_probes_posed_view_angles():
    # by hand: cos(view angle) = cos(yaw)·cos(pitch) for R = R_y R_x R_z; roll turns within the image
    yaw = torch.tensor([30.0, 0.0, 60.0, 0.0])
    pitch = torch.tensor([0.0, 45.0, 60.0, 0.0])
    roll = torch.tensor([0.0, 10.0, -20.0, 25.0])
    probe = _probe_of(geometry.theta3d_from(*(torch.deg2rad(a) for a in (yaw, pitch, roll))))
    by_hand = [30.0, 45.0, math.degrees(math.acos(0.25)), 0.0]
    torch.manual_seed(0)
    for variant in P.VARIANTS:
        model = P.build_pose_model(variant)
        theta, _ = P.transformed(model, probe.volumes)
        assert torch.allclose(theta, geometry.theta3d_from().expand(4, 3, 4), atol=1e-6)  # the identity
        m = P.probe_measure(model, probe)
        assert m["view_angle_after_mean"] == pytest.approx(m["view_angle_before_mean"], abs=1e-3)
        assert m["view_angle_after_median"] == pytest.approx(m["view_angle_before_median"], abs=1e-3)
        assert m["roll_after_mean_abs"] == pytest.approx(m["roll_before_mean_abs"], abs=1e-3)
        assert m["view_angle_before_mean"] == pytest.approx(sum(by_hand) / 4, abs=1e-3)
        assert m["roll_before_mean_abs"] == pytest.approx((0 + 10 + 20 + 25) / 4, abs=1e-3)
        assert P.mean_view_angle(model, probe) == pytest.approx(sum(by_hand) / 4, abs=1e-3)
    assert m["mse_after"] == m["mse_posed"]  # without a transformer: the projection as posed


def test_the_chapter_probe_is_the_first_test_digits_in_seed_one_poses():
    probe = P.probe_data(8)
    assert probe.volumes.shape == (8, 1, 28, 28, 28) and probe.theta.shape == (8, 3, 4)
    assert torch.equal(probe.theta, P.fixed_poses(8, P.PROBE_SEED))


def test_the_posed_test_error_and_its_view_angle_bins():
    torch.manual_seed(0)
    model = P.build_pose_model("classifier-no-st")
    digits, labels = torch.rand(30, 1, 28, 28), torch.randint(0, 10, (30,))
    scored = P.posed_test(model, digits, labels, batch_size=8)
    assert scored["n"] == 30 and sum(b["n"] for b in scored["by_view_angle"]) == 30
    wrong = sum(b["error"] * b["n"] / 100 for b in scored["by_view_angle"] if b["n"])
    assert scored["error"] == pytest.approx(100 * wrong / 30)
    whole = P.posed_test(model, digits, labels, batch_size=30)  # the same poses, whatever the batches
    assert whole["by_view_angle"] == scored["by_view_angle"] and whole["error"] == scored["error"]
    assert whole["loss"] == pytest.approx(scored["loss"])


def test_front_view_seed_0_trains_as_the_chapters_cell(tmp_path):
    """The record's front-view run is chapter 11.3's (cell ch11-3d-08) step for step."""
    from stn_course import data

    tiny = P.PoseSchedule("tiny", steps=3, eval_every=3, val_size=10, test_size=10)
    record = P.run_pose_cell("front-view", 0, tiny, tmp_path, device=torch.device("cpu"), progress=False,
                             save_weights=True, command="test")
    train_digits = data.mnist_split("train")[0]
    torch.manual_seed(0)
    poser = SpatialTransformer3D(CNN3DLocalization((1, 28, 28, 28)), out_size=(14, 28, 28))
    model = nn.Sequential(poser, Projection("mean"))
    training.fit(model, (train_digits, train_digits), steps=3, batch_size=16, lr=3e-3, augment=P.posed_volumes,
                 loss_fn=P.front_view_loss, seed=0, progress=False, device="cpu")
    assert P.probe_measure(model, P.probe_data())["view_angle_after_mean"] == record["probe"]["view_angle_after_mean"]
    saved = torch.load(tmp_path / record["weights"])
    assert saved.keys() == model.state_dict().keys()  # the chapter's model loads the weights


def test_an_interrupted_run_resumes_with_its_view_angle_curve(tmp_path, monkeypatch):
    tiny = P.PoseSchedule("tiny", steps=6, eval_every=2, val_size=10, test_size=10)
    measure = P._ViewAngleCurve.__call__

    def interrupted(self, step, history):
        measure(self, step, history)
        if step == 5:
            raise KeyboardInterrupt

    monkeypatch.setattr(P._ViewAngleCurve, "__call__", interrupted)
    with pytest.raises(KeyboardInterrupt):
        P.run_pose_cell("front-view", 0, tiny, tmp_path, device=torch.device("cpu"), progress=False)
    monkeypatch.undo()
    assert (tmp_path / "checkpoints" / "front-view_tiny_seed0.curve.json").exists()
    record = P.run_pose_cell("front-view", 0, tiny, tmp_path, device=torch.device("cpu"), progress=False)
    assert record["resumed_from"] == 4 and record["curves"]["view_angle_steps"] == [0, 2, 4, 6]
    assert not list((tmp_path / "checkpoints").glob("*"))


def test_quick_runs_write_records_skip_when_done_and_report(tmp_path, capsys):
    out = ["--out", str(tmp_path)]
    assert benchmark.main(RUN + out) == 0
    records = {v: json.loads((tmp_path / f"{v}_quick2_seed0.json").read_text()) for v in P.VARIANTS}
    for variant, r in records.items():
        for key in ("command", "git_commit", "git_dirty", "device", "device_name", "seed", "steps", "wall_time_s",
                    "volumes_per_s", "probe", "test_error", "schedule_settings", "curves", "params"):
            assert key in r, (variant, key)
        assert r["steps"] == 2 and r["probe"]["n"] == P.PROBE_SIZE and not P.is_full_length(r)
        assert r["curves"]["view_angle_steps"] == [0, 2]
        for key in ("view_angle_before_mean", "view_angle_after_median", "roll_after_mean_abs", "mse_after"):
            assert math.isfinite(r["probe"][key])
    assert records["front-view"]["test_error"] is None
    for v in ("classifier", "classifier-no-st"):
        assert records[v]["test_n"] == P.SCHEDULES["quick"].test_size and 0 <= records[v]["test_error"] <= 100
    for v in ("front-view", "classifier"):
        assert len(records[v]["transformer_health"]["transformers"]) == 1
        assert (tmp_path / records[v]["weights"]).exists()
    assert "transformer_health" not in records["classifier-no-st"] and "weights" not in records["classifier-no-st"]
    assert not list((tmp_path / "checkpoints").glob("*"))  # checkpoints and curves removed when done
    capsys.readouterr()

    assert benchmark.main(RUN + out + ["--variants", "classifier-no-st"]) == 0  # done: read back, not trained
    again = json.loads((tmp_path / "classifier-no-st_quick2_seed0.json").read_text())
    assert again["finished_at"] == records["classifier-no-st"]["finished_at"]
    assert benchmark.main(RUN + out + ["--variants", "classifier-no-st", "--seed-list", "1"]) == 0
    assert json.loads((tmp_path / "classifier-no-st_quick2_seed1.json").read_text())["seed"] == 1

    (tmp_path / "pose3d.md").unlink()
    assert benchmark.main(["pose3d", "--report"] + out) == 0
    assert "wrote" in capsys.readouterr().out
    md = (tmp_path / "pose3d.md").read_text()
    for name in P.VARIANT_NAMES.values():
        assert f"| {name} |" in md
    assert "0, 1 |" in md  # the no-ST baseline's two seeds
    assert "| variant | 0–30° | 30–45° | 45–60° | 60–90° |" in md  # the classifiers' error by view angle
    csv = (tmp_path / "pose3d.csv").read_text().splitlines()
    assert csv[0] == "variant,schedule,steps,device,metric,mean,std,n,seeds"
    assert any(line.startswith("classifier-no-st,quick2,2,cpu,test_error,") and line.endswith(",2,0 1")
               for line in csv)
    assert not any(line.startswith("front-view,") and ",test_error," in line for line in csv)


def test_a_bad_variant_is_refused_by_name(tmp_path, capsys):
    with pytest.raises(SystemExit):
        benchmark.main(["pose3d", "--variants", "sideways", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert "--variants" in err and "sideways" in err
    with pytest.raises(ValueError, match="variant must be one of .* got 'sideways'"):
        P.run_pose_cell("sideways", 0, P.SCHEDULES["quick"], tmp_path, device=torch.device("cpu"))
    assert not list(tmp_path.iterdir())
