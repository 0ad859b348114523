"""Table 2: SVHN multi-digit recognition — ``python -m stn_course.benchmark table2``.

Usage::

    python -m stn_course.benchmark table2                          # prepared SVHN, 64 and 128 px
    python -m stn_course.benchmark table2 --schedule paper         # the paper's recipe (400k SGD steps)
    python -m stn_course.benchmark table2 --synthetic              # the MNIST-composed stand-in instead
    python -m stn_course.benchmark table2 --synthetic --schedule quick   # a first try: minutes on a CPU
    python -m stn_course.benchmark table2 --synthetic --loose centred    # loose crops never cut (the first records)
    python -m stn_course.benchmark table2 --report                 # only rebuild the tables

On a GPU the default is the paper's architecture, the ``fast`` schedule and the native 64/128
px crops. Without one it is the CPU-sized width (:data:`~stn_course.svhn.models.SMALL_ARCH`),
the ``efficient`` schedule, and both crop recipes rendered at :data:`CPU_SIDE` px; it says so.

With prepared SVHN (``data_scripts/prepare_svhn.py``) it trains on ``train`` (minus 5,000
held-out numbers for validation, as the paper tunes on 5k) and tests on ``test``; it says so,
and refuses to fall back silently: without the data it stops and names ``--synthetic``. With
``--synthetic`` every record, file name and table is labelled "synthetic".

Each run (source × model × crop size × seed) writes one JSON record to ``results/table2/``
with the same provenance as Table 1 (:func:`stn_course.benchmark.provenance`); existing
records are skipped and interrupted runs resume from their checkpoints. The records are
aggregated into ``table2.md`` (a section per source, architecture and schedule, then the
paper's numbers) and ``table2.csv``: sequence error (%) on the test set.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import benchmark, svhn, training
from .._checks import check_choice, check_shape, check_tensor
from .models import (KINDS, SCHEDULES, TITLES, SVHNSchedule, build_svhn_model, compose_thetas, last_thetas, predict,
                     sequence_loss, sequence_wrong)

OUT_DIR = benchmark.RESULTS_DIR / "table2"
SIZES = ("64px", "128px")
VAL_SIZE = 5_000
DATA_SEED = 0

#: The paper's Table 2 (sequence error %, 64 px / 128 px crops); None: not reported.
PAPER_TABLE2: dict[str, dict[str, float | None]] = {
    "maxout-cnn": {"64px": 4.0, "128px": None},
    "cnn": {"64px": 4.0, "128px": 5.6},
    "dram": {"64px": 3.9, "128px": 4.5},
    "st-single": {"64px": 3.7, "128px": 3.9},
    "st-multi": {"64px": 3.6, "128px": 3.9},
}
PAPER_TITLES = {"maxout-cnn": "Maxout CNN", "dram": "DRAM", **TITLES}
#: How many stand-in numbers each schedule draws (train, validation, test).
SYNTHETIC_SIZES = {"quick": (4_000, 500, 1_000), "efficient": (30_000, 2_000, 5_000), "fast": (60_000, 5_000, 10_000),
                   "paper": (200_000, 5_000, 10_000)}
#: The side both crop recipes are rendered at with the CPU-sized architecture: the 64-pixel
#: recipe at 3/4 scale, the 128-pixel one at 3/8, so the loose number is half the tight one's size.
CPU_SIDE = 48


def _pixels(size: str, scale: float, side: int | None = None) -> tuple[int, int]:
    """(image side, crop side) for a crop size ("64px"/"128px") rendered at ``scale``, or at
    ``side`` × ``side`` pixels when given."""
    side = side or int(round(int(size.removesuffix("px")) * scale))
    return side, svhn.default_crop(side)


def placement_of(record: Mapping[str, Any]) -> str | None:
    """How a stand-in record's loose crops were framed (:data:`~stn_course.svhn.PLACEMENTS`);
    None for tight crops and for SVHN. Records from before the clipped framing say nothing: centred."""
    if record["source"] != "synthetic" or record["size"] != "128px":
        return None
    return record.get("loose_placement", "centred")


def load_split_tensors(source: str, size: str, scale: float, n_synthetic: tuple[int, int, int], extra: bool = False,
                       side: int | None = None, placement: str = "clipped"):
    """(train uint8 (N, 3, S, S), labels), val and test (centre-cropped float) for one source and crop size.

    For SVHN, ``extra=True`` adds the prepared ``extra`` split to the training set. ``placement``
    frames the stand-in's loose crops (:func:`~stn_course.svhn.synthetic_house_numbers`).
    """
    side, crop = _pixels(size, scale, side)
    loose = size == "128px"
    if source == "synthetic":
        n_train, n_val, n_test = n_synthetic
        tr = svhn.synthetic_house_numbers(n_train, DATA_SEED, True, side, loose, placement=placement)
        va = svhn.synthetic_house_numbers(n_val, DATA_SEED + 1, True, side, loose, placement=placement)
        te = svhn.synthetic_house_numbers(n_test, DATA_SEED, False, side, loose, placement=placement)
    else:
        native = int(size.removesuffix("px"))
        images, labels = svhn.load_prepared("train", native)
        order = np.random.default_rng(DATA_SEED).permutation(len(images))
        n_val = min(VAL_SIZE, len(images) // 10)   # 5k as the paper; a tenth of a (test-sized) small set
        val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
        tr = (np.asarray(images[train_idx]), labels[train_idx])
        if extra:
            ex_images, ex_labels = svhn.load_prepared("extra", native)
            tr = (np.concatenate([tr[0], np.asarray(ex_images)]), np.concatenate([tr[1], ex_labels]))
        va = (np.asarray(images[val_idx]), labels[val_idx])
        te = tuple(np.asarray(a) for a in svhn.load_prepared("test", native))
        if side != native:
            tr, va, te = ((_resize(x, side), y) for x, y in (tr, va, te))

    def as_eval(pair):
        return svhn.center_crop(svhn.to_float(pair[0]), crop).contiguous(), torch.from_numpy(pair[1].astype(np.int64))

    train = (torch.from_numpy(np.array(tr[0])).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(tr[1].astype(np.int64)))
    return train, as_eval(va), as_eval(te), crop


def _resize(images: np.ndarray, side: int) -> np.ndarray:
    x = svhn.to_float(images)
    x = torch.nn.functional.interpolate(x, size=(side, side), mode="bilinear", antialias=True, align_corners=False)
    return (x.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).numpy()


def make_augment(crop: int):
    """Training augmentation: uint8 (N, 3, S, S) → a random ``crop``×``crop`` window, float in [0, 1]."""
    def augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return svhn.random_crop(images.float().div_(255.0), crop, generator)
    return augment


@torch.no_grad()
def position_error(model: torch.nn.Module, data, batch_size: int = 500) -> float:
    """Percent of the five positions (blanks included) predicted wrongly."""
    x, y = data
    device = next(model.parameters()).device
    was = model.training
    model.eval()
    wrong = 0
    for i in range(0, len(x), batch_size):
        wrong += int((predict(model(x[i:i + batch_size].to(device))) != y[i:i + batch_size].to(device)).sum())
    model.train(was)
    return 100.0 * wrong / y.numel()


def run_table2_cell(source: str, kind: str, size: str, seed: int, schedule: SVHNSchedule, schedule_name: str,
                    arch: str, scale: float, out_dir: Path, *, device: torch.device, n_synthetic=(4_000, 500, 1_000),
                    progress: bool = True, save_weights: bool = False, command: str | None = None,
                    extra: bool = False, side: int | None = None, placement: str = "clipped") -> dict[str, Any]:
    """Train and test one model on one source and crop size; write and return its record (skip if it exists).

    ``side``: render the crops at ``side`` × ``side`` pixels (default: 64 or 128 px × ``scale``).
    ``placement``: how the stand-in's loose crops are framed (its run ids say "+clipped").
    """
    check_choice("placement", placement, svhn.PLACEMENTS)
    framed = placement if source == "synthetic" and size == "128px" else None
    tag = ((f"@{side}" if side else "" if scale == 1 else f"x{scale:g}")
           + ("+extra" if extra and source == "svhn" else "") + ("+clipped" if framed == "clipped" else ""))
    rid = benchmark.run_id(source, kind, size + tag, arch, schedule_name, f"seed{seed}")
    path = Path(out_dir) / f"{rid}.json"
    if path.exists():
        return json.loads(path.read_text())
    train, val, test, crop = load_split_tensors(source, size, scale, n_synthetic, extra and source == "svhn", side,
                                                placement)
    if device.type == "cuda":
        train = tuple(t.to(device) for t in train)
    torch.manual_seed(seed)
    model = build_svhn_model(kind, crop, arch)
    ckpt = benchmark.checkpoint_path(out_dir, rid)
    started = time.perf_counter()
    history = training.fit(model, train, val, **schedule.fit_kwargs(), augment=make_augment(crop), loss_fn=sequence_loss,
                           error_fn=sequence_wrong, device=device, seed=seed, checkpoint=ckpt, progress=progress)
    result = training.evaluate(model, test, device=device, loss_fn=sequence_loss, error_fn=sequence_wrong)
    wall = time.perf_counter() - started
    record = {
        "table": "table2", "run_id": rid, "source": source, "synthetic": source == "synthetic",
        "data": ("synthetic stand-in: MNIST digits composed into house numbers (stn_course.svhn), not SVHN"
                 if source == "synthetic" else "SVHN format 1, prepared by data_scripts/prepare_svhn.py; train "
                 + ("+ extra " if extra else "") + f"minus {VAL_SIZE} held out for validation; test split"),
        **({"loose_placement": framed} if framed else {}),
        "model": kind, "paper_name": TITLES[kind], "size": size, "image_pixels": int(train[0].shape[-1]),
        "crop_pixels": crop, "arch": arch, "arch_settings": asdict(model.arch), "seed": seed, "schedule": schedule_name,
        "schedule_settings": asdict(schedule), "steps": schedule.steps, "batch_size": schedule.batch_size,
        "params": sum(p.numel() for p in model.parameters()),
        "n_train": len(train[1]), "n_val": len(val[1]), "n_test": len(test[1]), "images_seen": history.images_seen,
        "val_error": history.best_val_error, "best_step": history.best_step,
        "test_error": result["error"], "test_loss": result["loss"], "test_position_error": position_error(model, test),
        "wall_time_s": wall, "train_time_s": history.train_time_s, "images_per_s": history.images_per_s,
        "resumed_from": history.resumed_from, **benchmark.provenance(device, command),
        **benchmark.health_fields(model, test[0], rid), "curves": benchmark.curves(history),
    }
    if framed == "clipped" and model.transformers:
        record["window_tracking"] = record_tracking(model, record)
    if save_weights:
        record["weights"] = benchmark.save_weights_half(model, out_dir, rid)
    benchmark.write_json(path, record)
    ckpt.unlink(missing_ok=True)
    return record


def how_obtained(rows: Sequence[Mapping[str, Any]]) -> str:
    """How a cell's runs were obtained, e.g. "synthetic stand-in, CPU, efficient (full length:
    0.32M images), small width at 48 px, 1 seed"."""
    r = rows[0]
    images = benchmark.images_seen(r)
    length = "full length" if benchmark.is_full_length(r, SCHEDULES) else "short"
    seeds = len(rows)
    framed = f"loose crops {placement_of(r)}, " if placement_of(r) else ""
    return (f"{'SVHN' if r['source'] == 'svhn' else 'synthetic stand-in'}, {framed}"
            f"{'GPU' if benchmark.is_gpu(r) else 'CPU'}, {r['schedule']} ({length}: {images / 1e6:.2g}M images), "
            f"{r['arch']} width at {r['image_pixels']} px, {seeds} seed{'s' if seeds > 1 else ''}")


