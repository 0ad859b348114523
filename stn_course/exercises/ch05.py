"""Checks for chapter 5, the localisation network."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..localization import CNNLocalization
from ..transformer import SpatialTransformer
from ..transforms import make_transform
from . import ExerciseFailed, check, not_attempted, report_pass


@check
def check_identity_head(fn: Callable) -> None:
    """Exercise: ``identity_head(in_features, transform)`` — a regression layer that starts at the identity."""
    g = torch.Generator().manual_seed(5)
    for name, in_features in (("attention", 7), ("affine", 50), ("projective", 32), ("tps", 20)):
        transform = make_transform(name)
        try:
            head = fn(in_features, transform)
        except NotImplementedError:
            raise not_attempted("identity_head") from None
        if not isinstance(head, nn.Linear):
            raise ExerciseFailed(f"identity_head({in_features}, {name}): expected an nn.Linear, got {type(head).__name__}")
        if (head.in_features, head.out_features) != (in_features, transform.num_params):
            raise ExerciseFailed(f"identity_head({in_features}, {name}): expected nn.Linear({in_features}, "
                                 f"{transform.num_params}), got nn.Linear({head.in_features}, {head.out_features}). "
                                 "The output size is the transform's num_params.")
        h = torch.randn(4, in_features, generator=g) * 3
        out = head(h).detach()
        identity = transform.identity_params().expand(4, -1)
        if not torch.allclose(out, identity, atol=1e-6):
            raise ExerciseFailed(f"identity_head({in_features}, {name}): for random features the output should be "
                                 f"the identity {transform.identity_params().tolist()}, got {out[0].tolist()}. "
                                 "The output must not depend on the features at all: what does that ask of the "
                                 "weights, and what is then left to set the output?")
        loss = head(h).sum()
        loss.backward()
        if head.weight.grad is None or head.weight.grad.abs().sum() == 0:
            raise ExerciseFailed(f"identity_head({in_features}, {name}): the weights get no gradient — keep them "
                                 "trainable parameters (initialised as you need, but not frozen or removed).")
    report_pass("identity_head", "starts at the identity for attention, affine, projective and TPS, and can learn")


@check
def check_loc_param_groups(fn: Callable) -> None:
    """Exercise: ``loc_param_groups(model, lr, loc_scale)`` — optimiser groups with a slower localisation net."""
    torch.manual_seed(0)
    st = SpatialTransformer(CNNLocalization((1, 28, 28), "affine"), "affine")
    model = nn.Sequential()
    model.add_module("transformer", st)
    model.add_module("classifier", nn.Sequential(nn.Flatten(), nn.Linear(784, 10)))
    lr, scale = 0.01, 0.1
    try:
        groups = fn(model, lr, scale)
    except NotImplementedError:
        raise not_attempted("loc_param_groups") from None
    if not isinstance(groups, (list, tuple)) or not all(isinstance(gr, dict) and "params" in gr and "lr" in gr
                                                        for gr in groups):
        raise ExerciseFailed("loc_param_groups: return a list of dicts, each with 'params' and 'lr' "
                             "(what torch.optim.SGD/Adam accept)")
    seen: dict[int, float] = {}
    for gr in groups:
        for p in gr["params"]:
            if id(p) in seen:
                raise ExerciseFailed("loc_param_groups: a parameter appears in two groups; each must be in exactly one")
            seen[id(p)] = gr["lr"]
    loc_ids = {id(p) for p in st.localization.parameters()}
    for name, p in model.named_parameters():
        if id(p) not in seen:
            raise ExerciseFailed(f"loc_param_groups: parameter {name!r} is in no group; the optimiser would never "
                                 "update it")
        want = lr * scale if id(p) in loc_ids else lr
        if abs(seen[id(p)] - want) > 1e-12:
            part = "the localisation net" if id(p) in loc_ids else "the rest of the model"
            raise ExerciseFailed(f"loc_param_groups: {name!r} belongs to {part} and should learn at {want:g}, "
                                 f"got {seen[id(p)]:g}")
    torch.optim.SGD(groups, lr=lr)  # the groups must be usable as they are
    report_pass("loc_param_groups", f"the {len(loc_ids)} localisation tensors learn at lr·{scale}, the other "
                f"{len(seen) - len(loc_ids)} at lr")
