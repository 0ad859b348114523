"""The θ explorer: drag sliders, watch θ warp an image and move the sampling grid."""

from __future__ import annotations

import torch
import traitlets as t

from ..geometry import decompose_theta
from ..grid import affine_grid
from ..sampler import grid_sample
from .base import ImageWidget, bundle_esm, float_matrix


class ThetaTrait(t.TraitType):
    """A 2×3 θ synced as a nested list; accepts tensors, arrays and nested lists."""

    default_value = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    info_text = "a 2x3 affine matrix"

    def validate(self, obj, value):
        return float_matrix(value, "theta", 2, 3, want="(2, 3) or (1, 2, 3)")


class ThetaExplorer(ImageWidget):
    """An image, a θ, and what θ does to the image — computed in the browser.

    Shows the output ``V`` (the image sampled at ``T_θ(G)``, bilinear, zero padding,
    ``align_corners=False``) and, beside it, the input ``U`` with the sampling grid drawn
    over it. Two sets of sliders move θ: its six entries, and angle / scale x / scale y /
    shear / tx / ty composed as in :func:`stn_course.geometry.theta_from` (with the
    image's aspect ratio). The sliders work in the static book too; in a live notebook,
    ``w.theta`` reads and sets θ from Python.

    Args:
        image: grayscale (H, W), (1, H, W) or (1, 1, H, W); uint8, or float in [0, 1].
        theta: the starting θ, (2, 3) or (1, 2, 3); the identity by default.
        zoom: screen pixels per image pixel (default: about 224 pixels across).

    Example:
        >>> w = ThetaExplorer(images[0], theta=theta_from(math.radians(30)))
        >>> w.theta = theta_from(0.0, 0.5)   # zoom in by 2, from Python
    """

    _esm = bundle_esm("theta_explorer.js")
    theta = ThetaTrait().tag(sync=True)

    def __init__(self, image, theta=None, *, zoom: int | None = None, **kwargs) -> None:
        super().__init__(image, zoom=zoom, **kwargs)
        if theta is not None:
            self.theta = theta

    @property
    def aspect(self) -> float:
        """Image width / height, as :func:`stn_course.geometry.theta_from` takes it."""
        return self.width / self.height

    def theta_tensor(self) -> torch.Tensor:
        """θ as a (1, 2, 3) float32 tensor."""
        return torch.tensor([self.theta], dtype=torch.float32)

    def parameters(self) -> dict[str, float]:
        """θ decomposed into angle (radians), scale_x, scale_y, shear, tx, ty."""
        parts = decompose_theta(self.theta_tensor().double(), aspect=self.aspect)
        return {k: float(v[0]) for k, v in parts.items()}

    def warped(self) -> torch.Tensor:
        """What the browser draws, computed by the package: (1, 1, H, W) in [0, 1]."""
        image = self.image_tensor()
        grid = affine_grid(self.theta_tensor(), list(image.shape), align_corners=False)
        return grid_sample(image, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