def shown_placement(runs: Iterable[Mapping[str, Any]]) -> str:
    """Which framing of the stand-in's loose crops the book's table shows: "clipped" once every
    model run on loose stand-in crops has a full-length clipped run, else "centred" (so that the
    models in one column were always trained and tested on the same crops)."""
    loose = [r for r in runs if placement_of(r)]
    kinds = {r["model"] for r in loose}
    done = {r["model"] for r in loose if placement_of(r) == "clipped" and benchmark.is_full_length(r, SCHEDULES)}
    return "clipped" if kinds and done == kinds else "centred"


def best_cells(runs: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], list[Mapping[str, Any]]]:
    """For each (model, size), the runs of its best-obtained group: SVHN before the stand-in, then
    full length, GPU, the paper's width, the most images and seeds. A group is one source,
    schedule, width and image size on one kind of device; of the stand-in's loose crops only
    the framing :func:`shown_placement` picks."""
    runs = list(runs)
    shown = shown_placement(runs)

    def rank(rows: list[Mapping[str, Any]]) -> tuple:
        r = rows[0]
        return (r["source"] == "svhn", benchmark.is_full_length(r, SCHEDULES), benchmark.is_gpu(r),
                r["arch"] == "paper", benchmark.images_seen(r), len(rows))

    return benchmark.best_groups(
        [r for r in runs if placement_of(r) in (None, shown)], lambda r: (r["model"], r["size"]),
        lambda r: (r["source"], r["schedule"], r["arch"], r["image_pixels"], benchmark.is_gpu(r)), rank)


