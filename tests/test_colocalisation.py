"""Co-localisation (appendix A.2): the 84 × 84 data, boxes and IoU, the hinge loss by hand, the
co-localiser, and the benchmark command's records."""

import pytest
import torch
import torch.nn.functional as F

from stn_course import colocalisation as C
from stn_course import data, distortions, training
from stn_course.benchmark import colocalisation as B

pytestmark = pytest.mark.usefixtures("one_thread")


# ----------------------------------------------------------------------------- data

@pytest.mark.parametrize("variant", ["translated", "cluttered"])
def test_images_hold_one_digit_in_its_box_and_repeat_for_a_seed(variant):
    images, boxes = data.colocalisation_split(variant, "test", 4, size=12)
    assert images.shape == (12, 1, 84, 84) and boxes.shape == (12, 4)
    assert torch.equal(boxes[:, 2:] - boxes[:, :2], torch.full((12, 2), 28.0))
    again, boxes2 = data.colocalisation_split(variant, "test", 4, size=12)
    assert torch.equal(images, again) and torch.equal(boxes, boxes2)
    whole, _ = data.colocalisation_split(variant, "test", 4)
    assert torch.equal(whole[:12], images)  # a prefix is the whole split's first images
    other, _ = data.colocalisation_split(variant, "test", 4, seed=1, size=12)
    assert not torch.equal(other, images)
    digits, labels, _ = data.mnist_split("test")
    own = digits[labels == 4][:12]
    for img, box, digit in zip(images, boxes, own):
        x0, y0, x1, y1 = box.long().tolist()
        assert torch.all(img[0, y0:y1, x0:x1] >= digit[0])  # the digit, unchanged (clutter combines by max)
        outside = img[0].clone()
        outside[y0:y1, x0:x1] = 0
        assert (outside.sum() > 0) == (variant == "cluttered")


def test_clutter_is_sixteen_crops_of_six_pixels():
    black = torch.zeros(3, 1, 28, 28)
    white = torch.ones(5, 1, 28, 28)
    out, p = distortions.colocalisation(black, torch.Generator().manual_seed(0), variant="cluttered", pool=white,
                                        pool_index=torch.zeros(3, dtype=torch.long))
    assert p["clutter_position"].shape == (3, 16, 2) and out.shape == (3, 1, 84, 84)
    assert bool((out.sum((1, 2, 3)) <= 16 * 36).all()) and bool((out.sum((1, 2, 3)) >= 36).all())


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="variant must be one of"):
        data.colocalisation_split("rotated", "test", 1)
    with pytest.raises(ValueError, match="digit must be an int in 0..9"):
        data.colocalisation_split("translated", "test", 10)
    with pytest.raises(ValueError, match="split must be one of"):
        data.colocalisation_split("translated", "dev", 1)
    with pytest.raises(ValueError, match="position must have shape"):
        distortions.digit_box(torch.zeros(3, 3))


# ----------------------------------------------------------------------------- boxes

def test_iou_by_hand():
    a = torch.tensor([[0.0, 0, 10, 10]] * 5)
    b = torch.tensor([[0.0, 0, 10, 10], [20, 20, 30, 30], [10, 0, 20, 10], [5, 0, 15, 10], [2, 2, 7, 7]])
    assert torch.allclose(C.box_iou(a, b), torch.tensor([1.0, 0.0, 0.0, 50 / 150, 25 / 100]))
    assert C.localised(a, b).tolist() == [True, False, False, False, False]
    assert C.box_iou(torch.zeros(1, 4), torch.zeros(1, 4)).tolist() == [0.0]  # two empty boxes


def test_bad_boxes_are_named():
    with pytest.raises(ValueError, match=r"a must have shape \(N, 4\)"):
        C.box_iou(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="b must have x0 <= x1"):
        C.box_iou(torch.zeros(1, 4), torch.tensor([[5.0, 0, 1, 1]]))
    with pytest.raises(ValueError, match="the same number of boxes"):
        C.box_iou(torch.zeros(1, 4), torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"params must have shape \(N, 3\)"):
        C.attention_box(torch.zeros(2, 6), (84, 84))


