"""Is a trained transformer alive? Live localisation units, θ's spread, how far transformers differ.

A localisation net whose ReLUs never fire gives the same θ for every image: its transformer
is one fixed crop, and the model around it is a CNN with a fixed resampling in front. Nothing
in the error says so. :func:`transformer_health` measures it on held-out images, for every
spatial transformer in a model:

- ``live_units``: for each ReLU of the localisation net, how many of its units (features of
  a linear layer, channels of a convolution) are active on at least one image, as [live,
  total]; ``live_share`` over all of them, and ``head_units`` for the last ReLU, the units the
  regression head reads (when none of those fire, θ is a constant);
- ``theta_std`` and ``theta_mean``: θ's standard deviation and mean over the images, per
  parameter (the localisation net's raw output);
- ``status``: "dead" when θ does not depend on the input (every std below
  :data:`DEAD_STD`), "nearly constant" when it barely does (below :data:`WEAK_STD`),
  else "alive";
- for a model with several transformers, ``pairs``: the mean distance between each two
  transformers' θ over the images.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import nn

from ._checks import check_int, check_tensor
from .transformer import SpatialTransformer
from .transformer3d import SpatialTransformer3D

#: θ whose every parameter varies less than this over the images is constant: the transformer is dead.
DEAD_STD = 1e-5
#: θ whose every parameter varies less than this (0.14 px of a translation on 28 px) barely looks at its input.
WEAK_STD = 1e-2
TRANSFORMER_TYPES = (SpatialTransformer, SpatialTransformer3D)


def find_transformers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Every spatial transformer (2D or 3D) in ``model``, as (qualified name, module), in module order."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return [(name or "(model)", m) for name, m in model.named_modules() if isinstance(m, TRANSFORMER_TYPES)]


def status(theta_std: Iterable[float]) -> str:
    """"dead", "nearly constant" or "alive", from θ's per-parameter standard deviation."""
    top = max(theta_std)
    return "dead" if top < DEAD_STD else "nearly constant" if top < WEAK_STD else "alive"


class _Recorder:
    """Forward hooks on one localisation net: which ReLU units fired, and every θ it gave."""

    def __init__(self, localization: nn.Module):
        self.relus = [(name, m) for name, m in localization.named_modules() if isinstance(m, nn.ReLU)]
        self.fired: dict[str, torch.Tensor] = {}
        self.thetas: list[torch.Tensor] = []
        self.handles = [m.register_forward_hook(self._relu_hook(name)) for name, m in self.relus]
        self.handles.append(localization.register_forward_hook(self._theta_hook))

    def _relu_hook(self, name: str):
        def hook(module: nn.Module, args: Any, out: torch.Tensor) -> None:
            # a unit is a feature (N, F) or a channel (N, C, …): active anywhere, on any image
            active = (out.detach() > 0).transpose(0, 1).reshape(out.shape[1], -1).any(1).cpu()
            self.fired[name] = active | self.fired[name] if name in self.fired else active
        return hook

    def _theta_hook(self, module: nn.Module, args: Any, out: torch.Tensor) -> None:
        self.thetas.append(out.detach().float().flatten(1).cpu())

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


@torch.no_grad()
def transformer_health(model: nn.Module, inputs: torch.Tensor, *, batch_size: int = 250) -> dict[str, Any]:
    """The health of every spatial transformer in ``model`` on held-out ``inputs`` (N, …).

    Runs ``model`` in eval mode on ``inputs`` (moved to the model's device) in batches of
    ``batch_size``; ``model``'s mode is restored afterwards. Returns ``{"n": N,
    "transformers": [...], "pairs": [...], "status": worst status}`` (see the module's
    docstring); a model without transformers gives an empty list and status "none".
    """
    check_tensor("inputs", inputs, floating=True)
    check_int("batch_size", batch_size, 1)
    if inputs.dim() < 2 or len(inputs) < 2:
        raise ValueError(f"inputs must be a batch (N, …) of at least 2 images, got shape {tuple(inputs.shape)}")
    found = find_transformers(model)
    recorders = [_Recorder(t.localization) for _, t in found]
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(inputs), batch_size):
            model(inputs[start:start + batch_size].to(device))
    finally:
        model.train(was_training)
        for r in recorders:
            r.remove()
    parts, thetas = [], []
    for (name, _), r in zip(found, recorders):
        theta = torch.cat(r.thetas)
        if len(theta) != len(inputs):
            raise RuntimeError(f"transformer {name!r} ran {len(theta)} times for {len(inputs)} inputs; "
                               "health needs one θ per input")
        thetas.append(theta)
        std = theta.std(0).tolist()
        live = {layer: [int(r.fired[layer].sum()), int(r.fired[layer].numel())] for layer, _ in r.relus
                if layer in r.fired}
        units = sum(t for _, t in live.values())
        parts.append({"name": name, "live_units": live,
                      "live_share": sum(k for k, _ in live.values()) / units if units else None,
                      "head_units": live[r.relus[-1][0]] if live else None,
                      "theta_mean": theta.mean(0).tolist(), "theta_std": std, "status": status(std)})
    pairs = [{"a": i, "b": j, "mean_distance": float((thetas[i] - thetas[j]).norm(dim=1).mean())}
             for i in range(len(thetas)) for j in range(i + 1, len(thetas)) if thetas[i].shape == thetas[j].shape]
    order = ["none", "alive", "nearly constant", "dead"]
    worst = max((p["status"] for p in parts), key=order.index, default="none")
    return {"n": len(inputs), "transformers": parts, "pairs": pairs, "status": worst}


def health_warnings(health: Mapping[str, Any]) -> list[str]:
    """One sentence per transformer that is dead or nearly constant (empty when all are alive)."""
    out = []
    for p in health.get("transformers", []):
        if p["status"] != "alive":
            live = "" if p["live_share"] is None else (
                f", {p['live_share']:.0%} of its localisation units live ({_head(p)} before the head)")
            out.append(f"transformer {p['name']!r} is {p['status']}: θ's largest spread over "
                       f"{health['n']} held-out images is {max(p['theta_std']):.2g}{live}")
    return out


def summary(health: Mapping[str, Any] | None) -> str:
    """A short cell for a table, per transformer: "alive, θ σ 0.21, 73% live (28/50 before the head)";
    "—" without health."""
    if not health or not health.get("transformers"):
        return "—"
    cells = []
    for p in health["transformers"]:
        live = "" if p["live_share"] is None else f", {p['live_share']:.0%} live ({_head(p)} before the head)"
        cells.append(f"{p['status']}, θ σ {max(p['theta_std']):.2g}{live}")
    return "; ".join(cells)


def _head(part: Mapping[str, Any]) -> str:
    live, total = part["head_units"]
    return f"{live}/{total}"
