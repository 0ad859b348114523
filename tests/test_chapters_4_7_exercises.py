"""The exercise checks of chapters 4–7 pass a correct solution and fail wrong ones with feedback."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from stn_course.exercises import ExerciseFailed, ch04, ch05, ch06, ch07
from stn_course.grid import regular_grid


def bilinear_point(u, x, y):
    h, w = u.shape
    x0, y0 = math.floor(x), math.floor(y)
    total = 0.0
    for n in (y0, y0 + 1):
        for m in (x0, x0 + 1):
            if 0 <= n < h and 0 <= m < w:
                total += float(u[n, m]) * max(0.0, 1 - abs(x - m)) * max(0.0, 1 - abs(y - n))
    return total


def bilinear_dx(u, x, y):
    h, w = u.shape
    x0, y0 = math.floor(x), math.floor(y)
    total = 0.0
    for n in (y0, y0 + 1):
        for m in (x0, x0 + 1):
            if 0 <= n < h and 0 <= m < w:
                total += float(u[n, m]) * max(0.0, 1 - abs(y - n)) * (1.0 if m >= x else -1.0)
    return total


def supersample_factor(theta, in_size, out_size):
    (h, w), (ho, wo) = in_size, out_size
    step_x = torch.hypot(theta[:, 0, 0] * w / wo, theta[:, 1, 0] * h / wo)
    step_y = torch.hypot(theta[:, 0, 1] * w / ho, theta[:, 1, 1] * h / ho)
    return max(1, math.ceil(torch.cat([step_x, step_y]).max().item() - 1e-9))


def identity_head(in_features, transform):
    head = nn.Linear(in_features, transform.num_params)
    nn.init.zeros_(head.weight)
    with torch.no_grad():
        head.bias.copy_(transform.identity_params())
    return head


def loc_param_groups(model, lr, loc_scale):
    loc, rest = [], []
    for name, p in model.named_parameters():
        (loc if "localization" in name.split(".") else rest).append(p)
    return [{"params": loc, "lr": lr * loc_scale}, {"params": rest, "lr": lr}]


def rotation_angle(theta):
    return torch.rad2deg(torch.atan2(theta[:, 1, 0], theta[:, 0, 0]))


def compose_theta(theta1, theta2):
    a1, t1 = theta1[:, :, :2], theta1[:, :, 2:]
    a2, t2 = theta2[:, :, :2], theta2[:, :, 2:]
    return torch.cat([a1 @ a2, a1 @ t2 + t1], dim=2)


def homography_grid(h, size):
    n, _, height, width = size
    base = regular_grid((height, width), dtype=h.dtype).reshape(1, -1, 3) @ h.transpose(1, 2)
    return (base[..., :2] / base[..., 2:]).reshape(n, height, width, 2)


def affine_as_tps(theta, control_points):
    return control_points @ theta[:, :, :2].transpose(1, 2) + theta[:, None, :, 2] - control_points


def _wrong_head(in_features, transform):
    return nn.Linear(in_features, transform.num_params)  # PyTorch's default init: not the identity


def _all_at_full_rate(model, lr, loc_scale):
    return [{"params": list(model.parameters()), "lr": lr}]


CASES = [
    (ch04.check_bilinear_point, bilinear_point, lambda u, x, y: float(u[round(y) % u.shape[0], round(x) % u.shape[1]])),
    (ch04.check_bilinear_dx, bilinear_dx, lambda u, x, y: -bilinear_dx(u, x, y)),
    (ch04.check_supersample_factor, supersample_factor,
     lambda t, i, o: max(1, round(t[:, 0, 0].abs().max().item() * i[1] / o[1]))),  # ignores rotation and y
    (ch05.check_identity_head, identity_head, _wrong_head),
    (ch05.check_loc_param_groups, loc_param_groups, _all_at_full_rate),
    (ch06.check_rotation_angle, rotation_angle, lambda t: torch.atan2(t[:, 1, 0], t[:, 0, 0])),  # radians
    (ch06.check_compose_theta, compose_theta, lambda a, b: compose_theta(b, a)),  # the wrong order
    (ch07.check_homography_grid, homography_grid, lambda h, s: homography_grid(h.transpose(1, 2), s)),
    (ch07.check_affine_as_tps, affine_as_tps, lambda t, c: c @ t[:, :, :2].transpose(1, 2) + t[:, None, :, 2]),
]


@pytest.mark.parametrize("check, good, bad", CASES, ids=[c[0].__name__ for c in CASES])
def test_check_accepts_a_correct_solution_and_rejects_a_wrong_one(check, good, bad, capsys):
    check(good)
    assert "✓" in capsys.readouterr().out
    with pytest.raises(ExerciseFailed) as info:
        check(bad)
    assert check.__name__.removeprefix("check_") in str(info.value)


@pytest.mark.parametrize("check", [c[0] for c in CASES], ids=[c[0].__name__ for c in CASES])
def test_check_reports_an_unfinished_exercise(check):
    def unfinished(*args, **kwargs):
        raise NotImplementedError

    with pytest.raises(ExerciseFailed, match="not implemented yet"):
        check(unfinished)
