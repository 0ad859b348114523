"""A 3D transformer that poses volumes (appendix A.3) — ``python -m stn_course.benchmark pose3d``.

Every MNIST training digit is extruded into a 28³ volume (a slab of :data:`THICKNESS` slices,
:func:`stn_course.volumes.posed_digits`) and turned into a random pose, afresh for every batch
(yaw and pitch uniform in ±60°, roll in ±30°). Three variants train on these volumes
(:data:`VARIANTS`):

* ``front-view`` (ours, chapter 11.3): a :class:`~stn_course.transformer3d.SpatialTransformer3D`
  warps the volume to (14, 28, 28), ``Projection("mean")`` flattens it, and the loss is the mean
  squared difference between the projection × :data:`GAIN` and the digit seen from the front.
  Seed 0 with the ``full`` schedule is the chapter's run at its full settings, step for step.
* ``classifier`` (the paper's, appendix A.3): the same transformer and projection feed Table 1's
  2D CNN, trained with cross-entropy on the digit labels only; no pose and no front view.
* ``classifier-no-st``: the same classifier reading the projection of the volume as posed, with
  no transformer, trained identically: the baseline that says whether the transformer helps.
  It is not parameter-matched: it lacks the localisation net's parameters.

Only the extrusion follows the paper; the sizes, the angles and the training are ours.

Each run (variant × seed) writes one JSON record to ``results/pose3d/`` with Table 1's
provenance and what the transformer does to the 500 held-out *probe* digits of chapter 11 (the
first 500 test digits in fixed random poses): the view angle of the chain pose → transformer
(:func:`stn_course.geometry.view_angle` of :func:`~stn_course.geometry.chain_theta`, 0° when the
projection sees the board from the front), as posed and after the transformer, its mean and
median, the mean |roll| and the mean squared difference from the front view. The classifier
variants also hold their error on the 10,000 MNIST test digits in fixed random poses, overall and
by posed view angle. The records are aggregated into ``pose3d.md`` and ``pose3d.csv``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .. import geometry, training, volumes
from .._checks import check_choice
from ..localization import CNN3DLocalization
from ..models import CNN, count_parameters
from ..transformer3d import Projection, ProjectionClassifier, SpatialTransformer3D, project
from . import table1
from .cli import add_training_options, chosen_schedule, positive_int, records_folder, register, report_only
from .provenance import provenance, utc_now
from .records import (RESULTS_DIR, aggregate, checkpoint_path, curves, format_cell, health_fields, load_runs,
                      mean_std, pipe_table, run_id, save_weights_half, write_csv, write_json)
from .schedules import precision_name

OUT_DIR = RESULTS_DIR / "pose3d"
VARIANTS = ("front-view", "classifier", "classifier-no-st")
VARIANT_NAMES = {"front-view": "ST, front-view loss (ours)", "classifier": "ST + CNN (A.3)",
                 "classifier-no-st": "CNN, no ST"}
#: Slices of the board a digit is extruded into; the chapter's.
THICKNESS = 4
#: The random poses: yaw and pitch uniform in ±60°, roll in ±30° (radians).
LIMITS = {"max_yaw": math.radians(60), "max_pitch": math.radians(60), "max_roll": math.radians(30)}
#: The transformer's output (D_out, H_out, W_out): half the slices, a projection needs no more.
OUT_SIZE = (14, 28, 28)
#: The front view's mean along depth × GAIN is the digit (the slab fills THICKNESS of 28 slices).
GAIN = 28 / THICKNESS
#: The probe: the first PROBE_SIZE test digits posed by a generator seeded PROBE_SEED (chapter 11's).
PROBE_SIZE = 500
PROBE_SEED = 1
#: Seeds of the fixed poses of the test and validation digits of the classifier variants.
TEST_POSE_SEED = 2
VAL_POSE_SEED = 3
#: Edges (degrees) of the posed view-angle bins the test error is broken down by.
VIEW_BINS = (0, 30, 45, 60, 90)


@dataclass(frozen=True)
class PoseSchedule:
    """How a pose3d model trains: Adam at a constant rate, ``steps`` batches of ``batch_size`` volumes.

    ``val_size``: posed validation digits whose error the classifier variants watch every
    ``eval_every`` steps (only watched: every variant keeps its last weights, as the chapter's
    run does); ``test_size``: posed test digits the classifiers are scored on (None: all 10,000).
    """

    name: str
    steps: int
    batch_size: int = 16
    lr: float = 3e-3
    eval_every: int = 500
    val_size: int = 1_000
    test_size: int | None = None
    train_subset: int | None = None


#: ``full``: the chapter's full setting (8,000 steps of 16 volumes, Adam at 3e-3, constant), for
#: every variant: the classifiers train exactly as long as the front-view transformer, so the
#: three see the same volumes in the same order. ``quick``: the chapter's quick setting (500 steps),
#: scored on fewer digits, for the book in quick mode and a pipeline check.
SCHEDULES: dict[str, PoseSchedule] = {
    "full": PoseSchedule("full", steps=8_000),
    "quick": PoseSchedule("quick", steps=500, eval_every=250, val_size=200, test_size=1_000),
}


def posed_volumes(digits: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """``fit``'s augment: digits (N, 1, 28, 28) → volumes (N, 1, 28, 28, 28), each freshly posed."""
    return volumes.posed_digits(digits, generator, thickness=THICKNESS, **LIMITS)[0]


