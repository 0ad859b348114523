"""Co-localisation (appendix A.2) — ``python -m stn_course.benchmark coloc``.

For each variant ("translated", "cluttered") and digit class, a
:class:`~stn_course.colocalisation.CoLocaliser` is trained on that class's training images
with the hinge loss alone (no boxes), and scored on the class's test images: the share whose
crop overlaps the digit's box with IoU ≥ 0.5. The encoder is trained once per seed on clean
MNIST and kept in ``<out>/encoder/``. Each run (variant × digit × seed) writes one JSON record
with Table 1's provenance, the score before training (the untrained transformer) and after
(the last weights: the validation boxes are only watched, in the curves, never used to pick),
the mean IoU, and the predicted boxes of the first test images (for the book's gallery); the
records are aggregated into ``colocalisation.md`` and ``colocalisation.csv``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from .. import colocalisation as coloc
from .. import training
from .._checks import check_choice
from ..distortions import COLOCALISATION
from ..models import count_parameters
from . import table1
from .cli import add_training_options, chosen_schedule, positive_int, records_folder, register, report_only
from .provenance import provenance, utc_now
from .records import (RESULTS_DIR, aggregate, checkpoint_path, curves, format_cell, health_fields, load_runs, mean_std,
                      pipe_table, run_id, write_csv, write_json)

OUT_DIR = RESULTS_DIR / "colocalisation"
DATA_SEED = 0
VARIANTS = tuple(COLOCALISATION)
DIGITS = tuple(range(10))
GALLERY = 16


@dataclass(frozen=True)
class ColocSchedule:
    """How a co-localiser (and its encoder) trains; see :func:`stn_course.training.fit`."""

    name: str
    steps: int
    batch_size: int = 32
    lr: float = 1e-3
    margin: float = 1.0
    eval_every: int = 250
    encoder_steps: int = 2_000
    encoder_train_size: int | None = None
    train_subset: int | None = None
    eval_subset: int | None = None


SCHEDULES: dict[str, ColocSchedule] = {
    # 1,000 steps of 32 images of one class (about six passes over the class's ~5,000 training
    # images), Adam with cosine decay; the encoder: 2,000 steps of 128 on the 50k clean digits.
    "efficient": ColocSchedule("efficient", steps=1_000),
    "quick": ColocSchedule("quick", steps=120, eval_every=60, encoder_steps=300, encoder_train_size=10_000,
                           train_subset=2_000, eval_subset=300),
}


def encoder_for(schedule: ColocSchedule, seed: int, out_dir: Path, *, device: torch.device,
                progress: bool = False) -> tuple[coloc.Encoder, dict[str, Any]]:
    """The encoder of ``seed`` and ``schedule``, trained once and kept in ``out_dir/encoder/``."""
    folder = Path(out_dir) / "encoder"
    rid = run_id("encoder", schedule.name, f"seed{seed}")
    weights, meta = folder / f"{rid}.pt", folder / f"{rid}.json"
    encoder = coloc.Encoder()
    if weights.exists() and meta.exists():
        encoder.load_state_dict(torch.load(weights, map_location="cpu"))
        return encoder.requires_grad_(False).eval().to(device), json.loads(meta.read_text())
    started = time.perf_counter()
    encoder, result = coloc.train_encoder(schedule.encoder_steps, seed=seed, train_size=schedule.encoder_train_size,
                                          progress=progress, device=device)
    record = {"run_id": rid, "steps": schedule.encoder_steps, "seed": seed, "test_error": result["error"],
              "test_n": result["n"], "wall_time_s": time.perf_counter() - started,
              "data": "stn_course.data.mnist_split('train') (clean), tested on mnist_split('test')"}
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(encoder.state_dict(), weights)
    write_json(meta, record)
    return encoder, record


def coloc_data(variant: str, digit: int, schedule: ColocSchedule):
    """(train, val, test) of one class as (images (N, 1, 84, 84), boxes (N, 4)) pairs."""
    from .. import data

    sizes = {"train": schedule.train_subset, "val": schedule.eval_subset, "test": schedule.eval_subset}
    return tuple(data.colocalisation_split(variant, split, digit, DATA_SEED, size=sizes[split])
                 for split in ("train", "val", "test"))


def score(model: coloc.CoLocaliser, data: tuple[torch.Tensor, torch.Tensor], batch_size: int = 500) -> dict:
    """``{"localised": % with IoU ≥ 0.5, "mean_iou", "boxes": predicted (N, 4)}`` on ``data``."""
    images, boxes = data
    device = next(model.transformer.parameters()).device
    was = model.training
    model.eval()
    found = []
    try:
        with torch.no_grad():
            for i in range(0, len(images), batch_size):
                found.append(model(images[i:i + batch_size].to(device)).box.cpu())
    finally:
        model.train(was)
    pred = torch.cat(found)
    iou = coloc.box_iou(pred, boxes)
    return {"localised": 100.0 * float((iou >= coloc.IOU_THRESHOLD).float().mean()), "mean_iou": float(iou.mean()),
            "boxes": pred}


def coloc_run_id(variant: str, localiser: str, digit: int, schedule: ColocSchedule, seed: int) -> str:
    """E.g. ``cluttered_regression_digit1_efficient_seed0``; a margin other than 1 is named
    (``..._margin0.5_seed0``). Records from before the localiser had a choice lack its name."""
    check_choice("localiser", localiser, coloc.LOCALISERS)
    margin = [] if schedule.margin == 1 else [f"margin{schedule.margin:g}"]
    return run_id(variant, localiser, f"digit{digit}", schedule.name, *margin, f"seed{seed}")


def localiser_of(record: Mapping[str, Any]) -> str:
    """The record's localisation net; records written before there was a choice used "pointing"."""
    return record.get("localiser", "pointing")


