"""What a training run records (:class:`History`) and how it fails (:class:`TrainingDiverged`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch


class TrainingDiverged(FloatingPointError):
    """The training loss became NaN or infinite."""


@dataclass
class History:
    """What happened during :func:`fit`.

    ``loss[i]`` is the training loss of step ``i + 1``; ``val_steps``/``val_error``/``val_loss``
    are the periodic validation measurements (error in percent). ``best_state`` is the
    model's ``state_dict`` (on the CPU) at the lowest validation error, ``None`` without
    validation data. ``images_per_s`` counts training images per second of training (not
    evaluation or checkpointing) time, over all the calls of a resumed run.
    """

    loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    val_steps: list[int] = field(default_factory=list)
    val_error: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    best_step: int | None = None
    best_val_error: float | None = None
    best_state: dict[str, torch.Tensor] | None = field(default=None, repr=False)
    steps_done: int = 0
    train_time_s: float = 0.0
    images_seen: int = 0
    resumed_from: int | None = None
    images_per_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Everything but ``best_state``, as JSON-friendly Python values."""
        d = asdict(self)
        d.pop("best_state")
        return d
