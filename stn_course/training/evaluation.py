"""Evaluation: the loss and error of a model on held-out data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from .batches import Data, _as_tensors, _loader_generator
from .devices import _autocast, resolve_device


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
