"""The 3D θ explorer: yaw, pitch, roll and scale sliders turn a volume; watch its projection to 2D."""

from __future__ import annotations

import anywidget
import numpy as np
import torch
import traitlets as t

from ..geometry import decompose_theta3d
from ..grid import affine_grid
from ..sampler import trilinear
from ..transformer3d import project
from .base import STATIC, bundle_esm, float_matrix, gray_uint8


class Theta3DTrait(t.TraitType):
    """A 3×4 θ synced as a nested list; accepts tensors, arrays and nested lists."""

    default_value = [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]]
    info_text = "a 3x4 affine matrix"

    def validate(self, obj, value):
        return float_matrix(value, "theta", 3, 4, want="(3, 4) or (1, 3, 4)")


class VolumeExplorer(anywidget.AnyWidget):
    """A volume, a 3D θ, and the projection of the warped volume — computed in the browser.

    The left panel is what a 3D transformer hands to a 2D network (the paper's appendix A.3):
    the volume sampled at ``T_θ(G)`` (trilinear, zero padding, ``align_corners=False``, output
    the size of the input) and summed along depth, shown divided by ``norm``. The right panel
    draws the input volume in an oblique view (its bright voxels), the input's cube (grey), the
    sampling box T_θ of the output cube (orange) and the line of sight of the projection
    (blue: θ's third column through the box's centre). Sliders set yaw, pitch, roll, scale
    and translation, composed as :func:`stn_course.geometry.theta3d_from`. It works in the
    static book too; in a live notebook ``w.theta`` reads and sets θ from Python.

    Args:
        volume: grayscale (D, H, W), (1, D, H, W) or (1, 1, D, H, W); uint8, or float in [0, 1].
        theta: the starting θ, (3, 4) or (1, 3, 4); the identity by default.
        zoom: screen pixels per projection pixel (default: about 224 pixels across).

    Traits synced with the browser: ``volume`` (D·H·W bytes, z then y then x), ``depth``,
    ``height``, ``width``, ``theta``, ``zoom`` and ``norm``: the projection's display scale,
    by default the brightest pixel of the identity's projection, so that it shows as white.
    """

    _esm = bundle_esm("volume_explorer.js")
    _css = (STATIC / "widgets.css").read_text(encoding="utf-8") + (STATIC / "volume.css").read_text(encoding="utf-8")
    volume = t.Bytes(b"").tag(sync=True)
    depth = t.Int(0).tag(sync=True)
    height = t.Int(0).tag(sync=True)
    width = t.Int(0).tag(sync=True)
    zoom = t.Int(8).tag(sync=True)
    norm = t.Float(1.0).tag(sync=True)
    theta = Theta3DTrait().tag(sync=True)

    def __init__(self, volume, theta=None, *, zoom: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.set_volume(volume)
        if theta is not None:
            self.theta = theta
        if zoom is not None and (not isinstance(zoom, int) or isinstance(zoom, bool) or zoom < 1):
            raise ValueError(f"zoom must be a positive int or None, got {zoom!r}")
        self.zoom = zoom or max(1, round(224 / max(self.width, self.height)))

    def set_volume(self, volume) -> None:
        """Show a new volume (see :func:`~stn_course.widgets.base.gray_uint8` with ``ndim=3`` for what is accepted)."""
        array = gray_uint8(volume, ndim=3, name="volume")
        brightest = float(array.astype(np.float64).sum(axis=0).max()) / 255.0
        with self.hold_sync():
            self.depth, self.height, self.width = array.shape
            self.volume = array.tobytes()
            self.norm = brightest if brightest > 0 else 1.0

    def volume_array(self) -> np.ndarray:
        """The volume as the browser sees it: (D, H, W) uint8."""
        return np.frombuffer(self.volume, dtype=np.uint8).reshape(self.depth, self.height, self.width)

    def volume_tensor(self) -> torch.Tensor:
        """The volume as a (1, 1, D, H, W) float32 tensor in [0, 1]."""
        return torch.from_numpy(self.volume_array().astype(np.float32) / 255.0)[None, None]

    def theta_tensor(self) -> torch.Tensor:
        """θ as a (1, 3, 4) float32 tensor."""
        return torch.tensor([self.theta], dtype=torch.float32)

    def parameters(self) -> dict[str, float]:
        """θ decomposed into yaw, pitch, roll (radians), scale, tx, ty, tz."""
        parts = decompose_theta3d(self.theta_tensor().double())
        return {k: float(v[0]) for k, v in parts.items()}

    def warped(self) -> torch.Tensor:
        """The volume sampled at T_θ(G): (1, 1, D, H, W), with the package's grid and trilinear sampler."""
        vol = self.volume_tensor()
        return trilinear(vol, affine_grid(self.theta_tensor(), list(vol.shape)), "zeros", False)

    def projection(self) -> torch.Tensor:
        """What the browser draws, computed by the package: (1, 1, H, W) in [0, 1]."""
        return (project(self.warped()) / self.norm).clamp(0.0, 1.0)
