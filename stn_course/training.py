"""One training loop for every chapter and for the benchmark.

Example (chapters: shrink ``steps`` and the data with ``config.pick``)::

    import torch
    from stn_course import distortions, training
    from stn_course.data import table1_splits
    from stn_course.models import build_model

    train, val, test = table1_splits("R")                 # (images, labels) tensor pairs
    def rotate(images, generator):                        # fresh distortions for every batch
        return distortions.apply("R", images, generator)[0]

    torch.manual_seed(0)
    model = build_model("st-cnn-aff", "R")
    hist = training.fit(model, train, val, steps=3000, batch_size=128, lr=1e-3, optimizer="adam",
                        schedule="cosine", augment=rotate, checkpoint="/tmp/run.pt")
    print(hist.best_val_error, training.evaluate(model, test))   # {"loss", "error" (%), "n"}

``train``/``val`` may also be any Dataset yielding ``(image, label)``; ``hist.loss`` holds
the loss of every step, ``hist.val_steps``/``hist.val_error`` the periodic validation error.

What ``fit`` does, step by step: draw a batch (the order depends only on ``seed`` and the
step number), optionally distort it on the device (``augment``), take one optimiser step at
the scheduled learning rate, record the loss; every ``eval_every`` steps measure the
validation error and keep the best weights; every ``checkpoint_every`` steps write the whole
state (model, optimiser, random generators, history) to ``checkpoint``. Calling ``fit`` again
with the same arguments after an interruption resumes from the checkpoint and ends with the
same weights, on a CPU bit for bit, as a run that was never interrupted.

Under ``torchrun`` (``WORLD_SIZE > 1``) each process takes its share of every batch and the
gradients are averaged with :class:`~torch.nn.parallel.DistributedDataParallel`; only rank 0
evaluates, writes checkpoints and shows progress.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader, Dataset

from . import config
from ._checks import check_choice

Data = Dataset | tuple[torch.Tensor, torch.Tensor] | Sequence[torch.Tensor]

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("none", "step", "cosine")
AMP_CHOICES = ("auto", True, False)
CHECKPOINT_VERSION = 2


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


# ---------------------------------------------------------------------------------------------
# data


def _as_tensors(data: Any, name: str) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(images, labels) if ``data`` is a pair of tensors, None if it is a Dataset."""
    if isinstance(data, Dataset):
        return None
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data):
        x, y = data
        if len(x) != len(y):
            raise ValueError(f"{name}: images and labels must have the same length, got {len(x)} and {len(y)}")
        if len(x) == 0:
            raise ValueError(f"{name} is empty")
        return x, y
    raise TypeError(f"{name} must be a torch Dataset or an (images, labels) pair of tensors, "
                    f"got {type(data).__name__}")


def step_generator(seed: int, step: int, rank: int = 0) -> torch.Generator:
    """The CPU generator handed to ``augment`` at ``step``: a function of (seed, step, rank) only."""
    return torch.Generator().manual_seed((seed * 1_000_003 + step) * 64 + rank + 0x5EED)


def _epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The sample order of one epoch: a function of (seed, epoch) only, so resuming repeats it."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=g)


class StepBatchSampler(torch.utils.data.Sampler):
    """Index batches for steps ``start + 1 … steps``: batch ``s`` depends only on (seed, s).

    Epochs are shuffled independently and the last incomplete batch of each epoch is dropped.
    With ``world_size > 1`` each rank gets its slice ``rank::world_size`` of every batch.
    """

    def __init__(self, n: int, batch_size: int, seed: int, start: int, steps: int,
                 rank: int = 0, world_size: int = 1):
        if batch_size > n:
            raise ValueError(f"batch_size must be at most the number of training examples ({n}), got {batch_size}")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.start, self.steps, self.rank, self.world_size = start, steps, rank, world_size
        self.per_epoch = n // batch_size

    def __len__(self) -> int:
        return self.steps - self.start

    def __iter__(self):
        order, epoch = None, -1
        for step in range(self.start, self.steps):
            e, b = divmod(step, self.per_epoch)
            if e != epoch:
                order, epoch = _epoch_order(self.n, self.seed, e), e
            batch = order[b * self.batch_size:(b + 1) * self.batch_size]
            yield batch[self.rank::self.world_size].tolist()