def setting_of(record: Mapping[str, Any]) -> str:
    """The localiser and margin a record was trained with, e.g. "regression, α = 1"."""
    margin = record.get("margin", record["schedule_settings"]["margin"])
    return f"{localiser_of(record)}, α = {margin:g}"


#: The setting the book's main table reads: the paper's kind of localiser with the paper's margin.
MAIN_SETTING = f"{coloc.LOCALISERS[0]}, α = {SCHEDULES['efficient'].margin:g}"


def run_coloc_cell(variant: str, digit: int, seed: int, schedule: ColocSchedule, out_dir: Path, *,
                   device: torch.device, progress: bool = True, command: str | None = None,
                   localiser: str = coloc.LOCALISERS[0]) -> dict[str, Any]:
    """Train and score one co-localiser (one variant, localiser, digit class and seed); write and return its record."""
    rid = coloc_run_id(variant, localiser, digit, schedule, seed)
    path = Path(out_dir) / f"{rid}.json"
    if path.exists():
        return json.loads(path.read_text())
    started_at = utc_now()
    encoder, encoder_record = encoder_for(schedule, seed, out_dir, device=device)
    train, val, test = coloc_data(variant, digit, schedule)
    torch.manual_seed(seed)
    model = coloc.make_colocaliser(encoder, localiser=localiser).to(device)
    before = score(model, test)
    ckpt = checkpoint_path(out_dir, rid)
    started = time.perf_counter()
    history = training.fit(model, train, val, steps=schedule.steps, batch_size=schedule.batch_size, lr=schedule.lr,
                           optimizer="adam", schedule="cosine", loss_fn=coloc.TripletHingeLoss(schedule.margin),
                           error_fn=coloc.missed, eval_every=schedule.eval_every, device=device, seed=seed,
                           checkpoint=ckpt, progress=progress, restore_best=False)  # no boxes to pick weights by
    after = score(model, test)
    wall = time.perf_counter() - started
    record = {
        "table": "colocalisation", "run_id": rid, "variant": variant, "localiser": localiser,
        "margin": schedule.margin, "digit": digit, "seed": seed,
        "schedule": schedule.name, "schedule_settings": asdict(schedule), "steps": schedule.steps,
        "batch_size": schedule.batch_size, "images_seen": history.images_seen,
        "params": count_parameters(model), "precision": "float32",
        "test_localised": after["localised"], "test_mean_iou": after["mean_iou"],
        "untrained_localised": before["localised"], "untrained_mean_iou": before["mean_iou"],
        "val_missed": history.best_val_error, "best_step": history.best_step, "test_n": len(test[1]),
        "val_n": len(val[1]), "train_n": len(train[1]), "encoder": encoder_record,
        "gallery_boxes": after["boxes"][:GALLERY].tolist(),
        "data": f"stn_course.data.colocalisation_split({variant!r}, split, {digit}, seed={DATA_SEED})",
        "wall_time_s": wall, "train_time_s": history.train_time_s, "images_per_s": history.images_per_s,
        "resumed_from": history.resumed_from, "started_at": started_at, **provenance(device, command),
        **health_fields(model, test[0], rid), "curves": curves(history),
    }
    write_json(path, record)
    ckpt.unlink(missing_ok=True)
    return record


