"""Reproduce the paper's tables with one command.

Usage::

    python -m stn_course.benchmark table1                     # the whole grid, the efficient recipe
    python -m stn_course.benchmark table1 --models cnn st-cnn-aff --distortions R RTS --seeds 3
    python -m stn_course.benchmark table1 --jobs 8            # eight cells at once (one GPU, or CPU cores)
    python -m stn_course.benchmark table1 --schedule paper    # the paper's 150k-step SGD
    python -m stn_course.benchmark table1 --quick             # a few steps, to check the pipeline
    python -m stn_course.benchmark table1 --report            # only rebuild the tables

Each run (model × distortion × seed) writes one JSON file to ``results/table1/`` with its
provenance (command, git commit, device, torch version, seed, schedule, steps, wall time,
throughput) and its validation and test errors; then the runs are aggregated into
``table1.md`` and ``table1.csv`` (mean ± std over seeds). Runs whose JSON exists are skipped,
and an interrupted run resumes from its checkpoint, so running the same command again after
an interruption finishes the grid without losing work.

Other tables plug in through :func:`register` (see ``EXTERNAL_SUBCOMMANDS``) and reuse the
helpers here: :func:`provenance`, :func:`run_id`, :func:`write_json`, :func:`load_runs`,
:func:`aggregate`, :func:`write_csv`, :func:`markdown_table`, :func:`checkpoint_path`.
"""

from __future__ import annotations

import argparse
import csv
import datetime as _dt
import importlib
import io
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from . import training
from . import distortions as _distortions
from .models import DISTORTIONS, MODEL_NAMES, PAPER_NAMES, build_model, count_parameters, normalize_name

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO_ROOT / "results"

# ------------------------------------------------------------------------------------- registry

Handler = Callable[[argparse.Namespace], int]
SUBCOMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Handler]] = {}
#: Modules that register more subcommands when imported (e.g. ``table2`` for SVHN).
EXTERNAL_SUBCOMMANDS = ("stn_course.svhn_benchmark",)


def register(name: str, help: str, add_arguments: Callable[[argparse.ArgumentParser], None], run: Handler) -> None:
    """Add a subcommand: ``add_arguments(parser)`` declares its options, ``run(args)`` returns an exit code."""
    SUBCOMMANDS[name] = (help, add_arguments, run)


def _load_external() -> None:
    for module in EXTERNAL_SUBCOMMANDS:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name != module:
                raise


# ------------------------------------------------------------------------------------- provenance


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def device_name(device: torch.device) -> str:
    """A human-readable name of ``device`` ("NVIDIA H100 80GB HBM3", "cpu: x86_64, 2 threads")."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu: {_cpu_model()}, {torch.get_num_threads()} torch threads, {os.cpu_count()} cores visible"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def provenance(device: torch.device, command: str | None = None) -> dict[str, Any]:
    """Where and how a result was produced: command, git commit, device, versions, time."""
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "command": command if command is not None else " ".join(sys.argv),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(status) if status is not None else None,
        "device": str(device),
        "device_name": device_name(device),
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "num_threads": torch.get_num_threads(),
        "world_size": int(os.environ.get("WORLD_SIZE", "1")),
        "finished_at": _now(),
    }


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


# ------------------------------------------------------------------------------------- files


def run_id(*parts: object) -> str:
    """A file-name-safe identifier of one run, e.g. ``st-cnn-aff_RTS_fast_seed0``."""
    return "_".join(str(p) for p in parts).replace("/", "-").replace(" ", "-")


def write_json(path: Path, record: Mapping[str, Any]) -> None:
    """Write ``record`` atomically (a killed process never leaves half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=1, sort_keys=False) + "\n")
    os.replace(tmp, path)


def load_runs(out_dir: Path, pattern: str = "*.json") -> list[dict[str, Any]]:
    """Every run record in ``out_dir`` (sorted by file name)."""
    return [json.loads(p.read_text()) for p in sorted(Path(out_dir).glob(pattern))]


def find_results(table: str = "table1") -> Path:
    """The folder of ``table``'s records: ``results/<table>`` in the current folder or one of its
    parents (a chapter runs in ``book/``), else beside the package (an editable install)."""
    for folder in (Path.cwd(), *Path.cwd().parents):
        if (folder / "results" / table).is_dir():
            return folder / "results" / table
    return RESULTS_DIR / table


