"""MNIST addition (appendix A.1): FCN, CNN, ST-CNN, 2×ST-CNN — ``python -m stn_course.benchmark addition``.

Two MNIST digits, each RTS-distorted on its own, in the two channels of a 42 × 42 image; the
label is their sum (19 classes). The models are :func:`stn_course.models.build_addition_model`,
parameter-matched to the CNN baseline. Training pairs each of the 50k training digits with a
fixed partner (:func:`stn_course.data.split_params`) and draws fresh RTS distortions for every
batch on the device, as Table 1 does; validation and test are the fixed
:class:`~stn_course.data.MNISTAddition` splits (10k each).

Each run (model × seed) writes one JSON record to ``results/addition/`` with Table 1's
provenance, its errors and, for the models with transformers, where each transformer looks:
for every transformer, the share of test images whose sampling window is centred nearer the
digit of channel 1 than that of channel 2 (:func:`attention_shares`). The records are
aggregated into ``addition.md`` and ``addition.csv``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Mapping
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch

from .. import distortions as _distortions
from .. import training
from ..models import (ADDITION_MODELS, ADDITION_NAMES, ADDITION_VARIANTS, ParallelTransformers, STClassifier,
                      build_addition_model, count_parameters, normalize_addition_name)
from ..transformer import SpatialTransformer
from . import table1
from .cli import add_training_options, chosen_schedule, positive_int, records_folder, register, report_only
from .provenance import provenance, utc_now
from .records import (RESULTS_DIR, aggregate, checkpoint_path, curves, health_fields, load_runs, markdown_table,
                      run_id, save_weights_half, write_csv, write_json)
from .schedules import SCHEDULES as TABLE1_SCHEDULES
from .schedules import Schedule, precision_name

OUT_DIR = RESULTS_DIR / "addition"
DATA_SEED = 0
CANVAS = 42

#: ``efficient``: Table 1's recipe at its full length, 10,000 steps of 128 (1.28M images; the four
#: models took 66 minutes in two runs of two models on a 2-core CPU, one thread each — a first cut
#: to 3,000 steps left every model's validation error still falling fast); ``quick``: a few steps
#: on subsets, for the book and tests.
SCHEDULES: dict[str, Schedule] = {
    "efficient": TABLE1_SCHEDULES["efficient"],
    "quick": replace(TABLE1_SCHEDULES["quick"], steps=100, eval_every=50, train_subset=4_000, eval_subset=300),
    # the recipe with the localisation nets at a tenth of the rate: in 800-step probes of 2×ST-CNN
    # at the full rate 2 of the first net's 50 units before the head were still live, at a tenth 34
    "efficient-slowloc": replace(TABLE1_SCHEDULES["efficient"], name="efficient-slowloc", loc_lr_scale=0.1),
}
#: The order of the models in tables: the paper's, then the variants.
MODEL_ORDER = ADDITION_MODELS + ADDITION_VARIANTS


def addition_data(*, eval_subset: int | None = None, train_subset: int | None = None):
    """(train, val, test, augment, test_shifts) for the addition experiment.

    ``train`` holds clean digit pairs (N, 2, 28, 28) with their sums; ``augment`` RTS-distorts
    each channel on its own into (N, 2, 42, 42) for every batch. ``val`` and ``test`` are the
    fixed :class:`~stn_course.data.MNISTAddition` splits; ``test_shifts`` (N, 2, 2) holds where
    each test digit's centre was put, in pixels from the canvas's centre, per channel.
    """
    from .. import data

    images, labels, _ = data.mnist_split("train")
    partner = data.split_params("addition", "train", DATA_SEED)["partner"]
    train = (torch.cat([images, images[partner]], dim=1), labels + labels[partner])
    if train_subset:
        train = (train[0][:train_subset], train[1][:train_subset])
    splits = [data.MNISTAddition(split=s, seed=DATA_SEED, size=eval_subset) for s in ("val", "test")]
    val, test = (ds.tensors() for ds in splits)
    shifts = splits[1].params["shift"].float()

    def augment(pairs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return _distortions.addition(pairs[:, :1], pairs[:, 1:], generator)[0]

    return train, val, test, augment, shifts


def transformers_of(model: torch.nn.Module) -> list[SpatialTransformer]:
    """The spatial transformers of an addition model, in order (none for FCN and CNN)."""
    if not isinstance(model, STClassifier):
        return []
    t = model.transformer
    return list(t.transformers) if isinstance(t, ParallelTransformers) else [t]


def window_centres(model: torch.nn.Module, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Where each transformer's sampling window is centred: (K, N, 2) pixels (x, y) in the canvas.

    The output's centre (0, 0) samples the input at θ's translation (θ₁₃, θ₂₃), normalised;
    in pixels that is ``(t + 1) · 42 / 2``.
    """
    found = transformers_of(model)
    out = [[] for _ in found]
    was = model.training
    model.eval()
    device = next(model.parameters()).device
    try:
        with torch.no_grad():
            for i in range(0, len(images), batch_size):
                model(images[i:i + batch_size].to(device))
                for k, t in enumerate(found):
                    theta = t.last_params.view(-1, 2, 3)
                    out[k].append((theta[:, :, 2].cpu() + 1) * CANVAS / 2)
    finally:
        model.train(was)
    return torch.stack([torch.cat(o) for o in out]) if found else torch.empty(0, len(images), 2)


