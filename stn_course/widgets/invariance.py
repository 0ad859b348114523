"""The invariance explorer: distort a digit, watch a trained ST-CNN undo it while a CNN does not.

The widget shows a test digit (picked, or drawn with the mouse or a finger) distorted by sliders
the way one of Table 1's recipes does (R and RTS: rotated, scaled and shifted; P: the frame's
four corners moved; TC: shifted on a 60 × 60 canvas among seeded clutter, redrawn with a "new
clutter" button), and, as a slider moves: the θ that the trained ST-CNN's
localisation net chooses, drawn as its sampling window on the distorted input; what the
transformer passes on to its classifier (the rectified digit); and the class probabilities of
the ST-CNN beside those of the CNN baseline trained with the same recipe. The models are the
benchmark's (``results/table1``, float16 weights, see :func:`stn_course.invariance.load_trained`).

**Inference runs in the page, with the course's own kernels** (``static/nn.js``: convolution,
max-pooling, ReLU, linear, softmax; the affine grid and bilinear sampler are ``static/warp.js``,
the same one the θ explorer draws with), not with ONNX Runtime Web. Two reasons:

* *page weight*: ONNX Runtime Web (1.31.1 on npm) needs its WebAssembly build, 14.8 MB for
  the smallest (``ort-wasm-simd-threaded.wasm``), plus about 80 KB of JavaScript, and an ONNX
  export of each model; ``nn.js`` is under 8 KB, the whole widget module (kernels, sampler,
  drawing, page) about 32 KB, so what a page carries is the weights themselves;
* *teaching*: every operation the networks perform fits on a screen of plain loops that a
  reader can open and compare with the chapters, where a runtime would be a black box. The
  models are small (about 170,000 parameters each), so plain loops keep up with a slider.

**The weights travel in the widget's state**, as one float16 buffer (``weights``, base64 in
the static page's embedded state; a binary message in JupyterLab), with ``graph`` describing
each model as a list of operations and where each tensor starts in the buffer. That works the
same in JupyterLab and in the static book, with no file to serve; the price is that every page
carrying an explorer carries the weights once (about 0.67 MB for the RTS pair, 0.9 MB as
base64; about 0.54 MB for P's, 1.0 MB for TC's), where a file the book serves would be cached
between pages.

**Exact agreement with PyTorch**: the widget rounds every weight to float16 once (the recorded
weights already are) and the Python side computes with those same values upcast to float32,
so ``w.theta`` and ``w.probabilities`` (computed here with PyTorch whenever the digit or a
distortion changes) agree with what the page computes, to float32 rounding; with a kernel
behind it, the page writes its own values back after each change. P's canvas is warped by the
same homography in both (``static/recipes.js``); TC's clutter is drawn from ``clutter_seed`` by
the same small generator (:mod:`stn_course.clutter_seed`) and pasted at whole pixels, so Python
and the page build the same 60 × 60 canvas, pixel for pixel.
"""

from __future__ import annotations

import copy
import math

import anywidget
import numpy as np
import torch
import traitlets as t
from ipywidgets.widgets.trait_types import bytes_serialization
from torch import nn

from .. import invariance
from ..clutter_seed import MAX_SEED
from ..localization import RegressionHead
from ..models import INPUT_SIZE
from .base import STATIC, bundle_esm, gray_uint8

__all__ = ["InvarianceExplorer", "export_graph"]

#: The recipes whose trained pair the explorer runs, and the controls each one has.
DISTORTIONS = ("R", "RTS", "P", "TC")
CONTROLS = {"R": ("angle", "scale", "shift"), "RTS": ("angle", "scale", "shift"),
            "P": ("scale", "corners"), "TC": ("shift", "clutter", "clutter_seed")}
#: What the sliders and Python accept: angle in degrees, scale, shift in pixels (± half the canvas;
#: whole pixels within TC's room of 16), P's corner shifts in pixels, TC's number of clutter pieces.
ANGLE_RANGE = (-180.0, 180.0)
SCALE_RANGE = (0.4, 2.0)
P_SCALE_RANGE = (0.6, 1.2)   # P draws its scale in [0.75, 1]
CORNER_RANGE = 10.0          # P moves each corner by a normal with a 5 px standard deviation: ±2σ
CLUTTER_RANGE = (0, 12)      # TC pastes 6 pieces
MODEL_NAMES = ("st-cnn-aff", "cnn")