def checkpoint_path(out_dir: Path, rid: str) -> Path:
    """Where a run keeps its resumable checkpoint (not for committing: see the folder's .gitignore)."""
    return Path(out_dir) / "checkpoints" / f"{rid}.pt"


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return mean, std


def aggregate(runs: Iterable[Mapping[str, Any]], keys: Sequence[str], metric: str) -> list[dict[str, Any]]:
    """Group runs by ``keys`` and summarise ``metric``: one row per group with mean, std, n, seeds."""
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for r in runs:
        groups.setdefault(tuple(r[k] for k in keys), []).append(r)
    rows = []
    for key, rs in groups.items():
        mean, std = mean_std([float(r[metric]) for r in rs])
        rows.append({**dict(zip(keys, key)), "mean": mean, "std": std, "n": len(rs),
                     "seeds": sorted(r.get("seed") for r in rs)})
    return rows


def format_cell(mean: float, std: float, n: int, digits: int = 2) -> str:
    return f"{mean:.{digits}f}" if n == 1 else f"{mean:.{digits}f} ± {std:.{digits}f}"


def write_csv(path: Path, rows: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> Path:
    """One line per aggregated cell: ``keys`` then mean, std, n and the seeds."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*keys, "mean", "std", "n", "seeds"])
    for r in rows:
        w.writerow([*(r[k] for k in keys), f"{r['mean']:.4f}", f"{r['std']:.4f}", r["n"],
                    " ".join(map(str, r["seeds"]))])
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(buf.getvalue())
    return Path(path)


def markdown_table(rows: Sequence[Mapping[str, Any]], row_key: str, col_key: str, row_order: Sequence[str],
                   col_order: Sequence[str], row_label: Callable[[str], str] = str, digits: int = 2) -> str:
    """Rows × columns of "mean ± std" cells ("—" where no run exists)."""
    cells = {(r[row_key], r[col_key]): r for r in rows}
    cols = [c for c in col_order if any(k[1] == c for k in cells)]
    lines = ["| model | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for rk in row_order:
        if not any(k[0] == rk for k in cells):
            continue
        vals = [format_cell(c["mean"], c["std"], c["n"], digits) if (c := cells.get((rk, col))) else "—"
                for col in cols]
        lines.append(f"| {row_label(rk)} | " + " | ".join(vals) + " |")
    return "\n".join(lines)


def _order(order: Sequence[str], key: str) -> int:
    return order.index(key) if key in order else len(order)


# ------------------------------------------------------------------------------------- Table 1

#: The paper's Table 1 (percent test error), for comparison in tables and the book.
PAPER_TABLE1: dict[str, dict[str, float]] = {
    "fcn": {"R": 2.1, "RTS": 5.2, "P": 3.1, "E": 3.2, "TC": 13.2},
    "cnn": {"R": 1.2, "RTS": 0.8, "P": 1.5, "E": 1.4, "TC": 3.5},
    "st-fcn-aff": {"R": 1.2, "RTS": 0.8, "P": 1.5, "E": 2.7, "TC": 2.0},
    "st-fcn-proj": {"R": 1.3, "RTS": 0.9, "P": 1.4, "E": 2.6},
    "st-fcn-tps": {"R": 1.1, "RTS": 0.8, "P": 1.4, "E": 2.4},
    "st-cnn-aff": {"R": 0.7, "RTS": 0.5, "P": 0.8, "E": 1.2, "TC": 1.7},
    "st-cnn-proj": {"R": 0.8, "RTS": 0.6, "P": 0.8, "E": 1.3},
    "st-cnn-tps": {"R": 0.7, "RTS": 0.5, "P": 0.8, "E": 1.1},
}
#: Sun & Lin's student replication (Columbia ECBM 4040, 2016; affine ST, 40k iterations).
SUN_LIN_TABLE1: dict[str, dict[str, float]] = {
    "fcn": {"R": 7.85, "RTS": 20.58, "P": 10.94},
    "st-fcn-aff": {"R": 5.38, "RTS": 6.90, "P": 8.27},
    "cnn": {"R": 4.41, "RTS": 8.11, "P": 6.99},
    "st-cnn-aff": {"R": 3.37, "RTS": 6.33, "P": 6.44},
}


@dataclass(frozen=True)
class Schedule:
    """How long and how one Table 1 model trains (see :func:`stn_course.training.fit`)."""

    name: str
    steps: int
    batch_size: int
    optimizer: str
    lr: float
    momentum: float = 0.9
    schedule: str = "none"
    milestones: tuple[int, ...] = ()
    gamma: float = 0.1
    warmup: int = 0
    loc_lr_scale: float = 1.0
    weight_decay: float = 0.0
    nesterov: bool = False
    label_smoothing: float = 0.0
    ema: float | None = None
    #: mixed precision: "auto" (CUDA only) or "native" (CUDA, and bfloat16 on CPUs that
    #: compute it natively); the transformers stay in float32 either way
    precision: str = "auto"
    channels_last: bool = False
    eval_every: int = 1000
    train_subset: int | None = None
    eval_subset: int | None = None

    def amp(self, device: torch.device) -> bool | str:
        """The ``amp`` argument of :func:`~stn_course.training.fit` on ``device``."""
        if self.precision == "native":
            return device.type == "cuda" or (device.type == "cpu" and training.cpu_bf16_supported())
        return "auto"

    def fit_kwargs(self, device: torch.device) -> dict[str, Any]:
        return dict(steps=self.steps, batch_size=self.batch_size, optimizer=self.optimizer, lr=self.lr,
                    momentum=self.momentum, schedule=self.schedule, milestones=self.milestones, gamma=self.gamma,
                    warmup=self.warmup, loc_lr_scale=self.loc_lr_scale, weight_decay=self.weight_decay,
                    nesterov=self.nesterov, label_smoothing=self.label_smoothing, ema=self.ema,
                    amp=self.amp(device), channels_last=self.channels_last, eval_every=self.eval_every)


def precision_name(amp: bool | str, device: torch.device) -> str:
    """What ``fit(amp=amp)`` computes in on ``device``, for the records."""
    if amp == "auto":
        amp = device.type == "cuda"
    if not amp:
        return "float32"
    if device.type == "cpu":
        return "bfloat16 autocast (transformer float32)"
    bf16 = torch.cuda.is_bf16_supported()
    return f"{'bfloat16' if bf16 else 'float16'} autocast (transformer float32)"


SCHEDULES: dict[str, Schedule] = {
    # The paper (appendix A): SGD, lr 0.01, batch 256, 150k iterations, ×0.1 every 50k.
    # Momentum is not stated; we use 0.9.
    "paper": Schedule("paper", steps=150_000, batch_size=256, optimizer="sgd", lr=0.01, momentum=0.9,
                      schedule="step", milestones=(50_000, 100_000), eval_every=5_000),
    # Ours: Adam with a short warm-up and cosine decay; ~7.7 epochs of fresh distortions.
    # (A 400-step probe on R, ST-CNN Aff: loc_lr_scale 1.0 reached 7.1 % val error, 0.1 reached 10.1 %.)
    "fast": Schedule("fast", steps=3_000, batch_size=128, optimizer="adam", lr=1e-3, schedule="cosine",
                     warmup=100, loc_lr_scale=1.0, eval_every=500),
    # The course's compute-efficient recipe: AdamW at a 4× higher rate, warm-up and cosine decay,
    # label smoothing, an exponential moving average of the weights; mixed precision and
    # channels-last where the hardware has them (speed only). 10,000 steps of 128: 1.28M images,
    # 1/30 of the paper's 38.4M. Chosen from 1,500-step probes of ST-CNN Aff on R (Adam at 1e-3,
    # 2e-3; AdamW at 1e-3, 2e-3, 4e-3, 8e-3); what each choice buys is measured by the ablation
    # schedules below, whose runs chapter 9 shows.
    "efficient": Schedule("efficient", steps=10_000, batch_size=128, optimizer="adamw", lr=4e-3,
                          weight_decay=0.01, schedule="cosine", warmup=500, label_smoothing=0.1, ema=0.998,
                          precision="native", channels_last=True, eval_every=500),
    # A few steps on small subsets: checks the pipeline end to end (tests, the book in quick mode).
    "quick": Schedule("quick", steps=30, batch_size=32, optimizer="adam", lr=1e-3, schedule="cosine",
                      eval_every=15, train_subset=2_000, eval_subset=500),
}
def _ablation() -> dict[str, Schedule]:
    """The recipe built up one choice at a time from the old ``fast`` one, each at 3,000 steps
    of 128 (384k images), then three variations of the whole recipe; chapter 9 shows their runs.
    Every one runs with the recipe's precision and memory format, which change speed only."""
    efficient = SCHEDULES["efficient"]
    old = replace(SCHEDULES["fast"], precision=efficient.precision, channels_last=efficient.channels_last)
    lr = replace(old, lr=efficient.lr, warmup=150)
    adamw = replace(lr, optimizer="adamw", weight_decay=efficient.weight_decay)
    smooth = replace(adamw, label_smoothing=efficient.label_smoothing)
    recipe = replace(smooth, ema=efficient.ema)
    steps = {"abl-adam": old, "abl-lr": lr, "abl-adamw": adamw, "abl-smooth": smooth, "abl-ema": recipe,
             "abl-sgd": replace(recipe, optimizer="sgd", nesterov=True, lr=0.05, weight_decay=5e-4),
             "abl-loc0.1": replace(recipe, loc_lr_scale=0.1),
             "abl-batch256": replace(recipe, batch_size=256, steps=1_500, warmup=75, eval_every=250)}
    return {name: replace(s, name=name) for name, s in steps.items()}


#: Ablation schedules, in the order chapter 9 shows them (what each adds to the one before).
ABLATION: dict[str, Schedule] = _ablation()
#: What each ablation schedule changes, for the chapter's table.
ABLATION_CHANGES: dict[str, str] = {
    "abl-adam": "the old fast recipe: Adam, lr 1e-3, warm-up and cosine decay",
    "abl-lr": "learning rate 4e-3",
    "abl-adamw": "AdamW (decoupled weight decay 0.01)",
    "abl-smooth": "label smoothing 0.1",
    "abl-ema": "weight average (EMA 0.998): the whole recipe",
    "abl-sgd": "the recipe with SGD + Nesterov momentum (lr 0.05) instead of AdamW",
    "abl-loc0.1": "the recipe with the localisation net at 1/10 of the rate",
    "abl-batch256": "the recipe with batches of 256 (half the steps, same images)",
}
SCHEDULES.update(ABLATION)
DATA_SEED = 0  # the fixed validation and test sets are the same for every run


def table1_data(distortion: str, *, eval_subset: int | None = None, train_subset: int | None = None
                ) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor],
                           tuple[torch.Tensor, torch.Tensor], Callable[[torch.Tensor, torch.Generator], torch.Tensor]]:
    """(train, val, test, augment) for one distortion.

    ``train`` holds the 50k undistorted training digits; ``augment`` distorts each batch
    afresh on the device. ``val`` (10k) and ``test`` (10k) are the fixed distorted splits.
    """
    from . import data

    size = max(train_subset or 0, eval_subset or 0) or None
    train, val, test = data.table1_splits(distortion, seed=DATA_SEED, size=size)
    if train_subset:
        train = (train[0][:train_subset], train[1][:train_subset])
    if eval_subset:
        val, test = (val[0][:eval_subset], val[1][:eval_subset]), (test[0][:eval_subset], test[1][:eval_subset])

    def augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return _distortions.apply(distortion, images, generator)[0]

    return train, val, test, augment


