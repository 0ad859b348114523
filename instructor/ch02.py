"""Chapter 2, "Coordinates and θ": reference solutions and hidden inputs."""

import math

import torch

from stn_course.classroom import Hidden
from stn_course.exercises import Case

CHAPTER = "02_coordinates"


def to_norm(i, size, align_corners):
    if align_corners:
        return i * 2.0 / (size - 1) - 1.0
    return (2.0 * i + 1.0) / size - 1.0


def rotation_theta(angle):
    c, s = math.cos(angle), math.sin(angle)
    return torch.tensor([[[c, -s, 0.0], [s, c, 0.0]]])


def compose(first, second):
    a1, t1 = first[:, :, :2], first[:, :, 2:]
    a2, t2 = second[:, :, :2], second[:, :, 2:]
    return torch.cat([a1 @ a2, a1 @ t2 + t1], dim=2)


def _norm_cases(g):
    cases = []
    for align in (False, True, False, True):
        size = int(torch.randint(2, 40, (1,), generator=g))
        i = float(torch.randint(0, size, (1,), generator=g)) + (0.5 if not align else 0.0)
        cases.append(Case(f"index {i:g} of {size}, align_corners={align}", (i, size, align)))
    size = int(torch.randint(3, 20, (1,), generator=g))
    idx = torch.arange(size, dtype=torch.float64)
    cases += [Case(f"a tensor of indices 0..{size - 1}, align_corners={a}", (idx, size, a)) for a in (False, True)]
    return cases


def _rotation_cases(g):
    return [Case(f"angle {a:.4g} rad", (a,)) for a in ((torch.rand(4, generator=g) * 6 - 3).tolist())]


def _compose_cases(g):
    cases = []
    for n in (1, 3, 5):
        cases.append(Case(f"a batch of {n} pairs of random θ", (torch.randn(n, 2, 3, generator=g),
                                                                torch.randn(n, 2, 3, generator=g))))
    return cases


EXERCISES = {
    "ex-coords-to-norm": Hidden("to_norm", to_norm, _norm_cases),
    "ex-coords-rotation": Hidden("rotation_theta", rotation_theta, _rotation_cases, atol=1e-6),
    "ex-coords-compose": Hidden("compose", compose, _compose_cases),
}
