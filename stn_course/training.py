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

``train``/``val`` may also be any (map-style) Dataset yielding ``(image, label)``; ``hist.loss``
holds the loss of every step, ``hist.val_steps``/``hist.val_error`` the periodic validation error.

What ``fit`` does, step by step: draw a batch (the order depends only on ``seed`` and the
step number), optionally distort it on the device (``augment``), take one optimiser step at
the scheduled learning rate, record the loss; every ``eval_every`` steps measure the
validation error and keep the best weights; every ``checkpoint_every`` steps write the whole
state (model, optimiser, random generators, history) to ``checkpoint``. Calling ``fit`` again
with the same arguments after an interruption resumes from the checkpoint and ends with the
same weights, on a CPU bit for bit, as a run that was never interrupted: for tensors and for
Datasets (whose items are drawn with the global generator seeded from (seed, step, index), so
random transforms repeat whatever ``num_workers``), with dropout or any other use of the global
generator in the model. A checkpoint carries a fingerprint of everything that changes the run
(the settings, the functions passed in by their code, the precision, the model's architecture
and the training data); one of another run is refused.

Under ``torchrun`` (``WORLD_SIZE > 1``) each process takes its share of every batch and the
gradients are averaged with :class:`~torch.nn.parallel.DistributedDataParallel`; only rank 0
evaluates, writes checkpoints and shows progress.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import inspect
import itertools
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from . import config
from ._checks import check_choice, check_int, check_real, is_int

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
    if isinstance(data, torch.utils.data.IterableDataset):
        raise TypeError(f"{name} must be a map-style Dataset (with __getitem__ and __len__) or an (images, labels) "
                        f"pair, got the iterable dataset {type(data).__name__}")
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

    def index_batches(self, device: torch.device | str = "cpu"):
        """The index tensor of every step, on ``device``: each epoch's order moves there once and a
        batch is a slice of it (no host round trip per step)."""
        order, epoch = None, -1
        for step in range(self.start, self.steps):
            e, b = divmod(step, self.per_epoch)
            if e != epoch:
                order, epoch = _epoch_order(self.n, self.seed, e).to(device), e
            yield order[b * self.batch_size:(b + 1) * self.batch_size][self.rank::self.world_size]

    def __iter__(self):
        for batch in self.index_batches():
            yield batch.tolist()


def _tensor_batches(x: torch.Tensor, y: torch.Tensor, sampler: StepBatchSampler, device: torch.device):
    """The batches of ``sampler`` from tensors, indexed where the data lives."""
    for idx in sampler.index_batches(x.device):
        yield x[idx].to(device, non_blocking=True), y[idx].to(device, non_blocking=True)


class _StepSeeded(Dataset):
    """``data[i]`` drawn at step ``s`` as ``seeded[(s, i)]``, with torch's global generator seeded from
    (seed, s, i) and restored afterwards: a Dataset's random transforms then repeat exactly after a
    resume, whatever ``num_workers``, and never disturb the model's random numbers (dropout)."""

    def __init__(self, data: Dataset, seed: int):
        self.data, self.seed = data, seed

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, key: tuple[int, int]):
        step, i = key
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(((self.seed * 1_000_003 + step) * 1_000_033 + i) % (1 << 63))
            return self.data[i]


def _loader_generator(seed: int) -> torch.Generator:
    """The DataLoader's own generator, so that making a loader never draws from the global one."""
    return torch.Generator().manual_seed(seed + 0x10AD)


def _dataset_batches(data: Dataset, sampler: StepBatchSampler, device: torch.device, num_workers: int):
    """The batches of ``sampler`` from a Dataset: one DataLoader per epoch, after ``data.set_epoch(epoch)``
    where the dataset has one (so workers, which copy the dataset, see the epoch too)."""
    seeded = _StepSeeded(data, sampler.seed)
    steps = range(sampler.start, sampler.steps)
    for epoch, group in itertools.groupby(zip(steps, sampler.index_batches()), lambda sb: sb[0] // sampler.per_epoch):
        if callable(getattr(data, "set_epoch", None)):
            data.set_epoch(epoch)
        keyed = [[(step, i) for i in batch.tolist()] for step, batch in group]
        loader = DataLoader(seeded, batch_sampler=keyed, num_workers=num_workers, pin_memory=device.type == "cuda",
                            generator=_loader_generator(sampler.seed))
        for x, y in loader:
            yield x.to(device, non_blocking=True), y.to(device, non_blocking=True)


def _batches(data: Data, sampler: StepBatchSampler, device: torch.device, num_workers: int):
    """Yield (images, labels) on ``device`` for every step of ``sampler``."""
    tensors = _as_tensors(data, "train")
    if tensors is not None:
        yield from _tensor_batches(*tensors, sampler, device)
    else:
        yield from _dataset_batches(data, sampler, device, num_workers)


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
    """``device`` as a ``torch.device`` (None or "auto": CUDA if available, else the CPU).

    Raises ``ValueError`` naming ``device`` for a name torch does not know and for a device this
    machine does not have (no CUDA, or a CUDA index past the last GPU).
    """
    if device is None or device == "auto":
        return config.device()
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"device must be a str, a torch.device or None, got {type(device).__name__}")
    try:
        dev = torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:<index>', … or 'auto', got {device!r}") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} is not available: torch sees no CUDA GPU here (use 'cpu' or 'auto')")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(f"device {device!r} is not available: this machine has {torch.cuda.device_count()} GPU(s)")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {device!r} is not available on this machine")
    return dev


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
        batches = iter(DataLoader(data, batch_size=batch_size, shuffle=False, generator=_loader_generator(0)))
    was_training = model.training
    model.eval()
    autocast, _ = _autocast(device, amp)
    total_loss, wrong, n = 0.0, 0, 0
    try:
        for xb, yb in batches:
            xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
            with autocast:
                logits = model(xb)
            total_loss += float(loss_fn(as_float(logits), yb, reduction="sum"))
            wrong += int(error_fn(logits, yb).sum())
            n += len(yb)
    finally:
        model.train(was_training)
    return {"loss": total_loss / n, "error": 100.0 * wrong / n, "n": n}


