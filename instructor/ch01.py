"""Chapter 1, "Why CNNs are not spatially invariant": reference solutions and hidden inputs."""

import torch
import torch.nn.functional as F

from stn_course.classroom import Hidden
from stn_course.exercises import Case

CHAPTER = "01_invariance"


def shift_images(images, dx, dy):
    out = torch.zeros_like(images)
    h, w = images.shape[-2:]
    if abs(dx) >= w or abs(dy) >= h:
        return out
    src_y, dst_y = slice(max(0, -dy), h - max(0, dy)), slice(max(0, dy), h - max(0, -dy))
    src_x, dst_x = slice(max(0, -dx), w - max(0, dx)), slice(max(0, dx), w - max(0, -dx))
    out[..., dst_y, dst_x] = images[..., src_y, src_x]
    return out


def max_pool(x, k):
    return F.max_pool2d(x, k)


def _shift_cases(g):
    cases = []
    for _ in range(5):
        n, c, h, w = (int(v) for v in torch.randint(1, 4, (2,), generator=g).tolist()
                      + torch.randint(3, 9, (2,), generator=g).tolist())
        dx, dy = (int(v) for v in torch.randint(-4, 5, (2,), generator=g))
        cases.append(Case(f"a ({n}, {c}, {h}, {w}) batch, dx={dx}, dy={dy}", (torch.rand(n, c, h, w, generator=g), dx, dy)))
    cases.append(Case("a shift larger than the image", (torch.rand(1, 1, 4, 5, generator=g), 0, -6)))
    return cases


def _pool_cases(g):
    cases = []
    for k in (2, 3, 2, 4):
        shape = [int(v) for v in torch.randint(1, 3, (2,), generator=g)] + \
                [int(v) for v in torch.randint(k, 3 * k + 2, (2,), generator=g)]
        cases.append(Case(f"{k}x{k} pooling of a {tuple(shape)} input", (torch.randn(*shape, generator=g), k)))
    return cases


EXERCISES = {
    "ex-invariance-shift": Hidden("shift_images", shift_images, _shift_cases),
    "ex-invariance-maxpool": Hidden("max_pool", max_pool, _pool_cases),
}
