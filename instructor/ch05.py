"""Chapter 5, "The localisation network": reference solutions and hidden inputs.

Both functions return more than tensors (a layer; optimiser groups), so each has a probe that
turns what it returns into plain data, the same way for the learner's function and the reference.
"""

import torch
from torch import nn

from stn_course.classroom import Hidden
from stn_course.exercises import Case

CHAPTER = "05_localisation"


def identity_head(in_features, transform):
    head = nn.Linear(in_features, transform.num_params)
    nn.init.zeros_(head.weight)
    with torch.no_grad():
        head.bias.copy_(transform.identity_params())
    return head


def loc_param_groups(model, lr, loc_scale):
    loc, rest = [], []
    for name, p in model.named_parameters():
        (loc if "localization" in name.split(".") else rest).append(p)
    return [{"params": loc, "lr": lr * loc_scale}, {"params": rest, "lr": lr}]


def head_probe(fn, in_features, transform_name, features):
    """The layer's type and size, its output on the features, and whether its weights can learn."""
    import torch

    from stn_course.transforms import make_transform

    head = fn(in_features, make_transform(transform_name))
    if not isinstance(head, torch.nn.Linear):
        return {"type": type(head).__name__, "size": None, "output": None, "weights learn": None}
    out = head(features)
    out.sum().backward()
    grad = head.weight.grad
    return {"type": "Linear", "size": [head.in_features, head.out_features], "output": out.detach(),
            "weights learn": grad is not None and bool(grad.abs().sum() > 0)}


def groups_probe(fn, seed, lr, loc_scale):
    """The learning rate each named parameter of a small ST model gets (None: in no group)."""
    import torch

    from stn_course.localization import CNNLocalization
    from stn_course.transformer import SpatialTransformer

    torch.manual_seed(seed)
    model = torch.nn.Sequential()
    model.add_module("transformer", SpatialTransformer(CNNLocalization((1, 28, 28), "affine"), "affine"))
    model.add_module("classifier", torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10)))
    rates = {}
    for group in fn(model, lr, loc_scale):
        for p in group["params"]:
            rates[id(p)] = "in two groups" if id(p) in rates else float(group["lr"])
    return {name: rates.get(id(p)) for name, p in model.named_parameters()}


def _head_cases(g):
    cases = []
    for name in ("attention", "affine", "projective", "tps"):
        k = int(torch.randint(5, 60, (1,), generator=g))
        cases.append(Case(f"{k} features, the {name} transform", (k, name, torch.randn(3, k, generator=g) * 3)))
    return cases


def _group_cases(g):
    return [Case(f"lr={lr:g}, loc_scale={s:g}", (int(torch.randint(0, 1000, (1,), generator=g)), lr, s))
            for lr, s in ((float(torch.rand(1, generator=g)) / 10, 0.1), (0.5, float(torch.rand(1, generator=g))))]


EXERCISES = {
    "ex-loc-identity-head": Hidden("identity_head", identity_head, _head_cases, probe=head_probe, atol=1e-6),
    "ex-loc-param-groups": Hidden("loc_param_groups", loc_param_groups, _group_cases, probe=groups_probe, atol=1e-12),
}
