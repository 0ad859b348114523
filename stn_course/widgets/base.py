"""What every course widget shares: bundling its JavaScript, and an image sent as bytes.

The widgets are anywidgets whose JavaScript does the warping itself (``static/warp.js``:
the same grid + bilinear sampler as :mod:`stn_course.grid` and :mod:`stn_course.sampler`),
so they keep working in the static book, where no Python kernel runs. A widget's ES module
may import the shared helpers with ``import { … } from "./warp.js";``: :func:`bundle_esm`
inlines such imports, because the browser loads the widget's code from a string, where
relative imports cannot be resolved.
"""

from __future__ import annotations

import re
from pathlib import Path

import anywidget
import numpy as np
import torch
import traitlets as t

STATIC = Path(__file__).parent / "static"
_IMPORT = re.compile(r'^import\s*\{[^}]*\}\s*from\s*"\./([\w.-]+\.js)";\s*$', re.MULTILINE)


def bundle_esm(entry: str, static: Path = STATIC) -> str:
    """The ES module ``static/<entry>`` with its relative imports inlined (each file once)."""
    seen: set[str] = set()

    def inline(name: str) -> str:
        path = static / name
        if not path.is_file():
            raise FileNotFoundError(f"widget module {name!r} not found in {static}")
        seen.add(name)

        def replace(match: re.Match) -> str:
            dep = match.group(1)
            return "" if dep in seen else f"// ---- {dep} ----\n{inline(dep)}// ---- end of {dep} ----\n"

        return _IMPORT.sub(replace, path.read_text(encoding="utf-8"))

    return inline(entry)


def gray_uint8(image, ndim: int = 2, name: str = "image") -> np.ndarray:
    """A grayscale image (``ndim=2``: (H, W)) or volume (``ndim=3``: (D, H, W)) as a uint8 array.

    Accepts a tensor or array of that shape, or with one or two leading axes of size 1 (such as
    (1, 1, H, W)): uint8 as it is, floating point in [0, 1] (scaled by 255 and rounded).
    """
    array = image.detach().cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    shape = array.shape
    while array.ndim > ndim and array.shape[0] == 1:
        array = array[0]
    if array.ndim != ndim or min(array.shape) < 1:
        axes = ("D", "H", "W")[-ndim:]
        forms = [", ".join(("1",) * k + axes) for k in range(3)]
        raise ValueError(f"{name} must have shape ({forms[0]}), ({forms[1]}) or ({forms[2]}), got {shape}")
    if array.dtype == np.uint8:
        return np.ascontiguousarray(array)
    if not np.issubdtype(array.dtype, np.floating):
        raise TypeError(f"{name} must be uint8 or floating point in [0, 1], got dtype {array.dtype}")
    if np.nanmin(array) < 0 or np.nanmax(array) > 1:
        raise ValueError(f"a floating-point {name} must lie in [0, 1], got values in "
                         f"[{np.nanmin(array):.3g}, {np.nanmax(array):.3g}]")
    return np.round(np.nan_to_num(array) * 255).astype(np.uint8)


def float_matrix(value, name: str, rows: int | None, cols: int, want: str | None = None) -> list[list[float]]:
    """A finite (rows, cols) matrix, given as a tensor, an array or nested lists, optionally with
    a leading axis of size 1, as nested lists of floats (what a trait syncs). ``rows=None``
    accepts any number of rows; ``want`` says the accepted shapes in the error."""
    array = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value, dtype=float)
    shape = array.shape
    if array.ndim == 3 and shape[0] == 1:
        array = array[0]
    if array.ndim != 2 or array.shape[1] != cols or (rows is not None and array.shape[0] != rows):
        want = want or f"({'K' if rows is None else rows}, {cols})"
        raise ValueError(f"{name} must have shape {want}, got {shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite, got {array.tolist()}")
    return [[float(v) for v in row] for row in array]


class ImageWidget(anywidget.AnyWidget):
    """Base of the course's widgets: a grayscale image sent to the browser as bytes.

    Traits synced with the browser: ``image`` (H·W bytes, row-major uint8), ``width``,
    ``height``, ``zoom`` (screen pixels per image pixel), ``margin`` (how much of the area
    around the input to show, in normalised units) and ``grid_lines`` (at most this many grid
    lines per axis are drawn).
    """

    _css = (STATIC / "widgets.css").read_text(encoding="utf-8")
    image = t.Bytes(b"").tag(sync=True)
    width = t.Int(0).tag(sync=True)
    height = t.Int(0).tag(sync=True)
    zoom = t.Int(8).tag(sync=True)
    margin = t.Float(0.5).tag(sync=True)
    grid_lines = t.Int(14).tag(sync=True)

    def __init__(self, image, *, zoom: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.set_image(image)
        if zoom is None:
            zoom = max(1, round(224 / max(self.width, self.height)))
        self.zoom = zoom

    def set_image(self, image) -> None:
        """Show a new image (see :func:`gray_uint8` for what is accepted)."""
        array = gray_uint8(image)
        with self.hold_sync():
            self.height, self.width = array.shape
            self.image = array.tobytes()

    def image_array(self) -> np.ndarray:
        """The image as the browser sees it: (H, W) uint8."""
        return np.frombuffer(self.image, dtype=np.uint8).reshape(self.height, self.width)

    def image_tensor(self) -> torch.Tensor:
        """The image as a (1, 1, H, W) float32 tensor in [0, 1], ready for the sampler."""
        return torch.from_numpy(self.image_array().astype(np.float32) / 255.0)[None, None]
