"""A moving average of the weights, validated and returned in place of the raw weights."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn


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
