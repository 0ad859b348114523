"""Run records on disk and their aggregation: JSON files, tables of mean ± std, weights, curves."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from .. import health, training
from .provenance import REPO_ROOT

RESULTS_DIR = REPO_ROOT / "results"
#: How many held-out inputs a record's transformer health is measured on.
HEALTH_INPUTS = 1000

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


def pipe_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """The lines of a markdown table with ``header`` and ``rows`` of cells (a ``|`` in a header is escaped)."""
    header = [h.replace("|", "\\|") for h in header]
    return (["| " + " | ".join(header) + " |", "|---|" + "---|" * (len(header) - 1)]
            + ["| " + " | ".join(row) + " |" for row in rows])


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


def health_fields(model: torch.nn.Module, inputs: torch.Tensor, rid: str) -> dict[str, Any]:
    """A record's ``transformer_health`` (:func:`stn_course.health.transformer_health` on the first
    :data:`HEALTH_INPUTS` held-out ``inputs``) and its ``warnings``, each also printed to stderr;
    ``{}`` for a model without transformers."""
    if not health.find_transformers(model):
        return {}
    result = health.transformer_health(model, inputs[:HEALTH_INPUTS])
    warnings = health.health_warnings(result)
    for w in warnings:
        print(f"warning: {rid}: {w}", file=sys.stderr, flush=True)
    return {"transformer_health": result, "warnings": warnings}
