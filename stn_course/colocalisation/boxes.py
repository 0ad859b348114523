"""Boxes: the crop an attention θ takes, intersection over union, and the IoU ≥ 0.5 score.

A box is ``(x0, y0, x1, y1)`` in pixels of the input image, its edges on pixel boundaries
(pixel ``i`` spans ``[i, i + 1)``). With ``align_corners=False`` the normalised coordinate
−1 is the left edge of the first pixel and +1 the right edge of the last, so the attention
θ = [[s, 0, t_x], [0, s, t_y]] samples the square ``[t − s, t + s]`` (normalised), that is
``x0 = (t_x − s + 1)·W/2`` … ``x1 = (t_x + s + 1)·W/2`` in pixels.
"""

from __future__ import annotations

import torch

from .._checks import check_real, check_shape, check_tensor

#: A crop counts as finding the digit when its IoU with the digit's box is at least this.
IOU_THRESHOLD = 0.5


def attention_box(params: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The box an attention transform samples: params (N, 3) as (s, t_x, t_y) → boxes (N, 4) pixels.

    ``size`` is the input image's (H, W). A negative scale samples the same square, mirrored;
    its box is that square.
    """
    check_tensor("params", params, floating=True)
    check_shape("params", params, (None, 3), "(N, 3) as (s, t_x, t_y)")
    if not (isinstance(size, (tuple, list)) and len(size) == 2 and all(int(v) == v and v > 0 for v in size)):
        raise ValueError(f"size must be (H, W) of positive ints, got {size!r}")
    h, w = size
    s, tx, ty = params.abs()[:, 0], params[:, 1], params[:, 2]
    return torch.stack([(tx - s + 1) * w / 2, (ty - s + 1) * h / 2, (tx + s + 1) * w / 2, (ty + s + 1) * h / 2], 1)


def ink_boxes(images: torch.Tensor, side: float = 28.0) -> torch.Tensor:
    """The no-learning baseline: a ``side`` × ``side`` box on each image's ink centre of mass.

    images (N, C, H, W), non-negative where there is ink → boxes (N, 4) in pixels. A digit
    alone on an empty image is found this way without any training; clutter pulls the centre
    of mass off it. An image without ink gets the box on its centre.
    """
    check_tensor("images", images, floating=True)
    if images.dim() != 4:
        raise ValueError(f"images must have shape (N, C, H, W), got {tuple(images.shape)}")
    check_real("side", side, above=0)
    ink = images.clamp(min=0).sum(1)  # (N, H, W)
    n, h, w = ink.shape
    total = ink.sum((1, 2))
    xs = torch.arange(w, dtype=ink.dtype, device=ink.device) + 0.5  # pixel centres
    ys = torch.arange(h, dtype=ink.dtype, device=ink.device) + 0.5
    empty = total <= 0
    cx = torch.where(empty, w / 2, (ink.sum(1) * xs).sum(1) / total.clamp(min=torch.finfo(ink.dtype).tiny))
    cy = torch.where(empty, h / 2, (ink.sum(2) * ys).sum(1) / total.clamp(min=torch.finfo(ink.dtype).tiny))
    return torch.stack([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2], 1)


def _check_boxes(name: str, boxes: torch.Tensor) -> None:
    check_tensor(name, boxes, floating=True)
    check_shape(name, boxes, (None, 4), "(N, 4) as (x0, y0, x1, y1)")
    if bool(((boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])).any()):
        raise ValueError(f"{name} must have x0 <= x1 and y0 <= y1 in every row")


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Intersection over union of ``a[i]`` and ``b[i]``: boxes (N, 4) and (N, 4) → (N,).

    Boxes that only touch, or do not meet, have IoU 0; two empty boxes have IoU 0 too.
    """
    _check_boxes("a", a)
    _check_boxes("b", b)
    if a.shape != b.shape:
        raise ValueError(f"a and b must hold the same number of boxes, got {tuple(a.shape)} and {tuple(b.shape)}")
    width = (torch.minimum(a[:, 2], b[:, 2]) - torch.maximum(a[:, 0], b[:, 0])).clamp(min=0)
    height = (torch.minimum(a[:, 3], b[:, 3]) - torch.maximum(a[:, 1], b[:, 1])).clamp(min=0)
    inter = width * height
    union = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    return torch.where(union > 0, inter / union.clamp(min=torch.finfo(union.dtype).tiny), torch.zeros_like(union))


def localised(pred: torch.Tensor, true: torch.Tensor, threshold: float = IOU_THRESHOLD) -> torch.Tensor:
    """(N,) bool: True where the predicted box overlaps the true one with IoU ≥ ``threshold``."""
    check_real("threshold", threshold, above=0, below=1.0 + 1e-9)
    return box_iou(pred, true) >= threshold


def missed(output, boxes: torch.Tensor) -> torch.Tensor:
    """The co-localisation error for :func:`stn_course.training.evaluate`: (N,) bool, True where
    the crop of a :class:`~stn_course.colocalisation.CoLocOutput` misses ``boxes`` (IoU < 0.5)."""
    return ~localised(output.box, boxes)