def _tensor_batches(x: torch.Tensor, y: torch.Tensor, sampler: StepBatchSampler, device: torch.device):
    """The batches of ``sampler`` from tensors, without a Python list per step: each epoch's
    order goes to the data's device once, and a batch is a slice of it (no host round trip)."""
    epoch, order = -1, None
    for step in range(sampler.start, sampler.steps):
        e, b = divmod(step, sampler.per_epoch)
        if e != epoch:
            epoch, order = e, _epoch_order(sampler.n, sampler.seed, e).to(x.device)
        idx = order[b * sampler.batch_size:(b + 1) * sampler.batch_size][sampler.rank::sampler.world_size]
        yield x[idx].to(device, non_blocking=True), y[idx].to(device, non_blocking=True)


def _batches(data: Data, sampler: StepBatchSampler, device: torch.device, num_workers: int):
    """Yield (images, labels) on ``device`` for every step of ``sampler``."""
    tensors = _as_tensors(data, "train")
    if tensors is not None:
        yield from _tensor_batches(*tensors, sampler, device)
        return
    loader = DataLoader(data, batch_sampler=sampler, num_workers=num_workers,
                        pin_memory=device.type == "cuda", persistent_workers=False)
    for x, y in loader:
        yield x.to(device, non_blocking=True), y.to(device, non_blocking=True)


# ---------------------------------------------------------------------------------------------
# optimiser and schedule


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


# ---------------------------------------------------------------------------------------------
# devices, precision, distribution


def resolve_device(device: str | torch.device | None) -> torch.device:
    if device is None or device == "auto":
        return config.device()
    return torch.device(device)


def cpu_bf16_supported() -> bool:
    """True where the CPU computes bfloat16 natively (AVX-512 BF16 or AMX), so autocast pays."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _autocast(device: torch.device, amp: bool | str):
    """Mixed precision: (context manager, gradient scaler or None).

    ``amp="auto"``: on CUDA only, bfloat16 where supported, else float16 with a scaler.
    ``True``: the same on CUDA, bfloat16 on a CPU. ``False``: float32 everywhere.
    """
    if amp not in AMP_CHOICES:
        raise ValueError(f"amp must be one of {list(AMP_CHOICES)}, got {amp!r}")
    if amp == "auto":
        amp = device.type == "cuda"
    if not amp:
        return contextlib.nullcontext(), None
    if device.type == "cpu":
        return torch.autocast("cpu", dtype=torch.bfloat16), None
    if device.type != "cuda":
        return contextlib.nullcontext(), None
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
    return torch.autocast("cuda", dtype=dtype), scaler


def _distributed() -> tuple[int, int]:
    """(rank, world_size), initialising the process group under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), world


# ---------------------------------------------------------------------------------------------
# evaluation


@torch.no_grad()
def evaluate(model: nn.Module, data: Data, *, batch_size: int = 1000, device: str | torch.device | None = None,
             amp: bool | str = "auto", loss_fn: Callable | None = None,
             error_fn: Callable | None = None) -> dict[str, float]:
    """Classification loss and error of ``model`` on ``data``.

    Returns ``{"loss": mean cross-entropy, "error": percent misclassified (0–100), "n": count}``.
    ``loss_fn(logits, labels, reduction=...)`` and ``error_fn(logits, labels) -> (N,) bool``
    (True where an example is wrong) replace cross-entropy and ``argmax(1) != labels`` for
    models with other outputs (e.g. SVHN's five digit classifiers).
    The model is put in eval mode and back to the mode it was in.
    """
    device = resolve_device(device) if device is not None else _model_device(model)
    loss_fn = loss_fn or nn.functional.cross_entropy
    error_fn = error_fn or _misclassified
    tensors = _as_tensors(data, "data")
    if tensors is not None:
        x, y = tensors
        batches = ((x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size))
    else:
        batches = iter(DataLoader(data, batch_size=batch_size, shuffle=False))
    was_training = model.training
    model.eval()
    autocast, _ = _autocast(device, amp)
    total_loss, wrong, n = 0.0, 0, 0
    try:
        for xb, yb in batches:
            xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
            with autocast:
                logits = model(xb)
            total_loss += float(loss_fn(logits.float(), yb, reduction="sum"))
            wrong += int(error_fn(logits, yb).sum())
            n += len(yb)
    finally:
        model.train(was_training)
    return {"loss": total_loss / n, "error": 100.0 * wrong / n, "n": n}


