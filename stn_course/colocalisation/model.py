"""The co-localiser: an attention spatial transformer that crops, and a frozen encoder that embeds the crop.

:class:`Encoder` is a small CNN trained to classify clean MNIST digits (:func:`train_encoder`);
its convolutional features, scaled to unit length, are the embedding ``e(·)`` of the hinge
loss. :class:`CoLocaliser` looks at an 84 × 84 image through a localisation net, gets
(s, t_x, t_y), samples a 28 × 28 crop, and also samples a random crop of the same size from the
same image for the loss's negative. Its localisation net is one of :data:`LOCALISERS`: the
paper's kind, a randomly initialised regression net with the scale free
(:class:`~stn_course.colocalisation.regression.BoxRegression`, "regression"), or one that points
at ink from the start with the scale near the digit's (:class:`HeatmapLocalization`,
"pointing").
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .. import training
from .._checks import check_choice, check_int
from ..models import CNN
from ..transformer import SpatialTransformer
from .boxes import attention_box
from .regression import BoxRegression

IMAGE_SIZE = 84
CROP_SIZE = 28
#: The crop's side relative to the image's: 25 to 34 of 84 pixels (the digit's frame is 28).
SCALE_RANGE = (0.3, 0.4)
#: The localisation nets a co-localiser can have; the first is the default.
LOCALISERS = ("regression", "pointing")


class CoLocOutput(NamedTuple):
    """What :class:`CoLocaliser` returns for images (N, 1, H, W)."""

    crop_embedding: torch.Tensor  #: (N, D) e(transformed crop)
    random_embedding: torch.Tensor  #: (N, D) e(random crop of the same image)
    params: torch.Tensor  #: (N, 3) the attention parameters (s, t_x, t_y)
    box: torch.Tensor  #: (N, 4) the crop's box in input pixels (x0, y0, x1, y1)


class Encoder(nn.Module):
    """A small MNIST classifier (:class:`~stn_course.models.CNN`, channels 16 and 32) whose conv
    features embed a crop: :meth:`embed` maps (N, 1, 28, 28) → (N, 32·7·7) of unit length."""

    def __init__(self, channels: tuple[int, int] = (16, 32)):
        super().__init__()
        self.net = CNN((1, CROP_SIZE, CROP_SIZE), channels, num_classes=10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1, 28, 28) → logits (N, 10)."""
        return self.net(x)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1, 28, 28) → (N, D), each row of length 1 (so the margin has a fixed scale)."""
        return F.normalize(self.net.features(x).flatten(1), dim=1, eps=1e-6)


def train_encoder(steps: int = 2_000, *, seed: int = 0, batch_size: int = 128, train_size: int | None = None,
                  progress: bool = False, device: str | torch.device | None = None) -> tuple[Encoder, dict]:
    """Train :class:`Encoder` on the paper's clean 50k training digits; return it (frozen) and its
    test result (``{"loss", "error", "n"}`` on MNIST's 10k test digits)."""
    from .. import data

    check_int("steps", steps, 1)
    images, labels, _ = data.mnist_split("train")
    if train_size is not None:
        images, labels = images[:check_int("train_size", train_size, batch_size)], labels[:train_size]
    test_images, test_labels, _ = data.mnist_split("test")
    torch.manual_seed(seed)
    encoder = Encoder()
    training.fit(encoder, (images, labels), None, steps=steps, batch_size=batch_size, lr=2e-3, optimizer="adamw",
                 weight_decay=0.01, schedule="cosine", warmup=min(100, steps // 10), seed=seed, progress=progress,
                 device=device)
    result = training.evaluate(encoder, (test_images, test_labels))
    return encoder.requires_grad_(False).eval(), result


def random_crop_params(scale: torch.Tensor) -> torch.Tensor:
    """Attention parameters (N, 3) of crops of side ``scale`` (N,) (relative to the image) at uniform
    places inside the image, drawn from torch's global generator (so
    :func:`~stn_course.training.fit` repeats them)."""
    s = scale.detach().reshape(-1, 1)
    t = (torch.rand(s.shape[0], 2, device=s.device, dtype=s.dtype) * 2 - 1) * (1 - s)
    return torch.cat([s, t], dim=1)


class HeatmapLocalization(nn.Module):
    """A localisation net that points: image (N, 1, H, W) → attention parameters (N, 3).

    Convolutions score every place of a 2× max-pooled copy of the image; a softmax over the
    places turns the scores into weights, and (t_x, t_y) is the weighted mean of the places'
    normalised coordinates (a *soft arg-max*, differentiable). The scale comes from the
    features' global average through a linear layer, bounded to ``scale_range`` with a
    sigmoid, starting in its middle. Where the crop goes thus follows what the convolutions
    respond to, from the first step: in our probes a CNN localisation net with a regression
    head (Table 1's) found a way out of the hinge loss instead (every crop in one corner, or
    the whole image) and stayed there.
    """

    def __init__(self, scale_range: tuple[float, float] = SCALE_RANGE, channels: tuple[int, int] = (8, 16),
                 sharpness: float = 2.0):
        super().__init__()
        lo, hi = scale_range
        if not 0 < lo < hi <= 1:
            raise ValueError(f"scale_range must be (s_min, s_max) with 0 < s_min < s_max <= 1, got {scale_range!r}")
        c1, c2 = channels
        self.scale_range = (float(lo), float(hi))
        self.features = nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(1, c1, 5, padding=2), nn.ReLU(inplace=True),
                                      nn.Conv2d(c1, c2, 5, padding=2), nn.ReLU(inplace=True))
        self.score = nn.Conv2d(c2, 1, 1)
        with torch.no_grad():  # start by pointing at ink: no response to the empty background, a positive one to strokes
            for layer in (self.features[1], self.features[3], self.score):
                layer.bias.zero_()
            self.score.weight.abs_()
        # standardised scores × sharpness (learnt): a near-uniform softmax at the start would point
        # every crop at the image's centre; standardising per image lets a thin stroke stand out of
        # the background it is outnumbered by
        self.log_sharpness = nn.Parameter(torch.tensor(math.log(sharpness)))
        self.scale = nn.Linear(c2, 1)
        nn.init.zeros_(self.scale.weight)
        nn.init.zeros_(self.scale.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1, H, W) → (N, 3) as (s, t_x, t_y)."""
        f = self.features(x)  # (N, C, H/2, W/2)
        n, _, h, w = f.shape
        score = self.score(f).flatten(1)  # (N, H/2 · W/2)
        score = (score - score.mean(1, keepdim=True)) / (score.std(1, keepdim=True) + 1e-6)  # per image
        weights = torch.softmax(score * self.log_sharpness.exp(), dim=1).view(n, h, w)
        ys = (torch.arange(h, device=x.device, dtype=f.dtype) + 0.5) * (2.0 / h) - 1  # pixel centres, normalised
        xs = (torch.arange(w, device=x.device, dtype=f.dtype) + 0.5) * (2.0 / w) - 1
        tx = (weights.sum(1) * xs).sum(1, keepdim=True)
        ty = (weights.sum(2) * ys).sum(1, keepdim=True)
        lo, hi = self.scale_range
        s = lo + (hi - lo) * torch.sigmoid(self.scale(f.mean((2, 3))))
        # keep the crop inside the image: a crop off its edge is partly empty, and empty crops are
        # alike and far from random crops of a cluttered image, an easy way out of the loss
        t = torch.maximum(torch.minimum(torch.cat([tx, ty], dim=1), 1 - s), s - 1)
        return torch.cat([s, t], dim=1)

    def extra_repr(self) -> str:
        return f"scale_range={self.scale_range}"


class CoLocaliser(nn.Module):
    """Attention transformer + frozen encoder: images (N, 1, 84, 84) → :class:`CoLocOutput`.

    Args:
        encoder: the trained :class:`Encoder`; frozen here (its weights never change, but the
            loss's gradient flows through it into the crop).
        image_size, crop_size: the input's and the crop's side in pixels.
        localiser: "regression" (the paper's kind: randomly initialised, any crop inside the
            image) or "pointing" (:class:`HeatmapLocalization`, aimed at ink from the start).
        scale_range: for "pointing" only, the bounds of the crop's side relative to the
            image's; the default, (0.3, 0.4), is 25 to 34 pixels of 84, around the 28-pixel
            digit: given more room, the loss also rewards zooming out.
    """

    def __init__(self, encoder: Encoder, image_size: int = IMAGE_SIZE, crop_size: int = CROP_SIZE,
                 localiser: str = LOCALISERS[0], scale_range: tuple[float, float] = SCALE_RANGE):
        super().__init__()
        check_int("image_size", image_size, 2)
        check_int("crop_size", crop_size, 1)
        check_choice("localiser", localiser, LOCALISERS)
        if not isinstance(encoder, Encoder):
            raise TypeError(f"encoder must be an Encoder, got {type(encoder).__name__}")
        net = BoxRegression(image_size) if localiser == "regression" else HeatmapLocalization(scale_range)
        self.transformer = SpatialTransformer(net, "attention", out_size=(crop_size, crop_size))
        self.encoder = encoder.requires_grad_(False)
        self.image_size, self.crop_size, self.localiser = image_size, crop_size, localiser

    def crop(self, x: torch.Tensor) -> torch.Tensor:
        """The transformer's crops: (N, 1, H, W) → (N, 1, crop_size, crop_size)."""
        return self.transformer(x)

    def forward(self, x: torch.Tensor) -> CoLocOutput:
        """(N, 1, H, W) → embeddings of the crops and of random crops, the parameters, the boxes."""
        crops = self.transformer(x)
        params = self.transformer.last_params
        n, c = x.shape[:2]
        # the negative is a crop of the same size as the transformer's: zooming out, or in on empty
        # background, then makes the two alike, and only finding what the images share pays
        random = random_crop_params(params[:, 0])
        grid = self.transformer.transform(random, (n, c, self.crop_size, self.crop_size))
        randoms = self.transformer.sample(x, grid)
        return CoLocOutput(self.encoder.embed(crops), self.encoder.embed(randoms), params,
                           attention_box(params, tuple(x.shape[-2:])))


def make_colocaliser(encoder: Encoder, **kwargs) -> CoLocaliser:
    """A fresh :class:`CoLocaliser` around ``encoder`` (seed torch's generator first for a repeatable one)."""
    return CoLocaliser(encoder, **kwargs)
