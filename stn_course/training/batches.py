"""The order of batches: batch ``s`` of a run depends only on (seed, s), for tensors and Datasets alike,
so that a resumed run draws exactly the batches (and distortions) of one never interrupted."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

Data = Dataset | tuple[torch.Tensor, torch.Tensor] | Sequence[torch.Tensor]


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
