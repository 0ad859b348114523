"""The dataset: :class:`SVHNSequences`, uint8 crops (SVHN or the stand-in) as float tensors and targets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from .crops import center_crop, default_crop, random_crop
from .labels import MAX_DIGITS
from .prepared import load_prepared


def to_float(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 (N, H, W, 3) → float32 (N, 3, H, W) in [0, 1]."""
    t = images if isinstance(images, torch.Tensor) else torch.from_numpy(np.array(images, dtype=np.uint8))
    return t.permute(0, 3, 1, 2).float().div_(255.0)


class SVHNSequences(Dataset):
    """Multi-digit SVHN (or the stand-in) as a torchvision-style dataset.

    Items are ``(image, target)``: image float32 (3, crop, crop) in [0, 1]; target int64 (5,)
    with classes 0–9 and :data:`BLANK`. With ``train=True`` each access takes a random crop (the
    training augmentation of Goodfellow et al.), else the centre crop. ``crop=None`` keeps the
    whole image.

    Args:
        images: uint8 (N, H, W, 3), e.g. from :func:`load_prepared` or :func:`synthetic_house_numbers`.
        labels: (N, 5) classes.
        train: random crops (True) or centre crops (False).
        crop: crop side; the default (-1) is :func:`default_crop` of the image size, None keeps
            the whole image.
        transform: optional callable applied to the image tensor after cropping.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, train: bool = True, crop: int | None = -1,
                 transform=None):
        if images.ndim != 4 or images.shape[3] != 3 or images.dtype != np.uint8:
            raise ValueError(f"images must be uint8 (N, H, W, 3), got {images.dtype} {images.shape}")
        if labels.shape != (len(images), MAX_DIGITS):
            raise ValueError(f"labels must have shape ({len(images)}, {MAX_DIGITS}), got {labels.shape}")
        self.images, self.labels, self.train, self.transform = images, labels, train, transform
        self.crop = default_crop(images.shape[1]) if crop == -1 else crop

    @classmethod
    def prepared(cls, split: str, size: int = 64, train: bool | None = None, root: str | Path | None = None,
                 **kwargs) -> SVHNSequences:
        """The dataset over the prepared arrays of ``split`` (random crops for "train"/"extra")."""
        images, labels = load_prepared(split, size, root)
        return cls(images, labels, train=(split != "test") if train is None else train, **kwargs)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = to_float(self.images[index][None])
        if self.crop is not None:
            image = random_crop(image, self.crop) if self.train else center_crop(image, self.crop)
        image = image[0]
        if self.transform is not None:
            image = self.transform(image)
        return image, torch.as_tensor(self.labels[index].astype(np.int64))
