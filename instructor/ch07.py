"""Chapter 7, "Beyond affine": reference solutions and hidden inputs."""

import torch

from stn_course import grid
from stn_course.classroom import Hidden
from stn_course.exercises import Case

CHAPTER = "07_beyond_affine"


def homography_grid(H, size):
    n, _, height, width = size
    points = grid.regular_grid((height, width), dtype=H.dtype).reshape(1, -1, 3)  # (1, L, 3)
    uvw = points @ H.transpose(1, 2)  # (N, L, 3)
    return (uvw[..., :2] / uvw[..., 2:]).reshape(n, height, width, 2)


def affine_as_tps(theta, control_points):
    moved = control_points @ theta[:, :, :2].transpose(1, 2) + theta[:, None, :, 2]
    return moved - control_points


def _homography_cases(g):
    cases = []
    for n in (1, 2, 3):
        h = torch.eye(3).repeat(n, 1, 1) + 0.15 * torch.randn(n, 3, 3, generator=g)
        h[:, 2, 2] = 1.0
        height, width = (int(v) for v in torch.randint(2, 12, (2,), generator=g))
        cases.append(Case(f"{n} random homographies, {n}×1×{height}×{width}", (h, (n, 1, height, width))))
    return cases


def _tps_cases(g):
    cases = []
    for n, k in ((1, 9), (3, 16), (2, 25)):
        theta = torch.eye(2, 3).repeat(n, 1, 1) + 0.3 * torch.randn(n, 2, 3, generator=g)
        cases.append(Case(f"{n} random θ, {k} control points", (theta, grid.tps_control_points(k))))
    return cases


EXERCISES = {
    "ex-beyond-homography-grid": Hidden("homography_grid", homography_grid, _homography_cases,
                                         allow=("stn_course.grid.regular_grid",)),  # it builds on the regular grid
    "ex-beyond-affine-as-tps": Hidden("affine_as_tps", affine_as_tps, _tps_cases),
}
