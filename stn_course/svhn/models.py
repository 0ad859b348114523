"""The paper's SVHN models (section 4.2 and appendix), their loss, the sequence error, the schedules.

All three read a number as five independent softmax classifiers over 11 classes (digits 0–9
and "no digit", :data:`~stn_course.svhn.BLANK`), one per position — the character sequence
model the paper takes from Jaderberg et al. (2014); there is no separate length classifier.

* **CNN** — the baseline: eight 5×5 convolutions with 48-64-128-160-192-192-192-192 filters
  (padding 2, ReLU), 2×2 max-pooling after the 1st, 3rd, 5th and 7th, two fully connected
  layers of 3072 units and the five classifiers; dropout 0.5 on every layer but the first
  convolution. With the five classifiers that is the paper's "11 hidden layers".
* **ST-CNN Single** — one affine spatial transformer on the input, whose localisation net is
  a four-layer CNN: conv[32, 5×5] → max-pool 2 → conv[32, 5×5] → fc[32] → fc[32].
* **ST-CNN Multi** — a spatial transformer before each of the first four convolutions; each
  localisation net is two fully connected layers of 32 units and looks at the feature map
  that its transformer warps.

Every localisation net sits in a submodule named ``localization`` (inside
:class:`~stn_course.transformer.SpatialTransformer`), so :func:`stn_course.training.fit`
trains it at ``loc_lr_scale`` (0.1 in the paper) times the base rate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace

import torch
from torch import nn

from .._checks import check_choice, check_shape, check_tensor
from ..localization import CNNLocalization, FCLocalization
from ..transformer import SpatialTransformer
from .labels import BLANK, MAX_DIGITS, NUM_CLASSES

KINDS = ("cnn", "st-single", "st-multi")
TITLES = {"cnn": "CNN", "st-single": "ST-CNN Single", "st-multi": "ST-CNN Multi"}


@dataclass(frozen=True)
class SVHNArch:
    """The sizes of an SVHN model; the defaults are the paper's.

    Args:
        channels: filters of each 5×5 convolution.
        pool: whether a 2×2 max-pool follows each convolution.
        fc: widths of the fully connected layers before the classifiers.
        kernel_size: the convolutions' size (padding keeps the map's size).
        dropout: dropout probability on every layer but the first convolution.
        loc_channels: the convolutions of ST-CNN Single's localisation net.
        loc_hidden: the fully connected layers of every localisation net.
        num_st: how many of the first convolutions ST-CNN Multi puts a transformer in front of.
        batch_norm: batch normalisation after every convolution (not in the paper; it lets the
            small CPU models learn in a few hundred steps).
    """

    channels: tuple[int, ...] = (48, 64, 128, 160, 192, 192, 192, 192)
    pool: tuple[bool, ...] = (True, False, True, False, True, False, True, False)
    fc: tuple[int, ...] = (3072, 3072)
    kernel_size: int = 5
    dropout: float = 0.5
    loc_channels: tuple[int, ...] = (32, 32)
    loc_hidden: tuple[int, ...] = (32, 32)
    num_st: int = 4
    batch_norm: bool = False

    def __post_init__(self):
        if len(self.channels) != len(self.pool) or not self.channels:
            raise ValueError(f"channels and pool must have the same non-zero length, got {self.channels} and {self.pool}")
        if not 1 <= self.num_st <= len(self.channels):
            raise ValueError(f"num_st must be in 1..{len(self.channels)}, got {self.num_st}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


PAPER_ARCH = SVHNArch()
#: A narrow version for CPU runs (quick mode, the book's chapter): the same structure, fewer
#: filters and layers, three pools instead of four. Its last map is 5×5 on a 40-pixel crop: with
#: a fourth pool it was 2×2, too coarse to keep five digit positions apart, and the CNN stayed at
#: 20% sequence error on the tight stand-in crops (34.6% against 27.4% after 1,500 steps).
SMALL_ARCH = SVHNArch(channels=(16, 24, 32, 48, 64), pool=(True, True, False, True, False), fc=(256,), dropout=0.1,
                      loc_channels=(8, 16), loc_hidden=(32, 32), num_st=4, batch_norm=True)


def SVHNLocalization(in_shape: Sequence[int], transform="affine", channels: Sequence[int] = (32, 32),  # noqa: N802
                     hidden: Sequence[int] = (32, 32), kernel_size: int = 5) -> CNNLocalization:
    """ST-CNN Single's localisation net: conv → max-pool 2 → conv → fc layers → identity head.

    With the defaults: conv[32, 5×5] → max-pool 2 → conv[32, 5×5] → fc[32] → fc[32] → the
    identity-initialised regression layer. Maps (N, C, H, W) → (N, P).
    """
    pool = [i == 0 for i in range(len(channels))]
    return CNNLocalization(in_shape, transform, channels, kernel_size, hidden, pool)


class ConvStage(nn.Module):
    """One layer of the backbone: [spatial transformer] → conv → ReLU → [max-pool 2] → [dropout]."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, pool: bool, dropout: float,
                 transformer: SpatialTransformer | None = None, batch_norm: bool = False):
        super().__init__()
        self.transformer = transformer
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        self.norm = nn.BatchNorm2d(out_channels) if batch_norm else nn.Identity()
        self.pool = nn.MaxPool2d(2) if pool else nn.Identity()
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.transformer is not None:
            x = self.transformer(x)   # in float32, also under autocast (SpatialTransformer's policy)
        return self.dropout(self.pool(torch.relu(self.norm(self.conv(x)))))