def _misclassified(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(N,) bool: True where the top class of ``logits`` (N, classes) is not ``labels`` (N,)."""
    return logits.argmax(1) != labels


def _model_device(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


# ---------------------------------------------------------------------------------------------
# checkpoints


def _fingerprint(model: nn.Module, settings: Mapping[str, Any]) -> dict[str, Any]:
    shapes = sorted((k, tuple(v.shape)) for k, v in model.state_dict().items())
    digest = hashlib.sha1(repr(shapes).encode()).hexdigest()[:12]
    return {**settings, "model": type(model).__name__, "num_params": sum(p.numel() for p in model.parameters()),
            "state_shapes": digest}


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


def _rng_state(device: torch.device) -> dict[str, Any]:
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


# ---------------------------------------------------------------------------------------------
# the loop


def fit(model: nn.Module, train: Data, val: Data | None = None, *, steps: int, batch_size: int = 128,
        lr: float = 1e-3, optimizer: str = "adam", momentum: float = 0.9, weight_decay: float = 0.0,
        schedule: str | Callable[[int], float] = "none", milestones: Sequence[int] = (), gamma: float = 0.1,
        warmup: int = 0, loc_lr_scale: float = 1.0, grad_clip: float | None = None, nesterov: bool = False,
        label_smoothing: float = 0.0, ema: float | None = None, channels_last: bool = False,
        augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None, loss_fn: Callable | None = None,
        error_fn: Callable | None = None,
        device: str | torch.device | None = None, seed: int = 0, eval_every: int | None = None,
        eval_batch_size: int = 1000, restore_best: bool = True, checkpoint: str | Path | None = None,
        checkpoint_every: int | None = None, resume: bool = True, progress: bool = True,
        amp: bool | str = "auto", num_workers: int = 0, log_every: int = 50,
        callback: Callable[[int, History], None] | None = None) -> History:
    """Train ``model`` on ``train`` for ``steps`` optimiser steps; return the :class:`History`.

    Args:
        model: a classifier returning logits (N, classes) for images (N, C, H, W).
        train, val: Datasets yielding (image, label), or (images, labels) tensor pairs.
        steps: number of optimiser steps (batches), not epochs.
        batch_size: images per step (over all processes under torchrun).
        lr, optimizer, momentum, weight_decay, nesterov: ``optimizer`` is "sgd" (uses
            ``momentum``, and Nesterov's momentum with ``nesterov``), "adam" or "adamw";
            weight decay skips biases.
        schedule, milestones, gamma, warmup: see :func:`lr_factor`.
        loc_lr_scale: learning-rate multiplier for the parameters of every submodule named
            ``localization`` (the paper trains its localisation nets more slowly).
        grad_clip: clip the global gradient norm to this value (None: no clipping).
        label_smoothing: train against targets smoothed by this much (0: plain labels); the
            validation loss and error always use the plain labels.
        ema: keep an exponential moving average of the weights with this decay (e.g. 0.999)
            and validate, select and return the averaged weights (None: the raw weights).
        channels_last: keep the model and its inputs in the channels-last memory format
            (NHWC: faster convolutions on CPUs with oneDNN and on tensor cores).
        augment: ``augment(images, generator) -> images`` applied to each batch on the
            device, e.g. to draw fresh distortions every step. ``generator`` is a CPU
            ``torch.Generator`` seeded from (``seed``, step), so the distortions repeat exactly
            on every device and after a resume; draw every random number from it.
        loss_fn, error_fn: the training/validation loss ``loss_fn(logits, labels,
            reduction="mean")`` and the validation error ``error_fn(logits, labels) -> (N,)
            bool``; default cross-entropy and top-1 error (see :func:`evaluate`).
        device: "cpu", "cuda", … (None: CUDA if available). The model is moved there.
        seed: seeds the batch order and the global generator.
        eval_every: validate every this many steps (default: ``steps // 10``) and at the end.
        restore_best: with ``val``, load the weights with the lowest validation error at the end.
        checkpoint, checkpoint_every, resume: write the training state to the file
            ``checkpoint`` every ``checkpoint_every`` steps (default: ``eval_every``) and at the
            end; with ``resume`` an existing checkpoint of the same run is continued (a finished
            one returns at once). A checkpoint of a different run raises ``ValueError``.
        progress: show a tqdm progress bar.
        amp: mixed precision: "auto" (on CUDA only), True (CUDA, and bfloat16 on a CPU) or
            False. Spatial transformers stay in float32 either way (see ``STClassifier``).
        num_workers: DataLoader workers when ``train`` is a Dataset.
        log_every: how often the loss is copied from the device and checked for NaN.
        callback: ``callback(step, history)`` after every step (for plots or tests).

    Raises:
        TrainingDiverged: the loss became NaN or infinite; the message names the step.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    for name, value in (("steps", steps), ("batch_size", batch_size)):
        if not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing!r}")
    if label_smoothing and loss_fn is not None:
        raise ValueError("label_smoothing applies to the default cross-entropy; pass it to your loss_fn instead")
    if ema is not None and not 0.0 < ema < 1.0:
        raise ValueError(f"ema must be a decay in (0, 1) or None, got {ema!r}")
    check_choice("optimizer", optimizer, OPTIMIZERS)
    if not callable(schedule):
        check_choice("schedule", schedule, SCHEDULES)
    n_train = len(_as_tensors(train, "train")[0]) if _as_tensors(train, "train") is not None else len(train)
    if val is not None:
        _as_tensors(val, "val")
    eval_every = eval_every or max(steps // 10, 1)
    checkpoint_every = checkpoint_every or eval_every
    train_loss = loss_fn or functools.partial(nn.functional.cross_entropy, label_smoothing=label_smoothing)
    loss_fn = loss_fn or nn.functional.cross_entropy

    rank, world = _distributed()
    device = resolve_device(device)
    if world > 1 and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank)))
        torch.cuda.set_device(device)
    is_main = rank == 0
    model.to(device, memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    groups = param_groups(model, lr, loc_lr_scale, weight_decay)
    opt = make_optimizer(groups, optimizer, lr, momentum, nesterov)
    averaged = _ema_model(model, ema)
    selected = averaged.module if averaged is not None else model  # the weights validated and returned
    base_lrs = [g["lr"] for g in opt.param_groups]
    autocast, scaler = _autocast(device, amp)
    net: nn.Module = model
    if world > 1:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    settings = dict(steps=steps, batch_size=batch_size, lr=lr, optimizer=optimizer, momentum=momentum,
                    weight_decay=weight_decay, schedule=schedule if isinstance(schedule, str) else "callable",
                    milestones=list(milestones), gamma=gamma, warmup=warmup, loc_lr_scale=loc_lr_scale,
                    nesterov=nesterov, label_smoothing=label_smoothing, ema=ema, grad_clip=grad_clip,
                    channels_last=channels_last, amp=amp, seed=seed, n_train=n_train, world_size=world)
    fingerprint = _fingerprint(model, settings)
    history = History()
    start = 0
    torch.manual_seed(seed + rank)
    ckpt_path = Path(checkpoint) if checkpoint is not None else None
    if ckpt_path is not None and resume and ckpt_path.exists():
        state = _load_checkpoint(ckpt_path, fingerprint)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        if averaged is not None:
            averaged.load_state_dict(state["ema"])
        history = History(**state["history"])
        start = history.steps_done
        history.resumed_from = start
        _set_rng_state(state["rng"][rank] if isinstance(state["rng"], list) else state["rng"], device)
        if start >= steps:
            return _finish(model, selected, history, restore_best)

    def write_checkpoint(step: int) -> None:
        if ckpt_path is None:
            return
        rng = _rng_state(device)
        if world > 1:
            import torch.distributed as dist
            gathered: list[Any] = [None] * world
            dist.all_gather_object(gathered, rng)
            rng = gathered
        if is_main:
            save_checkpoint(ckpt_path, {"version": CHECKPOINT_VERSION, "fingerprint": fingerprint,
                                        "model": model.state_dict(), "optimizer": opt.state_dict(),
                                        "scaler": scaler.state_dict() if scaler is not None else None,
                                        "ema": averaged.state_dict() if averaged is not None else None,
                                        "history": asdict(history), "rng": rng})

    def validate(step: int) -> None:
        if val is None or not is_main:
            return
        result = evaluate(selected, val, batch_size=eval_batch_size, device=device, amp=amp, loss_fn=loss_fn,
                          error_fn=error_fn)
        history.val_steps.append(step)
        history.val_error.append(result["error"])
        history.val_loss.append(result["loss"])
        if history.best_val_error is None or result["error"] < history.best_val_error:
            history.best_val_error, history.best_step = result["error"], step
            history.best_state = {k: v.detach().to("cpu", copy=True) for k, v in selected.state_dict().items()}

    pending: list[torch.Tensor] = []

    def flush(step: int) -> None:
        """Copy buffered losses to the host and stop at the first non-finite one."""
        if not pending:
            return
        stacked = torch.stack(pending).float()
        if world > 1:  # record the loss of the whole batch, not of this process's share
            import torch.distributed as dist
            dist.all_reduce(stacked)
            stacked /= world
        values = stacked.cpu().tolist()
        first = step - len(values) + 1
        pending.clear()
        for i, v in enumerate(values):
            if not math.isfinite(v):
                raise TrainingDiverged(
                    f"the training loss became {v} at step {first + i} of {steps} (lr {history.lr[first + i - 1]:.3g}); "
                    "lower the learning rate, clip gradients (grad_clip=…) or check the inputs for NaN")
        history.loss.extend(values)

    bar = None
    if progress and is_main:
        from tqdm.auto import tqdm
        bar = tqdm(total=steps, initial=start, desc="training", dynamic_ncols=True, leave=True)

    sampler = StepBatchSampler(n_train, batch_size, seed, start, steps, rank, world)
    net.train()
    step = start
    t0 = time.perf_counter()
    try:
        for x, y in _batches(train, sampler, device, num_workers):
            f = lr_factor(step, steps, schedule, milestones, gamma, warmup)
            for g, base in zip(opt.param_groups, base_lrs):
                g["lr"] = base * f
            history.lr.append(lr * f)
            if augment is not None:
                with torch.no_grad():
                    x = augment(x, step_generator(seed, step, rank))
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with autocast:
                logits = net(x)
                loss = train_loss(logits.float(), y)
            opt.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.unscale_(opt)
            else:
                loss.backward()
            if grad_clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            if scaler is not None:
                scaler.step(opt)
                scaler.update()
            else:
                opt.step()
            if averaged is not None:
                averaged.update_parameters(model)
            pending.append(loss.detach())
            step += 1
            history.steps_done = step
            history.images_seen += batch_size
            if device.type != "cuda" or step % log_every == 0 or step == steps:
                flush(step)
            if bar is not None:
                bar.update(1)
                if step % 10 == 0 and history.loss:
                    bar.set_postfix(loss=f"{history.loss[-1]:.3f}", refresh=False)
            if step % eval_every == 0 or step == steps or step % checkpoint_every == 0:
                flush(step)
                history.train_time_s += time.perf_counter() - t0
                if step % eval_every == 0 or step == steps:
                    validate(step)
                    if bar is not None and history.val_error:
                        bar.set_postfix(loss=f"{history.loss[-1]:.3f}", val_err=f"{history.val_error[-1]:.2f}%")
                if step % checkpoint_every == 0 or step == steps:
                    write_checkpoint(step)
                t0 = time.perf_counter()
            if callback is not None:
                callback(step, history)
    finally:
        if bar is not None:
            bar.close()
    return _finish(model, selected, history, restore_best)


def _ema_model(model: nn.Module, decay: float | None) -> AveragedModel | None:
    """An exponential moving average of ``model``'s weights (and buffers), or None."""
    if decay is None:
        return None
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def _finish(model: nn.Module, selected: nn.Module, history: History, restore_best: bool) -> History:
    """Set the throughput; leave ``model`` with the best validated weights (``restore_best``)
    or else with the ``selected`` ones (the moving average where there is one)."""
    if history.train_time_s > 0:
        history.images_per_s = history.images_seen / history.train_time_s
    if restore_best and history.best_state is not None:
        model.load_state_dict(history.best_state)
    elif selected is not model:
        model.load_state_dict(selected.state_dict())
    return history


def set_seed(seed: int) -> None:
    """Seed torch's global generators (e.g. before building a model, so its init repeats)."""
    torch.manual_seed(seed)


__all__ = ["History", "TrainingDiverged", "fit", "evaluate", "lr_factor", "param_groups", "make_optimizer",
           "StepBatchSampler", "step_generator", "save_checkpoint", "set_seed", "resolve_device",
           "cpu_bf16_supported"]