def book_table(runs: Iterable[Mapping[str, Any]]) -> tuple[benchmark.HTMLTable, benchmark.Footnotes]:
    """Table 2 for the book: a row per model of the paper's table, ours beside the paper's for
    each crop size; each of our cells marked with a footnote saying how it was obtained."""
    best = best_cells(runs)
    notes = benchmark.Footnotes()

    def ours(kind: str, size: str) -> str:
        rows = best.get((kind, size))
        if kind not in TITLES:
            return "<small>not built here</small>"
        if not rows:
            return "<small>not yet run</small>"
        mean, std = benchmark.mean_std([r["test_error"] for r in rows])
        return f"<b>{benchmark.format_cell(mean, std, len(rows), 1)}</b><sup>{notes.mark(how_obtained(rows))}</sup>"

    def paper(kind: str, size: str) -> str:
        v = PAPER_TABLE2[kind][size]
        return "—" if v is None else f"{v:.1f}"

    rows = [[PAPER_TITLES[k]] + [cell for size in SIZES for cell in (ours(k, size), paper(k, size))]
            for k in PAPER_TABLE2]
    header = ["model"] + [h for size in SIZES for h in (_ours_header(size, best), f"paper {size[:-2]} px")]
    return benchmark.html_table(header, rows, "Sequence error (%) of multi-digit recognition"), notes


