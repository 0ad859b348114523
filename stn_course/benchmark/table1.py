"""Table 1: distorted MNIST (FCN, CNN, ST-FCN, ST-CNN × R, RTS, P, E, TC), cell by cell."""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from .. import distortions as _distortions
from .. import training
from ..models import DISTORTIONS, MODEL_NAMES, PAPER_NAMES, build_model, count_parameters, normalize_name
from .cli import add_training_options, chosen_schedule, positive_int, records_folder, register, report_only
from .provenance import provenance, utc_now
from .report import best_groups
from .records import (RESULTS_DIR, aggregate, checkpoint_path, curves, health_fields, load_runs, markdown_table,
                      run_id, save_weights_half, write_csv, write_json)
from .schedules import SCHEDULES, Schedule, precision_name

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
DATA_SEED = 0  # the fixed validation and test sets are the same for every run


def table1_data(distortion: str, *, eval_subset: int | None = None, train_subset: int | None = None
                ) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor],
                           tuple[torch.Tensor, torch.Tensor], Callable[[torch.Tensor, torch.Generator], torch.Tensor]]:
    """(train, val, test, augment) for one distortion.

    ``train`` holds the 50k undistorted training digits; ``augment`` distorts each batch
    afresh on the device. ``val`` (10k) and ``test`` (10k) are the fixed distorted splits.
    """
    from .. import data

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
    started_at = utc_now()
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
        **provenance(device, command), **health_fields(model, test[0], rid),
        "curves": curves(history),
    }
    if save_weights:
        record["weights"] = save_weights_half(model, out_dir, rid)
    write_json(path, record)
    ckpt.unlink(missing_ok=True)
    return record


def is_gpu(record: Mapping[str, Any]) -> bool:
    return str(record.get("device", "")).startswith("cuda")


def images_seen(record: Mapping[str, Any]) -> int:
    """Training images of a run (older records lack the field: steps × batch size)."""
    return record.get("images_seen") or record["steps"] * record["batch_size"]


def is_full_length(record: Mapping[str, Any], schedules: Mapping[str, Any] = SCHEDULES) -> bool:
    """True when a run trained for its named schedule's whole length (not ``--steps`` or ``--quick``);
    ``schedules``: the table's named schedules (each with ``steps``), Table 1's by default."""
    schedule = schedules.get(record["schedule"])
    return schedule is not None and record["schedule"] != "quick" and record["steps"] == schedule.steps


def how_obtained(rows: Sequence[Mapping[str, Any]]) -> str:
    """How a cell's runs were obtained, e.g. "CPU, efficient (full length: 1.28M images), 1 seed"."""
    r = rows[0]
    length = "full length" if is_full_length(r) else "short"
    images = images_seen(r)
    seeds = len(rows)
    return (f"{'GPU' if is_gpu(r) else 'CPU'}, {r['schedule']} ({length}: {images / 1e6:.2g}M images), "
            f"{seeds} seed{'s' if seeds > 1 else ''}")


def best_cells(runs: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], list[Mapping[str, Any]]]:
    """For each (model, distortion), the runs of its best-obtained group: full length before
    short, then GPU before CPU, then the most images seen and seeds. A group is one schedule on
    one kind of device."""
    def rank(rows: list[Mapping[str, Any]]) -> tuple:
        r = rows[0]
        return is_full_length(r), is_gpu(r), images_seen(r), len(rows)

    return best_groups(runs, lambda r: (r["model"], r["distortion"]), lambda r: (r["schedule"], is_gpu(r)), rank)


def _order(order: Sequence[str], key: str) -> int:
    return order.index(key) if key in order else len(order)


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
    p.add_argument("--jobs", type=positive_int, default=1,
                   help="train this many cells at once, each in its own process (default 1)")
    add_training_options(p, "table1", weights=True,
                         threads_help="torch CPU threads per process (default: torch's, or cores / jobs with --jobs)")


def _run_table1(args: argparse.Namespace) -> int:
    out_dir = records_folder(args, RESULTS_DIR / "table1")
    if args.report:
        return report_only(out_dir, write_table1)
    if args.jobs > 1 and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ValueError("--jobs runs cells in separate processes; do not combine it with torchrun")
    schedule = chosen_schedule(args, SCHEDULES)
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