class SVHNNet(nn.Module):
    """CNN, ST-CNN Single or ST-CNN Multi for multi-digit numbers.

    Args:
        kind: "cnn", "st-single" or "st-multi".
        in_size: side of the (square) input images, e.g. 54 (random crops of the 64-pixel
            images) or 108 (of the 128-pixel ones).
        arch: the layer sizes (:data:`PAPER_ARCH` by default, :data:`SMALL_ARCH` for CPUs).
        in_channels: 3 for colour images.

    ``forward``: images (N, C, in_size, in_size) → logits (N, 5, 11).
    ``transformers`` lists the model's spatial transformers in the order they act.
    """

    def __init__(self, kind: str = "cnn", in_size: int = 54, arch: SVHNArch = PAPER_ARCH, in_channels: int = 3):
        super().__init__()
        check_choice("kind", kind, KINDS)
        if not isinstance(in_size, int) or in_size < 2 ** sum(arch.pool):
            raise ValueError(f"in_size must be an int of at least {2 ** sum(arch.pool)}, got {in_size!r}")
        self.kind, self.in_size, self.arch = kind, in_size, arch
        stages = []
        c, side = in_channels, in_size
        for i, (out, pool) in enumerate(zip(arch.channels, arch.pool)):
            st = None
            if kind == "st-single" and i == 0:
                st = SpatialTransformer(SVHNLocalization((c, side, side), "affine", arch.loc_channels, arch.loc_hidden,
                                                         arch.kernel_size), "affine")
            elif kind == "st-multi" and i < arch.num_st:
                st = SpatialTransformer(FCLocalization((c, side, side), "affine", hidden=arch.loc_hidden), "affine")
            stages.append(ConvStage(c, out, arch.kernel_size, pool, arch.dropout if i > 0 else 0.0, st,
                                    arch.batch_norm))
            c, side = out, side // 2 if pool else side
        self.features = nn.Sequential(*stages)
        layers: list[nn.Module] = [nn.Flatten()]
        width = c * side * side
        for h in arch.fc:
            layers += [nn.Linear(width, h), nn.ReLU(inplace=True), nn.Dropout(arch.dropout)]
            width = h
        self.fc = nn.Sequential(*layers)
        # five independent softmax classifiers = one linear layer with 5 × 11 outputs
        self.classifiers = nn.Linear(width, MAX_DIGITS * NUM_CLASSES)

    @property
    def transformers(self) -> list[SpatialTransformer]:
        return [s.transformer for s in self.features if s.transformer is not None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor("x", x, floating=True)
        check_shape("x", x, (None, self.features[0].conv.in_channels, self.in_size, self.in_size),
                    f"(N, {self.features[0].conv.in_channels}, {self.in_size}, {self.in_size})")
        return self.classifiers(self.fc(self.features(x))).view(-1, MAX_DIGITS, NUM_CLASSES)


def build_svhn_model(kind: str, in_size: int = 54, arch: SVHNArch | str = "paper") -> SVHNNet:
    """An :class:`SVHNNet`; ``arch`` is an :class:`SVHNArch`, its settings as a dict (a run
    record's ``arch_settings``) or "paper" / "small"."""
    if isinstance(arch, Mapping):
        arch = SVHNArch(**{k: tuple(v) if isinstance(v, list) else v for k, v in arch.items()})
    if isinstance(arch, str):
        check_choice("arch", arch, ("paper", "small"))
        arch = PAPER_ARCH if arch == "paper" else SMALL_ARCH
    return SVHNNet(kind, in_size, arch)


# ----------------------------------------------------------------------------------------------
# loss and metric
# ----------------------------------------------------------------------------------------------

def _check_logits(logits: torch.Tensor, targets: torch.Tensor) -> None:
    check_tensor("logits", logits, floating=True)
    check_tensor("targets", targets)
    check_shape("logits", logits, (None, MAX_DIGITS, NUM_CLASSES), f"(N, {MAX_DIGITS}, {NUM_CLASSES})")
    check_shape("targets", targets, (logits.shape[0], MAX_DIGITS), f"({logits.shape[0]}, {MAX_DIGITS})")


def sequence_loss(logits: torch.Tensor, targets: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """The negative log-likelihood of the whole number: the five classifiers' cross-entropies summed.

    logits (N, 5, 11), targets (N, 5) → scalar (mean or sum over the batch; "none": (N,)).
    """
    _check_logits(logits, targets)
    check_choice("reduction", reduction, ("mean", "sum", "none"))
    per_position = nn.functional.cross_entropy(logits.transpose(1, 2), targets.long(), reduction="none")
    per_number = per_position.sum(1)
    if reduction == "none":
        return per_number
    return per_number.mean() if reduction == "mean" else per_number.sum()


def predict(logits: torch.Tensor) -> torch.Tensor:
    """logits (N, 5, 11) → the most likely class at each position (N, 5)."""
    check_tensor("logits", logits, floating=True)
    check_shape("logits", logits, (None, MAX_DIGITS, NUM_CLASSES), f"(N, {MAX_DIGITS}, {NUM_CLASSES})")
    return logits.argmax(-1)


def sequence_wrong(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """(N,) bool: True where any of the five positions is predicted wrongly (blanks included)."""
    _check_logits(logits, targets)
    return (predict(logits) != targets).any(1)


def sequence_error(predictions: torch.Tensor, targets: torch.Tensor) -> float:
    """Sequence error in percent: a number counts as right only if all five positions are.

    predictions, targets: (N, 5) classes (0–9, ``BLANK`` = 10).
    """
    check_tensor("predictions", predictions)
    check_tensor("targets", targets)
    check_shape("predictions", predictions, (None, MAX_DIGITS), f"(N, {MAX_DIGITS})")
    check_shape("targets", targets, tuple(predictions.shape), f"{tuple(predictions.shape)} like predictions")
    if len(targets) == 0:
        raise ValueError("targets must hold at least one number, got 0")
    return 100.0 * (predictions != targets).any(1).float().mean().item()


def compose_thetas(thetas: Sequence[torch.Tensor]) -> torch.Tensor:
    """The one affine θ (N, 2, 3) that does what a chain of transformers does.

    ``thetas[k]`` (N, 2, 3) maps the output coordinates of transformer k to its input
    coordinates, and transformer k + 1 acts on (a feature map of) transformer k's output, so
    a point p at the last output lands at θ₁·θ₂·…·θₖ·p in the image (3×3 homogeneous products).
    Convolutions with "same" padding and 2×2 pooling keep normalised coordinates, so the
    product is exact up to the half-pixel shifts of pooling odd-sized maps.
    """
    if not thetas:
        raise ValueError("thetas must hold at least one (N, 2, 3) tensor, got an empty sequence")
    total = None
    for i, t in enumerate(thetas):
        check_tensor(f"thetas[{i}]", t, floating=True)
        check_shape(f"thetas[{i}]", t, (thetas[0].shape[0], 2, 3), f"({thetas[0].shape[0]}, 2, 3)")
        h = torch.cat([t, torch.tensor([0.0, 0.0, 1.0], dtype=t.dtype, device=t.device).expand(len(t), 1, 3)], 1)
        total = h if total is None else total @ h
    return total[:, :2]


def last_thetas(model: SVHNNet) -> list[torch.Tensor]:
    """The affine θ (N, 2, 3) each of ``model``'s transformers used in its last forward pass."""
    return [st.last_params.view(-1, 2, 3) for st in model.transformers if st.last_params is not None]


# ----------------------------------------------------------------------------------------------
# training schedules (keyword arguments of stn_course.training.fit)
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SVHNSchedule:
    """Keyword arguments for :func:`stn_course.training.fit`, plus the data settings."""

    steps: int
    batch_size: int
    lr: float
    optimizer: str = "sgd"
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "step"
    milestones: tuple[int, ...] = ()
    gamma: float = 0.1
    warmup: int = 0
    ema: float | None = None
    loc_lr_scale: float = 0.1
    eval_every: int | None = None

    def fit_kwargs(self) -> dict:
        kw = asdict(self)
        kw["milestones"] = list(self.milestones)
        return kw


#: The paper's appendix: SGD, batch 128, lr 0.01 ×0.1 every 80k steps, weight decay 5e-4,
#: localisation nets at a tenth of the rate (dropout 0.5 is in :data:`PAPER_ARCH`). The total
#: length (400k steps) and the momentum (0.9) are our choices.
PAPER_SCHEDULE = SVHNSchedule(steps=400_000, batch_size=128, lr=0.01, milestones=(80_000, 160_000, 240_000, 320_000),
                              eval_every=10_000)
#: A short run of the same recipe for a GPU (about 5 epochs of SVHN train at batch 128).
FAST_SCHEDULE = replace(PAPER_SCHEDULE, steps=6_000, milestones=(4_000, 5_000), eval_every=1_000)
#: The course's compute-efficient recipe (as Table 1's): AdamW, warm-up and cosine decay, a
#: moving average of the weights; the localisation nets at a tenth of the rate, as the paper.
#: 5,000 steps of 64 (320k images): 9 to 22 minutes a model on one core of a shared 2-core
#: CPU with :data:`SMALL_ARCH` on 40-pixel crops (250–600 images/s, results/table2).
EFFICIENT_SCHEDULE = SVHNSchedule(steps=5_000, batch_size=64, lr=3e-3, optimizer="adamw", weight_decay=0.01,
                                  schedule="cosine", warmup=250, ema=0.998, loc_lr_scale=0.1, eval_every=500)
#: A CPU-sized run for the chapter and a first try: the efficient recipe, 300 steps of 32.
QUICK_SCHEDULE = replace(EFFICIENT_SCHEDULE, steps=300, batch_size=32, warmup=30, ema=None, eval_every=100)
SCHEDULES = {"paper": PAPER_SCHEDULE, "fast": FAST_SCHEDULE, "efficient": EFFICIENT_SCHEDULE,
             "quick": QUICK_SCHEDULE}


__all__ = ["KINDS", "TITLES", "SVHNArch", "PAPER_ARCH", "SMALL_ARCH", "SVHNNet", "SVHNLocalization", "ConvStage",
           "build_svhn_model", "compose_thetas", "last_thetas", "sequence_loss", "sequence_wrong", "sequence_error", "predict", "SVHNSchedule",
           "PAPER_SCHEDULE", "FAST_SCHEDULE", "EFFICIENT_SCHEDULE", "QUICK_SCHEDULE", "SCHEDULES", "BLANK"]