#: Where the no-learning baseline's record lives (outside the folder of run records).
BASELINE_PATH = OUT_DIR / "baselines" / "ink_box.json"


def ink_box_baseline(out_path: Path = BASELINE_PATH, command: str | None = None) -> dict[str, Any]:
    """Score the no-learning baseline (:func:`~stn_course.colocalisation.ink_boxes`: a 28-pixel
    box on the ink's centre of mass) on every class's test images of both variants; write and
    return its record."""
    from .. import data

    started = time.perf_counter()
    cells = []
    for variant in VARIANTS:
        for digit in DIGITS:
            images, boxes = data.colocalisation_split(variant, "test", digit, DATA_SEED)
            iou = coloc.box_iou(coloc.ink_boxes(images), boxes)
            cells.append({"variant": variant, "digit": digit, "test_n": len(boxes), "mean_iou": float(iou.mean()),
                          "localised": 100.0 * float((iou >= coloc.IOU_THRESHOLD).float().mean())})
    record = {"table": "colocalisation-baseline", "baseline": "a 28 x 28 box on the ink's centre of mass, no learning",
              "data": f"stn_course.data.colocalisation_split(variant, 'test', digit, seed={DATA_SEED})",
              "cells": cells, "wall_time_s": time.perf_counter() - started,
              **provenance(torch.device("cpu"), command)}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    write_json(out_path, record)
    return record


def load_baseline(path: Path = BASELINE_PATH) -> dict[tuple[str, int], float]:
    """The baseline's % localised per (variant, digit); empty when its record was not written."""
    if not Path(path).exists():
        return {}
    return {(c["variant"], c["digit"]): c["localised"] for c in json.loads(Path(path).read_text())["cells"]}


def is_full_length(record: Mapping[str, Any]) -> bool:
    """True when a run trained for its named schedule's whole length (not ``--steps`` or ``--quick``)."""
    return table1.is_full_length(record, SCHEDULES)


#: A run has collapsed when it ends below half the images localised and fewer than this many
#: points above its untrained score (a run that starts at 100 % and stays there has not).
COLLAPSE_POINTS = 10.0


def collapsed(record: Mapping[str, Any], points: float = COLLAPSE_POINTS) -> bool:
    """True when a run ends below 50 % localised and less than ``points`` above its untrained score."""
    return record["test_localised"] < min(50.0, record["untrained_localised"] + points)


def class_mean(rs: Sequence[Mapping[str, Any]], key: str) -> tuple[float, float, int]:
    """Mean over the classes of ``key``, as a mean ± std over the seeds when every seed holds the
    same classes (else the mean of the classes' means, std 0), and the number of seeds."""
    by_seed: dict[int, dict[int, float]] = {}
    for r in rs:
        by_seed.setdefault(r.get("seed", 0), {})[r["digit"]] = r[key]
    classes = {frozenset(d) for d in by_seed.values()}
    if len(classes) == 1:
        return (*mean_std([sum(d.values()) / len(d) for d in by_seed.values()]), len(by_seed))
    cells: dict[int, list[float]] = {}
    for r in rs:
        cells.setdefault(r["digit"], []).append(r[key])
    return sum(sum(v) / len(v) for v in cells.values()) / len(cells), 0.0, 1


