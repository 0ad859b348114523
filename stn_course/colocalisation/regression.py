"""The paper's kind of co-localisation localiser: a randomly initialised CNN that regresses a box.

Appendix A.2 of the paper gives its co-localiser an attention transform (a scale and a
translation) predicted by a localisation net, with nothing that points it at the digit.
:class:`BoxRegression` is :class:`~stn_course.localization.CNNLocalization` (Table 1's net) on
a 2× max-pooled copy of the image, with two changes:

- its regression layer is randomly initialised instead of starting at the identity, so no
  box is aimed at ink (on images that are mostly empty background, the first boxes of
  different images are nearly the same: the features hardly differ);
- its three outputs ``z`` are bounded so that the crop is a square inside the image, of any
  size: ``s = σ(z_s)`` in (0, 1) of the image's side, and ``t = (1 − s) · tanh(z_t)``, which
  keeps ``[t − s, t + s]`` inside [−1, 1].
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .._checks import check_int
from ..localization import CNNLocalization


class BoxRegression(nn.Module):
    """image (N, 1, H, W) → attention parameters (N, 3) as (s, t_x, t_y), the box inside the image.

    Args:
        image_size: the side H = W of the (square) images it looks at.
        channels, hidden: the conv channels and the fully connected width of the
            :class:`~stn_course.localization.CNNLocalization` (Table 1's MNIST net: (20, 20), 50).
    """

    def __init__(self, image_size: int = 84, channels: Sequence[int] = (20, 20), hidden: int = 50):
        super().__init__()
        check_int("image_size", image_size, 2 ** (len(channels) + 1))
        self.image_size = image_size
        self.pool = nn.MaxPool2d(2)  # a box is coarse: half the resolution, a quarter of the cost
        self.net = CNNLocalization((1, image_size // 2, image_size // 2), "attention", channels, hidden=hidden)
        self.net.head.linear.reset_parameters()  # PyTorch's random init, not the identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1, H, W) → (N, 3) as (s, t_x, t_y) with 0 < s < 1 and |t| ≤ 1 − s."""
        if x.dim() != 4 or tuple(x.shape[1:]) != (1, self.image_size, self.image_size):
            raise ValueError(f"x must have shape (N, 1, {self.image_size}, {self.image_size}), got {tuple(x.shape)}")
        z = self.net.head.linear(self.net.fc(self.net.features(self.pool(x))))  # (N, 3), unbounded
        s = torch.sigmoid(z[:, :1])
        t = (1 - s) * torch.tanh(z[:, 1:])
        return torch.cat([s, t], dim=1)

    def extra_repr(self) -> str:
        return f"image_size={self.image_size}, scale in (0, 1), box inside the image"
