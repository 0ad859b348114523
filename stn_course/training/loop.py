"""The loop: :func:`fit` and the state of one call (:class:`_Loop`), step by step."""

from __future__ import annotations

import contextlib
import functools
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .._checks import check_choice, check_int, check_real, is_int
from .average import WeightAverage
from .batches import Data, StepBatchSampler, _as_tensors, _batches, step_generator
from .checkpoint import (_load_checkpoint, _rng_state, _set_rng_state, load_training_state, save_checkpoint,
                         training_state)
from .devices import AMP_CHOICES, _autocast, _distributed, resolve_device
from .evaluation import as_float, evaluate
from .fingerprint import _describe, _describe_data, _fingerprint
from .history import History, TrainingDiverged
from .optim import OPTIMIZERS, SCHEDULES, lr_factor, make_optimizer, param_groups


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
        model: a classifier returning logits (N, classes) for images (N, C, H, W); or any
            model returning a tensor or a tuple of tensors, with a ``loss_fn`` (and, to
            validate, an ``error_fn``) that reads it.
        train, val: map-style Datasets yielding (image, label), or (images, labels) tensor pairs.
            Where ``train`` has a ``set_epoch(epoch)`` method (e.g. :class:`~stn_course.data.DistortedMNIST`
            with ``fresh=True``), it is called at the start of every epoch, and on resuming.
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
    eval_every = max(steps // 10, 1) if eval_every is None and is_int(steps) else eval_every
    settings = dict(steps=steps, batch_size=batch_size, lr=lr, optimizer=optimizer, momentum=momentum,
                    weight_decay=weight_decay, schedule=schedule, milestones=milestones, gamma=gamma, warmup=warmup,
                    loc_lr_scale=loc_lr_scale, grad_clip=grad_clip, nesterov=nesterov,
                    label_smoothing=label_smoothing, ema=ema, channels_last=channels_last, augment=augment,
                    loss_fn=loss_fn, error_fn=error_fn, device=device, seed=seed, eval_every=eval_every,
                    eval_batch_size=eval_batch_size, checkpoint=checkpoint,
                    checkpoint_every=eval_every if checkpoint_every is None else checkpoint_every, amp=amp,
                    log_every=log_every, num_workers=num_workers)
    _check_arguments(model, train, val, settings)
    loop = _Loop(model, train, val, **settings)
    if resume and loop.resume() >= steps:
        return loop.finish(restore_best)
    with loop.progress_bar(progress):
        for x, y in _batches(train, loop.sampler(), loop.device, num_workers):
            step = loop.train_step(x, y)
            if step % eval_every == 0 or step == steps or step % loop.checkpoint_every == 0:
                loop.pause()
                if step % eval_every == 0 or step == steps:
                    loop.validate(step)
                if step % loop.checkpoint_every == 0 or step == steps:
                    loop.save_checkpoint()
                loop.restart_clock()
            if callback is not None:
                callback(step, loop.history)
    return loop.finish(restore_best)


def _check_arguments(model: nn.Module, train: Data, val: Data | None, s: Mapping[str, Any]) -> None:
    """Raise a clear error, naming the argument, for anything :func:`fit` cannot train with."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    _as_tensors(train, "train")
    if val is not None:
        _as_tensors(val, "val")
    for name in ("steps", "batch_size", "eval_every", "checkpoint_every", "eval_batch_size", "log_every"):
        check_int(name, s[name], 1)
    for name in ("warmup", "num_workers", "seed"):
        check_int(name, s[name], 0)
    for m in s["milestones"]:
        check_int("milestones", m, 1)
    for name in ("lr", "gamma"):
        check_real(name, s[name], above=0)
    for name in ("momentum", "weight_decay", "loc_lr_scale"):
        check_real(name, s[name], minimum=0)
    check_real("label_smoothing", s["label_smoothing"], minimum=0, below=1)
    if s["grad_clip"] is not None:
        check_real("grad_clip", s["grad_clip"], above=0)
    if s["label_smoothing"] and s["loss_fn"] is not None:
        raise ValueError("label_smoothing applies to the default cross-entropy; pass it to your loss_fn instead")
    if s["ema"] is not None and not (isinstance(s["ema"], (int, float)) and 0.0 < s["ema"] < 1.0):
        raise ValueError(f"ema must be a decay in (0, 1) or None, got {s['ema']!r}")
    check_choice("optimizer", s["optimizer"], OPTIMIZERS)
    if not callable(s["schedule"]):
        check_choice("schedule", s["schedule"], SCHEDULES)
    for name in ("augment", "loss_fn", "error_fn"):
        if s[name] is not None and not callable(s[name]):
            raise TypeError(f"{name} must be callable or None, got {type(s[name]).__name__}")
    if s["amp"] not in AMP_CHOICES:
        raise ValueError(f"amp must be one of {list(AMP_CHOICES)}, got {s['amp']!r}")
    resolve_device(s["device"])


class _Loop:
    """The state of one :func:`fit` call and its steps: set-up, resume, the step, evaluation,
    checkpoints. ``fit`` reads as the sequence of these methods."""

    def __init__(self, model: nn.Module, train: Data, val: Data | None, **s: Any):
        self.model, self.val, self.s = model, val, s
        self.steps, self.batch_size, self.seed = s["steps"], s["batch_size"], s["seed"]
        self.checkpoint_every = s["checkpoint_every"]
        tensors = _as_tensors(train, "train")
        self.n_train = len(tensors[0]) if tensors is not None else len(train)
        self.train_loss = s["loss_fn"] or functools.partial(nn.functional.cross_entropy,
                                                            label_smoothing=s["label_smoothing"])
        self.loss_fn = s["loss_fn"] or nn.functional.cross_entropy

        self._place(model)
        self._make_optimiser(model)
        self.autocast, self.scaler = _autocast(self.device, s["amp"])
        self.autocast_on = not isinstance(self.autocast, contextlib.nullcontext)
        self.net: nn.Module = model
        if self.world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = nn.parallel.DistributedDataParallel(model, device_ids=ids)
        self.fingerprint = _fingerprint(model, self._settings(train))
        self.history = History()
        self.step = 0
        self.pending: list[torch.Tensor] = []
        self.bar = _ProgressBar(False, self.steps, 0)
        self.ckpt_path = Path(s["checkpoint"]) if s["checkpoint"] is not None else None
        torch.manual_seed(self.seed + self.rank)

    def _place(self, model: nn.Module) -> None:
        """This process's rank and device; the model moved there in its memory format."""
        self.rank, self.world = _distributed()
        self.device = resolve_device(self.s["device"])
        if self.world > 1 and self.device.type == "cuda":
            self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", self.rank)))
            torch.cuda.set_device(self.device)
        self.is_main = self.rank == 0
        fmt = torch.channels_last if self.s["channels_last"] else torch.contiguous_format
        model.to(self.device, memory_format=fmt)

    def _make_optimiser(self, model: nn.Module) -> None:
        """The optimiser over its parameter groups, and the weight average where there is one."""
        s = self.s
        groups = param_groups(model, s["lr"], s["loc_lr_scale"], s["weight_decay"])
        self.opt = make_optimizer(groups, s["optimizer"], s["lr"], s["momentum"], s["nesterov"])
        self.base_lrs = [g["lr"] for g in self.opt.param_groups]
        self.averaged = WeightAverage(model, s["ema"]) if s["ema"] is not None else None
        self.selected = self.averaged.module if self.averaged is not None else model  # validated and returned

    def _settings(self, train: Data) -> dict[str, Any]:
        """Everything that changes the run, for the checkpoint's fingerprint."""
        s = self.s
        keys = ("steps", "batch_size", "lr", "optimizer", "momentum", "weight_decay", "gamma", "warmup",
                "loc_lr_scale", "nesterov", "label_smoothing", "ema", "grad_clip", "channels_last", "eval_every")
        code = {k: _describe(s[k]) for k in ("schedule", "augment", "loss_fn", "error_fn")}
        precision = getattr(self.autocast, "fast_dtype", torch.float32) if self.autocast_on else torch.float32
        return {**{k: s[k] for k in keys}, "milestones": list(s["milestones"]), **code, "precision": str(precision),
                "gradient_scaler": self.scaler is not None, "seed": self.seed, "n_train": self.n_train,
                "train": _describe_data(train), "world_size": self.world}

    # -- resume

    def resume(self) -> int:
        """Continue from the checkpoint of this same run, if there is one; return the steps already done."""
        if self.ckpt_path is None or not self.ckpt_path.exists():
            return 0
        state = _load_checkpoint(self.ckpt_path, self.fingerprint)
        load_training_state(state, self.model, self.opt, self.scaler, self.averaged)
        self.history = History(**state["history"])
        self.step = self.history.resumed_from = self.history.steps_done
        rng = state["rng"]
        _set_rng_state(rng[self.rank] if isinstance(rng, list) else rng, self.device)
        return self.step

    def sampler(self) -> StepBatchSampler:
        return StepBatchSampler(self.n_train, self.batch_size, self.seed, self.step, self.steps, self.rank,
                                self.world)

    # -- the step

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> int:
        """One optimiser step on the batch (x, y) at the scheduled rate; return the step number."""
        s, step = self.s, self.step
        f = lr_factor(step, self.steps, s["schedule"], s["milestones"], s["gamma"], s["warmup"])
        for g, base in zip(self.opt.param_groups, self.base_lrs):
            g["lr"] = base * f
        self.history.lr.append(s["lr"] * f)
        if s["augment"] is not None:
            with torch.no_grad():
                x = s["augment"](x, step_generator(self.seed, step, self.rank))
        if s["channels_last"]:
            x = x.contiguous(memory_format=torch.channels_last)
        with self.autocast:
            loss = self.train_loss(as_float(self.net(x)), y)
        self._backward_and_step(loss)
        self.pending.append(loss.detach())
        self.step = step + 1
        self.history.steps_done = self.step
        self.history.images_seen += self.batch_size
        if self.device.type != "cuda" or self.step % s["log_every"] == 0 or self.step == self.steps:
            self.flush()
        self.bar.advance(self.step, self.history)
        return self.step

    def _backward_and_step(self, loss: torch.Tensor) -> None:
        self.opt.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.opt)
        else:
            loss.backward()
        if self.s["grad_clip"] is not None:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.s["grad_clip"])
        if self.scaler is not None:
            self.scaler.step(self.opt)
            self.scaler.update()
        else:
            self.opt.step()
        if self.averaged is not None:
            self.averaged.update(self.model)

    def flush(self) -> None:
        """Copy buffered losses to the host and stop at the first non-finite one."""
        if not self.pending:
            return
        stacked = torch.stack(self.pending).float()
        if self.world > 1:  # record the loss of the whole batch, not of this process's share
            import torch.distributed as dist
            dist.all_reduce(stacked)
            stacked /= self.world
        values = stacked.cpu().tolist()
        first = self.step - len(values) + 1
        self.pending.clear()
        for i, v in enumerate(values):
            if not math.isfinite(v):
                raise TrainingDiverged(
                    f"the training loss became {v} at step {first + i} of {self.steps} "
                    f"(lr {self.history.lr[first + i - 1]:.3g}); "
                    "lower the learning rate, clip gradients (grad_clip=…) or check the inputs for NaN")
        self.history.loss.extend(values)

    # -- the clock and the progress bar (training time excludes evaluation and checkpoints)

    def restart_clock(self) -> None:
        self.t0 = time.perf_counter()

    def pause(self) -> None:
        self.flush()
        self.history.train_time_s += time.perf_counter() - self.t0

    @contextlib.contextmanager
    def progress_bar(self, show: bool):
        self.bar = _ProgressBar(show and self.is_main, self.steps, self.step)
        self.net.train()
        self.restart_clock()
        try:
            yield
        finally:
            self.bar.close()

    # -- evaluation

    def validate(self, step: int) -> None:
        """Measure the validation error of the selected weights; keep them if they are the best so far."""
        if self.val is None or not self.is_main:
            return
        h = self.history
        result = evaluate(self.selected, self.val, batch_size=self.s["eval_batch_size"], device=self.device,
                          amp=self.s["amp"], loss_fn=self.loss_fn, error_fn=self.s["error_fn"])
        h.val_steps.append(step)
        h.val_error.append(result["error"])
        h.val_loss.append(result["loss"])
        if h.best_val_error is None or result["error"] < h.best_val_error:
            h.best_val_error, h.best_step = result["error"], step
            h.best_state = {k: v.detach().to("cpu", copy=True) for k, v in self.selected.state_dict().items()}
        self.bar.validated(h)

    # -- checkpoints

    def save_checkpoint(self) -> None:
        """Write the whole state (weights, optimiser, average, generators, history) to the checkpoint."""
        if self.ckpt_path is None:
            return
        rng = _rng_state(self.device)
        if self.world > 1:
            import torch.distributed as dist
            gathered: list[Any] = [None] * self.world
            dist.all_gather_object(gathered, rng)
            rng = gathered
        if self.is_main:
            save_checkpoint(self.ckpt_path, training_state(self.fingerprint, self.model, self.opt, self.scaler,
                                                           self.averaged, self.history, rng))

    def finish(self, restore_best: bool) -> History:
        return _finish(self.model, self.selected, self.history, restore_best)


class _ProgressBar:
    """A tqdm bar over the steps of a run, with the latest loss and validation error (silent unless ``show``)."""

    def __init__(self, show: bool, steps: int, initial: int):
        self.bar = None
        if show:
            from tqdm.auto import tqdm
            self.bar = tqdm(total=steps, initial=initial, desc="training", dynamic_ncols=True, leave=True)

    def advance(self, step: int, history: History) -> None:
        if self.bar is None:
            return
        self.bar.update(1)
        if step % 10 == 0 and history.loss:
            self.bar.set_postfix(loss=f"{history.loss[-1]:.3f}", refresh=False)

    def validated(self, history: History) -> None:
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{history.loss[-1]:.3f}", val_err=f"{history.val_error[-1]:.2f}%")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

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
