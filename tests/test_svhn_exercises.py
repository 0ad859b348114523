"""Chapter 10's exercise checks accept right answers and reject typical wrong ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stn_course import svhn
from stn_course.exercises import ExerciseFailed, ch10
from stn_course.svhn.models import sequence_error


def test_sequence_error_check():
    ch10.check_sequence_error(sequence_error)
    with pytest.raises(ExerciseFailed, match="case 2/6"):   # per-position error instead of per-number
        ch10.check_sequence_error(lambda p, t: 100.0 * (p != t).float().mean().item())
    with pytest.raises(ExerciseFailed, match="case 3/6"):   # ignores blanks
        ch10.check_sequence_error(lambda p, t: 100.0 * ((p != t) & (t != 10)).any(1).float().mean().item())
    assert ch10.check_sequence_error(lambda p, t: (_ for _ in ()).throw(NotImplementedError)) is False


def test_crop_window_check():
    ch10.check_crop_window(svhn.crop_window)
    with pytest.raises(ExerciseFailed, match="case 1/4"):   # forgets the 30%
        ch10.check_crop_window(lambda b, s: svhn.crop_window(b, s, expand=0.0))
    with pytest.raises(ExerciseFailed, match="clipped"):     # forgets to clip
        ch10.check_crop_window(lambda b, s: svhn.crop_window(b, (10_000, 10_000)))


def compose(thetas):
    n = thetas[0].shape[0]
    bottom = torch.tensor([0.0, 0.0, 1.0]).expand(n, 1, 3)
    total = torch.eye(3).expand(n, 3, 3)
    for t in thetas:
        total = total @ torch.cat([t, bottom], 1)
    return total[:, :2]


def test_compose_thetas_check():
    ch10.check_compose_thetas(compose)
    with pytest.raises(ExerciseFailed, match="order matters|case 3/5"):
        ch10.check_compose_thetas(lambda ts: compose(ts[::-1]))
    with pytest.raises(ExerciseFailed):   # multiplies the 2×2 parts only
        ch10.check_compose_thetas(lambda ts: torch.cat([compose(ts)[:, :, :2], ts[-1][:, :, 2:]], 2))
    assert np.isfinite(compose([torch.eye(2, 3)[None]]).numpy()).all()
