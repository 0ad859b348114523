"""How a Table 1 model trains: the paper's schedule, the course's recipe and its ablation."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch

from .. import training


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
    # The same recipe four times as long (5.12M images, 1/7.5 of the paper's), for the FCN family,
    # whose runs are cheap: in 40,000-step probes on RTS (results/table1/probes) FCN went from
    # 15.10 % to 10.43 % and ST-FCN Aff from 1.64 % to 1.26 %, still falling.
    "long": Schedule("long", steps=40_000, batch_size=128, optimizer="adamw", lr=4e-3, weight_decay=0.01,
                     schedule="cosine", warmup=500, label_smoothing=0.1, ema=0.998, precision="native",
                     channels_last=True, eval_every=2_000),
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
