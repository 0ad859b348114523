"""The classifiers of the paper's MNIST experiments (Table 1, appendix A).

* **FCN**: a fully connected network, flatten → two hidden ReLU layers → 10 logits.
* **CNN**: conv 9×9 → ReLU → max-pool 2 → conv 7×7 → ReLU → max-pool 2 → linear classifier
  ("same" padding, so the same network works on 21…60 px inputs).
* **ST-FCN / ST-CNN**: a :class:`~stn_course.transformer.SpatialTransformer` in front of an
  FCN / CNN. ST-FCN uses a fully connected localisation net (3 layers of 32), ST-CNN a
  convolutional one (two 5×5 convs of 20 filters with max-pooling, then 50 units), as in the
  paper. The transform is affine (``aff``, 6 parameters), projective (``proj``, 8) or a
  16-point thin-plate spline (``tps``, 32).

Choices the paper leaves to the reader, made here and stated once:

* For the large inputs (RTS 42×42, TC 60×60) the transformer also downsamples: its output is
  half the input's size (21×21, 30×30), so the classifier behind it is cheaper, and the
  localisation net looks at a 2× max-pooled copy of the input.
* Within one experiment (one distortion) every model has about the same number of
  parameters: the budget is that of the CNN baseline (channels 32 and 64), and the width of
  each other model's classifier is solved for so that its total (localisation net included)
  comes closest to that budget. :func:`param_counts` reports the result.
* The TPS offsets are bounded (identity ± ``TPS_BOUND``·tanh) to keep young networks from
  folding the grid; the affine and projective heads are unbounded, as in the paper.

MNIST addition (appendix A.1; inputs (N, 2, 42, 42), 19 classes: the sums 0–18) has its own
four models, built by :func:`build_addition_model` and parameter-matched the same way, to the
CNN baseline on the two-channel input: **FCN**, **CNN**, **ST-CNN** (one affine transformer,
which warps both channels with the same θ) and **2×ST-CNN** (two transformers in parallel on
the whole input, :class:`ParallelTransformers`; their outputs are stacked as channels, four
of them, for the classifier). Each transformer downsamples 42 → 21 px, as for RTS.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache

import torch
from torch import nn

from ._checks import check_chw, check_choice, check_int
from .localization import CNNLocalization, FCLocalization
from .transformer import SpatialTransformer

#: Input size (H = W) of each distorted-MNIST variant.
INPUT_SIZE = {"R": 28, "RTS": 42, "P": 28, "E": 28, "TC": 60}
DISTORTIONS = tuple(INPUT_SIZE)
#: Output size of the spatial transformer per distortion (None: same as the input).
ST_OUT_SIZE: dict[str, int | None] = {"R": None, "RTS": 21, "P": None, "E": None, "TC": 30}
#: The models of Table 1, in the paper's order.
MODEL_NAMES = ("fcn", "cnn", "st-fcn-aff", "st-fcn-proj", "st-fcn-tps", "st-cnn-aff", "st-cnn-proj", "st-cnn-tps")
PAPER_NAMES = {"fcn": "FCN", "cnn": "CNN", "st-fcn-aff": "ST-FCN Aff", "st-fcn-proj": "ST-FCN Proj",
               "st-fcn-tps": "ST-FCN TPS", "st-cnn-aff": "ST-CNN Aff", "st-cnn-proj": "ST-CNN Proj",
               "st-cnn-tps": "ST-CNN TPS"}
TRANSFORM_NAMES = {"aff": "affine", "proj": "projective", "tps": "tps"}
BASE_CNN_CHANNELS = (32, 64)
TPS_BOUND = 0.5


class FCN(nn.Module):
    """Fully connected classifier: (N, C, H, W) → flatten → (Linear → ReLU) × len(hidden) → (N, classes)."""

    def __init__(self, in_shape: Sequence[int], hidden: Sequence[int] = (128, 128), num_classes: int = 10):
        super().__init__()
        _check_in_shape(in_shape)
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_shape[0] * in_shape[1] * in_shape[2]
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU(inplace=True)]
            width = h
        layers.append(nn.Linear(width, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) → logits (N, classes)."""
        return self.net(x)