def attention_shares(centres: torch.Tensor, shifts: torch.Tensor) -> list[dict[str, float]]:
    """For each transformer: the share (%) of images whose window centre is nearer channel 1's
    digit than channel 2's, and the mean distance (pixels) to each digit's centre.

    ``centres`` (K, N, 2) from :func:`window_centres`; ``shifts`` (N, 2, 2) the digits' centres
    as pixel offsets from the canvas's centre (channel, then x, y).
    """
    digits = shifts + CANVAS / 2  # (N, 2 channels, 2)
    out = []
    for c in centres:
        d = (c[:, None, :] - digits).norm(dim=2)  # (N, 2)
        out.append({"nearer_channel_1": 100.0 * float((d[:, 0] < d[:, 1]).float().mean()),
                    "distance_channel_1": float(d[:, 0].mean()), "distance_channel_2": float(d[:, 1].mean())})
    return out


def run_addition_cell(model_name: str, seed: int, schedule: Schedule, out_dir: Path, *, device: torch.device,
                      progress: bool = True, save_weights: bool = False, command: str | None = None) -> dict[str, Any]:
    """Train and test one addition model with one seed; write and return its record.

    Skips the run if its record exists; resumes it from its checkpoint if one exists.
    """
    model_name = normalize_addition_name(model_name)
    rid = run_id(model_name, schedule.name, f"seed{seed}")
    path = Path(out_dir) / f"{rid}.json"
    if path.exists():
        return json.loads(path.read_text())
    started_at = utc_now()
    train, val, test, augment, shifts = addition_data(eval_subset=schedule.eval_subset,
                                                      train_subset=schedule.train_subset)
    if device.type == "cuda":
        train = tuple(t.to(device) for t in train)
    torch.manual_seed(seed)
    model = build_addition_model(model_name)
    ckpt = checkpoint_path(out_dir, rid)
    started = time.perf_counter()
    kwargs = schedule.fit_kwargs(device)
    history = training.fit(model, train, val, **kwargs, augment=augment, device=device, seed=seed,
                           checkpoint=ckpt, progress=progress)
    test_result = training.evaluate(model, test, device=device, amp=kwargs["amp"])
    wall = time.perf_counter() - started
    record = {
        "table": "addition", "run_id": rid, "model": model_name, "paper_name": ADDITION_NAMES[model_name],
        "seed": seed, "schedule": schedule.name, "schedule_settings": asdict(schedule),
        "steps": schedule.steps, "batch_size": schedule.batch_size, "images_seen": history.images_seen,
        "precision": precision_name(kwargs["amp"], device), "params": count_parameters(model),
        "val_error": history.best_val_error, "best_step": history.best_step,
        "final_val_error": history.val_error[-1] if history.val_error else None,
        "test_error": test_result["error"], "test_loss": test_result["loss"], "test_n": test_result["n"],
        "val_n": len(val[1]), "data": f"stn_course.benchmark.addition.addition_data() (MNISTAddition, seed={DATA_SEED})",
        "attention": attention_shares(window_centres(model, test[0]), shifts),
        "wall_time_s": wall, "train_time_s": history.train_time_s, "images_per_s": history.images_per_s,
        "resumed_from": history.resumed_from, "started_at": started_at, **provenance(device, command),
        **health_fields(model, test[0], rid), "curves": curves(history),
    }
    if save_weights and transformers_of(model):
        record["weights"] = save_weights_half(model, out_dir, rid)
    write_json(path, record)
    ckpt.unlink(missing_ok=True)
    return record


