"""The corner explorer: drag four corners, watch the homography through them warp an image."""

from __future__ import annotations

import torch
import traitlets as t

from ..distortions import homography_from_corners
from ..sampler import grid_sample
from ..transforms import ProjectiveTransform
from .base import STATIC, ImageWidget, bundle_esm, float_matrix

#: The output's corners in normalised coordinates: top-left, top-right, bottom-right, bottom-left.
UNIT_CORNERS = ((-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0))


class CornersTrait(t.TraitType):
    """Four (x, y) points synced as a nested list; accepts tensors, arrays and nested lists."""

    default_value = [list(c) for c in UNIT_CORNERS]
    info_text = "four (x, y) points"

    def validate(self, obj, value):
        return float_matrix(value, "corners", 4, 2)


class ProjectiveExplorer(ImageWidget):
    """An image and a projective warp set by dragging four corners — computed in the browser.

    The output's corners (±1, ±1) sample the input at ``corners`` (top-left, top-right,
    bottom-right, bottom-left, normalised coordinates); the homography through these four
    pairs (8 parameters, bottom-right entry 1) maps every output point to its source point
    (:func:`stn_course.grid.projective_grid`). The left panel shows the output V, the right
    one the input U with the sampling grid and the four red corners to drag; preset buttons
    set typical views. It works in the static book too; in a live notebook ``w.corners``
    reads and sets the corners from Python.

    Args:
        image: grayscale (H, W), (1, H, W) or (1, 1, H, W); uint8, or float in [0, 1].
        corners: the starting corners, (4, 2); the identity by default.
        zoom: screen pixels per image pixel (default: about 224 pixels across).
    """

    _esm = bundle_esm("projective_explorer.js")
    _css = ImageWidget._css + (STATIC / "handles.css").read_text(encoding="utf-8")
    corners = CornersTrait().tag(sync=True)

    def __init__(self, image, corners=None, *, zoom: int | None = None, **kwargs) -> None:
        super().__init__(image, zoom=zoom, **kwargs)
        if corners is not None:
            self.corners = corners

    def homography(self) -> torch.Tensor:
        """The homography (1, 3, 3), target → source, with its bottom-right entry 1."""
        unit = torch.tensor([UNIT_CORNERS], dtype=torch.float64)
        return homography_from_corners(unit, torch.tensor([self.corners], dtype=torch.float64))

    def params(self) -> torch.Tensor:
        """The 8 parameters of :class:`~stn_course.transforms.ProjectiveTransform`: (1, 8) float32."""
        return self.homography().reshape(1, 9)[:, :8].float()

    def warped(self) -> torch.Tensor:
        """What the browser draws, computed by the package: (1, 1, H, W) in [0, 1]."""
        image = self.image_tensor()
        grid = ProjectiveTransform()(self.params(), tuple(image.shape))
        return grid_sample(image, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