def test_attention_box_by_hand_and_against_the_sampling_grid():
    params = torch.tensor([[1 / 3, 0.0, 0.0], [0.5, 0.5, -0.5], [1.0, 0.0, 0.0]])
    boxes = C.attention_box(params, (84, 84))
    assert torch.allclose(boxes, torch.tensor([[28.0, 28, 56, 56], [42, 0, 84, 42], [0, 0, 84, 84]]))
    # the grid's first and last sample centres lie half an output pixel inside the box
    theta = torch.stack([torch.tensor([[s, 0, tx], [0, s, ty]]) for s, tx, ty in params.tolist()])
    g = (F.affine_grid(theta, (3, 1, 28, 28), align_corners=False) + 1) * 42  # input pixels
    half = (boxes[:, 2] - boxes[:, 0]) / 56
    assert torch.allclose(g[:, 0, 0, 0], boxes[:, 0] + half, atol=1e-4)
    assert torch.allclose(g[:, -1, -1, 1], boxes[:, 3] - half, atol=1e-4)


# ----------------------------------------------------------------------------- the loss

def test_hinge_loss_by_hand():
    crops, randoms = torch.tensor([[0.0], [1.0]]), torch.tensor([[3.0], [1.0]])
    # pair (0, 1): max(0, 1 − 9 + 1) = 0; pair (1, 0): max(0, 1 − 0 + 1) = 2
    assert C.triplet_hinge_loss(crops, randoms, margin=1.0).item() == pytest.approx(1.0)
    assert C.triplet_hinge_loss(crops, randoms, margin=1.0, reduction="sum").item() == pytest.approx(2.0)
    assert C.triplet_hinge_loss(crops, randoms, margin=0.0).item() == pytest.approx(0.5)


def test_hinge_loss_is_zero_when_crops_agree_and_random_crops_are_far():
    crops = torch.ones(4, 3)
    assert C.triplet_hinge_loss(crops, torch.zeros(4, 3), margin=1.0).item() == 0.0  # apart 3 > 0 + margin
    assert C.triplet_hinge_loss(crops, crops.clone(), margin=1.0).item() == pytest.approx(1.0)


def test_hinge_loss_bad_input_is_named():
    with pytest.raises(ValueError, match="crops and randoms must both have shape"):
        C.triplet_hinge_loss(torch.zeros(3, 2), torch.zeros(3, 3))
    with pytest.raises(ValueError, match="at least 2 images"):
        C.triplet_hinge_loss(torch.zeros(1, 2), torch.zeros(1, 2))
    with pytest.raises(ValueError, match="margin must be"):
        C.triplet_hinge_loss(torch.zeros(2, 2), torch.zeros(2, 2), margin=-1.0)


# ----------------------------------------------------------------------------- the co-localiser

def test_colocaliser_shapes_boxes_and_random_crops_of_its_own_size():
    torch.manual_seed(0)
    model = C.make_colocaliser(C.Encoder(), localiser="pointing")
    out = model(torch.rand(5, 1, 84, 84))
    assert out.crop_embedding.shape == out.random_embedding.shape == (5, 32 * 7 * 7)
    assert torch.allclose(out.crop_embedding.norm(dim=1), torch.ones(5), atol=1e-5)
    assert out.params.shape == (5, 3) and bool(((out.params[:, 0] >= 0.3) & (out.params[:, 0] <= 0.4)).all())
    assert torch.allclose(out.box, C.attention_box(out.params, (84, 84)))
    random = C.random_crop_params(out.params[:, 0])
    assert torch.equal(random[:, 0], out.params[:, 0])
    assert bool((random[:, 1:].abs() <= 1 - random[:, :1]).all())  # inside the image
    assert not any(p.requires_grad for p in model.encoder.parameters())


def test_the_untrained_localiser_points_at_ink():
    image = torch.zeros(1, 1, 84, 84)
    image[0, 0, 60:70, 10:16] = 1.0  # a blob left of centre, low down
    torch.manual_seed(0)
    box = C.make_colocaliser(C.Encoder(), localiser="pointing")(image).box[0]
    centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
    assert abs(centre[0] - 13) < 3 and abs(centre[1] - 65) < 3


