"""Invariance, measured on the trained models: a Table 1 pair, a digit distorted by chosen parameters, sweeps.

Chapter 1 asks whether a CNN is invariant to rotation, scale and translation; chapter 6 answers
with a spatial transformer. This module holds what both need to put the *trained* benchmark
models (``results/table1``: ST-CNN Aff and its CNN baseline, float16 weights) in front of a
reader:

* :func:`load_trained` builds a Table 1 model and loads its recorded weights, upcast to float32;
* :func:`distort` renders digits with a *given* rotation, scale and shift, the way the RTS
  recipe places a digit on its canvas (:func:`stn_course.distortions.placement_theta`);
  :func:`distort_projective` and :func:`distort_cluttered` render P's corners and TC's clutter
  with given parameters, through the recipes themselves;
* :func:`predict` runs a model and returns its class probabilities and, for an ST-CNN, the θ
  its localisation net chose;
* :func:`accuracy_sweep` measures accuracy against one distortion parameter.

The invariance explorer (:class:`stn_course.widgets.InvarianceExplorer`) runs the same models
in the browser and agrees with these functions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import nn

from . import distortions
from ._checks import check_choice, check_int, check_real, check_tensor
from .benchmark.records import RESULTS_DIR, load_weights
from .clutter_seed import clutter_layout
from .distortions import placement_theta
from .grid import affine_grid
from .models import INPUT_SIZE, build_model, normalize_name

__all__ = ["DISTORTIONS", "accuracy_sweep", "corner_positions", "distort", "distort_cluttered", "distort_projective",
           "distortion_theta", "is_convex", "load_trained", "predict"]

#: The distortions whose canvases :func:`distort` renders (rotation / scale / shift only).
DISTORTIONS = ("R", "RTS")


def load_trained(name: str, distortion: str = "RTS", *, schedule: str = "efficient", seed: int = 0,
                 results: str | Path | None = None) -> nn.Module:
    """The Table 1 model ``name`` trained on ``distortion``, in eval mode on the CPU.

    Reads the run record ``<results>/<name>_<distortion>_<schedule>_seed<seed>.json`` (default
    ``results/table1``) and the float16 weights it names, upcast to float32.

    Raises:
        FileNotFoundError: naming the record or weights file that is missing.
    """
    name = normalize_name(name)
    check_choice("distortion", distortion, tuple(INPUT_SIZE))
    check_int("seed", seed, 0)
    folder = Path(results) if results is not None else RESULTS_DIR / "table1"
    path = folder / f"{name}_{distortion}_{schedule}_seed{seed}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no run record {path} (name={name!r}, distortion={distortion!r}, "
                                f"schedule={schedule!r}, seed={seed})")
    record = json.loads(path.read_text())
    if not record.get("weights") or not (folder / record["weights"]).is_file():
        raise FileNotFoundError(f"the record {path} names no weights file that exists "
                                f"(weights={record.get('weights')!r}); train with --save-weights")
    with torch.random.fork_rng(devices=[]):
        model = build_model(name, distortion)
    return load_weights(model, record, folder).eval()


def _as_batch(value: float | Sequence[float] | torch.Tensor, n: int, name: str, width: int = 1) -> torch.Tensor:
    """A scalar (or a pair, for ``width=2``) broadcast to (n,) / (n, 2), or a tensor of that shape, as float32."""
    t = value.detach().float() if isinstance(value, torch.Tensor) else torch.tensor(value, dtype=torch.float32)
    want = (n,) if width == 1 else (n, 2)
    if t.shape == want[1:]:
        t = t.expand(want)
    if tuple(t.shape) != want:
        raise ValueError(f"{name} must be a {'number' if width == 1 else 'pair (x, y)'} or have shape "
                         f"{want}, got {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} must be finite, got {t.tolist()}")
    return t.contiguous()


def distortion_theta(angle: float | Sequence[float] | torch.Tensor, scale=1.0, shift=(0.0, 0.0), *, n: int = 1,
                     distortion: str = "RTS") -> torch.Tensor:
    """The θ (n, 2, 3) that places a 28 × 28 digit on ``distortion``'s canvas, rotated and scaled.

    Args:
        angle: degrees, a number or (n,); positive turns the digit counter-clockwise on screen.
        scale: the digit's size on the canvas relative to MNIST's (1: as in MNIST), a number or (n,).
        shift: (x, y) pixels from the canvas centre, x right and y down; a pair or (n, 2).
        n: the batch size the scalars are broadcast to.
        distortion: "R" (28 × 28 canvas) or "RTS" (42 × 42).
    """
    check_choice("distortion", distortion, DISTORTIONS)
    check_int("n", n, 1)
    angle = _as_batch(angle, n, "angle")
    scale = _as_batch(scale, n, "scale")
    if (scale <= 0).any():
        raise ValueError(f"scale must be > 0, got {scale.tolist()}")
    shift = _as_batch(shift, n, "shift", width=2)
    size = INPUT_SIZE[distortion]
    return placement_theta(torch.deg2rad(angle), scale, shift, (28, 28), (size, size))


def distort(images: torch.Tensor, angle: float | Sequence[float] | torch.Tensor = 0.0, scale=1.0,
            shift=(0.0, 0.0), *, distortion: str = "RTS") -> torch.Tensor:
    """Render digits (N, 1, 28, 28) in [0, 1] rotated, scaled and shifted on ``distortion``'s canvas.

    The same placement as the RTS recipe (:func:`stn_course.distortions.rts` with given
    parameters): bilinear sampling with zero padding, ``align_corners=False``, clamped to [0, 1].
    See :func:`distortion_theta` for the arguments.

    Returns:
        (N, 1, S, S) float32, S = 42 for RTS and 28 for R.
    """
    check_tensor("images", images, floating=True)
    if images.dim() != 4 or tuple(images.shape[1:]) != (1, 28, 28):
        raise ValueError(f"images must have shape (N, 1, 28, 28), got {tuple(images.shape)}")
    n = images.shape[0]
    theta = distortion_theta(angle, scale, shift, n=max(n, 1), distortion=distortion)[:n]
    size = INPUT_SIZE[distortion]
    grid = affine_grid(theta, (n, 1, size, size), align_corners=False)
    out = nn.functional.grid_sample(images.float(), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.clamp_(0.0, 1.0)


def _check_digits(images: torch.Tensor, name: str = "images") -> int:
    check_tensor(name, images, floating=True)
    if images.dim() != 4 or tuple(images.shape[1:]) != (1, 28, 28):
        raise ValueError(f"{name} must have shape (N, 1, 28, 28), got {tuple(images.shape)}")
    return images.shape[0]


def corner_positions(scale: float, corner_shift) -> torch.Tensor:
    """Where P puts the frame's corners: ``scale · (±14, ±14) + corner_shift``, (4, 2) pixels from the centre.

    Args:
        scale: the digit's size (P draws it in [0.75, 1]).
        corner_shift: (4, 2) pixels (x, y) for the corners top-left, top-right, bottom-right,
            bottom-left (:data:`stn_course.distortions.CORNERS`'s order).
    """
    scale = check_real("scale", scale, above=0)
    shift = torch.as_tensor(corner_shift, dtype=torch.float32)
    if tuple(shift.shape) != (4, 2) or not torch.isfinite(shift).all():
        raise ValueError(f"corner_shift must be 4 finite (x, y) pixel pairs, shape (4, 2), got {shift.tolist()}")
    return scale * distortions.CORNERS * 14.0 + shift


def is_convex(corners: torch.Tensor) -> bool:
    """True when the (4, 2) corners form a convex quadrilateral in the frame's order, as P requires."""
    return bool(distortions._convex_same_orientation(corners[None])[0])


def distort_projective(images: torch.Tensor, scale: float = 1.0, corner_shift=((0.0, 0.0),) * 4) -> torch.Tensor:
    """Digits (N, 1, 28, 28) seen as P sees them, with given corners: (N, 1, 28, 28) in [0, 1].

    :func:`stn_course.distortions.projective` with ``corners`` = :func:`corner_positions`
    (bilinear, zero padding, ``align_corners=False``).

    Raises:
        ValueError: naming ``corner_shift`` when the corners fold the frame (P redraws those).
    """
    n = _check_digits(images)
    corners = corner_positions(scale, corner_shift)
    if not is_convex(corners):
        raise ValueError(f"corner_shift must keep the frame convex, in its order (P redraws a folded frame); "
                         f"scale={scale:g} and corner_shift={torch.as_tensor(corner_shift).tolist()} fold it")
    out, _ = distortions.projective(images.float(), params={"corners": corners.expand(n, 4, 2)})
    return out


def distort_cluttered(images: torch.Tensor, shift=(0, 0), *, pool: torch.Tensor, own: int = -1, seed: int = 0,
                      pieces: int = 6) -> torch.Tensor:
    """Digits (N, 1, 28, 28) on TC's 60 × 60 canvas, ``shift`` pixels from its centre, with seeded clutter.

    :func:`stn_course.distortions.cluttered` with the layout :func:`~stn_course.clutter_seed.clutter_layout`
    draws from ``seed`` (the same for every image): ``pieces`` 6 × 6 crops of ``pool`` (K, 1, 28, 28)
    digits other than ``pool[own]`` (own = −1: any).

    Args:
        shift: (x, y) whole pixels; the digit's top-left lands at (16 + x, 16 + y), so |x|, |y| ≤ 16.

    Returns:
        (N, 1, 60, 60) in [0, 1]; pixels combine by maximum.
    """
    n = _check_digits(images)
    _check_digits(pool, "pool")
    room = (distortions.RECIPES["TC"]["out_size"] - 28) // 2
    if (not isinstance(shift, (tuple, list)) or len(shift) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and -room <= v <= room for v in shift)):
        raise ValueError(f"shift must be a pair (x, y) of whole pixels in [-{room}, {room}], got {shift!r}")
    layout = clutter_layout(seed, pieces, pool.shape[0], own)
    params = {k: v.expand(n, *v.shape[1:]) for k, v in layout.items()}
    params["position"] = torch.tensor([[room + shift[0], room + shift[1]]]).expand(n, 2)
    out, _ = distortions.cluttered(images.float(), pool=pool.float(), num_clutter=pieces, params=params)
    return out


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Class probabilities (N, 10) of ``model`` on ``images`` (N, 1, H, W), and θ (N, 2, 3) for an ST model.

    θ is what the model's affine spatial transformer chose for each image (None for a model
    without one).
    """
    check_tensor("images", images, floating=True)
    if images.dim() != 4:
        raise ValueError(f"images must have shape (N, 1, H, W), got {tuple(images.shape)}")
    model.eval()
    probabilities = model(images).softmax(dim=1)
    transformer = getattr(model, "transformer", None)
    theta = None
    if transformer is not None and transformer.last_params is not None:
        theta = transformer.last_params.view(-1, 2, 3).clone()
    return probabilities, theta


@torch.no_grad()
def accuracy_sweep(models: Mapping[str, nn.Module], images: torch.Tensor, labels: torch.Tensor, *,
                   angles: Sequence[float] = (), scales: Sequence[float] = (), distortion: str = "RTS",
                   batch_size: int = 500) -> dict[str, dict[str, list[float]]]:
    """Accuracy (%) of each model on ``images`` distorted by one parameter at a time.

    Each angle (degrees) is applied at scale 1 and each scale at angle 0, the digit at the
    canvas centre.

    Args:
        models: name → model.
        images: (N, 1, 28, 28) digits in [0, 1]; labels: (N,) int.

    Returns:
        ``{"angle": {"values": angles, name: accuracies}, "scale": {"values": scales, name: …}}``.
    """
    check_tensor("labels", labels)
    if labels.shape != images.shape[:1]:
        raise ValueError(f"labels must have shape ({images.shape[0]},), got {tuple(labels.shape)}")
    check_int("batch_size", batch_size, 1)
    for a in angles:
        check_real("angles[i]", a)
    for s in scales:
        check_real("scales[i]", s, above=0)

    def accuracy(model: nn.Module, angle: float, scale: float) -> float:
        right = 0
        for start in range(0, len(labels), batch_size):
            x = distort(images[start:start + batch_size], angle, scale, distortion=distortion)
            right += int((model(x).argmax(1) == labels[start:start + batch_size]).sum())
        return 100.0 * right / max(len(labels), 1)

    out: dict[str, dict[str, list[float]]] = {"angle": {"values": [float(a) for a in angles]},
                                              "scale": {"values": [float(s) for s in scales]}}
    for name, model in models.items():
        model.eval()
        out["angle"][name] = [accuracy(model, a, 1.0) for a in angles]
        out["scale"][name] = [accuracy(model, 0.0, s) for s in scales]
    return out

