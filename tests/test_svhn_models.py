"""The SVHN models (shapes, structure, identity at init), the sequence loss and the sequence error."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from stn_course import training
from stn_course.svhn import BLANK
from stn_course.svhn.models import (PAPER_ARCH, SMALL_ARCH, SVHNNet, build_svhn_model, predict, sequence_error,
                                    sequence_loss, sequence_wrong)

B = BLANK


@pytest.mark.parametrize("kind", ["cnn", "st-single", "st-multi"])
def test_paper_models_map_54px_crops_to_five_11_way_classifiers(kind):
    torch.manual_seed(0)
    model = build_svhn_model(kind, 54, "paper").eval()
    out = model(torch.rand(2, 3, 54, 54))
    assert out.shape == (2, 5, 11)
    assert len(model.transformers) == {"cnn": 0, "st-single": 1, "st-multi": 4}[kind]


def test_paper_backbone_is_the_appendix_stack():
    model = build_svhn_model("cnn", 54, "paper")
    convs = [s.conv for s in model.features]
    assert [c.out_channels for c in convs] == [48, 64, 128, 160, 192, 192, 192, 192]
    assert all(c.kernel_size == (5, 5) and c.padding == (2, 2) for c in convs)
    assert [isinstance(s.pool, nn.MaxPool2d) for s in model.features] == [True, False] * 4
    # dropout 0.5 everywhere but after the first convolution
    assert isinstance(model.features[0].dropout, nn.Identity)
    assert all(s.dropout.p == 0.5 for s in model.features[1:])
    linears = [m for m in model.fc if isinstance(m, nn.Linear)]
    assert [m.out_features for m in linears] == [3072, 3072]
    assert linears[0].in_features == 192 * 3 * 3            # 54 → 27 → 13 → 6 → 3
    assert model.classifiers.out_features == 5 * 11


def test_st_multi_warps_the_input_and_the_first_three_feature_maps():
    model = build_svhn_model("st-multi", 54, "paper").eval()
    seen = []
    hooks = [st.register_forward_hook(lambda m, i, o: seen.append((tuple(i[0].shape[1:]), tuple(o.shape[1:]))))
             for st in model.transformers]
    model(torch.rand(1, 3, 54, 54))
    for h in hooks:
        h.remove()
    assert seen == [((3, 54, 54),) * 2, ((48, 27, 27),) * 2, ((64, 27, 27),) * 2, ((128, 13, 13),) * 2]
    for st in model.transformers:   # two fully connected layers of 32 units
        widths = [m.out_features for m in st.localization.features if isinstance(m, nn.Linear)]
        assert widths == [32, 32]


def test_st_single_localisation_is_a_four_layer_cnn():
    model = build_svhn_model("st-single", 54, "paper")
    loc = model.transformers[0].localization
    layers = [m for m in [*loc.features, *loc.fc] if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert [type(m).__name__ for m in layers] == ["Conv2d", "Conv2d", "Linear", "Linear"]
    assert [getattr(m, "out_channels", getattr(m, "out_features", None)) for m in layers] == [32, 32, 32, 32]


@pytest.mark.parametrize("kind", ["st-single", "st-multi"])
def test_untrained_st_models_compute_the_baseline_cnn(kind):
    """Identity-initialised transformers pass their input through: with the CNN's weights copied
    into the ST model's backbone, both give the same logits."""
    torch.manual_seed(1)
    cnn = build_svhn_model("cnn", 40, SMALL_ARCH).eval()
    st = build_svhn_model(kind, 40, SMALL_ARCH).eval()
    missing, unexpected = st.load_state_dict(cnn.state_dict(), strict=False)
    assert not unexpected and all(".transformer." in k for k in missing)
    x = torch.rand(3, 3, 40, 40)
    torch.testing.assert_close(st(x), cnn(x), atol=1e-5, rtol=1e-4)


def test_localisation_nets_get_their_own_learning_rate_and_gradients():
    model = build_svhn_model("st-multi", 40, SMALL_ARCH)
    groups = training.param_groups(model, lr=0.01, loc_lr_scale=0.1, weight_decay=5e-4)
    loc_params = {id(p) for st in model.transformers for p in st.localization.parameters()}
    for g in groups:
        assert g["localization"] == all(id(p) in loc_params for p in g["params"])
        assert g["lr"] == pytest.approx(0.001 if g["localization"] else 0.01)
    assert sum(len(g["params"]) for g in groups if g["localization"]) == len(loc_params)
    sequence_loss(model(torch.rand(4, 3, 40, 40)), torch.randint(0, 11, (4, 5))).backward()
    for st in model.transformers:
        assert st.localization.head.linear.weight.grad.abs().sum() > 0


def test_models_check_their_input():
    model = build_svhn_model("cnn", 40, SMALL_ARCH)
    with pytest.raises(ValueError, match=r"x must have shape \(N, 3, 40, 40\)"):
        model(torch.rand(1, 3, 54, 54))
    with pytest.raises(ValueError, match="kind must be one of"):
        SVHNNet("st-triple", 40, SMALL_ARCH)
    with pytest.raises(ValueError, match="in_size must be an int of at least 8"):
        SVHNNet("cnn", 4, SMALL_ARCH)
    with pytest.raises(ValueError, match="arch must be one of"):
        build_svhn_model("cnn", 54, "huge")
    assert PAPER_ARCH.num_st == 4


# ------------------------------------------------------------------------------------------------
# the metric on hand-made numbers

TARGETS = torch.tensor([
    [1, 0, 7, B, B],   # "107"
    [5, B, B, B, B],   # "5"
    [2, 3, B, B, B],   # "23"
    [9, 9, 9, 9, 9],   # "99999"
])


