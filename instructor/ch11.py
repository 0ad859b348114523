"""Chapter 11, "Several transformers in one network": reference solutions and hidden inputs."""

import torch

from stn_course.classroom import Hidden
from stn_course.exercises import Case

CHAPTER = "11_several_transformers"


def box_iou(a, b):
    width = (torch.minimum(a[:, 2], b[:, 2]) - torch.maximum(a[:, 0], b[:, 0])).clamp(min=0)
    height = (torch.minimum(a[:, 3], b[:, 3]) - torch.maximum(a[:, 1], b[:, 1])).clamp(min=0)
    inter = width * height
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (area_a + area_b - inter)


def yaw_pitch_roll(yaw, pitch, roll):
    def about(axis, angle):
        c, s = torch.cos(angle), torch.sin(angle)
        one, zero = torch.ones_like(angle), torch.zeros_like(angle)
        rows = {
            "y": [[c, zero, s], [zero, one, zero], [-s, zero, c]],
            "x": [[one, zero, zero], [zero, c, -s], [zero, s, c]],
            "z": [[c, -s, zero], [s, c, zero], [zero, zero, one]],
        }[axis]
        return torch.stack([torch.stack(row, dim=-1) for row in rows], dim=-2)

    return about("y", yaw) @ about("x", pitch) @ about("z", roll)


def _random_boxes(n, g):
    corner = torch.rand(n, 2, generator=g) * 60
    size = 2 + torch.rand(n, 2, generator=g) * 30
    return torch.cat([corner, corner + size], 1)


def _iou_cases(g):
    cases = []
    for n in (1, 5, 12):
        a = _random_boxes(n, g)
        b = a + torch.randn(n, 4, generator=g) * 6  # near a: mostly overlapping, sometimes not
        b[:, 2:] = torch.maximum(b[:, 2:], b[:, :2] + 1)
        cases.append(Case(f"{n} random pairs of boxes", (a, b)))
    return cases


def _rotation_cases(g):
    cases = []
    for n in (1, 4, 9):
        yaw, pitch, roll = (torch.rand(3, n, generator=g) * 2 - 1) * torch.tensor([[3.1], [1.5], [3.1]])
        cases.append(Case(f"{n} random turns", (yaw, pitch, roll)))
    return cases


EXERCISES = {
    "ex-several-box-iou": Hidden("box_iou", box_iou, _iou_cases),
    "ex-several-yaw-pitch-roll": Hidden("yaw_pitch_roll", yaw_pitch_roll, _rotation_cases),
}
