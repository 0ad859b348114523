"""Chapter 8, "The distorted MNIST suite": reference solutions and hidden inputs."""

import torch

from stn_course import distortions
from stn_course.classroom import Hidden
from stn_course.exercises import Case

CHAPTER = "08_distorted_mnist"


def rts_theta(angle, scale, shift, in_size, out_size):
    c, s = torch.cos(angle), torch.sin(angle)
    k = (out_size / in_size) / scale  # output units → input units, undoing the scale
    a = torch.stack([torch.stack([c * k, -s * k], -1), torch.stack([s * k, c * k], -1)], dim=-2)
    t_norm = shift * (2.0 / out_size)
    t = -(a @ t_norm[:, :, None])
    return torch.cat([a, t], dim=2)


def clutter_mask(params):
    pos = params["clutter_position"]
    mask = torch.zeros(pos.shape[0], 60, 60, dtype=torch.bool)
    for i in range(pos.shape[0]):
        for x, y in pos[i].tolist():
            mask[i, y:y + 6, x:x + 6] = True
    return mask


def _rts_cases(g):
    cases = []
    for n_in, n_out in ((28, 42), (28, 28), (28, 60), (20, 50)):
        n = int(torch.randint(1, 5, (1,), generator=g))
        angle = (torch.rand(n, generator=g) * 2 - 1) * 3.1
        scale = 0.6 + 0.8 * torch.rand(n, generator=g)
        shift = torch.randn(n, 2, generator=g) * 5
        cases.append(Case(f"{n} random transforms, {n_in} → {n_out}", (angle, scale, shift, n_in, n_out)))
    return cases


def _mask_cases(g):
    return [Case(f"{n} canvas(es)", (distortions.sample_cluttered(n, g, pool_size=5),)) for n in (1, 3, 6)]


EXERCISES = {
    "ex-distorted-rts-theta": Hidden("rts_theta", rts_theta, _rts_cases),
    "ex-distorted-clutter-mask": Hidden("clutter_mask", clutter_mask, _mask_cases),
}
