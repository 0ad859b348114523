"""Devices, mixed precision and distribution: where a run computes and in which number format."""

from __future__ import annotations

import contextlib
import os

import torch

from .. import config

AMP_CHOICES = ("auto", True, False)


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
