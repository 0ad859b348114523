"""Chapter 11, "Several transformers in one network": reference solutions and hidden inputs."""

import torch

from stn_course.classroom import Hidden
from stn_course.exercises import Case

CHAPTER = "11_several_transformers"


def box_iou(a, b):
    lo = torch.maximum(a[:, :2], b[:, :2])
    hi = torch.minimum(a[:, 2:], b[:, 2:])
    inter = (hi - lo).clamp(min=0).prod(1)
    union = (a[:, 2:] - a[:, :2]).prod(1) + (b[:, 2:] - b[:, :2]).prod(1) - inter
    return inter / union


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


def crop_box(params, size):
    h, w = size
    s, t = params[:, :1], params[:, 1:]
    pixels = torch.tensor([w / 2, h / 2])
    return torch.cat([(t - s + 1) * pixels, (t + s + 1) * pixels], dim=1)


def _crop_box_cases(g):
    cases = []
    for n, size in ((1, (84, 84)), (4, (60, 40)), (7, (28, 84))):
        s = 0.1 + 0.8 * torch.rand(n, generator=g)
        t = (torch.rand(n, 2, generator=g) * 2 - 1) * (1 - s[:, None])
        cases.append(Case(f"{n} random crops of a {size[0]} × {size[1]} image", (torch.cat([s[:, None], t], 1), size)))
    return cases


EXERCISES = {
    "ex-several-box-iou": Hidden("box_iou", box_iou, _iou_cases),
    "ex-several-crop-box": Hidden("crop_box", crop_box, _crop_box_cases),
    "ex-several-yaw-pitch-roll": Hidden("yaw_pitch_roll", yaw_pitch_roll, _rotation_cases),
}
