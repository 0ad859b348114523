"""Goodfellow et al.'s (2013) crops: the window around the digits, crop and resize, random and centre crops."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from .._checks import check_tensor

EXPAND = 0.3
LOOSE_FACTOR = 2.0
CROP_FRACTION = 54 / 64


def sequence_box(boxes: np.ndarray) -> np.ndarray:
    """The smallest box (x0, y0, x1, y1) around all digit boxes (k, 4) of (left, top, width, height)."""
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4 or len(boxes) == 0:
        raise ValueError(f"boxes must have shape (k, 4) with k >= 1, got {boxes.shape}")
    return np.array([boxes[:, 0].min(), boxes[:, 1].min(),
                     (boxes[:, 0] + boxes[:, 2]).max(), (boxes[:, 1] + boxes[:, 3]).max()])


def crop_window(boxes: np.ndarray, image_size: tuple[int, int], expand: float = EXPAND,
                factor: float = 1.0) -> np.ndarray:
    """The crop window (x0, y0, x1, y1) for one photograph of ``image_size`` (W, H).

    The box around all digits, grown about its centre by ``1 + expand`` in x and y (Goodfellow
    et al.: 30%), times ``factor`` (1 for the 64-pixel crops, :data:`LOOSE_FACTOR` for the loose
    128-pixel ones), then clipped to the photograph.
    """
    x0, y0, x1, y1 = sequence_box(boxes)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    grow = (1 + expand) * factor
    hw, hh = (x1 - x0) * grow / 2, (y1 - y0) * grow / 2
    w, h = image_size
    window = np.array([max(0.0, cx - hw), max(0.0, cy - hh), min(float(w), cx + hw), min(float(h), cy + hh)])
    if window[2] - window[0] < 1 or window[3] - window[1] < 1:
        raise ValueError(f"the digit boxes {boxes.tolist()} lie outside the image of size {image_size}")
    return window


def crop_resize(image: Image.Image | np.ndarray, window: np.ndarray, size: int) -> np.ndarray:
    """Crop ``image`` to ``window`` (x0, y0, x1, y1) and resize to (size, size): uint8 (size, size, 3)."""
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    crop = image.convert("RGB").resize((size, size), Image.BILINEAR, box=tuple(float(v) for v in window))
    return np.asarray(crop, dtype=np.uint8)


def default_crop(size: int) -> int:
    """Goodfellow et al.'s 54-pixel crop of a 64-pixel image, scaled to other sizes (108 for 128)."""
    return int(round(size * CROP_FRACTION))


def random_crop(images: torch.Tensor, crop: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """An independent random ``crop``×``crop`` window of each image: (N, C, H, W) → (N, C, crop, crop)."""
    check_tensor("images", images)
    n, _, h, w = images.shape
    if not 0 < crop <= min(h, w):
        raise ValueError(f"crop must be in 1..{min(h, w)} for images of shape {tuple(images.shape)}, got {crop}")
    ys = torch.randint(0, h - crop + 1, (n,), generator=generator)
    xs = torch.randint(0, w - crop + 1, (n,), generator=generator)
    ys, xs, r = ys.to(images.device), xs.to(images.device), torch.arange(crop, device=images.device)
    rows = (ys[:, None] + r)[:, None, :, None]
    cols = (xs[:, None] + r)[:, None, None, :]
    batch = torch.arange(n, device=images.device)[:, None, None, None]
    channels = torch.arange(images.shape[1], device=images.device)[None, :, None, None]
    return images[batch, channels, rows, cols]


def center_crop(images: torch.Tensor, crop: int) -> torch.Tensor:
    """The central ``crop``×``crop`` window: (N, C, H, W) → (N, C, crop, crop)."""
    check_tensor("images", images)
    h, w = images.shape[-2:]
    if not 0 < crop <= min(h, w):
        raise ValueError(f"crop must be in 1..{min(h, w)} for images of shape {tuple(images.shape)}, got {crop}")
    top, left = (h - crop) // 2, (w - crop) // 2
    return images[..., top:top + crop, left:left + crop]