def run_table1_cell(model_name: str, distortion: str, seed: int, schedule: Schedule, out_dir: Path, *,
                    device: torch.device, progress: bool = True, save_weights: bool = False,
                    command: str | None = None) -> dict[str, Any]:
    """Train and test one model on one distortion with one seed; write and return its record.

    Skips the run if its record exists; resumes it from its checkpoint if one exists.
    """
    model_name = normalize_name(model_name)
    rid = run_id(model_name, distortion, schedule.name, f"seed{seed}")
    path = Path(out_dir) / f"{rid}.json"
    if path.exists():
        return json.loads(path.read_text())
    started_at = _now()
    train, val, test, augment = table1_data(distortion, eval_subset=schedule.eval_subset,
                                            train_subset=schedule.train_subset)
    if device.type == "cuda":  # keep the whole dataset on the GPU: batches are then index lookups
        train = tuple(t.to(device) for t in train)
    torch.manual_seed(seed)
    model = build_model(model_name, distortion)
    ckpt = checkpoint_path(out_dir, rid)
    started = time.perf_counter()
    kwargs = schedule.fit_kwargs(device)
    history = training.fit(model, train, val, **kwargs, augment=augment, device=device, seed=seed,
                           checkpoint=ckpt, progress=progress)
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun, rank 0 tests and writes the record
        return {"run_id": rid, "rank": int(os.environ["RANK"])}
    test_result = training.evaluate(model, test, device=device, amp=kwargs["amp"])
    wall = time.perf_counter() - started
    record = {
        "table": "table1", "run_id": rid, "model": model_name, "paper_name": PAPER_NAMES[model_name],
        "distortion": distortion, "seed": seed, "schedule": schedule.name, "schedule_settings": asdict(schedule),
        "steps": schedule.steps, "batch_size": schedule.batch_size, "images_seen": history.images_seen,
        "precision": precision_name(kwargs["amp"], device), "params": count_parameters(model),
        "val_error": history.best_val_error, "best_step": history.best_step,
        "final_val_error": history.val_error[-1] if history.val_error else None,
        "test_error": test_result["error"], "test_loss": test_result["loss"], "test_n": test_result["n"],
        "val_n": len(val[1]), "data": f"stn_course.data.table1_splits({distortion!r}, seed={DATA_SEED})", "wall_time_s": wall, "train_time_s": history.train_time_s,
        "images_per_s": history.images_per_s, "resumed_from": history.resumed_from, "started_at": started_at,
        **provenance(device, command),
        "curves": curves(history),
    }
    if save_weights:
        record["weights"] = save_weights_half(model, out_dir, rid)
    write_json(path, record)
    ckpt.unlink(missing_ok=True)
    return record


