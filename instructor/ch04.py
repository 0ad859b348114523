"""Chapter 4, "The sampler": reference solutions and hidden inputs."""

import math

import torch

from stn_course.classroom import Hidden
from stn_course.exercises import Case

CHAPTER = "04_sampler"


def _neighbours(U, x, y):
    """The pixels (n, m) around the point (x, y) that lie inside U: the only ones with a weight."""
    H, W = U.shape
    x0, y0 = math.floor(x), math.floor(y)
    return [(n, m) for n in (y0, y0 + 1) for m in (x0, x0 + 1) if 0 <= n < H and 0 <= m < W]


def bilinear_point(U, x, y):
    return sum((float(U[n, m]) * max(0.0, 1 - abs(x - m)) * max(0.0, 1 - abs(y - n)) for n, m in _neighbours(U, x, y)),
               0.0)


def bilinear_dx(U, x, y):
    return sum((float(U[n, m]) * max(0.0, 1 - abs(y - n)) * (1.0 if m >= x else -1.0) for n, m in _neighbours(U, x, y)),
               0.0)


def supersample_factor(theta, in_size, out_size):
    (h, w), (h_out, w_out) = in_size, out_size
    step_x = torch.hypot(theta[:, 0, 0] * w / w_out, theta[:, 1, 0] * h / w_out)
    step_y = torch.hypot(theta[:, 0, 1] * w / h_out, theta[:, 1, 1] * h / h_out)
    return max(1, math.ceil(torch.cat([step_x, step_y]).max().item() - 1e-9))


def _point_cases(g, integer_x: bool):
    h, w = (int(v) for v in torch.randint(3, 9, (2,), generator=g))
    u = torch.rand(h, w, generator=g, dtype=torch.float64)
    cases = []
    for _ in range(6):
        x = float(torch.rand(1, generator=g)) * (w + 2) - 1.5
        y = float(torch.rand(1, generator=g)) * (h + 2) - 1.5
        if not integer_x and x == int(x):
            x += 0.25
        cases.append(Case(f"a {h}×{w} image at (x, y) = ({x:.3f}, {y:.3f})", (u.clone(), x, y)))
    return cases


def _factor_cases(g):
    cases = []
    for n in (1, 2, 3, 1):
        theta = torch.randn(n, 2, 3, generator=g) * float(torch.rand(1, generator=g) * 2)
        h, w = (int(v) for v in torch.randint(20, 200, (2,), generator=g))
        ho, wo = (int(v) for v in torch.randint(8, 64, (2,), generator=g))
        cases.append(Case(f"{n} random θ, {h}×{w} → {ho}×{wo}", (theta, (h, w), (ho, wo))))
    return cases


EXERCISES = {
    "ex-sampler-bilinear-point": Hidden("bilinear_point", bilinear_point, lambda g: _point_cases(g, True)),
    "ex-sampler-bilinear-dx": Hidden("bilinear_dx", bilinear_dx, lambda g: _point_cases(g, False)),
    "ex-sampler-supersample-factor": Hidden("supersample_factor", supersample_factor, _factor_cases),
}
