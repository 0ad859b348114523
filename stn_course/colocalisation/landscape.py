"""What the hinge loss prefers: its value at boxes set by hand, with no localisation net.

A co-localiser that collapses (every crop shrunk to a point in one corner) has either found
what the loss rewards most, or failed to reach a better answer that the loss holds. Setting
the boxes by hand tells the two apart: :func:`hand_set_boxes` gives the digit's frame, the
collapse, and the crops a lazy localiser could settle on; :func:`loss_at` scores any of them
with the frozen encoder, the same-size random negatives and the loss of training.
"""

from __future__ import annotations

import torch
from torch import nn

from .._checks import check_int, check_real, check_shape, check_tensor
from ..transformer import SpatialTransformer
from .boxes import _check_boxes
from .loss import triplet_hinge_loss
from .model import CROP_SIZE, Encoder, random_crop_params

#: A "point": the side of the collapsed crop, as a share of the image's (one pixel of 84 is 0.012).
POINT = 1e-3


def box_params(boxes: torch.Tensor, size: int) -> torch.Tensor:
    """The attention parameters of square boxes: (N, 4) pixels (x0, y0, x1, y1) → (N, 3) as (s, t_x, t_y).

    The inverse of :func:`~stn_course.colocalisation.attention_box` on a ``size`` × ``size``
    image; the box's width sets the scale.
    """
    _check_boxes("boxes", boxes)
    check_int("size", size, 1)
    s = (boxes[:, 2] - boxes[:, 0]) / size
    t = (boxes[:, :2] + boxes[:, 2:]) / size - 1
    return torch.cat([s[:, None], t], 1)


def empty_corner_boxes(true_boxes: torch.Tensor, size: int) -> torch.Tensor:
    """For each image, the largest square in one of its four corners that misses the digit's box:
    (N, 4) pixels → (N, 4) pixels.

    A square in the top-left corner misses a box that starts ``x0`` to its right or ``y0`` below
    it as long as its side is at most ``max(x0, y0)``; likewise for the other corners.
    """
    _check_boxes("true_boxes", true_boxes)
    check_int("size", size, 1)
    x0, y0, x1, y1 = true_boxes.unbind(1)
    room = torch.stack([torch.maximum(x0, y0), torch.maximum(size - x1, y0),        # top-left, top-right
                        torch.maximum(x0, size - y1), torch.maximum(size - x1, size - y1)], 1).clamp(0, size)
    side, corner = room.max(1)
    right, bottom = (corner % 2 == 1), (corner >= 2)
    left = torch.where(right, size - side, torch.zeros_like(side))
    top = torch.where(bottom, size - side, torch.zeros_like(side))
    return torch.stack([left, top, left + side, top + side], 1)


def hand_set_boxes(true_boxes: torch.Tensor, size: int, crop: float = CROP_SIZE) -> dict[str, torch.Tensor]:
    """The boxes (N, 4) pixels that :func:`loss_at` compares, by name: the digit's frame; the
    collapse (a point in the top-right corner, where the benchmark's collapsed runs end); a
    ``crop``-pixel box at the centre; the whole image; and the largest empty corner square."""
    _check_boxes("true_boxes", true_boxes)
    check_real("crop", crop, above=0)
    n = len(true_boxes)
    p = POINT * size
    one = torch.ones(n, 1, dtype=true_boxes.dtype)
    c = (size - crop) / 2
    return {"the digit's frame": true_boxes,
            "a point in the top-right corner (the collapse)": one * torch.tensor([size - p, 0.0, size, p]),
            f"a {crop:g}-pixel box at the centre": one * torch.tensor([c, c, c + crop, c + crop]),
            "the whole image": one * torch.tensor([0.0, 0.0, size, size]),
            "the largest empty corner square": empty_corner_boxes(true_boxes, size)}


@torch.no_grad()
def loss_at(encoder: Encoder, images: torch.Tensor, boxes: torch.Tensor, margin: float = 1.0, draws: int = 4,
            seed: int = 0) -> dict[str, float]:
    """The training loss if every image were cropped at its box: images (N, 1, H, W), boxes (N, 4) pixels.

    The crops and their random negatives of the same size (drawn ``draws`` times, from a
    generator seeded with ``seed``) are embedded by ``encoder`` as in training. Returns the mean
    hinge loss, and its two terms: ``together``, the mean ‖e_n − e_m‖² over the pairs, and
    ``apart``, the mean ‖e_n − r_n‖².
    """
    check_tensor("images", images, floating=True)
    if images.dim() != 4 or images.shape[1] != 1 or images.shape[-1] != images.shape[-2]:
        raise ValueError(f"images must have shape (N, 1, H, H), got {tuple(images.shape)}")
    check_shape("boxes", boxes, (len(images), 4), f"({len(images)}, 4) as (x0, y0, x1, y1)")
    check_int("draws", draws, 1)
    params = box_params(boxes.to(images.dtype), images.shape[-1])
    crops = encoder.embed(_crop(images, params))
    n = len(images)
    pairs = ~torch.eye(n, dtype=torch.bool)
    together = float(torch.cdist(crops, crops).pow(2)[pairs].mean())
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)   # random_crop_params draws from the global generator, as in training
        losses, apart = [], []
        for _ in range(draws):
            randoms = encoder.embed(_crop(images, random_crop_params(params[:, 0])))
            losses.append(float(triplet_hinge_loss(crops, randoms, margin)))
            apart.append(float((crops - randoms).pow(2).sum(1).mean()))
    finally:
        torch.random.set_rng_state(state)
    return {"loss": sum(losses) / draws, "together": together, "apart": sum(apart) / draws}


def _crop(images: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
    """The attention crops (N, 1, 28, 28) of images (N, 1, H, W) at params (N, 3), sampled as the co-localiser samples."""
    return SpatialTransformer(nn.Identity(), "attention", out_size=(CROP_SIZE, CROP_SIZE))(images, params)