def _ours_header(size: str, best: Mapping[tuple[str, str], list[Mapping[str, Any]]]) -> str:
    """"ours 64 px", or "ours 64 px crop at 48 px" where every shown run rendered the crop smaller."""
    native = int(size.removesuffix("px"))
    sides = {r["image_pixels"] for (_, s), rows in best.items() if s == size for r in rows}
    if sides and native not in sides:
        return f"ours {native} px crop at {'/'.join(str(v) for v in sorted(sides))} px"
    return f"ours {native} px"


#: How the reading names the crop recipes.
CROP_NAMES = {"64px": "tight", "128px": "loose"}


def reading(runs: Iterable[Mapping[str, Any]]) -> str:
    """What Table 2 answers, in sentences computed from the records: per crop recipe (loose
    first, where the paper's transformers gain most), which transformers beat the CNN by more
    than twice the noise of the difference (each cell's noise: the test set's binomial error
    and, over several seeds, their spread; :func:`stn_course.benchmark.cell_of`), which tie
    with it and which do worse; from the records' health, a transformer whose θ hardly depends
    on its input ("one fixed window"); and whether the seeds' spread is known."""
    best = best_cells(runs)
    cells = {key: benchmark.cell_of([{"test_error": r["test_error"], "test_n": r["n_test"]} for r in rows])
             for key, rows in best.items()}
    if not cells:
        return "No Table 2 run has been recorded yet."
    parts, compared = [], set()
    for size in sorted(SIZES, key=lambda s: CROP_NAMES[s] != "loose"):
        if ("cnn", size) not in cells:
            continue
        cnn = cells[("cnn", size)]
        verdicts = {}
        for kind in ("st-single", "st-multi"):
            if (kind, size) in cells:
                noise = benchmark.noise_between(cells[(kind, size)], cnn)
                verdicts[kind] = (cnn.mean - cells[(kind, size)].mean) / noise if noise > 0 else 0.0
                compared |= {(kind, size), ("cnn", size)}
        if verdicts:
            parts.append(_crop_reading(CROP_NAMES[size], cnn.mean,
                                       {k: (cells[(k, size)].mean, z) for k, z in verdicts.items()},
                                       {k: _fixed_window(best[(k, size)]) for k in verdicts}))
    if not parts:
        return "No transformer was run beside the CNN on the same crops yet."
    lo, hi = min(cells[c].seeds for c in compared), max(cells[c].seeds for c in compared)
    if hi == 1:
        parts.append("Every cell compared is one seed, whose noise counts the test set alone: the spread between "
                     "seeds is not known.")
    else:
        parts.append(f"The cells compared are means over {lo if lo == hi else f'{lo} to {hi}'} seeds; their noise "
                     "counts the test set and the seeds' spread" + (", where a cell has more than one." if lo == 1 else "."))
    return " ".join(parts)


def _fixed_window(rows: Sequence[Mapping[str, Any]]) -> bool:
    """Whether every transformer of every run is dead or nearly constant, by its recorded health
    (False where a run's health was not measured)."""
    statuses = [[t.get("status") for t in (r.get("transformer_health") or {}).get("transformers", [])] for r in rows]
    return bool(rows) and all(s and all(v in ("dead", "nearly constant") for v in s) for s in statuses)


def _crop_reading(crops: str, cnn: float, results: Mapping[str, tuple[float, float]],
                  fixed: Mapping[str, bool]) -> str:
    """One crop recipe's sentences: ``results`` maps a model to (error %, difference from the CNN in
    times its noise, positive when it is better)."""
    def names(kinds: list[str]) -> str:
        return " and ".join(TITLES[k] for k in kinds)

    gain = [k for k, (_, z) in results.items() if z > 2]
    loss = [k for k, (_, z) in results.items() if z < -2]
    tie = [k for k in results if k not in gain and k not in loss]
    if gain:
        only = "only " if tie or loss else ""
        numbers = " and ".join(f"{results[k][0]:.1f} %" for k in gain)
        sigmas = " and ".join(f"{results[k][1]:.1f}" for k in gain)
        out = [f"On the {crops} crops {only}{names(gain)} {'gains' if len(gain) == 1 else 'gain'}: {numbers} "
               f"against the CNN's {cnn:.1f} % (the difference is {sigmas} times its noise)."]
    else:
        out = [f"On the {crops} crops no transformer beats the CNN's {cnn:.1f} % beyond the noise."]
    fixed_ties, other_ties = [k for k in tie if fixed[k]], [k for k in tie if not fixed[k]]
    for group, how in ((fixed_ties, "learns one fixed window and "), (other_ties, "")):
        if group:
            numbers = " and ".join(f"{results[k][0]:.1f} %" for k in group)
            verb = "ties" if len(group) == 1 else "tie"
            if how and len(group) > 1:
                how = "learn one fixed window each and "
            out.append(f"{names(group)} {how}{verb} with the CNN ({numbers}, within twice the noise).")
    for kind in loss:
        how = ", with one fixed window" if fixed[kind] else ""
        out.append(f"{TITLES[kind]} does worse ({results[kind][0]:.1f} %{how}).")
    return " ".join(out)


