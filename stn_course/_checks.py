"""Input validation shared by the public functions: clear errors naming the argument."""

from __future__ import annotations

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


def check_size(name: str, size: Sequence[int], dims: int) -> tuple[int, ...]:
    """Validate an ``(N, C, *spatial)`` size with ``dims`` spatial dimensions."""
    if not isinstance(size, (tuple, list, torch.Size)) or len(size) != dims + 2:
        axes = "(N, C, H, W)" if dims == 2 else "(N, C, D, H, W)"
        raise ValueError(f"{name} must be a sequence {axes} of {dims + 2} ints, got {size!r}")
    if not all(isinstance(s, int) and s > 0 for s in size):
        raise ValueError(f"{name} must hold positive ints, got {tuple(size)}")
    return tuple(size)
