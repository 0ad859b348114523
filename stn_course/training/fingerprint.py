"""What identifies a run, for its checkpoint: its settings, the code of the functions passed in, the
model's architecture and the training data, each as a description that is the same in every process."""

from __future__ import annotations

import functools
import hashlib
import inspect
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from .batches import Data, _as_tensors


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