def is_gpu(record: Mapping[str, Any]) -> bool:
    return str(record.get("device", "")).startswith("cuda")


def is_full_length(record: Mapping[str, Any]) -> bool:
    """True when a run trained for its named schedule's whole length (not ``--steps`` or ``--quick``)."""
    schedule = SCHEDULES.get(record["schedule"])
    return schedule is not None and record["schedule"] != "quick" and record["steps"] == schedule.steps


def how_obtained(rows: Sequence[Mapping[str, Any]]) -> str:
    """How a cell's runs were obtained, e.g. "CPU, efficient (full length: 1.28M images), 1 seed"."""
    r = rows[0]
    length = "full length" if is_full_length(r) else "short"
    images = r.get("images_seen") or r["steps"] * r["batch_size"]
    seeds = len(rows)
    return (f"{'GPU' if is_gpu(r) else 'CPU'}, {r['schedule']} ({length}: {images / 1e6:.2g}M images), "
            f"{seeds} seed{'s' if seeds > 1 else ''}")


def best_cells(runs: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], list[Mapping[str, Any]]]:
    """For each (model, distortion), the runs of its best-obtained group: full length before
    short, then GPU before CPU, then the most images seen and seeds. A group is one schedule on
    one kind of device."""
    groups: dict[tuple[str, str], dict[tuple[str, bool], list[Mapping[str, Any]]]] = {}
    for r in runs:
        groups.setdefault((r["model"], r["distortion"]), {}).setdefault((r["schedule"], is_gpu(r)), []).append(r)

    def rank(rows: list[Mapping[str, Any]]) -> tuple:
        r = rows[0]
        return is_full_length(r), is_gpu(r), r.get("images_seen") or r["steps"] * r["batch_size"], len(rows)

    return {cell: max(by_group.values(), key=rank) for cell, by_group in groups.items()}