def localised_table(runs: Sequence[Mapping[str, Any]], baseline: Mapping[tuple[str, int], float] | None = None
                    ) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the table of localised test images (%): a row per digit class and a
    column per localiser setting (:func:`setting_of`) and variant, each cell "ink box /
    untrained → trained", the trained share a mean ± standard deviation over seeds; then a row
    of the means over the classes (± their spread over the seeds when every seed holds every
    class) and a row counting the collapsed runs (:func:`collapsed`). ``baseline``: the
    no-learning baseline per (variant, digit), from :func:`load_baseline` ("—" without it)."""
    baseline = baseline or {}
    order = {v: i for i, v in enumerate(coloc.LOCALISERS)}
    columns = sorted({(setting_of(r), localiser_of(r), r["variant"]) for r in runs},
                     key=lambda c: (order.get(c[1], len(order)), c[0], VARIANTS.index(c[2])))
    cells: dict[tuple[str, str, int], list[Mapping[str, Any]]] = {}
    for r in runs:
        cells.setdefault((setting_of(r), r["variant"], r["digit"]), []).append(r)

    def cell(setting: str, v: str, d: int) -> str:
        rs = cells.get((setting, v, d))
        if not rs:
            return "—"
        ink = f"{baseline[(v, d)]:.0f}" if (v, d) in baseline else "—"
        before = mean_std([r["untrained_localised"] for r in rs])[0]
        return f"{ink} / {before:.0f} → {format_cell(*mean_std([r['test_localised'] for r in rs]), len(rs), 1)}"

    rows = [[str(d)] + [cell(s, v, d) for s, _, v in columns] for d in sorted({r["digit"] for r in runs})]
    mean_row, collapse_row = ["mean"], ["collapsed"]
    for setting, _, v in columns:
        rs = [r for r in runs if setting_of(r) == setting and r["variant"] == v]
        digits = sorted({r["digit"] for r in rs})
        trained, spread, seeds = class_mean(rs, "test_localised")
        before = class_mean(rs, "untrained_localised")[0]
        inks = [baseline[(v, d)] for d in digits if (v, d) in baseline]
        ink = f"{sum(inks) / len(inks):.0f}" if len(inks) == len(digits) else "—"
        mean_row.append(f"{ink} / {before:.0f} → {format_cell(trained, spread, seeds, 1)}")
        collapse_row.append(f"{sum(collapsed(r) for r in rs)} of {len(rs)} runs")
    rows += [mean_row, collapse_row]
    return ["digit", *(f"{v} ({s}): ink box / untrained → trained" for s, _, v in columns)], rows


def write_coloc_table(out_dir: Path) -> tuple[Path, Path] | None:
    """Aggregate the records in ``out_dir`` into colocalisation.md and .csv: % of test images localised."""
    out_dir = Path(out_dir)
    runs = load_runs(out_dir)
    if not runs:
        return None
    runs = [{**r, "localiser": localiser_of(r), "setting": setting_of(r)} for r in runs]
    keys = ["variant", "setting", "digit", "schedule", "steps", "device"]
    rows = aggregate(runs, keys, "test_localised")
    rows.sort(key=lambda r: (r["schedule"], r["setting"], VARIANTS.index(r["variant"]), r["digit"]))
    csv_path = write_csv(out_dir / "colocalisation.csv", rows, keys)
    parts = ["# Co-localisation: test images localised (IoU ≥ 0.5, %)", "",
             "Written by `python -m stn_course.benchmark coloc` from the run records in this folder: one "
             "co-localiser per digit class, trained with the hinge loss (margin α) alone. Each cell: a 28-px box on "
             "the ink's centre of mass (no learning, results/colocalisation/baselines/ink_box.json) / the "
             "transformer before training → after it (mean ± standard deviation over seeds), on each class's test "
             f"images (`colocalisation_split(..., seed={DATA_SEED})`). The localiser \"regression\" is the paper's "
             "kind (randomly initialised, any square crop inside the image); \"pointing\" is aimed at ink from the "
             "start, its crop 25-34 px. A run has collapsed when it ends below 50 % and fewer than "
             f"{COLLAPSE_POINTS:g} points above its untrained score."]
    baseline = load_baseline(out_dir / "baselines" / "ink_box.json")
    for sched in sorted({r["schedule"] for r in runs}):
        for setting in sorted({r["setting"] for r in runs if r["schedule"] == sched},
                              key=lambda t: (coloc.LOCALISERS.index(t.split(",")[0]), t)):
            rs = [r for r in runs if r["schedule"] == sched and r["setting"] == setting]
            seeds = sorted({r["seed"] for r in rs})
            parts += ["", f"## Schedule `{sched}` ({rs[0]['steps']} steps of {rs[0]['batch_size']}), localiser "
                          f"{setting}, seeds {', '.join(map(str, seeds))}", "",
                      *pipe_table(*localised_table(rs, baseline))]
    md_path = out_dir / "colocalisation.md"
    md_path.write_text("\n".join(parts) + "\n")
    return md_path, csv_path


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS, metavar="V",
                   help="translated and/or cluttered (default: both)")
    p.add_argument("--digits", nargs="+", type=int, default=list(DIGITS), choices=DIGITS, metavar="D",
                   help="digit classes (default: 0 … 9)")
    p.add_argument("--localisers", nargs="+", default=[coloc.LOCALISERS[0]], choices=coloc.LOCALISERS, metavar="L",
                   help="regression (the paper's kind, randomly initialised; default) and/or pointing (aimed at ink)")
    p.add_argument("--margin", type=float, default=None,
                   help="the hinge loss's margin α (default: the schedule's, 1 as in the paper)")
    p.add_argument("--seeds", type=positive_int, default=1, help="number of seeds per cell (seeds 0…N-1)")
    p.add_argument("--schedule", choices=[k for k in SCHEDULES if k != "quick"], default="efficient")
    p.add_argument("--baseline", action="store_true",
                   help="only score the no-learning baseline (a box on the ink's centre of mass) and write its record")
    add_training_options(p, "colocalisation")


def _run(args: argparse.Namespace) -> int:
    out_dir = records_folder(args, OUT_DIR)
    if args.report:
        return report_only(out_dir, write_coloc_table)
    if args.baseline:
        record = ink_box_baseline(out_dir / "baselines" / "ink_box.json", args.command_line)
        for v in VARIANTS:
            shares = [c["localised"] for c in record["cells"] if c["variant"] == v]
            print(f"{v:10s} no learning (ink box): {sum(shares) / len(shares):.1f}% localised on average")
        write_coloc_table(out_dir)
        return 0
    schedule = chosen_schedule(args, SCHEDULES)
    if args.margin is not None:
        if not args.margin >= 0:
            raise SystemExit(f"--margin must be a number >= 0, got {args.margin}")
        schedule = replace(schedule, margin=args.margin)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = training.resolve_device(args.device)
    started = time.perf_counter()
    for seed in range(args.seeds):
        for variant, localiser, digit in itertools.product(args.variants, args.localisers, args.digits):
            r = run_coloc_cell(variant, digit, seed, schedule, out_dir, device=device, progress=not args.no_progress,
                               command=args.command_line, localiser=localiser)
            print(f"{variant:10s} {localiser:10s} digit {digit} seed {seed}: "
                  f"localised {r['untrained_localised']:.1f}% → "
                  f"{r['test_localised']:.1f}% (mean IoU {r['test_mean_iou']:.2f}; {r['images_per_s']:.0f} img/s, "
                  f"{r['wall_time_s']:.0f} s)", flush=True)
    write_coloc_table(out_dir)
    print(f"done in {time.perf_counter() - started:.0f} s; tables in {out_dir}")
    return 0


register("coloc", "Co-localisation (appendix A.2): IoU ≥ 0.5 per digit class, translated and cluttered",
         _arguments, _run)
