"""The optimiser and its schedule: parameter groups (the localisation nets' own rate), the optimiser, the
learning-rate multiplier of every step."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

from .._checks import check_choice

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("none", "step", "cosine")


def _is_localization(name: str) -> bool:
    return "localization" in name.split(".")


def param_groups(model: nn.Module, lr: float, loc_lr_scale: float, weight_decay: float) -> list[dict]:
    """Two parameter groups: everything inside a submodule named ``localization`` learns at
    ``lr * loc_lr_scale``, the rest at ``lr``. Biases and 1-D parameters get no weight decay."""
    groups: dict[tuple[bool, bool], list[nn.Parameter]] = {}
    for name, p in model.named_parameters():
        if p.requires_grad:
            groups.setdefault((_is_localization(name), p.ndim > 1), []).append(p)
    out = []
    for (loc, decay), params in sorted(groups.items()):
        out.append({"params": params, "lr": lr * (loc_lr_scale if loc else 1.0),
                    "weight_decay": weight_decay if decay else 0.0, "localization": loc})
    return out


def make_optimizer(groups: list[dict], optimizer: str, lr: float, momentum: float,
                   nesterov: bool = False) -> torch.optim.Optimizer:
    check_choice("optimizer", optimizer, OPTIMIZERS)
    if optimizer == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=nesterov)
    if optimizer == "adam":
        return torch.optim.Adam(groups, lr=lr)
    return torch.optim.AdamW(groups, lr=lr)


def lr_factor(step: int, steps: int, schedule: str | Callable[[int], float] = "none",
              milestones: Sequence[int] = (), gamma: float = 0.1, warmup: int = 0) -> float:
    """The learning-rate multiplier for (0-based) ``step`` of ``steps``.

    ``"none"``: 1; ``"step"``: ×``gamma`` at each milestone (the paper: ×0.1 every 50k steps);
    ``"cosine"``: half a cosine from 1 to 0; a callable: ``schedule(step)``. ``warmup`` steps
    ramp linearly from 0 in front of any of them.
    """
    if callable(schedule):
        f = float(schedule(step))
    else:
        check_choice("schedule", schedule, SCHEDULES)
        if schedule == "none":
            f = 1.0
        elif schedule == "step":
            f = gamma ** sum(step >= m for m in milestones)
        else:
            f = 0.5 * (1 + math.cos(math.pi * min(step, steps) / steps))
    if warmup and step < warmup:
        f *= (step + 1) / warmup
    return f