def curves(history: training.History, points: int = 100) -> dict[str, Any]:
    """The learning curves of a run, for its record: validation error and the loss averaged to ~``points``."""
    loss = history.loss
    every = max(len(loss) // points, 1)
    return {"val_steps": history.val_steps, "val_error": history.val_error, "loss_every": every,
            "loss": [sum(loss[i:i + every]) / len(loss[i:i + every]) for i in range(0, len(loss), every)]}


def save_weights_half(model: torch.nn.Module, out_dir: Path, rid: str) -> str:
    """Save ``model``'s weights in float16 to ``out_dir/weights/<rid>.pt``; return that path relative to ``out_dir``."""
    weights = Path(out_dir) / "weights" / f"{rid}.pt"
    weights.parent.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}, weights)
    return str(weights.relative_to(out_dir))


def load_weights(model: torch.nn.Module, record: Mapping[str, Any], out_dir: Path | None = None) -> torch.nn.Module:
    """Load the (float16-saved) weights of a run record into ``model`` built with the same name."""
    out_dir = Path(out_dir) if out_dir is not None else RESULTS_DIR / record.get("table", "table1")
    state = torch.load(out_dir / record["weights"], map_location="cpu")
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    return model


def write_table1(out_dir: Path) -> tuple[Path, Path] | None:
    """Aggregate the run records in ``out_dir`` into table1.md (one table per schedule) and table1.csv."""
    out_dir = Path(out_dir)
    runs = load_runs(out_dir)
    if not runs:
        return None
    keys = ["model", "distortion", "schedule", "steps", "device"]
    rows = aggregate(runs, keys, "test_error")
    rows.sort(key=lambda r: (r["schedule"], _order(MODEL_NAMES, r["model"]), _order(DISTORTIONS, r["distortion"])))
    csv_path = write_csv(out_dir / "table1.csv", rows, keys)
    parts = ["# Table 1: test error (%) on distorted MNIST", "",
             "Written by `python -m stn_course.benchmark table1` from the run records in this folder: "
             "mean ± std over seeds (n and seeds in table1.csv), on the fixed distorted test sets "
             f"(`stn_course.data.table1_splits(..., seed={DATA_SEED})`)."]
    for sched in sorted({r["schedule"] for r in runs}):
        rs = [r for r in runs if r["schedule"] == sched]
        devices = "; ".join(sorted({r["device_name"] for r in rs}))
        parts += ["", f"## Schedule `{sched}` ({rs[0]['steps']} steps of {rs[0]['batch_size']}; {devices})", "",
                  markdown_table(aggregate(rs, ["model", "distortion"], "test_error"), "model", "distortion",
                                 MODEL_NAMES, DISTORTIONS, PAPER_NAMES.get)]
    parts += ["", "## The paper's Table 1", "",
              markdown_table([{"model": m, "distortion": d, "mean": v, "std": 0.0, "n": 1}
                              for m, row in PAPER_TABLE1.items() for d, v in row.items()],
                             "model", "distortion", MODEL_NAMES, DISTORTIONS, PAPER_NAMES.get, digits=1)]
    md_path = out_dir / "table1.md"
    md_path.write_text("\n".join(parts) + "\n")
    return md_path, csv_path