@torch.no_grad()
def errors_by_length(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor,
                     batch_size: int = 500) -> dict[int, tuple[int, float]]:
    """Sequence error (%) of ``model`` per number length: {length: (numbers, error)}.

    images (N, 3, S, S) float, labels (N, 5) classes (``BLANK`` after the last digit).
    """
    check_tensor("images", images, floating=True)
    check_shape("labels", labels, (len(images), svhn.MAX_DIGITS), f"({len(images)}, {svhn.MAX_DIGITS})")
    was = model.training
    model.eval()
    wrong = torch.cat([sequence_wrong(model(images[i:i + batch_size]), labels[i:i + batch_size])
                       for i in range(0, len(images), batch_size)])
    model.train(was)
    lengths = (labels != svhn.BLANK).sum(1)
    return {k: (int((lengths == k).sum()), 100.0 * wrong[lengths == k].float().mean().item())
            for k in range(1, svhn.MAX_DIGITS + 1) if (lengths == k).any()}


def with_weights(records: Iterable[Mapping[str, Any]], out_dir: Path | None = None) -> list[Mapping[str, Any]]:
    """The records whose saved weights are in ``out_dir`` (default :data:`OUT_DIR`): the
    repository keeps the weights the book loads (one seed per cell), not every seed's."""
    folder = Path(out_dir) if out_dir is not None else OUT_DIR
    return [r for r in records if r.get("weights") and (folder / r["weights"]).is_file()]


def load_model(record: Mapping[str, Any], out_dir: Path | None = None) -> torch.nn.Module:
    """The model of a run record, with its saved weights, in evaluation mode (on the CPU).

    The layer sizes are the record's own ``arch_settings`` (so a record outlives a change of
    :data:`~stn_course.svhn.models.SMALL_ARCH`), else those its ``arch`` names today.
    """
    if not record.get("weights"):
        raise ValueError(f"record {record.get('run_id')!r} has no saved weights (run it with --save-weights)")
    model = build_svhn_model(record["model"], record["crop_pixels"], record.get("arch_settings") or record["arch"])
    return benchmark.load_weights(model, record, out_dir).eval()


def health_inputs(record: Mapping[str, Any], folder: Path) -> tuple[torch.nn.Module, torch.Tensor, str]:
    """A record's model and held-out stand-in test numbers, for ``python -m stn_course.benchmark health``."""
    if record["source"] != "synthetic":
        raise ValueError(f"record {record['run_id']!r}: only the synthetic stand-in's test numbers can be drawn here")
    n = (2, 2, benchmark.HEALTH_INPUTS)
    placement = placement_of(record) or "clipped"
    test = load_split_tensors("synthetic", record["size"], 1.0, n, side=record["image_pixels"], placement=placement)[2]
    return load_model(record, folder), test[0], (
        f"{n[2]} stand-in test numbers (load_split_tensors('synthetic', {record['size']!r}, "
        f"n_synthetic={n}, side={record['image_pixels']}, placement={placement!r}))")


def test_numbers(record: Mapping[str, Any], n: int, workers: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n`` stand-in test numbers as a record's model was tested on them: centre crops
    (n, 3, crop, crop) float at the record's size and framing, and labels (n, 5) int64."""
    x, y = svhn.synthetic_house_numbers(n, DATA_SEED, False, record["image_pixels"], record["size"] == "128px",
                                        workers, placement=placement_of(record) or "clipped")
    return svhn.center_crop(svhn.to_float(x), record["crop_pixels"]), torch.from_numpy(y.astype(np.int64))


#: The columns of table2.md: the crop sizes, the stand-in's loose crops by their framing.
CROPS = ("64px", "128px", "128px clipped", "128px centred")


def crops_label(record: Mapping[str, Any]) -> str:
    """A record's column in table2.md: its size, and for the stand-in's loose crops their framing."""
    return f"{record['size']} {placement_of(record)}" if placement_of(record) else record["size"]


def test_number_boxes(record: Mapping[str, Any], n: int) -> torch.Tensor:
    """Where the number lies in each of the first ``n`` test crops of :func:`test_numbers`:
    (n, 4) boxes (x0, y0, x1, y1) in the centre crop's normalised coordinates (±1 at its edges)."""
    side, crop = record["image_pixels"], record["crop_pixels"]
    boxes = svhn.number_boxes(n, DATA_SEED, False, record["size"] == "128px", placement_of(record) or "clipped")
    pixels = (boxes + 1) * side / 2 - (side - crop) // 2   # in the centre crop's pixels
    return torch.from_numpy(2 * pixels / crop - 1).float()


#: How many test numbers a clipped loose run's window tracking is measured on (:func:`record_tracking`).
TRACKING_NUMBERS = 500
#: What :func:`window_tracking` compares: a window's property and the number's.
TRACKED = ("centre x", "centre y", "width", "height")


def window_tracking(windows: torch.Tensor, boxes: torch.Tensor) -> dict[str, float]:
    """How closely the windows follow the numbers: for each of :data:`TRACKED`, the correlation
    over the numbers between the window's value and the number's (nan where either is constant).

    windows (N, 2, 3) affine θ of the whole chain (the window's centre is (θ₁₃, θ₂₃), its width
    and height the lengths of θ's columns); boxes (N, 4) (x0, y0, x1, y1), in the same coordinates.
    """
    check_shape("windows", windows, (None, 2, 3), "(N, 2, 3)")
    check_shape("boxes", boxes, (len(windows), 4), f"({len(windows)}, 4)")
    w = windows.double()
    b = boxes.double()
    ours = torch.stack([w[:, 0, 2], w[:, 1, 2], w[:, :, 0].norm(dim=1), w[:, :, 1].norm(dim=1)], 1)
    theirs = torch.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2, b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], 1)
    return {name: _correlation(ours[:, k], theirs[:, k]) for k, name in enumerate(TRACKED)}


