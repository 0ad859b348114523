"""The control-point explorer: drag the control points of a thin-plate spline, watch it warp an image."""

from __future__ import annotations

import math

import torch
import traitlets as t

from ..sampler import grid_sample
from ..transforms import TPSTransform
from .base import STATIC, ImageWidget, bundle_esm, float_matrix


class OffsetsTrait(t.TraitType):
    """K (dx, dy) control-point offsets synced as a nested list; accepts tensors, arrays and lists."""

    default_value = [[0.0, 0.0] for _ in range(16)]
    info_text = "K (dx, dy) offsets"

    def validate(self, obj, value):
        points = float_matrix(value, "offsets", None, 2)
        k = getattr(obj, "num_control_points", len(points))
        if len(points) != k:
            raise ValueError(f"offsets must have shape ({k}, 2) for {k} control points, got ({len(points)}, 2)")
        return points


class TPSExplorer(ImageWidget):
    """An image and a thin-plate-spline warp set by dragging its control points — computed in the browser.

    The K control points sit on a regular √K × √K grid over the output
    (:func:`stn_course.grid.tps_control_points`); control point c_k samples the input at
    ``c_k + offsets[k]`` and the spline interpolates between them
    (:func:`stn_course.grid.tps_grid`). The left panel shows the output V, the right one the
    input U with the sampling grid, the control points' home positions (blue) and the red
    handles to drag. "random warp" draws offsets from a normal with standard deviation
    ``sigma`` (normalised units), like the elastic distortion. It works in the static book
    too; in a live notebook ``w.offsets`` reads and sets the offsets from Python.

    Args:
        image: grayscale (H, W), (1, H, W) or (1, 1, H, W); uint8, or float in [0, 1].
        offsets: the starting offsets, (K, 2); zeros (the identity) by default.
        num_control_points: K, a perfect square ≥ 4 (16 as in the paper).
        sigma: the random warp's standard deviation.
        zoom: screen pixels per image pixel (default: about 224 pixels across).
    """

    _esm = bundle_esm("tps_explorer.js")
    _css = ImageWidget._css + (STATIC / "handles.css").read_text(encoding="utf-8")
    num_control_points = t.Int(16).tag(sync=True)
    offsets = OffsetsTrait().tag(sync=True)
    sigma = t.Float(0.15).tag(sync=True)

    def __init__(self, image, offsets=None, *, num_control_points: int = 16, sigma: float = 0.15,
                 zoom: int | None = None, **kwargs) -> None:
        side = math.isqrt(num_control_points) if isinstance(num_control_points, int) and num_control_points > 0 else 0
        if side < 2 or side * side != num_control_points:
            raise ValueError(f"num_control_points must be a perfect square >= 4, got {num_control_points!r}")
        if not sigma > 0:
            raise ValueError(f"sigma must be positive, got {sigma!r}")
        super().__init__(image, zoom=zoom, **kwargs)
        with self.hold_trait_notifications():
            self.num_control_points = num_control_points
            self.offsets = offsets if offsets is not None else [[0.0, 0.0]] * num_control_points
        self.sigma = sigma

    def params(self) -> torch.Tensor:
        """The parameters of :class:`~stn_course.transforms.TPSTransform`: (1, 2K) float32."""
        return torch.tensor(self.offsets, dtype=torch.float32).reshape(1, -1)

    def warped(self) -> torch.Tensor:
        """What the browser draws, computed by the package: (1, 1, H, W) in [0, 1]."""
        image = self.image_tensor()
        grid = TPSTransform(self.num_control_points)(self.params(), tuple(image.shape))
        return grid_sample(image, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
