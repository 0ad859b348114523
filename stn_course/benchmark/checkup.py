"""``python -m stn_course.benchmark health FOLDER``: measure the transformer health of finished runs.

New runs write their health into the record (:func:`~stn_course.benchmark.records.health_fields`).
For records written before that, this command loads each record's saved weights, measures
:func:`stn_course.health.transformer_health` on held-out inputs of the record's own data and,
with ``--write``, adds it to the record with its own provenance (``health_provenance``: this
command, its commit, when), leaving the rest of the record as it was.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from .. import health
from ..models import build_addition_model, build_model
from .cli import positive_int, register
from .provenance import provenance
from .records import HEALTH_INPUTS, load_runs, load_weights, write_json

Loader = Callable[[Mapping[str, Any], Path], tuple[torch.nn.Module, torch.Tensor, str]]


def _table1(record: Mapping[str, Any], folder: Path) -> tuple[torch.nn.Module, torch.Tensor, str]:
    from .table1 import DATA_SEED, table1_data

    model = load_weights(build_model(record["model"], record["distortion"]), record, folder)
    test = table1_data(record["distortion"], eval_subset=HEALTH_INPUTS)[2]
    return model, test[0], f"the first {HEALTH_INPUTS} of table1_splits({record['distortion']!r}, seed={DATA_SEED})'s test"


def _addition(record: Mapping[str, Any], folder: Path) -> tuple[torch.nn.Module, torch.Tensor, str]:
    from .addition import DATA_SEED, addition_data

    model = load_weights(build_addition_model(record["model"]), record, folder)
    test = addition_data(eval_subset=HEALTH_INPUTS)[2]
    return model, test[0], f"the first {HEALTH_INPUTS} of MNISTAddition(split='test', seed={DATA_SEED})"


#: How to rebuild each table's model and held-out inputs from a record; other tables add theirs
#: with :func:`register_loader` (Table 2 does, in :mod:`stn_course.svhn.table2`).
LOADERS: dict[str, Loader] = {"table1": _table1, "addition": _addition}


def register_loader(table: str, loader: Loader) -> None:
    """``loader(record, folder)`` → (model with the record's weights, held-out inputs, what they are)."""
    LOADERS[table] = loader


def measure(record: Mapping[str, Any], folder: Path) -> dict[str, Any]:
    """The health of one record's saved model on held-out inputs, with what they were."""
    loader = LOADERS.get(record.get("table", "table1"))
    if loader is None:
        raise ValueError(f"record {record['run_id']!r}: no way to rebuild a {record.get('table')!r} model here")
    model, inputs, described = loader(record, folder)
    result = health.transformer_health(model.eval(), inputs)
    return {**result, "inputs": described}


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("folder", type=Path, help="a results folder (results/table1, results/addition, results/table2)")
    p.add_argument("--write", action="store_true", help="add the health to each record that lacks it")
    p.add_argument("--threads", type=positive_int, default=1, help="torch CPU threads (default 1)")


def _run(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads)
    runs = [r for r in load_runs(args.folder) if r.get("weights") and "transformer_health" not in r]
    for record in runs:
        result = measure(record, args.folder)
        if not result["transformers"]:
            continue
        print(f"{record['run_id']:45s} {health.summary(result)}", flush=True)
        for w in health.health_warnings(result):
            print(f"  warning: {w}", flush=True)
        if args.write:
            updated = {**record, "transformer_health": result, "warnings": health.health_warnings(result),
                       "health_provenance": provenance(torch.device("cpu"), args.command_line)}
            write_json(args.folder / f"{record['run_id']}.json", updated)
    if not runs:
        print(f"no records with saved weights and without health in {args.folder}")
    return 0


register("health", "measure the transformer health (live units, θ spread) of finished runs from their weights",
         _arguments, _run)
