"""The co-localisation hinge loss of the paper's appendix A.2.

For N images of one class, with ``e_n`` the embedding of image n's transformed crop and
``r_n`` that of a random crop of the same image,

    L = 1 / (N (N − 1)) · Σ_n Σ_{m ≠ n} max(0, ‖e_n − e_m‖² − ‖e_n − r_n‖² + α):

two images' crops should be closer to each other than a crop is to a random crop of its own
image, by the margin α. The paper sums over the pairs; we average (the same minimum, a rate
that does not depend on N).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .._checks import check_real, check_tensor


def triplet_hinge_loss(crops: torch.Tensor, randoms: torch.Tensor, margin: float = 1.0,
                       reduction: str = "mean") -> torch.Tensor:
    """The hinge loss above: embeddings ``crops`` (N, D) and ``randoms`` (N, D) → a scalar.

    ``reduction``: "mean" over the N(N − 1) ordered pairs, or "sum" (N times the mean, so that
    :func:`stn_course.training.evaluate`'s per-image average is the mean again).
    """
    check_tensor("crops", crops, floating=True)
    check_tensor("randoms", randoms, floating=True)
    if crops.dim() != 2 or crops.shape != randoms.shape:
        raise ValueError(f"crops and randoms must both have shape (N, D), got {tuple(crops.shape)} "
                         f"and {tuple(randoms.shape)}")
    if crops.shape[0] < 2:
        raise ValueError(f"crops must hold at least 2 images to pair, got {crops.shape[0]}")
    check_real("margin", margin, minimum=0)
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    n = crops.shape[0]
    together = torch.cdist(crops, crops).pow(2)  # (N, N): ‖e_n − e_m‖²
    apart = (crops - randoms).pow(2).sum(1, keepdim=True)  # (N, 1): ‖e_n − r_n‖²
    hinge = (together - apart + margin).clamp(min=0)
    off_diagonal = ~torch.eye(n, dtype=torch.bool, device=crops.device)
    mean = hinge[off_diagonal].mean()
    return mean if reduction == "mean" else mean * n


@dataclass(frozen=True)
class TripletHingeLoss:
    """:func:`triplet_hinge_loss` as the ``loss_fn`` of :func:`stn_course.training.fit`.

    Called as ``loss(output, boxes, reduction=...)`` with a
    :class:`~stn_course.colocalisation.CoLocOutput`; the boxes are ignored: co-localisation
    trains without them (they only score the crops, in ``error_fn``).
    """

    margin: float = 1.0

    def __call__(self, output, boxes: torch.Tensor | None = None, reduction: str = "mean") -> torch.Tensor:
        return triplet_hinge_loss(output.crop_embedding, output.random_embedding, self.margin, reduction)
