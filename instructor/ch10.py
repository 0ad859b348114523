"""Chapter 10, "SVHN multi-digit recognition": reference solutions and hidden inputs."""

import torch

from stn_course.classroom import Hidden
from stn_course.exercises import Case

CHAPTER = "10_svhn"
BLANK = 10


def crop_window(boxes, image_size):
    import numpy as np

    x0, y0 = boxes[:, 0].min(), boxes[:, 1].min()
    x1, y1 = (boxes[:, 0] + boxes[:, 2]).max(), (boxes[:, 1] + boxes[:, 3]).max()
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    hw, hh = 1.3 * (x1 - x0) / 2, 1.3 * (y1 - y0) / 2
    W, H = image_size
    return np.array([max(0, cx - hw), max(0, cy - hh), min(W, cx + hw), min(H, cy + hh)])


def sequence_error(predictions, targets):
    return 100.0 * (predictions != targets).any(dim=1).float().mean().item()


def compose_thetas(thetas):
    n = thetas[0].shape[0]
    bottom = torch.tensor([0.0, 0.0, 1.0], dtype=thetas[0].dtype).expand(n, 1, 3)
    total = torch.eye(3, dtype=thetas[0].dtype).expand(n, 3, 3)
    for theta in thetas:
        total = total @ torch.cat([theta, bottom], dim=1)
    return total[:, :2]


def window_probe(fn, boxes, image_size):
    """The learner works with NumPy boxes and a (W, H) tuple; the window comes back as float64."""
    import numpy as np
    import torch

    window = fn(boxes.numpy().copy(), tuple(image_size))
    return torch.as_tensor(np.asarray(window, dtype=np.float64))


def _window_cases(g):
    cases = []
    for k, (w, h) in ((1, (100, 80)), (3, (200, 100)), (2, (60, 40)), (3, (75, 35))):
        x = torch.randint(0, w // 2, (1,), generator=g) + torch.arange(k) * 14
        boxes = torch.stack([x, torch.randint(0, h // 3, (k,), generator=g), torch.randint(8, 15, (k,), generator=g),
                             torch.randint(15, 25, (k,), generator=g)], 1).to(torch.float64)
        cases.append(Case(f"{k} digit(s) in a {w}×{h} photo", (boxes, [w, h])))
    return cases


def _error_cases(g):
    cases = []
    for n, p in ((20, 0.9), (50, 0.97), (8, 0.5)):
        t = torch.randint(0, 11, (n, 5), generator=g)
        pred = torch.where(torch.rand(n, 5, generator=g) < p, t, torch.randint(0, 11, (n, 5), generator=g))
        cases.append(Case(f"{n} numbers, {100 * (1 - p):.0f}% of positions changed", (pred, t)))
    return cases


def _compose_cases(g):
    return [Case(f"{k} random θ for a batch of {n}", ([torch.eye(2, 3).expand(n, 2, 3) + 0.2 * torch.randn(n, 2, 3, generator=g)
                                                       for _ in range(k)],)) for k, n in ((1, 2), (2, 3), (4, 4))]


EXERCISES = {
    "ex-svhn-crop-window": Hidden("crop_window", crop_window, _window_cases, probe=window_probe, atol=1e-6),
    "ex-svhn-sequence-error": Hidden("sequence_error", sequence_error, _error_cases),
    "ex-svhn-compose": Hidden("compose_thetas", compose_thetas, _compose_cases),
}