def is_full_length(record: Mapping[str, Any]) -> bool:
    """True when a run trained for its named schedule's whole length (not ``--steps`` or ``--quick``)."""
    return table1.is_full_length(record, SCHEDULES)


def write_addition_table(out_dir: Path) -> tuple[Path, Path] | None:
    """Aggregate the run records in ``out_dir`` into addition.md (one table per schedule) and addition.csv."""
    out_dir = Path(out_dir)
    runs = load_runs(out_dir)
    if not runs:
        return None
    for r in runs:
        r["task"] = "addition"
    keys = ["model", "schedule", "steps", "device"]
    rows = aggregate(runs, keys, "test_error")
    rows.sort(key=lambda r: (r["schedule"], MODEL_ORDER.index(r["model"])))
    csv_path = write_csv(out_dir / "addition.csv", rows, keys)
    parts = ["# MNIST addition: test error (%)", "",
             "Written by `python -m stn_course.benchmark addition` from the run records in this folder: "
             f"mean ± std over seeds, on the fixed test split (`MNISTAddition(split='test', seed={DATA_SEED})`)."]
    for sched in sorted({r["schedule"] for r in runs}):
        rs = [r for r in runs if r["schedule"] == sched]
        devices = "; ".join(sorted({r["device_name"] for r in rs}))
        parts += ["", f"## Schedule `{sched}` ({rs[0]['steps']} steps of {rs[0]['batch_size']}; {devices})", "",
                  markdown_table(aggregate(rs, ["model", "task"], "test_error"), "model", "task", MODEL_ORDER,
                                 ["addition"], ADDITION_NAMES.get)]
    md_path = out_dir / "addition.md"
    md_path.write_text("\n".join(parts) + "\n")
    return md_path, csv_path


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--models", nargs="+", default=list(ADDITION_MODELS), metavar="MODEL",
                   help=f"models to train (default: the paper's four): {' '.join(MODEL_ORDER)}")
    p.add_argument("--seeds", type=positive_int, default=1, help="number of seeds per model (seeds 0…N-1)")
    p.add_argument("--schedule", choices=[k for k in SCHEDULES if k != "quick"], default="efficient",
                   help="training schedule (default: efficient, Table 1's recipe: 10,000 steps of 128)")
    add_training_options(p, "addition", weights=True)


def _run(args: argparse.Namespace) -> int:
    out_dir = records_folder(args, OUT_DIR)
    if args.report:
        return report_only(out_dir, write_addition_table)
    schedule = chosen_schedule(args, SCHEDULES)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = training.resolve_device(args.device)
    started = time.perf_counter()
    for name in [normalize_addition_name(m) for m in args.models]:
        for seed in range(args.seeds):
            r = run_addition_cell(name, seed, schedule, out_dir, device=device, progress=not args.no_progress,
                                  save_weights=args.save_weights, command=args.command_line)
            print(f"{r['paper_name']:9s} seed {seed}: test error {r['test_error']:.2f}% (val {r['val_error']:.2f}%, "
                  f"{r['images_per_s']:.0f} img/s, {r['wall_time_s']:.0f} s)", flush=True)
    write_addition_table(out_dir)
    print(f"done in {time.perf_counter() - started:.0f} s; tables in {out_dir}")
    return 0


register("addition", "MNIST addition (appendix A.1): FCN, CNN, ST-CNN, 2×ST-CNN", _arguments, _run)