def front_view_loss(view: torch.Tensor, digits: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Mean squared difference between the projection (N, 1, 28, 28) × :data:`GAIN` and the digits."""
    return F.mse_loss(view * GAIN, digits, reduction=reduction)


class Gain(nn.Module):
    """Multiply by a fixed factor (no parameters): (N, C, H, W) → (N, C, H, W)."""

    def __init__(self, factor: float):
        super().__init__()
        self.factor = float(factor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor

    def extra_repr(self) -> str:
        return f"factor={self.factor:g}"


def make_transformer() -> SpatialTransformer3D:
    """Chapter 11's transformer: a 3D CNN localisation net (identity at the start) → (14, 28, 28)."""
    return SpatialTransformer3D(CNN3DLocalization((1, 28, 28, 28)), out_size=OUT_SIZE)


def build_pose_model(variant: str) -> nn.Module:
    """The model of ``variant``: volumes (N, 1, 28, 28, 28) → a front view (N, 1, 28, 28) or logits (N, 10).

    ``front-view`` is chapter 11's ``nn.Sequential(transformer, Projection("mean"))`` (its
    state dict loads into the chapter's model); the classifiers are a
    :class:`~stn_course.transformer3d.ProjectionClassifier` whose classifier is Table 1's CNN
    behind a fixed gain of :data:`GAIN`, so that it reads the front view at the digit's brightness.
    """
    check_choice("variant", variant, VARIANTS)
    if variant == "front-view":
        return nn.Sequential(make_transformer(), Projection("mean"))
    classifier = nn.Sequential(OrderedDict(gain=Gain(GAIN), cnn=CNN((1, 28, 28))))
    transformer = make_transformer() if variant == "classifier" else None
    return ProjectionClassifier(classifier, transformer, reduce="mean")


def transformer_of(model: nn.Module) -> SpatialTransformer3D | None:
    """The 3D transformer of a pose3d model (None for ``classifier-no-st``)."""
    if isinstance(model, ProjectionClassifier):
        return model.transformer
    return next((m for m in model.modules() if isinstance(m, SpatialTransformer3D)), None)


def fixed_poses(n: int, seed: int) -> torch.Tensor:
    """θ (n, 3, 4) of ``n`` random poses drawn from a generator seeded ``seed`` (as :func:`posed_digits` draws them)."""
    return volumes.random_pose(n, torch.Generator().manual_seed(seed), **LIMITS)


def pose_digits(digits: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Extrude digits (N, 1, 28, 28) and pose them with ``theta`` (N, 3, 4): volumes (N, 1, 28, 28, 28)."""
    return volumes.pose(volumes.extrude(digits, thickness=THICKNESS), theta)


class Probe(NamedTuple):
    """Chapter 11's held-out probe: digits (N, 1, 28, 28), their posed volumes (N, 1, 28, 28, 28), θ (N, 3, 4)."""

    digits: torch.Tensor
    volumes: torch.Tensor
    theta: torch.Tensor


def probe_data(size: int = PROBE_SIZE) -> Probe:
    """The first ``size`` test digits in the fixed poses of chapter 11 (generator seed :data:`PROBE_SEED`)."""
    from .. import data

    digits = data.mnist_split("test")[0][:size]
    posed, theta = volumes.posed_digits(digits, torch.Generator().manual_seed(PROBE_SEED), thickness=THICKNESS,
                                        **LIMITS)
    return Probe(digits, posed, theta)


@torch.no_grad()
def transformed(model: nn.Module, volumes_: torch.Tensor, batch_size: int = 250) -> tuple[torch.Tensor, torch.Tensor]:
    """What the model's transformer does to ``volumes_`` (N, 1, D, H, W): its θ (N, 3, 4) and the
    front view it gives, the projection (N, 1, 28, 28) × :data:`GAIN`. Without a transformer,
    the identity and the projection of the volumes as they are."""
    t = transformer_of(model)
    if t is None:
        identity = geometry.theta3d_from().expand(len(volumes_), 3, 4).clone()
        return identity, project(volumes_, "mean") * GAIN
    device = next(t.parameters()).device
    was = t.training
    t.eval()
    thetas, views = [], []
    try:
        for i in range(0, len(volumes_), batch_size):
            views.append(project(t(volumes_[i:i + batch_size].to(device)), "mean").cpu() * GAIN)
            thetas.append(t.last_theta.cpu())
    finally:
        t.train(was)
    return torch.cat(thetas), torch.cat(views)


def mean_view_angle(model: nn.Module, probe: Probe) -> float:
    """The mean view angle (°) of the chain pose → transformer over the probe."""
    theta = transformed(model, probe.volumes)[0]
    return float(torch.rad2deg(geometry.view_angle(geometry.chain_theta(probe.theta, theta))).mean())


def probe_measure(model: nn.Module, probe: Probe) -> dict[str, float]:
    """How far the transformer turns the probe's digits to face the viewer.

    View angles (°) of the poses alone (``before``) and of the chain pose → transformer
    (``after``), their mean and median; the mean |roll| (°) before and after; the chain's mean
    scale (1 keeps the size); and the mean squared difference from the front view of the volumes
    as posed, after the transformer, and after undoing every pose exactly (the floor that
    sampling twice leaves). Without a transformer, ``after`` is ``before``.
    """
    theta, view = transformed(model, probe.volumes)
    chain = geometry.chain_theta(probe.theta, theta)
    before = torch.rad2deg(geometry.view_angle(probe.theta))
    after = torch.rad2deg(geometry.view_angle(chain))
    posed_parts = geometry.decompose_theta3d(probe.theta.double())
    chain_parts = geometry.decompose_theta3d(chain.double())
    undone = torch.cat([probe.theta[:, :, :3].transpose(1, 2), torch.zeros(len(chain), 3, 1)], dim=2)  # R⁻¹ = Rᵀ
    exact = project(volumes.pose(probe.volumes, undone), "mean") * GAIN
    return {"n": len(chain),
            "view_angle_before_mean": float(before.mean()), "view_angle_before_median": float(before.median()),
            "view_angle_after_mean": float(after.mean()), "view_angle_after_median": float(after.median()),
            "roll_before_mean_abs": float(posed_parts["roll"].rad2deg().abs().mean()),
            "roll_after_mean_abs": float(chain_parts["roll"].rad2deg().abs().mean()),
            "scale_after_mean": float(chain_parts["scale"].mean()),
            "mse_posed": float(F.mse_loss(project(probe.volumes, "mean") * GAIN, probe.digits)),
            "mse_after": float(F.mse_loss(view, probe.digits)),
            "mse_exact": float(F.mse_loss(exact, probe.digits))}


@torch.no_grad()
def posed_test(model: nn.Module, digits: torch.Tensor, labels: torch.Tensor, seed: int = TEST_POSE_SEED,
               batch_size: int = 500) -> dict[str, Any]:
    """Classify ``digits`` (N, 1, 28, 28) in fixed random poses (seed ``seed``), posed batch by batch.

    Returns ``{"error": %, "loss": mean cross-entropy, "n": N, "by_view_angle": [{"from", "to",
    "n", "error"}, …]}``, the last over the bins :data:`VIEW_BINS` of the posed view angle.
    Evaluated in float32 with the model in eval mode (restored afterwards).
    """
    theta = fixed_poses(len(digits), seed)
    device = next(model.parameters()).device
    was = model.training
    model.eval()
    wrong, loss = [], 0.0
    try:
        for i in range(0, len(digits), batch_size):
            x = pose_digits(digits[i:i + batch_size], theta[i:i + batch_size]).to(device)
            y = labels[i:i + batch_size].to(device)
            logits = model(x).float()
            loss += float(F.cross_entropy(logits, y, reduction="sum"))
            wrong.append((logits.argmax(1) != y).cpu())
    finally:
        model.train(was)
    wrong_ = torch.cat(wrong)
    angle = torch.rad2deg(geometry.view_angle(theta))
    bins = []
    for lo, hi in zip(VIEW_BINS, VIEW_BINS[1:]):
        inside = (angle >= lo) & (angle < hi)
        n = int(inside.sum())
        bins.append({"from": lo, "to": hi, "n": n,
                     "error": 100.0 * int(wrong_[inside].sum()) / n if n else None})
    return {"error": 100.0 * int(wrong_.sum()) / len(digits), "loss": loss / len(digits), "n": len(digits),
            "by_view_angle": bins}


def pose_data(variant: str, schedule: PoseSchedule):
    """(train, val, test) of ``variant``: ``train`` the clean training digits (N, 1, 28, 28) with
    their labels (the classifiers) or themselves (the front view, its target); ``val`` the first
    ``val_size`` validation digits posed with seed :data:`VAL_POSE_SEED`, as volumes and labels
    (None for the front view); ``test`` the clean test digits and labels, posed when scored."""
    from .. import data

    images, labels, _ = data.mnist_split("train")
    train = (images, images if variant == "front-view" else labels)
    if schedule.train_subset:
        train = (train[0][:schedule.train_subset], train[1][:schedule.train_subset])
    val = None
    if variant != "front-view":
        val_images, val_labels, _ = data.mnist_split("val")
        n = min(schedule.val_size, len(val_labels))
        val = (pose_digits(val_images[:n], fixed_poses(n, VAL_POSE_SEED)), val_labels[:n])
    test_images, test_labels, _ = data.mnist_split("test")
    n = schedule.test_size or len(test_labels)
    return train, val, (test_images[:n], test_labels[:n])


class _ViewAngleCurve:
    """``fit``'s callback: the probe's mean view angle every ``every`` steps, kept beside the
    checkpoint (``<checkpoint>.curve.json``) so that a resumed run keeps the points before it."""

    def __init__(self, model: nn.Module, probe: Probe, every: int, steps: int, checkpoint: Path):
        self.model, self.probe, self.every, self.steps = model, probe, every, steps
        self.path = checkpoint.with_suffix(".curve.json")
        self.points: list[list[float]] = []
        if checkpoint.exists() and self.path.exists():
            self.points = json.loads(self.path.read_text())
        if not self.points:
            self.add(0)

    def add(self, step: int) -> None:
        self.points.append([step, mean_view_angle(self.model, self.probe)])
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.points))

    def __call__(self, step: int, history: training.History) -> None:
        if step % self.every == 0 or step == self.steps:
            self.add(step)