def test_sequence_error_counts_a_number_right_only_if_every_position_is():
    assert sequence_error(TARGETS, TARGETS) == 0.0
    preds = TARGETS.clone()
    preds[0, 1] = 8          # "187": one wrong digit → the whole number is wrong
    preds[2, 2] = 4          # "234": an extra digit where a blank belongs
    assert sequence_error(preds, TARGETS) == pytest.approx(50.0)
    preds[1, 0] = B          # predicting nothing for "5"
    preds[3, 4] = B          # "9999": one digit short
    assert sequence_error(preds, TARGETS) == pytest.approx(100.0)


def test_sequence_error_and_wrong_from_logits():
    logits = torch.full((4, 5, 11), -5.0)
    preds = TARGETS.clone()
    preds[3, 0] = 8
    logits.scatter_(2, preds.unsqueeze(2), 5.0)
    assert torch.equal(predict(logits), preds)
    assert sequence_wrong(logits, TARGETS).tolist() == [False, False, False, True]
    assert sequence_error(predict(logits), TARGETS) == pytest.approx(25.0)


def test_sequence_error_checks_shapes():
    with pytest.raises(ValueError, match=r"predictions must have shape \(N, 5\)"):
        sequence_error(torch.zeros(3, 4, dtype=torch.long), torch.zeros(3, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="targets must have shape"):
        sequence_error(TARGETS, TARGETS[:2])
    with pytest.raises(TypeError, match="predictions must be a torch.Tensor"):
        sequence_error([[1, 2, 3, 4, 5]], TARGETS)


def test_sequence_loss_is_the_sum_of_the_five_cross_entropies():
    torch.manual_seed(0)
    logits = torch.randn(4, 5, 11)
    by_hand = sum(nn.functional.cross_entropy(logits[:, k], TARGETS[:, k], reduction="none") for k in range(5))
    torch.testing.assert_close(sequence_loss(logits, TARGETS, reduction="none"), by_hand)
    torch.testing.assert_close(sequence_loss(logits, TARGETS), by_hand.mean())
    torch.testing.assert_close(sequence_loss(logits, TARGETS, reduction="sum"), by_hand.sum())
    with pytest.raises(ValueError, match=r"logits must have shape \(N, 5, 11\)"):
        sequence_loss(torch.randn(4, 55), TARGETS)


def test_evaluate_reports_sequence_error_with_the_hooks():
    class Fixed(nn.Module):
        def __init__(self, logits):
            super().__init__()
            self.logits = logits
            self.dummy = nn.Parameter(torch.zeros(()))

        def forward(self, x):
            return self.logits[x[:, 0].long()] + 0 * self.dummy

    logits = torch.full((4, 5, 11), -5.0)
    preds = TARGETS.clone()
    preds[1, 1] = 3
    logits.scatter_(2, preds.unsqueeze(2), 5.0)
    x = torch.arange(4.0)[:, None]
    result = training.evaluate(Fixed(logits), (x, TARGETS), batch_size=3, loss_fn=sequence_loss,
                               error_fn=sequence_wrong)
    assert result["error"] == pytest.approx(25.0) and result["n"] == 4
    assert result["loss"] == pytest.approx(sequence_loss(logits, TARGETS).item(), rel=1e-5)


def test_compose_thetas_matches_chained_sampling():
    """Sampling an image through two transformers = sampling it once with the composed θ."""
    from stn_course.svhn.models import compose_thetas

    yy, xx = torch.meshgrid(torch.linspace(-3, 3, 64), torch.linspace(-3, 3, 64), indexing="ij")
    image = torch.stack([torch.sin(2 * xx) * torch.cos(yy), torch.cos(xx + yy)])[:, None]   # smooth
    t1 = torch.tensor([[0.8, 0.1, 0.1], [-0.1, 0.9, 0.0]]).expand(2, 2, 3)
    t2 = torch.tensor([[0.9, 0.0, -0.05], [0.05, 0.7, 0.1]]).expand(2, 2, 3)

    def warp(x, t):
        return nn.functional.grid_sample(x, nn.functional.affine_grid(t, list(x.shape), align_corners=False),
                                         align_corners=False)

    chained = warp(warp(image, t1), t2)
    once = warp(image, compose_thetas([t1, t2]))
    inner = (slice(None), slice(None), slice(8, 56), slice(8, 56))   # the second resampling blurs a little
    assert (chained - once)[inner].abs().mean() < 0.01 * image.std()
    assert (warp(image, compose_thetas([t2, t1])) - chained)[inner].abs().mean() > 0.05 * image.std()
    torch.testing.assert_close(compose_thetas([t1]), t1)


@pytest.mark.parametrize("kind", ["st-single", "st-multi"])
def test_transformers_run_in_float32_under_autocast(kind):
    """The float32 policy of the MNIST models holds here too: under bfloat16 autocast every
    localisation net, grid and sampled map of an SVHN model is float32."""
    model = build_svhn_model(kind, 40, SMALL_ARCH).eval()
    seen = []
    for st in model.transformers:
        st.localization.register_forward_hook(lambda m, args, out: seen.append(("params", out.dtype)))
        st.register_forward_hook(lambda m, args, out: seen.append(("output", out.dtype)))
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(torch.rand(2, 3, 40, 40))
    assert len(seen) == 2 * len(model.transformers)
    assert all(dtype == torch.float32 for _, dtype in seen), seen
    assert logits.dtype == torch.bfloat16   # the rest of the network does run in reduced precision
