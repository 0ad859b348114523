"""Input validation shared by the public functions: clear errors naming the argument."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch


def check_tensor(name: str, value: object, *, floating: bool = False) -> torch.Tensor:
    """Raise ``TypeError`` unless ``value`` is a tensor (of floating dtype if asked)."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if floating and not value.is_floating_point():
        raise TypeError(f"{name} must have a floating-point dtype, got {value.dtype}")
    return value


def check_shape(name: str, value: torch.Tensor, expected: Sequence[int | None], what: str) -> None:
    """Raise ``ValueError`` unless ``value.shape`` matches ``expected`` (None = any size)."""
    shape = tuple(value.shape)
    ok = len(shape) == len(expected) and all(e is None or e == s for e, s in zip(expected, shape))
    if not ok:
        raise ValueError(f"{name} must have shape {what}, got {shape}")


def check_choice(name: str, value: object, choices: Sequence[object]) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")


def is_int(value: object) -> bool:
    """True for Python, NumPy and other integral numbers, but not for ``bool``."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_int(name: str, value: object, minimum: int | None = None) -> int:
    """Raise ``TypeError`` unless ``value`` is an integer, ``ValueError`` if below ``minimum``."""
    if not is_int(value):
        raise TypeError(f"{name} must be an int, got {value!r} ({type(value).__name__})")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def check_size(name: str, size: Sequence[int], dims: int) -> tuple[int, ...]:
    """Validate an ``(N, C, *spatial)`` size with ``dims`` spatial dimensions: N, C >= 0, the rest >= 1."""
    if not isinstance(size, (tuple, list, torch.Size)) or len(size) != dims + 2:
        axes = "(N, C, H, W)" if dims == 2 else "(N, C, D, H, W)"
        raise ValueError(f"{name} must be a sequence {axes} of {dims + 2} ints, got {size!r}")
    if not all(is_int(s) for s in size) or min(size[:2]) < 0 or min(size[2:]) < 1:
        raise ValueError(f"{name} must hold ints, N and C >= 0 and the spatial sizes >= 1, got {tuple(size)}")
    return tuple(int(s) for s in size)


def check_real(name: str, value: object, *, minimum: float | None = None, above: float | None = None,
               below: float | None = None) -> float:
    """Raise unless ``value`` is a finite real number (``TypeError``) with ``value >= minimum``,
    ``value > above`` and ``value < below`` where given (``ValueError``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    bounds = [(minimum, ">=", value >= (minimum or 0)), (above, ">", value > (above or 0)),
              (below, "<", value < (below or 0))]
    bounds = [(f"{op} {bound}", ok) for bound, op, ok in bounds if bound is not None]
    if not math.isfinite(value) or not all(ok for _, ok in bounds):
        wanted = "".join(f" {'and ' if i else ''}{text}" for i, (text, _) in enumerate(bounds))
        raise ValueError(f"{name} must be a finite number{wanted}, got {value!r}")
    return float(value)


def check_interval(name: str, value: object, *, above: float | None = None) -> tuple[float, float]:
    """Raise unless ``value`` is a pair (low, high) of finite numbers with low <= high (and low > ``above``)."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"{name} must be a pair (low, high), got {value!r}")
    low = check_real(f"{name}[0]", value[0], above=above)
    high = check_real(f"{name}[1]", value[1], minimum=low)
    return low, high


def check_chw(name: str, value: object) -> tuple[int, int, int]:
    """Raise ``ValueError`` unless ``value`` is a (C, H, W) sequence of positive ints."""
    if not isinstance(value, (tuple, list, torch.Size)) or len(value) != 3 or \
            not all(is_int(s) and s > 0 for s in value):
        raise ValueError(f"{name} must be (C, H, W) of positive ints, got {value!r}")
    return tuple(int(s) for s in value)