def _table1_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--models", nargs="+", default=list(MODEL_NAMES), metavar="MODEL",
                   help=f"models to train (default: all): {' '.join(MODEL_NAMES)}")
    p.add_argument("--distortions", nargs="+", default=list(DISTORTIONS), choices=DISTORTIONS, metavar="D",
                   help="distortions (default: R RTS P E TC)")
    p.add_argument("--seeds", type=int, default=1, help="number of seeds per cell (seeds 0…N-1)")
    p.add_argument("--seed-list", type=int, nargs="+", default=None, help="explicit seeds (overrides --seeds)")
    p.add_argument("--schedule", choices=[k for k in SCHEDULES if k != "quick"], default="efficient",
                   help="training schedule (default: efficient, the course's recipe; abl-*: the ablation)")
    p.add_argument("--jobs", type=_positive_int, default=1,
                   help="train this many cells at once, each in its own process (default 1)")
    p.add_argument("--quick", action="store_true", help="a few steps on small subsets (pipeline check)")
    p.add_argument("--steps", type=int, default=None, help="override the schedule's number of steps")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 … (default: CUDA if available)")
    p.add_argument("--threads", type=_positive_int, default=None,
                   help="torch CPU threads per process (default: torch's, or cores / jobs with --jobs)")
    p.add_argument("--out", type=Path, default=None,
                   help="results folder (default results/table1, or results/table1/quick with --quick)")
    p.add_argument("--save-weights", action="store_true", help="keep the trained ST models' weights (float16)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--report", action="store_true", help="only aggregate the existing records into the tables")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _run_table1(args: argparse.Namespace) -> int:
    out_dir: Path = args.out or RESULTS_DIR / "table1" / ("quick" if args.quick else "")
    if args.report:
        written = write_table1(out_dir)
        print(f"wrote {written[0]} and {written[1]}" if written else f"no run records in {out_dir}")
        return 0
    if args.jobs > 1 and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ValueError("--jobs runs cells in separate processes; do not combine it with torchrun")
    schedule = SCHEDULES["quick" if args.quick else args.schedule]
    if args.steps:
        schedule = replace(schedule, name=f"{schedule.name}{args.steps}", steps=args.steps,
                           eval_every=min(schedule.eval_every, args.steps))
    models = [normalize_name(m) for m in args.models]
    seeds = args.seed_list if args.seed_list is not None else list(range(args.seeds))
    cells = [(m, d, s) for d in args.distortions for m in models for s in seeds]
    device = training.resolve_device(args.device)
    threads = args.threads or (max(1, (os.cpu_count() or 1) // args.jobs) if args.jobs > 1 else None)
    started = time.perf_counter()
    options = dict(schedule=schedule, out_dir=out_dir, device=device, save_weights=args.save_weights,
                   command=args.command_line)
    for r in run_cells(cells, jobs=args.jobs, threads=threads, progress=not args.no_progress, **options):
        if "test_error" in r:
            print(f"{r['paper_name']:12s} {r['distortion']:4s} seed {r['seed']}: test error {r['test_error']:.2f}% "
                  f"(val {r['val_error']:.2f}%, {r['images_per_s']:.0f} img/s, {r['wall_time_s']:.0f} s)",
                  flush=True)
    if int(os.environ.get("RANK", "0")) != 0:
        return 0
    write_table1(out_dir)
    print(f"done in {time.perf_counter() - started:.0f} s; tables in {out_dir}")
    return 0


def run_cells(cells: Sequence[tuple[str, str, int]], *, jobs: int = 1, threads: int | None = None,
              progress: bool = True, **options: Any) -> Iterable[dict[str, Any]]:
    """Run ``(model, distortion, seed)`` cells with :func:`run_table1_cell`; yield each record as it lands.

    ``jobs > 1`` trains that many cells at once, each in its own process (several small models
    share one GPU, or the cores of a CPU) with ``threads`` torch threads; a progress bar then
    counts cells instead of steps. The records are those of serial runs: each cell's result
    depends only on its model, distortion, seed and schedule.
    """
    if jobs == 1:
        if threads:
            torch.set_num_threads(threads)
        for model_name, distortion, seed in cells:
            yield run_table1_cell(model_name, distortion, seed, progress=progress, **options)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from tqdm.auto import tqdm

    context = multiprocessing.get_context("spawn")  # CUDA cannot be forked
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_init_worker,
                             initargs=(threads,)) as pool:
        futures = [pool.submit(run_table1_cell, m, d, s, progress=False, **options) for m, d, s in cells]
        with tqdm(total=len(futures), desc=f"cells ({jobs} at once)", unit="cell", disable=not progress) as bar:
            for future in as_completed(futures):
                bar.update(1)
                yield future.result()


def _init_worker(threads: int | None) -> None:
    if threads:
        torch.set_num_threads(threads)


register("table1", "Table 1: distorted MNIST (FCN, CNN, ST-FCN, ST-CNN × R, RTS, P, E, TC)",
         _table1_arguments, _run_table1)


# ------------------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    _load_external()
    parser = argparse.ArgumentParser(prog="python -m stn_course.benchmark", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_, add_arguments, _) in SUBCOMMANDS.items():
        add_arguments(sub.add_parser(name, help=help_, description=help_))
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.command_line = "python -m stn_course.benchmark " + " ".join(argv)
    return SUBCOMMANDS[args.command][2](args)


if __name__ == "__main__":
    # run the importable module's main: modules that register subcommands (``EXTERNAL_SUBCOMMANDS``)
    # import ``stn_course.benchmark``, not this ``__main__`` copy, so the registry must be that one
    from stn_course.benchmark import main as _main

    sys.exit(_main())
