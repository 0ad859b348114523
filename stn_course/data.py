"""Datasets: MNIST through torchvision, from one place.

The data root is :func:`stn_course.config.data_root` (``$STN_COURSE_DATA`` or a per-user
cache). MNIST is read from ``<root>/MNIST/raw`` in torchvision's layout; where the files
are missing it is downloaded, and where that fails the error says where it looked and how
to provide the files.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch

from .config import data_root

MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


class DataNotFoundError(FileNotFoundError):
    """A dataset is missing and could not be fetched."""


def _mnist_missing(root: Path) -> list[str]:
    raw = root / "MNIST" / "raw"
    return [f for f in MNIST_FILES if not (raw / f).exists() and not (raw / f"{f}.gz").exists()]


def mnist(train: bool = True, root: str | Path | None = None, download: bool = True):
    """torchvision's ``MNIST`` dataset (PIL images, int labels) under the course's data root."""
    from torchvision.datasets import MNIST

    root = Path(root) if root is not None else data_root()
    if _mnist_missing(root) and not download:
        raise DataNotFoundError(_missing_message(root))
    try:
        return MNIST(str(root), train=train, download=bool(_mnist_missing(root)) and download)
    except (RuntimeError, OSError) as err:
        raise DataNotFoundError(_missing_message(root) + f"\n(the download failed: {err})") from err


def _missing_message(root: Path) -> str:
    return (f"MNIST was not found in {root / 'MNIST' / 'raw'} (missing: {', '.join(_mnist_missing(root))}). "
            "Set STN_COURSE_DATA to a folder that holds MNIST/raw/ with the four IDX files "
            f"({', '.join(MNIST_FILES)}), or connect to the internet so torchvision can download them.")


@lru_cache(maxsize=4)
def mnist_tensors(train: bool = True, root: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The whole MNIST split as tensors: images (N, 1, 28, 28) float32 in [0, 1], labels (N,) int64.

    Cached, so chapters and the benchmark can call it freely.
    """
    ds = mnist(train, root)
    images = ds.data.unsqueeze(1).float().div_(255.0)
    if images.shape[1:] != (1, 28, 28) or len(images) != len(ds.targets):
        raise DataNotFoundError(f"MNIST under {ds.root} looks corrupt: images {tuple(images.shape)}, "
                                f"labels {tuple(ds.targets.shape)}; delete the files and fetch them again")
    return images, ds.targets.long()
