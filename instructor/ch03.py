"""Chapter 3, "The grid generator": reference solutions and hidden inputs."""

import torch
import torch.nn.functional as F

from stn_course.classroom import Hidden
from stn_course.exercises import Case

CHAPTER = "03_grid_generator"


def make_regular_grid(H, W):
    xs = (2 * torch.arange(W, dtype=torch.float32) + 1) / W - 1
    ys = (2 * torch.arange(H, dtype=torch.float32) + 1) / H - 1
    y, x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([x, y, torch.ones_like(x)], dim=-1)


def my_affine_grid(theta, H, W):
    return F.affine_grid(theta, [theta.shape[0], 1, H, W], align_corners=False)


def _sizes(g, k):
    return [tuple(int(v) for v in torch.randint(1, 33, (2,), generator=g)) for _ in range(k)]


def _regular_cases(g):
    return [Case(f"H={h}, W={w}", (h, w)) for h, w in _sizes(g, 5)]


def _affine_cases(g):
    cases = []
    for (h, w), n in zip(_sizes(g, 4), (1, 2, 3, 4)):
        cases.append(Case(f"a batch of {n} random θ on {h} × {w}", (torch.randn(n, 2, 3, generator=g), h, w)))
    return cases


EXERCISES = {
    "ex-grid-regular": Hidden("make_regular_grid", make_regular_grid, _regular_cases),
    "ex-grid-affine": Hidden("my_affine_grid", my_affine_grid, _affine_cases),
}