def test_the_default_localiser_is_the_papers_kind_a_random_box_regressor():
    torch.manual_seed(0)
    model = C.make_colocaliser(C.Encoder())
    assert model.localiser == "regression" and isinstance(model.transformer.localization, C.BoxRegression)
    head = model.transformer.localization.net.head.linear
    assert head.weight.abs().sum() > 0  # not the identity start of Table 1's nets: each image gets its own box
    torch.manual_seed(1)
    other = C.make_colocaliser(C.Encoder()).transformer.localization.net.head.linear
    assert not torch.equal(head.bias, other.bias)


def test_box_regression_shapes_and_every_box_inside_the_image():
    torch.manual_seed(0)
    net = C.BoxRegression()
    x = torch.cat([torch.rand(4, 1, 84, 84), 1e4 * torch.randn(4, 1, 84, 84)])  # the last four saturate the outputs
    params = net(x)
    assert params.shape == (8, 3)
    s, t = params[:, 0], params[:, 1:]
    assert bool(((s > 0) & (s <= 1)).all()) and bool((t.abs() <= 1 - s[:, None] + 1e-6).all())
    box = C.attention_box(params, (84, 84))
    assert bool((box >= -1e-4).all() and (box <= 84 + 1e-4).all())
    params.sum().backward()
    assert all(p.grad is not None for p in net.parameters())


def test_the_untrained_box_regressor_does_not_point_at_ink():
    images = torch.zeros(2, 1, 84, 84)
    images[0, 0, 4:32, 4:32] = 1.0  # a block of ink top left
    images[1, 0, 52:80, 52:80] = 1.0  # the same block bottom right: 48 px away in x and y
    torch.manual_seed(0)
    box = C.make_colocaliser(C.Encoder())(images).box
    centres = (box[:, :2] + box[:, 2:]) / 2
    assert float((centres[1] - centres[0]).abs().max()) < 10
    # nor does it find the digit of a translated image, where a box on the ink always does
    x, true = data.colocalisation_split("translated", "test", 3, size=100)
    torch.manual_seed(0)
    before = B.score(C.make_colocaliser(C.Encoder()), (x, true))["localised"]
    ink = 100.0 * float(C.localised(C.ink_boxes(x), true).float().mean())
    assert before < 20 and ink == 100.0


def test_bad_localiser_arguments_are_named():
    with pytest.raises(TypeError, match="encoder must be an Encoder"):
        C.make_colocaliser(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match=r"localiser must be one of \['regression', 'pointing'\], got 'heatmap'"):
        C.make_colocaliser(C.Encoder(), localiser="heatmap")
    with pytest.raises(ValueError, match="image_size must be"):
        C.BoxRegression(image_size=4)
    with pytest.raises(TypeError, match="image_size must be an int"):
        C.BoxRegression(image_size=84.0)
    with pytest.raises(ValueError, match=r"x must have shape \(N, 1, 84, 84\), got \(2, 1, 28, 28\)"):
        C.BoxRegression()(torch.zeros(2, 1, 28, 28))
    with pytest.raises(ValueError, match="scale_range must be"):
        C.HeatmapLocalization(scale_range=(0.5, 0.25))


def test_fit_trains_the_colocaliser_without_boxes_and_validates_with_them():
    x, boxes = data.colocalisation_split("cluttered", "train", 7, size=64)
    fit = dict(steps=3, batch_size=16, loss_fn=C.TripletHingeLoss(0.5), progress=False)

    def trained(targets, val=None):
        torch.manual_seed(0)
        model = C.make_colocaliser(C.Encoder(), localiser="pointing")
        moved = []
        hist = training.fit(model, (x, targets), val, error_fn=C.missed, restore_best=False, **fit,
                            callback=lambda step, h: moved.append(model.transformer.localization.score.weight.sum().item()))
        return model, hist, moved

    model, hist, moved = trained(boxes, val=(x[:16], boxes[:16]))
    assert len(hist.loss) == 3 and len(hist.val_error) >= 1 and len(set(moved)) == 3
    assert 0 <= hist.val_error[-1] <= 100
    # the boxes never reach the loss: shuffled boxes give the same training
    a, _, _ = trained(boxes)
    b, _, _ = trained(boxes.flip(0))
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