def run_pose_cell(variant: str, seed: int, schedule: PoseSchedule, out_dir: Path, *, device: torch.device,
                  progress: bool = True, save_weights: bool = False, command: str | None = None) -> dict[str, Any]:
    """Train and measure one variant with one seed; write and return its record.

    Skips the run if its record exists; resumes it from its checkpoint if one exists.
    """
    check_choice("variant", variant, VARIANTS)
    rid = run_id(variant, schedule.name, f"seed{seed}")
    path = Path(out_dir) / f"{rid}.json"
    if path.exists():
        return json.loads(path.read_text())
    started_at = utc_now()
    train, val, test = pose_data(variant, schedule)
    if device.type == "cuda":
        train = tuple(t.to(device) for t in train)
    probe = probe_data()
    torch.manual_seed(seed)
    model = build_pose_model(variant).to(device)
    ckpt = checkpoint_path(out_dir, rid)
    watch = _ViewAngleCurve(model, probe, schedule.eval_every, schedule.steps, ckpt)
    started = time.perf_counter()
    history = training.fit(model, train, val, steps=schedule.steps, batch_size=schedule.batch_size, lr=schedule.lr,
                           optimizer="adam", schedule="none", augment=posed_volumes,
                           loss_fn=front_view_loss if variant == "front-view" else None,
                           eval_every=schedule.eval_every, device=device, seed=seed, checkpoint=ckpt,
                           progress=progress, restore_best=False, callback=watch)
    scored = posed_test(model, *test) if variant != "front-view" else None
    measured = probe_measure(model, probe)
    wall = time.perf_counter() - started
    record = {
        "table": "pose3d", "run_id": rid, "variant": variant, "variant_name": VARIANT_NAMES[variant], "seed": seed,
        "schedule": schedule.name, "schedule_settings": asdict(schedule), "steps": schedule.steps,
        "batch_size": schedule.batch_size, "volumes_seen": history.images_seen,
        "precision": precision_name("auto", device), "params": count_parameters(model),
        "probe": measured,
        "test_error": None if scored is None else scored["error"],
        "test_loss": None if scored is None else scored["loss"],
        "test_n": None if scored is None else scored["n"],
        "test_error_by_view_angle": None if scored is None else scored["by_view_angle"],
        "final_val_error": history.val_error[-1] if history.val_error else None,
        "val_n": None if val is None else len(val[1]),
        "data": (f"training digits of mnist_split('train') posed afresh every batch (THICKNESS={THICKNESS}, "
                 f"yaw/pitch ±60°, roll ±30°); probe: mnist_split('test')[:{PROBE_SIZE}] posed with seed "
                 f"{PROBE_SEED}; test: mnist_split('test') posed with seed {TEST_POSE_SEED}; val: "
                 f"mnist_split('val') posed with seed {VAL_POSE_SEED}"),
        "weights_kept": "last",
        "wall_time_s": wall, "train_time_s": history.train_time_s, "volumes_per_s": history.images_per_s,
        "resumed_from": history.resumed_from, "started_at": started_at, **provenance(device, command),
        **health_fields(model, probe.volumes, rid),
        "curves": {**curves(history), "view_angle_steps": [p[0] for p in watch.points],
                   "view_angle_mean": [p[1] for p in watch.points]},
    }
    if save_weights and transformer_of(model) is not None:
        record["weights"] = save_weights_half(model, out_dir, rid)
    write_json(path, record)
    ckpt.unlink(missing_ok=True)
    watch.path.unlink(missing_ok=True)
    return record


