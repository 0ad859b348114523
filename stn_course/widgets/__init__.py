"""Widgets of the course, live in JupyterLab and in the static book.

- :class:`ThetaExplorer`: sliders for the affine θ (raw entries and angle/scale/shear/
  translation), the warped image and the sampling grid T_θ(G) over the input.
- :class:`InvarianceExplorer` (chapters 1 and 6 and the landing page: RTS; chapter 8: P and TC):
  distort a test digit (or draw one) as a Table 1 recipe does and watch the trained ST-CNN's
  window, its rectified digit and its class probabilities beside the CNN's, the networks run in
  the page by ``static/nn.js``.
- :class:`~stn_course.widgets.volume.VolumeExplorer` (chapter 11): yaw/pitch/roll/scale
  sliders for a 3D θ, the warped volume's projection along depth and the sampling box.

Each is an `anywidget <https://anywidget.dev>`_ whose JavaScript (``static/``) warps the
image itself with the same maths as :mod:`stn_course.grid` and :mod:`stn_course.sampler`;
:mod:`stn_course.widgets.base` holds what they share. New widgets (projective corners, TPS
control points) subclass :class:`~stn_course.widgets.base.ImageWidget` and import the
sampler from ``static/warp.js``.
"""

from .base import ImageWidget, bundle_esm, gray_uint8
from .invariance import InvarianceExplorer
from .theta import ThetaExplorer

__all__ = ["ImageWidget", "InvarianceExplorer", "ThetaExplorer", "bundle_esm", "gray_uint8"]