def _correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Pearson's correlation of two (N,) tensors; nan where either is constant."""
    u, v = a.double() - a.double().mean(), b.double() - b.double().mean()
    norm = float(u.norm() * v.norm())
    return float((u * v).sum()) / norm if norm > 1e-12 * len(u) else math.nan


def width_by_length(boxes: torch.Tensor, labels: torch.Tensor) -> tuple[dict[int, float], float]:
    """Does a number's length set its width in the crop? The mean width of the numbers of each
    length (as a share of the crop's width), and the correlation over the numbers between width
    and length (nan where either is constant).

    boxes (N, 4) (x0, y0, x1, y1) in normalised coordinates; labels (N, 5) with ``svhn.BLANK`` after the digits.
    """
    check_shape("boxes", boxes, (None, 4), "(N, 4)")
    check_shape("labels", labels, (len(boxes), 5), f"({len(boxes)}, 5)")
    boxes, labels = torch.as_tensor(boxes), torch.as_tensor(labels)
    width = (boxes[:, 2] - boxes[:, 0]).double() / 2
    length = (labels != svhn.BLANK).sum(1)
    means = {int(k): float(width[length == k].mean()) for k in length.unique()}
    return means, _correlation(width, length.double())


def length_reading(means: Mapping[int, float], corr: float) -> str:
    """A sentence for :func:`width_by_length`: whether the crops give a window a length to follow."""
    spread = " and ".join(f"{k} digit{'s' if k > 1 else ''}: {means[k]:.2f}" for k in (min(means), max(means)))
    if math.isnan(corr) or abs(corr) < 0.3:
        return (f"A number's length hardly changes its width in these crops (mean width, as a share of the crop, "
                f"{spread}; correlation {corr:.2f}): the window of section 10.2 grows the box around the number by "
                "the same factor whatever its length and resizes it to a square, so a long number is squeezed, not "
                "wider. What a window can follow here is where the cut left the number and how large, not its length.")
    return (f"A longer number is {'wider' if corr > 0 else 'narrower'} in these crops (mean width, as a share of "
            f"the crop, {spread}; correlation {corr:.2f}), so a window that frames the number must follow its length.")


