"""Chapter 6, "The whole spatial transformer": reference solutions and hidden inputs."""

import math

import torch

from stn_course.classroom import Hidden
from stn_course.exercises import Case
from stn_course.geometry import theta_from

CHAPTER = "06_spatial_transformer"


def rotation_angle(theta):
    return torch.rad2deg(torch.atan2(theta[:, 1, 0], theta[:, 0, 0]))


def compose_theta(theta1, theta2):
    a1, t1 = theta1[:, :, :2], theta1[:, :, 2:]
    a2, t2 = theta2[:, :, :2], theta2[:, :, 2:]
    return torch.cat([a1 @ a2, a1 @ t2 + t1], dim=2)


def _angle_cases(g):
    cases = []
    for what in ("pure rotations", "with scale and translation", "with different x and y scales"):
        n = int(torch.randint(2, 7, (1,), generator=g))
        rad = (torch.rand(n, generator=g) * 2 - 1) * math.radians(175)
        scale = 0.5 + torch.rand(n, generator=g)
        shift = torch.randn(n, generator=g) * 0.3
        if what == "pure rotations":
            theta = theta_from(rad)
        elif what == "with scale and translation":
            theta = theta_from(rad, scale, 0.0, shift, -shift)
        else:
            theta = theta_from(rad, scale, 0.0, 0.0, 0.0, scale_y=scale * 1.7)
        cases.append(Case(f"{n} rotations, {what}", (theta,)))
    return cases


def _compose_cases(g):
    return [Case(f"a batch of {n} pairs of random θ", (torch.randn(n, 2, 3, generator=g), torch.randn(n, 2, 3, generator=g)))
            for n in (1, 2, 4)]


EXERCISES = {
    "ex-st-rotation-angle": Hidden("rotation_angle", rotation_angle, _angle_cases, atol=1e-3),
    "ex-st-compose-theta": Hidden("compose_theta", compose_theta, _compose_cases),
}
