"""The labels: a row of five classes per number, digits 0–9 left to right, then ``BLANK`` (no digit)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

MAX_DIGITS = 5
BLANK = 10
NUM_CLASSES = 11


def encode_digits(digits: Sequence[int], max_digits: int = MAX_DIGITS) -> np.ndarray:
    """Digits (left to right) → (max_digits,) uint8 classes, :data:`BLANK` after the last digit."""
    if not 1 <= len(digits) <= max_digits or any(not 0 <= d <= 9 for d in digits):
        raise ValueError(f"digits must be 1 to {max_digits} values in 0..9, got {list(digits)}")
    out = np.full(max_digits, BLANK, dtype=np.uint8)
    out[: len(digits)] = digits
    return out


def decode_digits(label: Sequence[int] | torch.Tensor) -> str:
    """A row of classes → the number as a string ("" for all blanks); stops at the first blank."""
    text = ""
    for c in (label.tolist() if isinstance(label, torch.Tensor) else label):
        if int(c) == BLANK:
            break
        text += str(int(c))
    return text