def as_float(output: Any) -> Any:
    """A model's output in float32 for the loss: a tensor, or a tuple (a NamedTuple too) of tensors.

    Models whose output is more than logits (e.g. :class:`stn_course.colocalisation.CoLocaliser`'s
    embeddings and crops) return a tuple; ``loss_fn`` and ``error_fn`` then receive that tuple.
    """
    if isinstance(output, torch.Tensor):
        return output.float()
    if isinstance(output, tuple):
        items = [as_float(o) for o in output]
        return type(output)(*items) if hasattr(output, "_fields") else tuple(items)
    raise TypeError(f"the model must return a tensor or a tuple of tensors, got {type(output).__name__}")


def _misclassified(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(N,) bool: True where the top class of ``logits`` (N, classes) is not ``labels`` (N,)."""
    return logits.argmax(1) != labels


def _model_device(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


# ---------------------------------------------------------------------------------------------
# checkpoints


def _fingerprint(model: nn.Module, settings: Mapping[str, Any]) -> dict[str, Any]:
    """What identifies a run: its settings, the model's architecture (its repr) and parameter shapes."""
    shapes = sorted((k, tuple(v.shape)) for k, v in model.state_dict().items())
    return {**settings, "model": type(model).__name__, "num_params": sum(p.numel() for p in model.parameters()),
            "state_shapes": _digest(repr(shapes)), "architecture": _digest(repr(model))}


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def _tensor_digest(t: torch.Tensor) -> str:
    """Shape, dtype and a digest of up to 4096 evenly spaced values (cheap for a whole dataset)."""
    flat = t.detach().reshape(-1)
    k = min(flat.numel(), 4096)
    # integer positions: a float32 linspace rounds the last index of a large tensor past its end
    picked = flat[torch.arange(k, device=flat.device) * (flat.numel() - 1) // max(k - 1, 1)]
    return f"{tuple(t.shape)}:{t.dtype}:{_digest(repr(picked.cpu().tolist()))}"


def _code_digest(code: Any) -> str:
    """A function's bytecode, constants (nested functions included) and the names it uses."""
    consts = [_code_digest(c) if inspect.iscode(c) else repr(c) for c in code.co_consts]
    return _digest(repr((code.co_code, consts, code.co_names)))


def _describe(obj: Any, depth: int = 0) -> str:
    """A description of a setting that is the same in every process: plain values by their repr,
    tensors by :func:`_tensor_digest`, modules by their repr, functions by their code, closure and
    defaults, ``functools.partial`` by its function and arguments."""
    if depth > 4:
        return type(obj).__qualname__
    if obj is None or isinstance(obj, (bool, int, float, complex, str, bytes)):
        return repr(obj)
    if isinstance(obj, (tuple, list)):
        return "(" + ", ".join(_describe(o, depth + 1) for o in obj) + ")"
    if isinstance(obj, dict):
        return "{" + ", ".join(f"{k!r}: {_describe(v, depth + 1)}" for k, v in sorted(obj.items(), key=str)) + "}"
    if isinstance(obj, torch.Tensor):
        return "tensor" + _tensor_digest(obj)
    if isinstance(obj, functools.partial):
        return f"partial({_describe(obj.func, depth + 1)}, {_describe(obj.args, depth + 1)}, " \
               f"{_describe(obj.keywords, depth + 1)})"
    if inspect.ismethod(obj):
        return f"{_describe(obj.__func__, depth + 1)} of {_describe(obj.__self__, depth + 1)}"
    if isinstance(obj, nn.Module):
        return repr(obj)
    if inspect.isfunction(obj):
        cells = [_cell(c) for c in obj.__closure__ or ()]
        return f"{obj.__module__}.{obj.__qualname__}:{_code_digest(obj.__code__)}:" \
               f"{_describe(cells, depth + 1)}:{_describe(obj.__defaults__, depth + 1)}"
    name = getattr(obj, "__qualname__", None)
    if name is not None:  # builtins and classes
        return f"{getattr(obj, '__module__', '')}.{name}"
    custom = type(obj).__repr__ is not object.__repr__  # the default repr holds a memory address
    return type(obj).__qualname__ + (repr(obj) if custom else "")


def _cell(cell: Any) -> Any:
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell
        return None


def _describe_data(data: Data) -> str:
    """Training data for the fingerprint: tensors by :func:`_tensor_digest`; a Dataset by its type,
    length and plain public settings (e.g. a distortion's name and seed; not paths, not the epoch)."""
    tensors = _as_tensors(data, "train")
    if tensors is not None:
        return _describe(list(tensors))
    plain = {k: v for k, v in vars(data).items() if not k.startswith("_") and "epoch" not in k
             and isinstance(v, (bool, int, float, str, tuple, dict, type(None)))}
    return f"{type(data).__qualname__}(n={len(data)}, {_describe(plain)})"


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

        self.rank, self.world = _distributed()
        self.device = resolve_device(s["device"])
        if self.world > 1 and self.device.type == "cuda":
            self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", self.rank)))
            torch.cuda.set_device(self.device)
        self.is_main = self.rank == 0
        fmt = torch.channels_last if s["channels_last"] else torch.contiguous_format
        model.to(self.device, memory_format=fmt)
        groups = param_groups(model, s["lr"], s["loc_lr_scale"], s["weight_decay"])
        self.opt = make_optimizer(groups, s["optimizer"], s["lr"], s["momentum"], s["nesterov"])
        self.base_lrs = [g["lr"] for g in self.opt.param_groups]
        self.averaged = WeightAverage(model, s["ema"]) if s["ema"] is not None else None
        self.selected = self.averaged.module if self.averaged is not None else model  # validated and returned
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
        self.bar = None
        self.ckpt_path = Path(s["checkpoint"]) if s["checkpoint"] is not None else None
        torch.manual_seed(self.seed + self.rank)

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
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        if self.averaged is not None:
            self.averaged.load_state_dict(state["ema"])
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
        self._update_bar()
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
        if show and self.is_main:
            from tqdm.auto import tqdm
            self.bar = tqdm(total=self.steps, initial=self.step, desc="training", dynamic_ncols=True, leave=True)
        self.net.train()
        self.restart_clock()
        try:
            yield
        finally:
            if self.bar is not None:
                self.bar.close()

    def _update_bar(self) -> None:
        if self.bar is None:
            return
        self.bar.update(1)
        if self.step % 10 == 0 and self.history.loss:
            self.bar.set_postfix(loss=f"{self.history.loss[-1]:.3f}", refresh=False)

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
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{h.loss[-1]:.3f}", val_err=f"{h.val_error[-1]:.2f}%")

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
            save_checkpoint(self.ckpt_path, {
                "version": CHECKPOINT_VERSION, "fingerprint": self.fingerprint, "model": self.model.state_dict(),
                "optimizer": self.opt.state_dict(),
                "scaler": self.scaler.state_dict() if self.scaler is not None else None,
                "ema": self.averaged.state_dict() if self.averaged is not None else None,
                "history": asdict(self.history), "rng": rng})

    def finish(self, restore_best: bool) -> History:
        return _finish(self.model, self.selected, self.history, restore_best)


class WeightAverage:
    """An exponential moving average of a model's weights (and floating-point buffers).

    After every step ``average ← decay · average + (1 − decay) · weights`` (the first step
    copies). ``module`` is a copy of the model that holds the average, to evaluate in its place.
    The bookkeeping stays on the host, so an update never waits for the GPU (PyTorch's
    ``AveragedModel`` reads a step counter back every step).
    """

    def __init__(self, model: nn.Module, decay: float):
        self.module = copy.deepcopy(model).requires_grad_(False)
        self.decay, self.updates = decay, 0

    @staticmethod
    def _tensors(model: nn.Module) -> list[torch.Tensor]:
        return [t.detach() for t in itertools.chain(model.parameters(), model.buffers()) if t.is_floating_point()]

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        average, current = self._tensors(self.module), self._tensors(model)
        if self.updates == 0:
            torch._foreach_copy_(average, current)
        else:
            torch._foreach_lerp_(average, current, 1.0 - self.decay)
        self.updates += 1

    def state_dict(self) -> dict[str, Any]:
        return {"module": self.module.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.module.load_state_dict(state["module"])
        self.updates = state["updates"]


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
           "cpu_bf16_supported", "WeightAverage"]