def test_quick_coloc_run_writes_a_record_with_provenance(tmp_path):
    tiny = B.ColocSchedule("quick", steps=3, eval_every=3, encoder_steps=5, encoder_train_size=256,
                           train_subset=64, eval_subset=20, batch_size=8)
    record = B.run_coloc_cell("cluttered", 2, 0, tiny, tmp_path, device=torch.device("cpu"), progress=False,
                              command="test")
    for key in ("git_commit", "git_dirty", "device_name", "images_per_s", "test_localised", "untrained_localised",
                "gallery_boxes", "encoder", "test_mean_iou"):
        assert key in record, key
    assert record["test_n"] == 20 and len(record["gallery_boxes"]) == 16 and 0 <= record["test_localised"] <= 100
    assert len(record["transformer_health"]["transformers"]) == 1 and record["transformer_health"]["n"] == 20
    assert (tmp_path / "encoder" / "encoder_quick_seed0.pt").exists() and not B.is_full_length(record)
    assert (record["localiser"], record["margin"]) == ("regression", 1.0)
    assert record["run_id"] == "cluttered_regression_digit2_quick_seed0"
    assert (tmp_path / "cluttered_regression_digit2_quick_seed0.json").exists()
    md, _ = B.write_coloc_table(tmp_path)
    assert "| cluttered (regression, α = 1): ink box / untrained → trained |" in md.read_text()


def test_localiser_and_margin_name_the_run_so_settings_never_share_a_record():
    efficient = B.SCHEDULES["efficient"]
    assert efficient.margin == 1.0  # the paper's
    assert B.coloc_run_id("cluttered", "regression", 1, efficient, 2) == "cluttered_regression_digit1_efficient_seed2"
    assert B.coloc_run_id("cluttered", "pointing", 1, efficient, 2) == "cluttered_pointing_digit1_efficient_seed2"
    half = B.replace(efficient, margin=0.5)
    assert B.coloc_run_id("translated", "pointing", 0, half, 0) == \
        "translated_pointing_digit0_efficient_margin0.5_seed0"
    # none of them is the name the records had before the localiser had a choice
    assert "cluttered_digit1_efficient_seed0" not in {B.coloc_run_id("cluttered", loc, 1, s, 0)
                                                      for loc in C.LOCALISERS for s in (efficient, half)}
    with pytest.raises(ValueError, match="localiser must be one of"):
        B.coloc_run_id("cluttered", "heatmap", 1, efficient, 0)
    assert B.MAIN_SETTING == "regression, α = 1"  # what the book's main table reads
    # a record from before the choice was the pointing net with the margin its schedule named
    old = {"schedule_settings": {"margin": 0.5}}
    assert (B.localiser_of(old), B.setting_of(old)) == ("pointing", "pointing, α = 0.5")
    assert B.setting_of({"localiser": "regression", "margin": 1.0, "schedule_settings": {"margin": 1.0}}) == \
        "regression, α = 1"


def test_the_command_passes_localisers_and_margin_to_every_run(tmp_path, monkeypatch):
    from stn_course import benchmark

    calls = []

    def fake_cell(variant, digit, seed, schedule, out_dir, **kw):
        calls.append((variant, kw["localiser"], digit, seed, schedule.margin))
        return {"untrained_localised": 0.0, "test_localised": 0.0, "test_mean_iou": 0.0, "images_per_s": 1.0,
                "wall_time_s": 1.0}

    monkeypatch.setattr(B, "run_coloc_cell", fake_cell)
    monkeypatch.setattr(B, "write_coloc_table", lambda out: None)
    argv = ["coloc", "--variants", "cluttered", "--digits", "4", "--seeds", "2", "--out", str(tmp_path)]
    assert benchmark.main(argv + ["--localisers", "regression", "pointing", "--margin", "0.5", "--no-progress"]) == 0
    assert calls == [("cluttered", "regression", 4, 0, 0.5), ("cluttered", "pointing", 4, 0, 0.5),
                     ("cluttered", "regression", 4, 1, 0.5), ("cluttered", "pointing", 4, 1, 0.5)]
    calls.clear()
    assert benchmark.main(argv + ["--no-progress"]) == 0
    assert calls == [("cluttered", "regression", 4, 0, 1.0), ("cluttered", "regression", 4, 1, 1.0)]
    with pytest.raises(SystemExit):
        benchmark.main(argv + ["--localisers", "heatmap"])


def _run(variant, digit, seed, before, after, localiser="regression", margin=1.0):
    return {"variant": variant, "digit": digit, "seed": seed, "untrained_localised": before, "test_localised": after,
            "localiser": localiser, "margin": margin, "schedule_settings": {"margin": margin}}


