"""Checkpoints: written atomically, read back only by the run that wrote them, with the random generators."""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .average import WeightAverage
from .history import History

CHECKPOINT_VERSION = 2


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write atomically: a process killed while writing leaves the previous checkpoint intact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def _load_checkpoint(path: Path, fingerprint: dict[str, Any]) -> dict[str, Any]:
    state = torch.load(path, map_location="cpu", weights_only=False)
    if state.get("version") != CHECKPOINT_VERSION:
        raise ValueError(f"checkpoint {path} has version {state.get('version')}, expected {CHECKPOINT_VERSION}")
    theirs = state["fingerprint"]
    diff = {k: (theirs.get(k), v) for k, v in fingerprint.items() if theirs.get(k) != v}
    if diff:
        what = ", ".join(f"{k}: checkpoint {a!r} vs now {b!r}" for k, (a, b) in diff.items())
        raise ValueError(f"checkpoint {path} was written by a different run ({what}); delete it or pass "
                         "resume=False to start afresh")
    return state


def training_state(fingerprint: dict[str, Any], model: nn.Module, opt: torch.optim.Optimizer,
                   scaler: torch.amp.GradScaler | None, averaged: WeightAverage | None, history: History,
                   rng: Any) -> dict[str, Any]:
    """Everything a checkpoint holds: weights, optimiser, gradient scaler, average, history, generators."""
    return {"version": CHECKPOINT_VERSION, "fingerprint": fingerprint, "model": model.state_dict(),
            "optimizer": opt.state_dict(), "scaler": scaler.state_dict() if scaler is not None else None,
            "ema": averaged.state_dict() if averaged is not None else None,
            "history": asdict(history), "rng": rng}


def load_training_state(state: dict[str, Any], model: nn.Module, opt: torch.optim.Optimizer,
                        scaler: torch.amp.GradScaler | None, averaged: WeightAverage | None) -> None:
    """Load the weights, optimiser, scaler and average of :func:`training_state` back into place."""
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    if scaler is not None and state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    if averaged is not None:
        averaged.load_state_dict(state["ema"])


def _rng_state(device: torch.device) -> dict[str, Any]:
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)