def _leaf_ops(module: nn.Module, tensors: list[torch.Tensor], where: str) -> list[dict]:
    """The layers of ``module``, in the order its forward runs them, as ops for ``static/nn.js``.

    Each op is a dict: ``{"op": "conv", "weight": i, "bias": j, "pad": p}``, ``{"op": "relu"}``,
    ``{"op": "maxpool", "size": k}``, ``{"op": "flatten"}`` or ``{"op": "linear", "weight": i,
    "bias": j}``; ``i``, ``j`` index ``tensors`` (appended to here).
    """
    def add(tensor: torch.Tensor) -> int:
        tensors.append(tensor.detach().float().cpu())
        return len(tensors) - 1

    ops: list[dict] = []
    for name, layer in module.named_modules():
        if isinstance(layer, RegressionHead) and layer.bound is not None:
            raise ValueError(f"{where}.{name}: a bounded regression head (tanh) is not supported in the page")
        if any(True for _ in layer.children()):
            continue
        if isinstance(layer, nn.Conv2d):
            k = layer.kernel_size
            if (layer.stride != (1, 1) or layer.dilation != (1, 1) or layer.groups != 1 or k[0] != k[1]
                    or layer.padding != (k[0] // 2, k[0] // 2) or layer.bias is None or k[0] % 2 == 0):
                raise ValueError(f"{where}.{name}: only odd square convolutions with stride 1, 'same' padding "
                                 f"and a bias run in the page, got {layer}")
            ops.append({"op": "conv", "weight": add(layer.weight), "bias": add(layer.bias), "pad": k[0] // 2})
        elif isinstance(layer, nn.ReLU):
            ops.append({"op": "relu"})
        elif isinstance(layer, nn.MaxPool2d):
            if layer.kernel_size != layer.stride or layer.padding != 0 or layer.dilation != 1 or layer.ceil_mode:
                raise ValueError(f"{where}.{name}: only non-overlapping max-pooling runs in the page, got {layer}")
            ops.append({"op": "maxpool", "size": int(layer.kernel_size)})
        elif isinstance(layer, nn.Flatten):
            ops.append({"op": "flatten"})
        elif isinstance(layer, nn.Linear):
            if layer.bias is None:
                raise ValueError(f"{where}.{name}: a linear layer without a bias is not supported in the page")
            ops.append({"op": "linear", "weight": add(layer.weight), "bias": add(layer.bias)})
        else:
            raise TypeError(f"{where}.{name}: the page has no kernel for {type(layer).__name__}")
    return ops


def export_graph(models: dict[str, nn.Module]) -> tuple[dict, bytes]:
    """Describe ``models`` for the page: (graph, float16 weights).

    ``graph`` = ``{"models": {name: {"localization": ops or None, "out_size": [H, W] or None,
    "classifier": ops}}, "tensors": [{"shape": [...], "offset": o}, ...]}``: an ST model is
    an affine transformer (``model.transformer``) then ``model.classifier``; any other model is
    one classifier. ``offset`` counts float16 values into the returned bytes (little-endian).
    """
    if not isinstance(models, dict) or not models:
        raise TypeError(f"models must be a non-empty dict name -> nn.Module, got {type(models).__name__}")
    tensors: list[torch.Tensor] = []
    described = {}
    for name, model in models.items():
        if not isinstance(model, nn.Module):
            raise TypeError(f"models[{name!r}] must be an nn.Module, got {type(model).__name__}")
        transformer = getattr(model, "transformer", None)
        if transformer is None:
            described[name] = {"localization": None, "out_size": None,
                               "classifier": _leaf_ops(model, tensors, name)}
            continue
        if type(transformer.transform).__name__ != "AffineTransform" or transformer.sampler != "bilinear" \
                or transformer.padding_mode != "zeros" or transformer.align_corners:
            raise ValueError(f"models[{name!r}]: the page runs affine transformers with bilinear sampling, zero "
                             f"padding and align_corners=False, got {transformer.extra_repr()}")
        described[name] = {
            "localization": _leaf_ops(transformer.localization, tensors, f"{name}.transformer.localization"),
            "out_size": None if transformer.out_size is None else list(transformer.out_size),
            "classifier": _leaf_ops(model.classifier, tensors, f"{name}.classifier"),
        }
    offset, table = 0, []
    for tensor in tensors:
        table.append({"shape": list(tensor.shape), "offset": offset})
        offset += tensor.numel()
    flat = torch.cat([x.reshape(-1) for x in tensors]).half().numpy().astype("<f2")
    return {"models": described, "tensors": table}, flat.tobytes()


def _rounded_to_half(model: nn.Module) -> nn.Module:
    """A float32 copy of ``model`` whose floating-point weights are rounded to float16 (what the page gets)."""
    model = copy.deepcopy(model).float().eval()
    with torch.no_grad():
        for tensor in [*model.parameters(), *model.buffers()]:
            if tensor.is_floating_point():
                tensor.copy_(tensor.half().float())
    return model


def _test_digits(count: int = 10) -> tuple[torch.Tensor, list[int]]:
    """The first MNIST test digit of each class 0 … count−1: (count, 1, 28, 28) and their labels."""
    from ..data import mnist_tensors

    images, labels = mnist_tensors(train=False)
    picks = [int((labels == c).nonzero()[0]) for c in range(count)]
    return images[picks], [int(labels[i]) for i in picks]


class InvarianceExplorer(anywidget.AnyWidget):
    """A trained ST-CNN and its CNN baseline, live: distort a digit and compare what they see and say.

    Everything is computed in the browser (``static/invariance_explorer.js``), so the widget
    works in the static book; in a live notebook ``w.angle``, ``w.scale``, ``w.shift``, ``w.corners``,
    ``w.clutter``, ``w.clutter_seed``, ``w.digit`` set the distortion from Python (each explorer
    only those of its recipe, :data:`CONTROLS`) and ``w.theta`` (2, 3), ``w.probabilities``
    (``{name: 10 floats}``) read what the models make of it.

    Args:
        digits: the digits to pick from, (K, 1, 28, 28) or (K, 28, 28); uint8, or float in [0, 1].
            Default: the first MNIST test digit of each class.
        labels: their K labels (ints 0–9); required with ``digits``.
        distortion: whose trained pair, canvas and controls: "RTS" (42 × 42, the default), "R"
            (28 × 28), "P" (28 × 28) or "TC" (60 × 60); fixed for the widget's life.
        models: ``{"st-cnn-aff": ..., "cnn": ...}`` to use instead of the recorded ones.
        angle: degrees in [−180, 180]; positive turns the digit counter-clockwise.
        scale: the digit's size relative to MNIST's, in [0.4, 2] (P: in [0.6, 1.2]).
        shift: (x, y) pixels from the canvas centre, each within half the canvas (TC: whole
            pixels in [−16, 16]).
        corners: P only: (4, 2) pixels by which the frame's corners (top-left, top-right,
            bottom-right, bottom-left) move, each in [−10, 10]; they must keep it convex.
        clutter: TC only: how many 6 × 6 pieces of other digits, 0 to 12 (the recipe: 6).
        clutter_seed: TC only: which clutter (an int in [0, 2³² − 1]); the same seed, the same
            pieces, in Python and in the page.
        digit: which of ``digits`` to show first (default: the 7 of the test digits, else the first).
        zoom: screen pixels per canvas pixel of the input picture (default: about 210 px across).

    Example:
        >>> w = InvarianceExplorer(angle=60)
        >>> w.probabilities["cnn"][w.label], w.probabilities["st-cnn-aff"][w.label]
        >>> tc = InvarianceExplorer(distortion="TC", shift=(9, -4), clutter_seed=3)
    """

    _esm = bundle_esm("invariance_explorer.js")
    _css = (STATIC / "widgets.css").read_text(encoding="utf-8") + (STATIC / "invariance.css").read_text(encoding="utf-8")

    digits = t.Bytes(b"").tag(sync=True)           # K·28·28 uint8, row-major
    labels = t.List(t.Int()).tag(sync=True)
    digit = t.Int(0).tag(sync=True)                # index into digits; -1: drawn in the page
    image = t.Bytes(b"").tag(sync=True, **bytes_serialization)  # the digit shown: 28·28 uint8
    size = t.Int(42).tag(sync=True)                # the canvas, S × S
    distortion = t.Unicode("RTS").tag(sync=True)   # which recipe's controls the page shows
    angle = t.Float(0.0).tag(sync=True)
    scale = t.Float(1.0).tag(sync=True)
    tx = t.Float(0.0).tag(sync=True)
    ty = t.Float(0.0).tag(sync=True)
    corners = t.List(t.List(t.Float()), default_value=[[0.0, 0.0]] * 4).tag(sync=True)  # P: (4, 2) px
    clutter = t.Int(6).tag(sync=True)              # TC: pieces of other digits
    clutter_seed = t.Int(0).tag(sync=True)         # TC: which pieces, where
    zoom = t.Int(5).tag(sync=True)
    weights = t.Bytes(b"").tag(sync=True)          # float16, little-endian, see graph["tensors"]
    graph = t.Dict().tag(sync=True)
    theta = t.List(t.List(t.Float())).tag(sync=True)
    probabilities = t.Dict().tag(sync=True)

    def __init__(self, digits=None, labels=None, *, distortion: str = "RTS", models: dict | None = None,
                 angle: float = 0.0, scale: float = 1.0, shift=(0.0, 0.0), corners=None, clutter: int = 6,
                 clutter_seed: int = 0, digit: int | None = None, zoom: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        if distortion not in DISTORTIONS:
            raise ValueError(f"distortion must be one of {list(DISTORTIONS)}, got {distortion!r}")
        self.distortion = distortion
        if models is None:
            models = {name: invariance.load_trained(name, distortion) for name in MODEL_NAMES}
        if not isinstance(models, dict) or sorted(models) != sorted(MODEL_NAMES):
            raise ValueError(f"models must be a dict with keys {list(MODEL_NAMES)}, got "
                             f"{sorted(models) if isinstance(models, dict) else type(models).__name__}")
        self._models = {name: _rounded_to_half(m) for name, m in models.items()}
        graph, weights = export_graph(self._models)
        if digits is None:
            if labels is not None:
                raise ValueError("labels were given without digits: pass both, or neither")
            digits, labels = _test_digits()
            digit = 7 if digit is None else digit  # a 7: a rotation shows on it at once
        digit = 0 if digit is None else digit
        array, labels = self._check_digits(digits, labels)
        if distortion == "TC" and len(array) < 2:
            raise ValueError(f"digits must hold at least 2 digits for TC (its clutter is cut from the others), "
                             f"got {len(array)}")
        shift = self._check_shift(shift)
        if zoom is not None and (not isinstance(zoom, int) or isinstance(zoom, bool) or zoom < 1):
            raise ValueError(f"zoom must be a positive int or None, got {zoom!r}")
        with self.hold_sync():
            self.size = INPUT_SIZE[distortion]
            self.zoom = zoom or max(1, round(210 / self.size))
            self.graph, self.weights = graph, weights
            self.digits, self.labels = array.tobytes(), labels
            self.angle, self.scale = angle, scale
            self.tx, self.ty = shift
            self.corners = [[0.0, 0.0]] * 4 if corners is None else corners
            self.clutter, self.clutter_seed = clutter, clutter_seed
            self.digit = digit
            self.image = self.digit_array(digit).tobytes()  # fires _update: θ and probabilities

    # -- validation ------------------------------------------------------------------------
    @staticmethod
    def _check_digits(digits, labels) -> tuple[np.ndarray, list[int]]:
        array = digits.detach().cpu().numpy() if isinstance(digits, torch.Tensor) else np.asarray(digits)
        if array.ndim == 4 and array.shape[1] == 1:
            array = array[:, 0]
        if array.ndim != 3 or array.shape[1:] != (28, 28) or array.shape[0] < 1:
            raise ValueError(f"digits must have shape (K, 1, 28, 28) or (K, 28, 28) with K >= 1, "
                             f"got {tuple(np.shape(digits))}")
        array = np.stack([gray_uint8(d, name="digits") for d in array])
        if labels is None or len(labels) != len(array):
            raise ValueError(f"labels must hold one int 0-9 per digit ({len(array)}), got {labels!r}")
        labels = [int(v) for v in labels]
        if any(not 0 <= v <= 9 for v in labels):
            raise ValueError(f"labels must be ints 0-9, got {labels}")
        return array, labels

    def _check_shift(self, shift) -> tuple[float, float]:
        if not isinstance(shift, (tuple, list)) or len(shift) != 2:
            raise ValueError(f"shift must be a pair (x, y) of pixels, got {shift!r}")
        return float(shift[0]), float(shift[1])

    def _unused(self, name: str, value, neutral, control: str | None = None):
        """``value`` when it is ``neutral``; else a ValueError: ``name`` is no control of this recipe."""
        if value != neutral:
            users = [d for d, names in CONTROLS.items() if (control or name) in names]
            users = f"{', '.join(users[:-1])} and {users[-1]}" if len(users) > 1 else users[0]
            raise ValueError(f"{name} is a control of {users} only; this explorer shows {self.distortion}, "
                             f"got {name}={value!r}")
        return value

    @t.validate("distortion")
    def _valid_distortion(self, proposal) -> str:
        if self._models and proposal["value"] != self.distortion:
            raise ValueError(f"distortion is fixed when the explorer is made (its models and canvas), "
                             f"got {proposal['value']!r}: make a new InvarianceExplorer(distortion=...)")
        return proposal["value"]

    @t.validate("angle")
    def _valid_angle(self, proposal) -> float:
        value = _in_range(proposal["value"], *ANGLE_RANGE, "angle must be degrees in")
        return value if "angle" in CONTROLS[self.distortion] else self._unused("angle", value, 0.0)

    @t.validate("scale")
    def _valid_scale(self, proposal) -> float:
        if self.distortion == "TC":
            return self._unused("scale", float(proposal["value"]), 1.0)
        if self.distortion == "P":
            value = _in_range(proposal["value"], *P_SCALE_RANGE, "scale must be in")
            self._check_convex(value, self.corners)
            return value
        return _in_range(proposal["value"], *SCALE_RANGE, "scale must be in")

    @t.validate("tx", "ty")
    def _valid_shift(self, proposal) -> float:
        name = "shift[0] (tx)" if proposal["trait"].name == "tx" else "shift[1] (ty)"
        if self.distortion == "P":
            return self._unused(name, float(proposal["value"]), 0.0, "shift")
        if self.distortion == "TC":
            value, room = proposal["value"], (self.size - 28) // 2
            if float(value) != round(float(value)) or not -room <= value <= room:
                raise ValueError(f"{name} must be whole pixels in [-{room}, {room}] for TC, got {value!r}")
            return float(value)
        return _in_range(proposal["value"], -self.size / 2, self.size / 2, f"{name} must be pixels in")

    @t.validate("corners")
    def _valid_corners(self, proposal) -> list[list[float]]:
        value = proposal["value"]
        array = np.asarray(value, dtype=float) if isinstance(value, (list, tuple, np.ndarray, torch.Tensor)) else None
        if array is None or array.shape != (4, 2) or not np.isfinite(array).all():
            raise ValueError(f"corners must be 4 (x, y) pixel shifts, shape (4, 2), got {value!r}")
        corners = array.tolist()
        if self.distortion != "P":
            return self._unused("corners", corners, [[0.0, 0.0]] * 4)
        if np.abs(array).max() > CORNER_RANGE:
            raise ValueError(f"corners must be shifts in [-{CORNER_RANGE:g}, {CORNER_RANGE:g}] pixels, got {corners}")
        self._check_convex(self.scale, corners)
        return corners

    def _check_convex(self, scale: float, corners) -> None:
        if not invariance.is_convex(invariance.corner_positions(scale, corners)):
            raise ValueError(f"corners must keep P's frame convex, in its order (the recipe redraws a folded "
                             f"frame); scale={scale:g} with corners={corners} folds it")

    @t.validate("clutter")
    def _valid_clutter(self, proposal) -> int:
        value = proposal["value"]
        if self.distortion != "TC":
            return self._unused("clutter", value, 6)
        if not CLUTTER_RANGE[0] <= value <= CLUTTER_RANGE[1]:
            raise ValueError(f"clutter must be a number of pieces in {list(CLUTTER_RANGE)}, got {value!r}")
        return value

    @t.validate("clutter_seed")
    def _valid_clutter_seed(self, proposal) -> int:
        value = proposal["value"]
        if self.distortion != "TC":
            return self._unused("clutter_seed", value, 0)
        if not 0 <= value <= MAX_SEED:
            raise ValueError(f"clutter_seed must be an int in [0, {MAX_SEED}], got {value!r}")
        return value

    @t.validate("digit")
    def _valid_digit(self, proposal) -> int:
        value, count = proposal["value"], len(self.digits) // 784
        if not (-1 <= value < max(count, 1)):
            raise ValueError(f"digit must be an index in 0..{count - 1} (or -1: drawn), got {value!r}")
        return value

    @t.validate("image")
    def _valid_image(self, proposal) -> bytes:
        value = bytes(proposal["value"])
        if len(value) != 784:
            raise ValueError(f"image must be 28·28 = 784 uint8 bytes, got {len(value)}")
        return value

    # -- what the page shows, computed by the package -----------------------------------------
    @property
    def shift(self) -> tuple[float, float]:
        """(x, y) pixels from the canvas centre."""
        return (self.tx, self.ty)

    @shift.setter
    def shift(self, value) -> None:
        x, y = self._check_shift(value)
        with self.hold_trait_notifications():
            self.tx, self.ty = x, y

    @property
    def label(self) -> int | None:
        """The label of the digit shown (None for a drawn one)."""
        return None if self.digit < 0 else self.labels[self.digit]

    def digit_array(self, index: int) -> np.ndarray:
        """Digit ``index`` of the picker: (28, 28) uint8."""
        return np.frombuffer(self.digits, dtype=np.uint8).reshape(-1, 28, 28)[index]

    def image_tensor(self) -> torch.Tensor:
        """The digit shown, (1, 1, 28, 28) float32 in [0, 1]."""
        return torch.from_numpy(np.frombuffer(self.image, dtype=np.uint8).astype(np.float32) / 255.0).view(1, 1, 28, 28)

    def distorted(self) -> torch.Tensor:
        """The distorted input both models see: (1, 1, S, S) in [0, 1]."""
        if self.distortion == "P":
            return invariance.distort_projective(self.image_tensor(), self.scale, self.corners)
        if self.distortion == "TC":
            pool = torch.from_numpy(np.frombuffer(self.digits, dtype=np.uint8).astype(np.float32) / 255.0)
            return invariance.distort_cluttered(self.image_tensor(), (int(self.tx), int(self.ty)),
                                                pool=pool.view(-1, 1, 28, 28), own=self.digit,
                                                seed=self.clutter_seed, pieces=self.clutter)
        return invariance.distort(self.image_tensor(), self.angle, self.scale, self.shift, distortion=self.distortion)

    def rectified(self) -> torch.Tensor:
        """What the ST-CNN's transformer passes on to its classifier: (1, 1, H_out, W_out)."""
        with torch.no_grad():
            return self._models["st-cnn-aff"].transformer(self.distorted())

    @t.observe("digit")
    def _on_digit(self, change) -> None:
        if change["new"] >= 0:
            self.image = self.digit_array(change["new"]).tobytes()

    @t.observe("image", "digit", "angle", "scale", "tx", "ty", "corners", "clutter", "clutter_seed")
    def _on_input(self, change) -> None:
        self._update()

    def _update(self) -> None:
        """Recompute ``theta`` and ``probabilities`` with PyTorch for the current digit and distortion."""
        if len(self.image) != 784 or not self._models:
            return
        x = self.distorted()
        probabilities, theta = {}, None
        for name, model in self._models.items():
            p, th = invariance.predict(model, x)
            probabilities[name] = [float(v) for v in p[0]]
            if th is not None:
                theta = [[float(v) for v in row] for row in th[0]]
        with self.hold_sync():
            self.theta = theta
            self.probabilities = probabilities

    _models: dict = {}


def _in_range(value, lo: float, hi: float, what: str) -> float:
    """``value`` as a float when finite and in [lo, hi]; else a ValueError "<what> [lo, hi], got …"."""
    value = float(value)
    if not (math.isfinite(value) and lo <= value <= hi):
        raise ValueError(f"{what} [{lo:g}, {hi:g}], got {value!r}")
    return value