def test_localised_table_has_a_column_per_setting_and_variant_the_baselines_the_means_and_the_collapses():
    runs = [_run("cluttered", 3, 0, 30.0, 90.0), _run("cluttered", 3, 1, 30.0, 80.0),
            _run("cluttered", 1, 0, 2.0, 70.0), _run("cluttered", 1, 1, 4.0, 5.0),
            _run("translated", 3, 0, 100.0, 99.5, "pointing", 0.5),
            {"variant": "cluttered", "digit": 1, "seed": 0, "untrained_localised": 16.2, "test_localised": 0.7,
             "schedule_settings": {"margin": 0.5}}]  # a record from before the localiser had a choice
    header, rows = B.localised_table(runs, {("cluttered", 3): 41.0, ("translated", 3): 100.0})
    assert header == ["digit", "cluttered (regression, α = 1): ink box / untrained → trained",
                      "translated (pointing, α = 0.5): ink box / untrained → trained",
                      "cluttered (pointing, α = 0.5): ink box / untrained → trained"]
    # seed 0 averages (90 + 70) / 2 = 80 over the classes, seed 1 (80 + 5) / 2 = 42.5: the mean row is
    # their mean ± standard deviation; a seed that ends below 50 % and near its untrained score collapsed
    assert rows == [["1", "— / 3 → 37.5 ± 46.0", "—", "— / 16 → 0.7"],
                    ["3", "41 / 30 → 85.0 ± 7.1", "100 / 100 → 99.5", "—"],
                    ["mean", "— / 16 → 61.2 ± 26.5", "100 / 100 → 99.5", "— / 16 → 0.7"],
                    ["collapsed", "1 of 4 runs", "0 of 1 runs", "1 of 1 runs"]]


def test_class_mean_spreads_over_seeds_only_when_every_seed_holds_every_class():
    runs = [_run("cluttered", 3, 0, 0.0, 90.0), _run("cluttered", 1, 0, 0.0, 70.0),
            _run("cluttered", 3, 1, 0.0, 80.0), _run("cluttered", 1, 1, 0.0, 5.0)]
    mean, std, seeds = B.class_mean(runs, "test_localised")
    assert (mean, round(std, 3), seeds) == (61.25, 26.517, 2)
    mean, std, seeds = B.class_mean(runs[:3], "test_localised")  # seed 1 lacks the digit 1: means of the classes
    assert (mean, std, seeds) == (77.5, 0.0, 1)


def test_a_collapse_ends_below_half_and_near_the_untrained_score():
    assert B.collapsed({"untrained_localised": 0.0, "test_localised": 9.0})
    assert not B.collapsed({"untrained_localised": 0.0, "test_localised": 11.0})
    assert B.collapsed({"untrained_localised": 30.0, "test_localised": 2.0})  # moved off the digit
    assert not B.collapsed({"untrained_localised": 100.0, "test_localised": 99.0})  # solved before training


def test_ink_boxes_sit_on_the_ink_centre_of_mass():
    images = torch.zeros(2, 1, 84, 84)
    images[0, 0, 20:48, 10:38] = 1.0  # a 28 × 28 block of ink: its own frame
    images[1, 0, 0, 0] = images[1, 0, 0, 83] = 1.0  # two specks: the box sits between them
    boxes = C.ink_boxes(images)
    assert torch.allclose(boxes[0], torch.tensor([10.0, 20.0, 38.0, 48.0]))
    assert torch.allclose(boxes[1], torch.tensor([28.0, -13.5, 56.0, 14.5]))
    assert torch.allclose(C.ink_boxes(torch.zeros(1, 1, 84, 84)), torch.tensor([[28.0, 28, 56, 56]]))
    with pytest.raises(ValueError, match="images must have shape"):
        C.ink_boxes(torch.zeros(84, 84))


# ----------------------------------------------------------------------------- the chapter's checks

