"""Run-time switches shared by every chapter and script.

``QUICK`` is true when ``STN_COURSE_QUICK=1`` is set, or when no CUDA device is present:
quick mode trains on small subsets for few steps so that the whole book runs on a laptop
CPU. ``STN_COURSE_QUICK=0`` forces full settings even on a CPU.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeVar

import torch

T = TypeVar("T")


def _quick_from_env() -> bool:
    flag = os.environ.get("STN_COURSE_QUICK", "").strip().lower()
    if flag in {"1", "true", "yes", "on"}:
        return True
    if flag in {"0", "false", "no", "off"}:
        return False
    return not torch.cuda.is_available()


QUICK: bool = _quick_from_env()


def device() -> torch.device:
    """The best available device: CUDA when present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def pick(quick: T, full: T) -> T:
    """Return ``quick`` in quick mode and ``full`` otherwise."""
    return quick if QUICK else full


def data_root() -> Path:
    """Where datasets live: ``$STN_COURSE_DATA`` when set, else a per-user cache folder."""
    env = os.environ.get("STN_COURSE_DATA")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "stn_course"