class CNN(nn.Module):
    """Conv 9×9 → ReLU → max-pool 2 → conv 7×7 → ReLU → max-pool 2 → linear: (N, C, H, W) → (N, classes)."""

    def __init__(self, in_shape: Sequence[int], channels: Sequence[int] = BASE_CNN_CHANNELS,
                 kernel_sizes: Sequence[int] = (9, 7), num_classes: int = 10):
        super().__init__()
        _check_in_shape(in_shape)
        if len(channels) != len(kernel_sizes):
            raise ValueError(f"channels and kernel_sizes must have the same length, got {channels} and {kernel_sizes}")
        layers: list[nn.Module] = []
        c, h, w = in_shape
        for out, k in zip(channels, kernel_sizes):
            layers += [nn.Conv2d(c, out, k, padding=k // 2), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            c, h, w = out, h // 2, w // 2
        if h < 1 or w < 1:
            raise ValueError(f"in_shape {tuple(in_shape)} is too small for {len(channels)} pooling stages")
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) → logits (N, classes)."""
        return self.classifier(self.features(x))


class STClassifier(nn.Module):
    """A spatial transformer followed by a classifier: ``classifier(transformer(x))``.

    The localisation net lives at ``transformer.localization``, so
    :func:`stn_course.training.fit`'s ``loc_lr_scale`` finds it by name. The transformer
    runs in float32 also under mixed precision (:class:`SpatialTransformer`'s policy).
    """

    def __init__(self, transformer: SpatialTransformer, classifier: nn.Module):
        super().__init__()
        self.transformer = transformer
        self.classifier = classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) → logits (N, classes)."""
        return self.classifier(self.transformer(x))


def _check_in_shape(in_shape: Sequence[int]) -> None:
    check_chw("in_shape", in_shape)


def _loc_input(loc: nn.Module, downsample: bool) -> nn.Module:
    """Put a 2× max-pool in front of the localisation net when the input is large."""
    if not downsample:
        return loc
    return nn.Sequential(OrderedDict(pool=nn.MaxPool2d(2), net=loc))


def make_st(kind: str, transform: str, in_size: int, out_size: int | None, channels: int = 1) -> SpatialTransformer:
    """The spatial transformer of an ST-FCN (``kind="fcn"``) or ST-CNN (``kind="cnn"``).

    ``transform`` is "aff", "proj" or "tps"; images are (N, channels, in_size, in_size) and
    come out (N, channels, out_size, out_size).
    """
    check_choice("kind", kind, ("fcn", "cnn"))
    check_choice("transform", transform, tuple(TRANSFORM_NAMES))
    check_int("in_size", in_size, 1)
    check_int("channels", channels, 1)
    if out_size is not None:
        check_int("out_size", out_size, 1)
    downsample = in_size > 30
    loc_size = in_size // 2 if downsample else in_size
    loc_shape = (channels, loc_size, loc_size)
    bound = TPS_BOUND if transform == "tps" else None
    name = TRANSFORM_NAMES[transform]
    if kind == "fcn":
        loc = FCLocalization(loc_shape, name, hidden=(32, 32, 32), bound=bound)
    else:
        loc = CNNLocalization(loc_shape, name, channels=(20, 20), kernel_size=5, hidden=50, bound=bound)
    size = None if out_size is None else (out_size, out_size)
    return SpatialTransformer(_loc_input(loc, downsample), name, out_size=size)


def normalize_name(name: str) -> str:
    """"ST-CNN Aff", "st_cnn_aff", "stcnn-aff" … → "st-cnn-aff"."""
    if not isinstance(name, str):
        raise TypeError(f"model name must be a str, got {type(name).__name__}")
    key = name.strip().lower().replace("_", "-").replace(" ", "-")
    for short, full in (("stfcn", "st-fcn"), ("stcnn", "st-cnn")):
        if key.startswith(short):
            key = full + key[len(short):]
    check_choice("model", key, MODEL_NAMES)
    return key


def _classifier(kind: str, in_shape: Sequence[int], width: int, num_classes: int) -> nn.Module:
    """An FCN with two hidden layers of ``width``, or a CNN with channels (``width``, 2·``width``)."""
    if kind == "fcn":
        return FCN(in_shape, (width, width), num_classes)
    return CNN(in_shape, (width, 2 * width), num_classes=num_classes)


def _parts(name: str, distortion: str) -> tuple[str, str | None, tuple[int, int, int]]:
    """(classifier kind, transform or None, the classifier's input shape)."""
    size = INPUT_SIZE[distortion]
    if name in ("fcn", "cnn"):
        return name, None, (1, size, size)
    _, kind, transform = name.split("-")
    out = ST_OUT_SIZE[distortion] or size
    return kind, transform, (1, out, out)


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


@lru_cache(maxsize=None)
def _st_count(kind: str, transform: str, distortion: str) -> int:
    """Parameters of the spatial transformer (its localisation net) of an ST-model."""
    with torch.random.fork_rng(devices=[]):
        return count_parameters(make_st(kind, transform, INPUT_SIZE[distortion], ST_OUT_SIZE[distortion]))


def _classifier_count(kind: str, in_shape: Sequence[int], width: int, num_classes: int) -> int:
    """Parameters of :func:`_classifier`, counted without building it (the bisection calls this often)."""
    c, h, w = in_shape
    if kind == "fcn":
        return (c * h * w + 1) * width + (width + 1) * width + (width + 1) * num_classes
    c1, c2 = width, 2 * width
    return (c * 81 + 1) * c1 + (c1 * 49 + 1) * c2 + (c2 * (h // 4) * (w // 4) + 1) * num_classes


def _count(kind: str, transform: str | None, distortion: str, width: int, num_classes: int) -> int:
    """Parameter count of a Table 1 model with classifier width ``width``."""
    _, _, cls_shape = _parts(f"st-{kind}-{transform}" if transform else kind, distortion)
    n = _classifier_count(kind, cls_shape, width, num_classes)
    return n + (_st_count(kind, transform, distortion) if transform else 0)


def budget(distortion: str, num_classes: int = 10) -> int:
    """The parameter budget of one experiment: the CNN baseline's count (channels 32, 64)."""
    check_choice("distortion", distortion, DISTORTIONS)
    return _count("cnn", None, distortion, BASE_CNN_CHANNELS[0], num_classes)


@lru_cache(maxsize=None)
def solve_width(name: str, distortion: str, num_classes: int = 10) -> int:
    """The classifier width that brings ``name``'s parameter count closest to :func:`budget`."""
    name = normalize_name(name)
    check_choice("distortion", distortion, DISTORTIONS)
    if name == "cnn":
        return BASE_CNN_CHANNELS[0]
    kind, transform, _ = _parts(name, distortion)
    target = budget(distortion, num_classes)

    def count(w: int) -> int:
        return _count(kind, transform, distortion, w, num_classes)

    return _closest_width(count, target)


def _closest_width(count, target: int) -> int:
    """The width w in 1…2048 whose ``count(w)`` (growing with w) comes closest to ``target``."""
    lo, hi = 1, 2048
    while hi - lo > 1:  # the count grows with the width: bisect for the last width at or under the target
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if count(mid) <= target else (lo, mid)
    return min((lo, hi), key=lambda w: abs(count(w) - target))


def build_model(name: str, distortion: str, *, num_classes: int = 10) -> nn.Module:
    """A Table 1 model for one distortion, e.g. ``build_model("st-cnn-aff", "RTS")``.

    Names: "fcn", "cnn", "st-fcn-aff|proj|tps", "st-cnn-aff|proj|tps" (or the paper's
    spelling, "ST-CNN Aff"). Distortions: "R", "RTS", "P", "E", "TC". Initialisation uses
    torch's global generator: seed it first for a repeatable model.
    """
    name = normalize_name(name)
    check_choice("distortion", distortion, DISTORTIONS)
    check_int("num_classes", num_classes, 1)
    kind, transform, cls_shape = _parts(name, distortion)
    width = solve_width(name, distortion, num_classes)
    if transform is None:
        return _classifier(kind, cls_shape, width, num_classes)
    st = make_st(kind, transform, INPUT_SIZE[distortion], ST_OUT_SIZE[distortion])
    return STClassifier(st, _classifier(kind, cls_shape, width, num_classes))


def param_counts(distortion: str, models: Sequence[str] = MODEL_NAMES) -> dict[str, dict[str, int]]:
    """For each model: ``{"total", "localization", "classifier", "width"}`` parameter counts."""
    out = {}
    for name in models:
        name = normalize_name(name)
        kind, transform, _ = _parts(name, distortion)
        width = solve_width(name, distortion)
        total = _count(kind, transform, distortion, width, 10)
        loc = _st_count(kind, transform, distortion) if transform else 0
        out[name] = {"total": total, "localization": loc, "classifier": total - loc, "width": width}
    return out


def input_shape(distortion: str) -> tuple[int, int, int]:
    """(C, H, W) of the images of one distortion."""
    check_choice("distortion", distortion, DISTORTIONS)
    return (1, INPUT_SIZE[distortion], INPUT_SIZE[distortion])


# ----------------------------------------------------------------------------- MNIST addition (A.1)

#: The models of the addition experiment, in the paper's order, and their names there.
ADDITION_MODELS = ("fcn", "cnn", "st-cnn", "2x-st-cnn")
#: Variants that are not the paper's: "2x-st-cnn-own" gives each of the two localisation nets only
#: its own channel to look at (the sampler still warps both), which breaks the symmetry between them.
ADDITION_VARIANTS = ("2x-st-cnn-own",)
ADDITION_NAMES = {"fcn": "FCN", "cnn": "CNN", "st-cnn": "ST-CNN", "2x-st-cnn": "2×ST-CNN",
                  "2x-st-cnn-own": "2×ST-CNN, own channel"}
ADDITION_SHAPE = (2, 42, 42)
ADDITION_CLASSES = 19
ADDITION_ST_OUT = 21
#: How many transformers each addition model has.
ADDITION_TRANSFORMERS = {"fcn": 0, "cnn": 0, "st-cnn": 1, "2x-st-cnn": 2, "2x-st-cnn-own": 2}


class ChannelSelect(nn.Module):
    """Keep one channel: (N, C, H, W) → (N, 1, H, W), channel ``channel``."""

    def __init__(self, channel: int):
        super().__init__()
        self.channel = check_int("channel", channel, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, self.channel:self.channel + 1]

    def extra_repr(self) -> str:
        return f"channel={self.channel}"


class ParallelTransformers(nn.Module):
    """Spatial transformers side by side on the same input, outputs stacked as channels.

    (N, C, H, W) → (N, K·C, H_out, W_out): channels ``k·C … k·C + C − 1`` are transformer
    ``k``'s output. Each transformer has its own localisation net (``transformers[k].localization``,
    found by :func:`stn_course.training.fit`'s ``loc_lr_scale``) and so its own θ.
    """

    def __init__(self, transformers: Sequence[SpatialTransformer]):
        super().__init__()
        if len(transformers) < 1 or not all(isinstance(t, SpatialTransformer) for t in transformers):
            raise TypeError(f"transformers must be a non-empty sequence of SpatialTransformer, got {transformers!r}")
        self.transformers = nn.ModuleList(transformers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) → (N, K·C, H_out, W_out)."""
        return torch.cat([t(x) for t in self.transformers], dim=1)


def normalize_addition_name(name: str) -> str:
    """"2×ST-CNN", "2xST-CNN", "2x_st_cnn", "ST-CNN" … → "2x-st-cnn", "st-cnn"."""
    if not isinstance(name, str):
        raise TypeError(f"model name must be a str, got {type(name).__name__}")
    key = name.strip().lower().replace("×", "x").replace("_", "-").replace(" ", "-").replace("stcnn", "st-cnn")
    key = key.replace("2xst", "2x-st")
    check_choice("model", key, ADDITION_MODELS + ADDITION_VARIANTS)
    return key


def _addition_st(own_channel: int | None = None) -> SpatialTransformer:
    """Table 1's ST-CNN transformer for the 42-px pair (out 21 px); with ``own_channel`` its
    localisation net looks at that channel alone."""
    if own_channel is None:
        return make_st("cnn", "aff", ADDITION_SHAPE[1], ADDITION_ST_OUT, channels=ADDITION_SHAPE[0])
    st = make_st("cnn", "aff", ADDITION_SHAPE[1], ADDITION_ST_OUT, channels=1)
    st.localization = nn.Sequential(OrderedDict(channel=ChannelSelect(own_channel), net=st.localization))
    return st


def _addition_parts(name: str) -> tuple[str, int, tuple[int, int, int]]:
    """(classifier kind, number of transformers, the classifier's input shape)."""
    k = ADDITION_TRANSFORMERS[name]
    if k == 0:
        return name, 0, ADDITION_SHAPE
    return "cnn", k, (k * ADDITION_SHAPE[0], ADDITION_ST_OUT, ADDITION_ST_OUT)


@lru_cache(maxsize=None)
def _addition_st_count(own: bool = False) -> int:
    with torch.random.fork_rng(devices=[]):
        return count_parameters(_addition_st(0 if own else None))


def _addition_loc_count(name: str) -> int:
    return ADDITION_TRANSFORMERS[name] * _addition_st_count(name.endswith("-own"))


def _addition_count(name: str, width: int) -> int:
    kind, _, shape = _addition_parts(name)
    return _classifier_count(kind, shape, width, ADDITION_CLASSES) + _addition_loc_count(name)


def addition_budget() -> int:
    """The addition experiment's parameter budget: the CNN baseline's count (channels 32, 64)."""
    return _addition_count("cnn", BASE_CNN_CHANNELS[0])


@lru_cache(maxsize=None)
def solve_addition_width(name: str) -> int:
    """The classifier width that brings addition model ``name``'s count closest to :func:`addition_budget`."""
    name = normalize_addition_name(name)
    if name == "cnn":
        return BASE_CNN_CHANNELS[0]
    return _closest_width(lambda w: _addition_count(name, w), addition_budget())


def build_addition_model(name: str) -> nn.Module:
    """An MNIST-addition model: (N, 2, 42, 42) → logits (N, 19), e.g. ``build_addition_model("2x-st-cnn")``.

    Initialisation uses torch's global generator: seed it first for a repeatable model.
    """
    name = normalize_addition_name(name)
    kind, k, shape = _addition_parts(name)
    classifier = _classifier(kind, shape, solve_addition_width(name), ADDITION_CLASSES)
    if k == 0:
        return classifier
    own = name.endswith("-own")
    transformer = _addition_st() if k == 1 else ParallelTransformers([_addition_st(c if own else None)
                                                                      for c in range(k)])
    return STClassifier(transformer, classifier)


def addition_param_counts(models: Sequence[str] = ADDITION_MODELS) -> dict[str, dict[str, int]]:
    """For each addition model: ``{"total", "localization", "classifier", "width"}`` parameter counts."""
    out = {}
    for name in models:
        name = normalize_addition_name(name)
        width = solve_addition_width(name)
        total = _addition_count(name, width)
        loc = _addition_loc_count(name)
        out[name] = {"total": total, "localization": loc, "classifier": total - loc, "width": width}
    return out