def test_chapter_checks_accept_the_package_and_refuse_wrong_answers():
    from stn_course.exercises import ExerciseFailed, ch11

    ch11.check_box_iou(C.box_iou)
    ch11.check_crop_box(C.attention_box)
    with pytest.raises(ExerciseFailed, match="values differ"):  # intersection over the sum of the areas
        ch11.check_box_iou(lambda a, b: C.box_iou(a, b) / (1 + C.box_iou(a, b)))
    with pytest.raises(ExerciseFailed, match="values differ"):  # the crop's half side taken as its side
        ch11.check_crop_box(lambda p, size: C.attention_box(p * torch.tensor([0.5, 1.0, 1.0]), size))
    assert ch11.check_crop_box(lambda p, size: (_ for _ in ()).throw(NotImplementedError)) is False


# ---- what the loss prefers: boxes set by hand (colocalisation.landscape) ----

def test_box_params_inverts_attention_box():
    from stn_course.colocalisation import landscape

    params = torch.tensor([[1 / 3, 0.2, -0.5], [1.0, 0.0, 0.0], [0.05, 0.9, 0.9]])
    boxes = C.attention_box(params, (84, 84))
    torch.testing.assert_close(landscape.box_params(boxes, 84), params)


def test_the_largest_empty_corner_square_misses_the_digit_and_is_the_largest():
    from stn_course.colocalisation import landscape

    # a digit at x 10..38, y 50..78 of an 84-pixel image; room by corner (the larger gap of the two sides):
    # top-left max(10, 50) = 50, top-right max(46, 50) = 50, bottom-left max(10, 6) = 10, bottom-right 46
    true = torch.tensor([[10.0, 50.0, 38.0, 78.0], [60.0, 0.0, 84.0, 24.0]])
    got = landscape.empty_corner_boxes(true, 84)
    torch.testing.assert_close(got[0], torch.tensor([0.0, 0.0, 50.0, 50.0]))   # the first of the two largest
    # a digit in the top-right corner: top-left 60, top-right 0, bottom-left 60, bottom-right 60 → top-left, side 60
    torch.testing.assert_close(got[1], torch.tensor([0.0, 0.0, 60.0, 60.0]))
    assert float(C.box_iou(got, true).max()) == 0.0
    # a digit in the top-left corner: top-left 2, top-right 54 (right of it), bottom-left 54, bottom-right 54
    got = landscape.empty_corner_boxes(torch.tensor([[2.0, 2.0, 30.0, 30.0], [2.0, 40.0, 30.0, 68.0]]), 84)
    torch.testing.assert_close(got[0], torch.tensor([30.0, 0.0, 84.0, 54.0]))
    # one low on the left: top-left 40, top-right 54, bottom-left 16, bottom-right 54 → top-right, side 54
    torch.testing.assert_close(got[1], torch.tensor([30.0, 0.0, 84.0, 54.0]))
    assert float(C.box_iou(got, torch.tensor([[2.0, 2.0, 30.0, 30.0], [2.0, 40.0, 30.0, 68.0]])).max()) == 0.0


def test_loss_at_hand_set_boxes_is_the_training_loss_of_those_crops():
    from stn_course.colocalisation import landscape

    torch.manual_seed(0)
    encoder = C.Encoder().eval()
    images, true = data.colocalisation_split("translated", "test", 3, size=12)
    boxes = landscape.hand_set_boxes(true, 84)
    assert list(boxes)[:2] == ["the digit's frame", "a point in the top-right corner (the collapse)"]
    # all crops alike (the whole image of every image is not alike; a point in an empty corner is): together = 0
    point = landscape.loss_at(encoder, images, boxes["a point in the top-right corner (the collapse)"], draws=2)
    assert point["together"] == pytest.approx(0.0, abs=1e-9)
    # by hand, for the digit's frame: crops, then the same random negatives the function draws
    got = landscape.loss_at(encoder, images, true, draws=1, seed=5)
    params = landscape.box_params(true, 84)
    st = C.CoLocaliser(encoder).transformer
    with torch.no_grad():
        e = encoder.embed(st(images, params))
        torch.manual_seed(5)
        r = encoder.embed(st(images, C.random_crop_params(params[:, 0])))
    assert got["loss"] == pytest.approx(float(C.triplet_hinge_loss(e, r, 1.0)), rel=1e-5)
    assert got["apart"] == pytest.approx(float((e - r).pow(2).sum(1).mean()), rel=1e-5)
    with pytest.raises(ValueError, match="boxes must have shape"):
        landscape.loss_at(encoder, images, true[:3])
