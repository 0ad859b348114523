"""Localisation networks: image (N, C, H, W) → transform parameters (N, P).

The last layer regresses the parameters. It starts at the transform's identity (zero
weights, identity bias), so an untrained spatial transformer passes its input through
unchanged and the classifier behind it gets useful gradients from the first step.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ._checks import check_chw, check_real
from .transforms import Affine3DTransform, Transform, make_transform


class RegressionHead(nn.Module):
    """The final regression layer, initialised to the identity transform.

    Unbounded: ``params = W h + b`` with ``W = 0`` and ``b = identity``. Bounded:
    ``params = identity + bound · tanh(W h + b)`` with ``W = 0, b = 0``; every parameter then
    stays within ``bound`` of the identity, which keeps a young network from flinging its
    sampling grid off the image.
    """

    def __init__(self, in_features: int, transform: Transform, bound: float | None = None):
        super().__init__()
        if bound is not None:
            check_real("bound", bound, above=0)
        self.linear = nn.Linear(in_features, transform.num_params)
        self.bound = bound
        self.register_buffer("identity", transform.identity_params())
        nn.init.zeros_(self.linear.weight)
        with torch.no_grad():
            self.linear.bias.copy_(torch.zeros_like(self.identity) if bound else self.identity)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        z = self.linear(h)
        if self.bound is None:
            return z
        return self.identity + self.bound * torch.tanh(z)


class FCLocalization(nn.Module):
    """Fully connected localisation net: flatten → (Linear → ReLU) × len(hidden) → head.

    Args:
        in_shape: (C, H, W) of the images it looks at.
        transform: the transform (or its name) whose parameters it regresses.
        hidden: widths of the hidden layers (the paper's MNIST ST-FCN uses three of 32).
        bound: see :class:`RegressionHead`.
    """

    def __init__(self, in_shape: Sequence[int], transform: Transform | str, hidden: Sequence[int] = (32, 32, 32),
                 bound: float | None = None):
        super().__init__()
        check_chw("in_shape", in_shape)
        transform = make_transform(transform)
        layers: list[nn.Module] = [nn.Flatten()]
        width = int(torch.tensor(in_shape).prod())
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU(inplace=True)]
            width = h
        self.features = nn.Sequential(*layers)
        self.head = RegressionHead(width, transform, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) → (N, P)."""
        return self.head(self.features(x))


class CNNLocalization(nn.Module):
    """Convolutional localisation net: (Conv → ReLU [→ MaxPool 2]) per layer → FC layers → head.

    Args:
        in_shape: (C, H, W) of the images it looks at.
        transform: the transform (or its name) whose parameters it regresses.
        channels: output channels of each conv layer (the paper's MNIST ST-CNN: two of 20;
            its SVHN ST-CNN Single: two of 32).
        kernel_size: the conv kernels' size (5 in the paper).
        hidden: width(s) of the fully connected layers before the head (MNIST: 50; SVHN:
            two of 32).
        pool: for each conv layer, whether a 2×2 max-pool follows it (default: all do; the
            paper's SVHN net pools after the first only).
        bound: see :class:`RegressionHead`.
    """

    def __init__(self, in_shape: Sequence[int], transform: Transform | str, channels: Sequence[int] = (20, 20),
                 kernel_size: int = 5, hidden: int | Sequence[int] = 50, pool: Sequence[bool] | None = None,
                 bound: float | None = None):
        super().__init__()
        check_chw("in_shape", in_shape)
        pool = [True] * len(channels) if pool is None else list(pool)
        if len(pool) != len(channels):
            raise ValueError(f"pool must have one entry per conv layer ({len(channels)}), got {len(pool)}")
        transform = make_transform(transform)
        layers: list[nn.Module] = []
        c = in_shape[0]
        for out, pooled in zip(channels, pool):
            layers += [nn.Conv2d(c, out, kernel_size, padding=kernel_size // 2), nn.ReLU(inplace=True)]
            if pooled:
                layers.append(nn.MaxPool2d(2))
            c = out
        self.features = nn.Sequential(*layers, nn.Flatten())
        with torch.no_grad():
            width = self.features(torch.zeros(1, *in_shape)).shape[1]
        fc: list[nn.Module] = []
        for h in [hidden] if isinstance(hidden, int) else hidden:
            fc += [nn.Linear(width, h), nn.ReLU(inplace=True)]
            width = h
        self.fc = nn.Sequential(*fc)
        self.head = RegressionHead(width, transform, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) → (N, P)."""
        return self.head(self.fc(self.features(x)))


class CNN3DLocalization(nn.Module):
    """Convolutional localisation net for volumes: (N, C, D, H, W) → 3D transform parameters (N, 12).

    [Average-pool ``downsample``] → (Conv3d → ReLU → MaxPool3d 2) per layer → FC → head. The
    pooling in front makes a volume cheap to look at: the net only has to see the pose, not
    the detail.

    Args:
        in_shape: (C, D, H, W) of the volumes it looks at.
        transform: the transform whose parameters it regresses (default:
            :class:`~stn_course.transforms.Affine3DTransform`).
        channels: output channels of each conv layer.
        kernel_size: the conv kernels' size.
        hidden: width of the fully connected layer before the head.
        downsample: average-pooling factor applied first (1: none).
        bound: see :class:`RegressionHead`.
    """

    def __init__(self, in_shape: Sequence[int], transform: Transform | str | None = None,
                 channels: Sequence[int] = (8, 16), kernel_size: int = 3, hidden: int = 32, downsample: int = 2,
                 bound: float | None = None):
        super().__init__()
        if not isinstance(in_shape, (tuple, list, torch.Size)) or len(in_shape) != 4 or \
                not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in in_shape):
            raise ValueError(f"in_shape must be (C, D, H, W) of positive ints, got {in_shape!r}")
        if not isinstance(downsample, int) or isinstance(downsample, bool) or downsample < 1:
            raise ValueError(f"downsample must be an int >= 1, got {downsample!r}")
        transform = Affine3DTransform() if transform is None else make_transform(transform)
        layers: list[nn.Module] = [nn.AvgPool3d(downsample)] if downsample > 1 else []
        c = in_shape[0]
        for out in channels:
            layers += [nn.Conv3d(c, out, kernel_size, padding=kernel_size // 2), nn.ReLU(inplace=True),
                       nn.MaxPool3d(2)]
            c = out
        self.features = nn.Sequential(*layers, nn.Flatten())
        smallest = min(in_shape[1:]) // downsample // 2 ** len(channels)
        if smallest < 1:
            raise ValueError(f"in_shape {tuple(in_shape)} is too small for downsample={downsample} and "
                             f"{len(channels)} pooling stages: each of D, H, W must be at least "
                             f"{downsample * 2 ** len(channels)}")
        with torch.no_grad():
            width = self.features(torch.zeros(1, *in_shape)).shape[1]
        self.fc = nn.Sequential(nn.Linear(width, hidden), nn.ReLU(inplace=True))
        self.head = RegressionHead(hidden, transform, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, D, H, W) → (N, 12)."""
        return self.head(self.fc(self.features(x)))