@torch.no_grad()
def windows_of(model: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Where a model's transformers look, all of them together: images (N, 3, S, S) → the
    composed θ (N, 2, 3) of the whole chain (:func:`~stn_course.svhn.models.compose_thetas`)."""
    was = model.training
    model.eval()
    device = next(model.parameters()).device
    model(images.to(device))
    model.train(was)
    return compose_thetas([t.cpu() for t in last_thetas(model)])


def record_tracking(model: torch.nn.Module, record: Mapping[str, Any], n: int = TRACKING_NUMBERS) -> dict[str, Any]:
    """How a trained model's window follows the number over the first ``n`` test crops of
    ``record`` (:func:`window_tracking`), with the window's mean width and height, for its record."""
    images, _ = test_numbers(record, n)
    windows = windows_of(model, images)
    return {"n": n, **window_tracking(windows, test_number_boxes(record, n)),
            "window moves": bool(windows.std(0).max() > 1e-6),
            "window width": float(windows[:, :, 0].norm(dim=1).mean()),
            "window height": float(windows[:, :, 1].norm(dim=1).mean())}


def tracking_reading(follows: Mapping[str, Mapping[str, Any]]) -> str:
    """Sentences for :func:`window_tracking`'s correlations, one model's (name → correlations)
    at a time: what its window follows (correlation ≥ 0.5), follows weakly (0.2 to 0.5) and
    does not follow. Only the keys of :data:`TRACKED` are read, and ``"window moves"`` where
    given: nan everywhere means the window never moved (``"window moves"`` false), else that the
    numbers never did, so there was nothing to follow."""
    out = []
    for name, found in follows.items():
        corr = {k: found[k] for k in TRACKED if k in found}
        if all(math.isnan(v) for v in corr.values()):
            out.append(f"{name}'s window is the same for every crop: it follows nothing." if not found.get("window moves", True)
                       else f"{name}: every number sits at the same place and size in these crops, so there is "
                            "nothing for a window to follow.")
            continue
        groups = {how: [f"{k} ({v:.2f})" for k, v in corr.items() if not math.isnan(v) and test(v)]
                  for how, test in (("follows", lambda v: v >= 0.5), ("weakly", lambda v: 0.2 <= v < 0.5),
                                    ("not", lambda v: v < 0.2))}
        said = []
        if groups["follows"]:
            said.append("follows the number's " + ", ".join(groups["follows"]))
        if groups["weakly"]:
            said.append("weakly its " + ", ".join(groups["weakly"]))
        if groups["not"]:
            said.append(("but not its " if said else "follows none of the number's ") + ", ".join(groups["not"]))
        out.append(f"{name}'s window " + "; ".join(said) + ".")
    return " ".join(out)


def write_table2(out_dir: Path) -> tuple[Path, Path] | None:
    """Aggregate the run records in ``out_dir`` into table2.md (a section per source, architecture
    and schedule, then the paper's table) and table2.csv."""
    out_dir = Path(out_dir)
    runs = [r for r in benchmark.load_runs(out_dir) if r.get("table") == "table2"]
    if not runs:
        return None
    runs = [{**r, "crops": crops_label(r)} for r in runs]
    keys = ["source", "model", "size", "crops", "arch", "schedule", "steps", "image_pixels", "device"]
    rows = benchmark.aggregate(runs, keys, "test_error")
    rows.sort(key=lambda r: (r["source"], r["arch"], r["schedule"], KINDS.index(r["model"]), CROPS.index(r["crops"])))
    csv_path = benchmark.write_csv(out_dir / "table2.csv", rows, keys)
    parts = ["# Table 2: sequence error (%) of multi-digit recognition", "",
             "Written by `python -m stn_course.benchmark table2` from the run records in this folder: mean ± std "
             "over seeds (n and seeds in table2.csv), on the test set of each source. Sections marked **synthetic** "
             "were measured on the stand-in (MNIST digits composed into house numbers, `stn_course.svhn`), NOT on "
             "SVHN, and cannot be compared with the paper's numbers."]
    for source, arch, sched in sorted({(r["source"], r["arch"], r["schedule"]) for r in runs}):
        rs = [r for r in runs if (r["source"], r["arch"], r["schedule"]) == (source, arch, sched)]
        what = "synthetic stand-in, NOT SVHN" if source == "synthetic" else "SVHN"
        pixels = ", ".join(sorted({f"{r['size']} rendered at {r['image_pixels']} px, crop {r['crop_pixels']}"
                                   for r in rs}))
        devices = "; ".join(sorted({r["device_name"] for r in rs}))
        parts += ["", f"## {what}: `{arch}` architecture, schedule `{sched}`", "",
                  f"{rs[0]['steps']} steps of {rs[0]['batch_size']}; {pixels}; {rs[0]['n_train']} training numbers; "
                  f"{devices}.", "",
                  benchmark.markdown_table(benchmark.aggregate(rs, ["model", "crops"], "test_error"), "model", "crops",
                                           KINDS, CROPS, TITLES.get)]
    paper = [{"model": m, "size": size, "mean": v, "std": 0.0, "n": 1}
             for m, row in PAPER_TABLE2.items() for size, v in row.items() if v is not None]
    parts += ["", "## The paper's Table 2 (SVHN)", "",
              benchmark.markdown_table(paper, "model", "size", list(PAPER_TABLE2), SIZES, PAPER_TITLES.get)]
    md_path = out_dir / "table2.md"
    md_path.write_text("\n".join(parts) + "\n")
    return md_path, csv_path


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--models", nargs="+", default=list(KINDS), choices=KINDS)
    p.add_argument("--sizes", nargs="+", default=list(SIZES), choices=SIZES, help="crop recipes (default: both)")
    p.add_argument("--synthetic", action="store_true", help="train and test on the synthetic stand-in, not SVHN")
    p.add_argument("--schedule", choices=tuple(SCHEDULES), default=None,
                   help="training recipe (default: fast with the paper's width, efficient with the CPU-sized one)")
    p.add_argument("--steps", type=int, default=None, help="override the schedule's number of steps")
    p.add_argument("--arch", choices=("auto", "paper", "small"), default="auto",
                   help="layer sizes: paper, or small (CPU-sized); default: paper on a GPU, small without one")
    p.add_argument("--scale", type=float, default=1.0, help="render the crops at this fraction of 64/128 px")
    p.add_argument("--side", type=int, default=None,
                   help=f"render both crop recipes at SIDE×SIDE px (default with the small arch: {CPU_SIDE})")
    p.add_argument("--n-synthetic", type=int, nargs=3, default=None, metavar=("TRAIN", "VAL", "TEST"),
                   help="how many stand-in numbers to draw (default by schedule)")
    p.add_argument("--extra", action="store_true", help="SVHN: also train on the extra split (as Goodfellow et al.)")
    p.add_argument("--loose", choices=svhn.PLACEMENTS, default="clipped",
                   help="stand-in: frame the loose crops clipped at a closer photograph's edges (default; the number's "
                        "place and size vary) or centred (the whole window: the stand-in before 2026-12)")
    p.add_argument("--loc-lr-scale", type=float, default=None,
                   help="override the schedule's localisation-net learning-rate factor (a probe; the run id says so)")
    p.add_argument("--seeds", type=int, default=1, help="number of seeds per cell (seeds 0…N-1)")
    p.add_argument("--seed-list", type=int, nargs="+", default=None, help="explicit seeds (overrides --seeds)")
    p.add_argument("--device", default=None)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", type=Path, default=OUT_DIR)
    p.add_argument("--save-weights", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--report", action="store_true", help="only aggregate the existing records")


def _cpu_or_paper_defaults(args: argparse.Namespace, device: torch.device) -> tuple[str, str, int | None]:
    """(arch, schedule, side) from the arguments; where they are not given, the paper's width
    on a GPU, the CPU-sized one (and its schedule and side) without one. Says what it chose."""
    arch = args.arch if args.arch != "auto" else ("paper" if device.type == "cuda" else "small")
    if args.arch == "auto":
        why = "a GPU" if arch == "paper" else "no GPU: the CPU-sized width; --arch paper for the paper's"
        print(f"architecture: {arch} ({why})")
    schedule = args.schedule or ("fast" if arch == "paper" else "efficient")
    side = args.side
    if args.side is not None and args.side < 8:
        raise SystemExit(f"error: --side must be at least 8 pixels, got {args.side}")
    if side is None and arch == "small" and args.scale == 1.0:
        side = CPU_SIDE
        print(f"crops rendered at {side}×{side} px (the CPU-sized default; --side or --scale to change)")
    return arch, schedule, side


def _run(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    out_dir: Path = args.out
    if args.report:
        written = write_table2(out_dir)
        print(f"wrote {written[0]} and {written[1]}" if written else f"no run records in {out_dir}")
        return 0
    if args.synthetic:
        source = "synthetic"
        print("data: the SYNTHETIC stand-in (MNIST digits composed into house numbers); results are labelled synthetic")
    else:
        native = [int(s.removesuffix("px")) for s in args.sizes]
        splits = ("train", "test", "extra") if args.extra else ("train", "test")
        missing = [n for n in native if not svhn.prepared_available(splits=splits, size=n)]
        if missing:
            print(f"error: no prepared SVHN at {svhn.svhn_root() / 'prepared'} for {missing} px. Fetch and prepare it "
                  "(python data_scripts/fetch_svhn.py && python data_scripts/prepare_svhn.py), or pass --synthetic "
                  "to use the stand-in.")
            return 2
        source = "svhn"
        print(f"data: SVHN, prepared at {svhn.svhn_root() / 'prepared'}")
    device = training.resolve_device(args.device)
    arch, schedule_name, side = _cpu_or_paper_defaults(args, device)
    schedule, name = SCHEDULES[schedule_name], schedule_name
    if args.steps:
        keep = tuple(m for m in schedule.milestones if m < args.steps)
        schedule = replace(schedule, steps=args.steps, milestones=keep, warmup=min(schedule.warmup, args.steps // 10),
                           eval_every=min(schedule.eval_every or args.steps, args.steps))
        name = f"{name}{args.steps}"
    if args.loc_lr_scale is not None:
        if not args.loc_lr_scale > 0:
            raise SystemExit(f"error: --loc-lr-scale must be positive, got {args.loc_lr_scale}")
        schedule = replace(schedule, loc_lr_scale=args.loc_lr_scale)
        name = f"{name}-loc{args.loc_lr_scale:g}"
    n_synth = tuple(args.n_synthetic) if args.n_synthetic else SYNTHETIC_SIZES[schedule_name]
    started = time.perf_counter()
    for size in args.sizes:
        for kind in args.models:
            for seed in (args.seed_list if args.seed_list is not None else range(args.seeds)):
                r = run_table2_cell(source, kind, size, seed, schedule, name, arch, args.scale, out_dir,
                                    device=device, n_synthetic=n_synth, progress=not args.no_progress,
                                    save_weights=args.save_weights, command=args.command_line, extra=args.extra,
                                    side=side, placement=args.loose)
                print(f"[{source}] {TITLES[kind]:14s} {size:5s} seed {seed}: sequence error {r['test_error']:.2f}% "
                      f"(val {r['val_error']:.2f}%, positions {r['test_position_error']:.2f}%, "
                      f"{r['images_per_s']:.0f} img/s, {r['wall_time_s']:.0f} s)", flush=True)
    write_table2(out_dir)
    print(f"done in {time.perf_counter() - started:.0f} s; tables in {out_dir}")
    return 0


benchmark.register("table2", "Table 2: SVHN multi-digit recognition (CNN, ST-CNN Single, ST-CNN Multi × 64/128 px)",
                   _arguments, _run)
benchmark.checkup.register_loader("table2", health_inputs)