def is_full_length(record: Mapping[str, Any]) -> bool:
    """True when a run trained for its named schedule's whole length (not ``--steps`` or ``--quick``)."""
    return table1.is_full_length(record, SCHEDULES)


#: The test error within each bin of posed view angles, e.g. ``test_error_view0-30``.
BIN_METRICS = tuple(f"test_error_view{lo}-{hi}" for lo, hi in zip(VIEW_BINS, VIEW_BINS[1:]))
#: The numbers the tables aggregate over seeds: a record's probe measurements and its test error.
METRICS = ("test_error", *BIN_METRICS, "view_angle_before_mean", "view_angle_after_mean",
           "view_angle_before_median", "view_angle_after_median", "roll_before_mean_abs", "roll_after_mean_abs",
           "scale_after_mean", "mse_posed", "mse_after", "mse_exact")


def _flat(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record with its probe's measures and its test error per view-angle bin at the top level."""
    bins = {f"test_error_view{b['from']}-{b['to']}": b["error"] for b in record.get("test_error_by_view_angle") or []}
    return {**record, **record["probe"], **bins}


def _cell(rs: Sequence[Mapping[str, Any]], key: str, digits: int = 1) -> str:
    values = [r[key] for r in rs if r.get(key) is not None]
    return format_cell(*mean_std(values), len(values), digits) if values else "—"


def pose_table(runs: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of one schedule's table: a row per variant, each cell a mean ± std over seeds
    ("before → after" for the probe's measures: as posed, and after the transformer)."""
    header = ["variant", "test error (%)", "mean view angle (°)", "median view angle (°)", "mean |roll| (°)",
              "front-view MSE", "seeds"]
    rows = []
    for variant in VARIANTS:
        rs = [_flat(r) for r in runs if r["variant"] == variant]
        if not rs:
            continue
        pairs = [f"{_cell(rs, f'{m}_before_{s}')} → {_cell(rs, f'{m}_after_{s}')}"
                 for m, s in (("view_angle", "mean"), ("view_angle", "median"), ("roll", "mean_abs"))]
        mse = f"{_cell(rs, 'mse_posed', 4)} → {_cell(rs, 'mse_after', 4)} (exact {_cell(rs, 'mse_exact', 4)})"
        rows.append([VARIANT_NAMES[variant], _cell(rs, "test_error", 2), *pairs, mse,
                     ", ".join(str(r["seed"]) for r in sorted(rs, key=lambda r: r["seed"]))])
    return header, rows


def bin_table(runs: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the test error (%) by posed view angle: a row per classifier variant,
    a column per bin of :data:`VIEW_BINS` (mean ± std over seeds)."""
    edges = list(zip(VIEW_BINS, VIEW_BINS[1:]))
    header = ["variant", *(f"{lo}–{hi}°" for lo, hi in edges)]
    rows = []
    for variant in VARIANTS:
        rs = [_flat(r) for r in runs if r["variant"] == variant and r.get("test_error") is not None]
        if rs:
            rows.append([VARIANT_NAMES[variant], *(_cell(rs, m, 2) for m in BIN_METRICS)])
    return header, rows


def write_pose_table(out_dir: Path) -> tuple[Path, Path] | None:
    """Aggregate the run records in ``out_dir`` into pose3d.md (one table per schedule) and pose3d.csv
    (a line per variant, schedule and metric: mean, std, n, seeds)."""
    out_dir = Path(out_dir)
    runs = [_flat(r) for r in load_runs(out_dir)]
    if not runs:
        return None
    keys = ["variant", "schedule", "steps", "device", "metric"]
    rows = []
    for metric in METRICS:
        rows += [{**row, "metric": metric}
                 for row in aggregate([r for r in runs if r.get(metric) is not None],
                                      ["variant", "schedule", "steps", "device"], metric)]
    rows.sort(key=lambda r: (r["schedule"], VARIANTS.index(r["variant"]), METRICS.index(r["metric"])))
    csv_path = write_csv(out_dir / "pose3d.csv", rows, keys)
    parts = ["# A 3D transformer that poses volumes (appendix A.3)", "",
             "Written by `python -m stn_course.benchmark pose3d` from the run records in this folder: mean ± std "
             f"over seeds. The view angles, |roll| and front-view MSE are measured on {PROBE_SIZE} held-out test "
             f"digits in fixed random poses (seed {PROBE_SEED}), as posed → after the transformer (a model "
             "without one leaves them as posed); the test error on the MNIST test digits in fixed random poses "
             f"(seed {TEST_POSE_SEED}). The front-view MSE's \"exact\" undoes every pose exactly."]
    for sched in sorted({r["schedule"] for r in runs}):
        rs = [r for r in runs if r["schedule"] == sched]
        devices = "; ".join(sorted({r["device_name"] for r in rs}))
        parts += ["", f"## Schedule `{sched}` ({rs[0]['steps']} steps of {rs[0]['batch_size']} volumes; {devices})",
                  "", *pipe_table(*pose_table(rs))]
        header, table_rows = bin_table(rs)
        if table_rows:
            parts += ["", "Test error (%) by the view angle of the test digit's pose:", "",
                      *pipe_table(header, table_rows)]
    md_path = out_dir / "pose3d.md"
    md_path.write_text("\n".join(parts) + "\n")
    return md_path, csv_path


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS, metavar="V",
                   help=f"variants to train (default: all): {' '.join(VARIANTS)}")
    p.add_argument("--seeds", type=positive_int, default=1, help="number of seeds per variant (seeds 0…N-1)")
    p.add_argument("--seed-list", type=int, nargs="+", default=None, help="explicit seeds (overrides --seeds)")
    p.add_argument("--schedule", choices=[k for k in SCHEDULES if k != "quick"], default="full",
                   help="training schedule (default: full, the chapter's: 8,000 steps of 16 volumes)")
    add_training_options(p, "pose3d", weights=True)


def _run(args: argparse.Namespace) -> int:
    out_dir = records_folder(args, OUT_DIR)
    if args.report:
        return report_only(out_dir, write_pose_table)
    schedule = chosen_schedule(args, SCHEDULES)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = training.resolve_device(args.device)
    seeds = args.seed_list if args.seed_list is not None else list(range(args.seeds))
    started = time.perf_counter()
    for variant in args.variants:
        for seed in seeds:
            r = run_pose_cell(variant, seed, schedule, out_dir, device=device, progress=not args.no_progress,
                              save_weights=args.save_weights, command=args.command_line)
            p = r["probe"]
            error = "" if r["test_error"] is None else f"test error {r['test_error']:.2f}%, "
            print(f"{variant:16s} seed {seed}: {error}mean view angle {p['view_angle_before_mean']:.1f}° → "
                  f"{p['view_angle_after_mean']:.1f}° ({r['volumes_per_s']:.0f} volumes/s, {r['wall_time_s']:.0f} s)",
                  flush=True)
    write_pose_table(out_dir)
    print(f"done in {time.perf_counter() - started:.0f} s; tables in {out_dir}")
    return 0


register("pose3d", "A 3D transformer that poses volumes (appendix A.3): front-view loss, classifier, no-ST baseline",
         _arguments, _run)
