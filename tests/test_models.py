"""The Table 1 models: shapes, gradients, parameter matching, names, identity start."""

import pytest
import torch

from stn_course import models


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("distortion", models.DISTORTIONS)
@pytest.mark.parametrize("name", models.MODEL_NAMES)
def test_forward_backward_shapes(name, distortion):
    torch.manual_seed(0)
    model = models.build_model(name, distortion)
    x = torch.rand(3, *models.input_shape(distortion), requires_grad=True)
    logits = model(x)
    assert logits.shape == (3, 10)
    logits.logsumexp(1).sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"no gradient reached {missing}"
    if name.startswith("st-"):
        out = models.ST_OUT_SIZE[distortion] or models.INPUT_SIZE[distortion]
        assert model.transformer.last_grid.shape == (3, out, out, 2)


@pytest.mark.parametrize("distortion", models.DISTORTIONS)
def test_parameter_counts_match_within_an_experiment(distortion):
    counts = models.param_counts(distortion)
    totals = [c["total"] for c in counts.values()]
    assert max(totals) / min(totals) < 1.10, counts
    assert counts["cnn"]["total"] == models.budget(distortion)
    for name, c in counts.items():  # the report agrees with the models actually built
        model = models.build_model(name, distortion)
        assert models.count_parameters(model) == c["total"]
        assert c["localization"] + c["classifier"] == c["total"]
        if name.startswith("st-"):
            assert c["localization"] == models.count_parameters(model.transformer.localization)
        else:
            assert c["localization"] == 0


def test_cnn_follows_the_paper_layout():
    cnn = models.build_model("cnn", "R")
    convs = [m for m in cnn.modules() if isinstance(m, torch.nn.Conv2d)]
    pools = [m for m in cnn.modules() if isinstance(m, torch.nn.MaxPool2d)]
    assert [c.kernel_size for c in convs] == [(9, 9), (7, 7)] and len(pools) == 2


@pytest.mark.parametrize("name", ["st-fcn-aff", "st-cnn-proj", "st-cnn-tps"])
def test_untrained_transformer_is_the_identity(name):
    """The regression layer starts at the identity: the ST passes its input through (R: same size)."""
    torch.manual_seed(0)
    model = models.build_model(name, "R")
    x = torch.rand(2, 1, 28, 28)
    expected = torch.nn.functional.grid_sample(
        x, torch.nn.functional.affine_grid(torch.eye(2, 3).expand(2, 2, 3), [2, 1, 28, 28], align_corners=False),
        align_corners=False)
    torch.testing.assert_close(model.transformer(x), expected, atol=1e-5, rtol=0)


def test_downsampling_transformer_for_large_inputs():
    model = models.build_model("st-cnn-aff", "TC")
    x = torch.zeros(1, 1, 60, 60)
    x[..., 20:40, 20:40] = 1  # identity start: the 30×30 output shows the same square, halved
    with torch.no_grad():
        out = model.transformer(x)
    assert out.shape == (1, 1, 30, 30)
    assert float(out[0, 0, 15, 15]) == pytest.approx(1.0) and float(out[0, 0, 2, 2]) == 0


@pytest.mark.parametrize("spelling", ["ST-CNN Aff", "st_cnn_aff", "stcnn-aff", " St-Cnn-AFF "])
def test_name_spellings(spelling):
    assert models.normalize_name(spelling) == "st-cnn-aff"


def test_bad_names_are_reported():
    with pytest.raises(ValueError, match="model must be one of"):
        models.build_model("resnet", "R")
    with pytest.raises(ValueError, match="distortion must be one of"):
        models.build_model("cnn", "XYZ")
    with pytest.raises(ValueError, match="in_shape"):
        models.CNN((28, 28))


@pytest.mark.parametrize("call, error, words", [
    (lambda: models.build_model("cnn", "R", num_classes=0), ValueError, "num_classes"),
    (lambda: models.build_model("cnn", "R", num_classes=2.5), TypeError, "num_classes"),
    (lambda: models.make_st("cnn", "aff", 28.0, None), TypeError, "in_size"),
    (lambda: models.make_st("cnn", "aff", 28, 0), ValueError, "out_size"),
    (lambda: models.FCN((True, 28, 28)), ValueError, "in_shape"),
    (lambda: models.make_st("fcn", "aff", 28, None, channels=0), ValueError, "channels"),
])
def test_bad_sizes_are_named(call, error, words):
    with pytest.raises(error, match=words):
        call()


def test_localization_checks_its_bound_and_shape():
    from stn_course.localization import CNNLocalization, FCLocalization

    with pytest.raises(ValueError, match="bound"):
        FCLocalization((1, 8, 8), "affine", bound=float("nan"))
    with pytest.raises(ValueError, match="in_shape"):
        CNNLocalization((1, 8, 0), "affine")
