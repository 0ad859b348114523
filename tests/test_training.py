"""The training loop: determinism, resume after interruption, NaN detection, schedules, inputs."""


import pytest
import torch
from torch import nn

from stn_course import training
from stn_course.training.batches import _epoch_order
from stn_course.models import STClassifier, make_st, FCN


pytestmark = pytest.mark.usefixtures("one_thread")


def _data(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 8, 8, generator=g)
    y = (x[:, 0, :4].mean((1, 2)) > x[:, 0, 4:].mean((1, 2))).long()  # learnable: top vs bottom brightness
    return x, y


def _model(seed=1):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 2))


def _jitter(images, generator):
    return images + 0.01 * torch.randn(images.shape, generator=generator)


FIT = dict(steps=24, batch_size=32, lr=0.05, optimizer="sgd", momentum=0.9, schedule="cosine", warmup=3,
           eval_every=8, progress=False, augment=_jitter, restore_best=False)


def _same(a: nn.Module, b: nn.Module) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


def test_fit_learns_and_records_history():
    x, y = _data()
    model = _model()
    hist = training.fit(model, (x, y), (x[:64], y[:64]), **{**FIT, "steps": 60})
    assert len(hist.loss) == 60 and len(hist.lr) == 60
    assert hist.val_steps == [8, 16, 24, 32, 40, 48, 56, 60]
    assert sum(hist.loss[-10:]) / 10 < sum(hist.loss[:10]) / 10
    assert hist.best_val_error == min(hist.val_error) and hist.best_step in hist.val_steps
    assert hist.images_per_s > 0 and hist.steps_done == 60
    result = training.evaluate(model, (x[:64], y[:64]))
    assert result["error"] == pytest.approx(hist.val_error[-1]) and 0 <= result["error"] <= 100


def test_fit_is_deterministic_for_a_seed_and_differs_across_seeds():
    x, y = _data()
    a, b, c = _model(), _model(), _model()
    ha = training.fit(a, (x, y), **FIT, seed=3)
    hb = training.fit(b, (x, y), **FIT, seed=3)
    hc = training.fit(c, (x, y), **FIT, seed=4)
    assert ha.loss == hb.loss and _same(a, b)
    assert ha.loss != hc.loss


def _recipe_fit() -> dict:
    """FIT with the settings of the benchmark's ``efficient`` recipe (AdamW, label smoothing, the
    weight average, bfloat16 autocast where the CPU has it, channels-last)."""
    from stn_course.benchmark import SCHEDULES

    recipe = SCHEDULES["efficient"].fit_kwargs(torch.device("cpu"))
    return {**FIT, **{k: v for k, v in recipe.items() if k not in ("steps", "eval_every", "warmup")},
            "batch_size": 32, "lr": 0.01, "ema": 0.9}


@pytest.mark.parametrize("recipe", [False, True], ids=["sgd", "efficient-recipe"])
def test_resume_after_interruption_gives_identical_weights(tmp_path, recipe):
    fit = _recipe_fit() if recipe else FIT
    x, y = _data()
    val = (x[:64], y[:64])
    reference = _model()
    ref_hist = training.fit(reference, (x, y), val, **fit)

    class Killed(Exception):
        pass

    def kill_at_step_19(step, _):
        if step == 19:  # after the checkpoint of step 16: steps 17-19 are lost and must be redone
            raise Killed

    ckpt = tmp_path / "run.pt"
    with pytest.raises(Killed):
        training.fit(_model(), (x, y), val, **fit, checkpoint=ckpt, checkpoint_every=8, callback=kill_at_step_19)
    assert ckpt.exists()
    resumed = _model(seed=99)  # a fresh process would build a fresh model: the checkpoint must override it
    hist = training.fit(resumed, (x, y), val, **fit, checkpoint=ckpt, checkpoint_every=8)
    assert hist.resumed_from == 16
    assert _same(reference, resumed)
    assert hist.loss == ref_hist.loss and hist.val_error == ref_hist.val_error
    # calling it once more returns the finished run without training
    again = _model(seed=5)
    hist2 = training.fit(again, (x, y), val, **fit, checkpoint=ckpt, checkpoint_every=8)
    assert hist2.resumed_from == 24 and _same(reference, again)
    assert hist2.images_seen == 24 * 32 and hist2.images_per_s > 0  # counted over both calls


def test_checkpoint_of_another_run_is_refused(tmp_path):
    x, y = _data()
    ckpt = tmp_path / "run.pt"
    training.fit(_model(), (x, y), **FIT, checkpoint=ckpt)
    with pytest.raises(ValueError, match="lr"):
        training.fit(_model(), (x, y), **{**FIT, "lr": 0.1}, checkpoint=ckpt)


def test_nan_loss_raises_naming_the_step():
    x, y = _data()
    x = x.clone()
    order = _epoch_order(len(x), 0, 0)
    x[order[5 * 32]] = float("nan")  # the first image of step 6's batch
    with pytest.raises(training.TrainingDiverged, match="at step 6 of"):
        training.fit(_model(), (x, y), steps=10, batch_size=32, progress=False)


def test_localization_gets_the_scaled_learning_rate():
    model = STClassifier(make_st("fcn", "aff", 28, None), FCN((1, 28, 28), (8, 8)))
    groups = training.param_groups(model, lr=0.1, loc_lr_scale=0.01, weight_decay=1e-4)
    loc_ids = {id(p) for p in model.transformer.localization.parameters()}
    for g in groups:
        assert g["localization"] == all(id(p) in loc_ids for p in g["params"])
        assert g["lr"] == pytest.approx(0.001 if g["localization"] else 0.1)
        assert g["weight_decay"] == (1e-4 if g["params"][0].ndim > 1 else 0.0)
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))


def test_lr_schedules():
    assert training.lr_factor(0, 100, "none") == 1.0
    assert [training.lr_factor(s, 150, "step", milestones=(50, 100)) for s in (0, 49, 50, 100)] == \
        pytest.approx([1, 1, 0.1, 0.01])
    assert training.lr_factor(0, 100, "cosine") == 1.0
    assert training.lr_factor(50, 100, "cosine") == pytest.approx(0.5)
    assert training.lr_factor(1, 100, "none", warmup=4) == pytest.approx(0.5)
    assert training.lr_factor(3, 10, lambda s: 1 / (s + 1)) == pytest.approx(0.25)


def test_dataset_input_gives_the_same_run_as_tensors():
    x, y = _data()
    a, b = _model(), _model()
    ha = training.fit(a, (x, y), **FIT)
    hb = training.fit(b, torch.utils.data.TensorDataset(x, y), **FIT)
    assert ha.loss == pytest.approx(hb.loss) and _same(a, b)


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(steps=0), ValueError, "steps"),
    (dict(optimizer="rmsprop"), ValueError, "optimizer"),
    (dict(schedule="linear"), ValueError, "schedule"),
    (dict(batch_size=1000), ValueError, "batch_size"),
    (dict(device="cuda:99"), ValueError, "device 'cuda:99' is not available"),
    (dict(device="gpu"), ValueError, "device must be"),
    (dict(steps=10.0), TypeError, "steps must be an int"),
    (dict(eval_every=2.5), TypeError, "eval_every must be an int"),
    (dict(checkpoint_every=0), ValueError, "checkpoint_every must be an int >= 1"),
    (dict(log_every=0), ValueError, "log_every"),
    (dict(eval_batch_size=0), ValueError, "eval_batch_size"),
    (dict(warmup=-1), ValueError, "warmup"),
    (dict(warmup=1.5), TypeError, "warmup"),
    (dict(milestones=(2.5,)), TypeError, "milestones"),
    (dict(num_workers=-1), ValueError, "num_workers"),
    (dict(steps=True), TypeError, "steps"),
    (dict(lr=float("nan")), ValueError, "lr"),
    (dict(momentum=-0.1), ValueError, "momentum"),
    (dict(weight_decay=-1e-4), ValueError, "weight_decay"),
    (dict(gamma=0.0), ValueError, "gamma"),
    (dict(loc_lr_scale=-1.0), ValueError, "loc_lr_scale"),
    (dict(grad_clip=0.0), ValueError, "grad_clip"),
    (dict(grad_clip="1"), TypeError, "grad_clip"),
    (dict(augment="R"), TypeError, "augment"),
])
def test_bad_arguments_are_named(kwargs, error, words):
    x, y = _data()
    with pytest.raises(error, match=words):
        training.fit(_model(), (x, y), **{**dict(steps=2, batch_size=8, progress=False), **kwargs})


def test_bad_data_is_named():
    with pytest.raises(TypeError, match="train"):
        training.fit(_model(), [1, 2, 3], steps=1)
    x, y = _data()
    with pytest.raises(ValueError, match="same length"):
        training.fit(_model(), (x, y[:-1]), steps=1)


def test_ema_returns_the_moving_average_of_the_weights():
    x, y = _data()
    decay = 0.8
    plain = _model()
    average = {}

    def track(step, _):
        for k, v in plain.state_dict().items():
            average[k] = v.clone() if k not in average else decay * average[k] + (1 - decay) * v

    training.fit(plain, (x, y), **FIT, callback=track)
    averaged = _model()
    training.fit(averaged, (x, y), **FIT, ema=decay)
    for k, v in averaged.state_dict().items():
        torch.testing.assert_close(v, average[k], rtol=1e-5, atol=1e-6)
    assert not torch.allclose(averaged.state_dict()["3.weight"], plain.state_dict()["3.weight"])


@pytest.mark.parametrize("kwargs, words", [
    (dict(label_smoothing=1.0), "label_smoothing must be a finite number >= 0 and < 1"),
    (dict(label_smoothing=0.1, loss_fn=nn.functional.cross_entropy), "label_smoothing applies"),
    (dict(ema=1.5), "ema must be a decay"),
    (dict(amp="bf16"), "amp must be one of"),
])
def test_bad_recipe_arguments_are_named(kwargs, words):
    x, y = _data()
    with pytest.raises(ValueError, match=words):
        training.fit(_model(), (x, y), **{**dict(steps=2, batch_size=8, progress=False), **kwargs})


def test_cpu_autocast_keeps_the_transformer_in_float32():
    torch.manual_seed(0)
    model = STClassifier(make_st("cnn", "aff", 28, None), FCN((1, 28, 28), (16, 16)))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(torch.rand(4, 1, 28, 28))
    assert logits.dtype == torch.bfloat16
    assert model.transformer.last_params.dtype == torch.float32
    assert model.transformer.last_grid.dtype == torch.float32


# ----------------------------------------------------------------------------- resume for every input

class _NoisyDataset(torch.utils.data.Dataset):
    """A Dataset whose items draw from torch's global generator (a random transform) and that
    records the epochs ``fit`` announces; from epoch 1 on its labels flip (new data per epoch)."""

    def __init__(self, n=64):
        self.x, self.y = _data(n)
        self.epochs, self.epoch = [], 0

    def set_epoch(self, epoch):
        self.epochs.append(epoch)
        self.epoch = epoch

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        label = int(self.y[i]) ^ (self.epoch % 2)
        return self.x[i] + 0.05 * torch.randn(self.x[i].shape), label


def _dropout_model(seed=1):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 2))


RESUME = dict(steps=10, batch_size=16, lr=0.05, optimizer="sgd", eval_every=3, progress=False, restore_best=False)


class Killed(Exception):
    pass


def _interrupted_then_resumed(make_data, ckpt, kill_at, **kwargs):
    """Run fit until ``kill_at`` (after a checkpoint), then resume it in a 'fresh process'."""
    def kill(step, _):
        if step == kill_at:
            raise Killed

    with pytest.raises(Killed):
        training.fit(_dropout_model(), make_data(), **RESUME, **kwargs, checkpoint=ckpt, callback=kill)
    data = make_data()
    model = _dropout_model(seed=42)
    hist = training.fit(model, data, **RESUME, **kwargs, checkpoint=ckpt)
    return model, hist, data


@pytest.mark.parametrize("num_workers", [0, 2])
def test_resume_is_exact_for_a_dataset_with_randomness_and_dropout(tmp_path, num_workers):
    reference = _dropout_model()
    ref_data = _NoisyDataset()
    ref_hist = training.fit(reference, ref_data, **RESUME, num_workers=num_workers)
    resumed, hist, data = _interrupted_then_resumed(_NoisyDataset, tmp_path / "run.pt", kill_at=8,
                                                    num_workers=num_workers)
    assert hist.resumed_from == 6
    assert hist.loss == ref_hist.loss and _same(reference, resumed)
    # set_epoch is called at the start of every epoch (4 steps of 16 out of 64), and on resuming
    assert ref_data.epochs == [0, 1, 2] and data.epochs == [1, 2]


def test_resume_is_exact_for_a_list_of_tensors_and_dropout(tmp_path):
    x, y = _data(64)
    reference = _dropout_model()
    ref_hist = training.fit(reference, [x, y], **RESUME)
    resumed, hist, _ = _interrupted_then_resumed(lambda: [x, y], tmp_path / "run.pt", kill_at=7)
    assert hist.loss == ref_hist.loss and _same(reference, resumed)


def _other_augment(images, generator):
    return images + 0.02 * torch.randn(images.shape, generator=generator)


@pytest.mark.parametrize("change, key", [
    (dict(augment=_other_augment), "augment"),
    (dict(grad_clip=1.0), "grad_clip"),
    (dict(amp=True), "precision"),
    (dict(loss_fn=lambda logits, y, reduction="mean": nn.functional.cross_entropy(logits, y, reduction=reduction)
          * 2), "loss_fn"),
    (dict(error_fn=lambda logits, y: logits.argmin(1) != y), "error_fn"),
    (dict(label_smoothing=0.1), "label_smoothing"),
    (dict(schedule=lambda step: 0.5), "schedule"),
    (dict(train=(_data()[0] * 0.5, _data()[1])), "train"),
    (dict(model=_dropout_model), "architecture"),
])
def test_a_finished_checkpoint_of_another_run_is_refused(tmp_path, change, key):
    """Every setting that changes the run is in the fingerprint: none of these may reuse the checkpoint."""
    x, y = _data()
    base = dict(FIT, augment=_jitter)
    ckpt = tmp_path / "run.pt"
    training.fit(_model(), (x, y), **base, checkpoint=ckpt)
    kwargs = {**base, **{k: v for k, v in change.items() if k not in ("train", "model")}}
    model = change.get("model", _model)()
    with pytest.raises(ValueError, match=key):
        training.fit(model, change.get("train", (x, y)), **kwargs, checkpoint=ckpt)


def test_the_same_run_in_a_new_process_reuses_its_checkpoint(tmp_path):
    """The fingerprint describes functions by their code, not their identity: an equal closure,
    partial or lambda defined again (as a new process would) is the same run."""
    import functools

    def make_augment(scale):
        def augment(images, generator):
            return images + scale * torch.randn(images.shape, generator=generator)
        return augment

    x, y = _data()
    ckpt = tmp_path / "run.pt"
    loss = functools.partial(nn.functional.cross_entropy, reduction="mean")
    kwargs = dict(FIT, loss_fn=lambda a, b, reduction="mean": loss(a, b))
    training.fit(_model(), (x, y), **{**kwargs, "augment": make_augment(0.01)}, checkpoint=ckpt)
    kwargs = dict(FIT, loss_fn=lambda a, b, reduction="mean": loss(a, b))
    hist = training.fit(_model(), (x, y), **{**kwargs, "augment": make_augment(0.01)}, checkpoint=ckpt)
    assert hist.resumed_from == FIT["steps"]
    with pytest.raises(ValueError, match="augment"):
        training.fit(_model(), (x, y), **{**kwargs, "augment": make_augment(0.02)}, checkpoint=ckpt)


def test_an_iterable_dataset_is_refused_by_name():
    class Stream(torch.utils.data.IterableDataset):
        def __iter__(self):
            yield from zip(*_data())

    with pytest.raises(TypeError, match="train must be a map-style Dataset"):
        training.fit(_model(), Stream(), steps=2, batch_size=8, progress=False)


def test_fingerprint_of_a_tensor_too_large_for_float32_positions():
    """A float32 linspace over 82,944,000 values rounds its last index past the end (an IndexError
    in fit's resume fingerprint for a 40,000-image training set of 48×48 colour crops)."""
    from stn_course.training.fingerprint import _tensor_digest

    big = torch.zeros(82_944_000, dtype=torch.uint8)
    big[-1] = 7
    assert _tensor_digest(big) != _tensor_digest(torch.zeros_like(big))   # the last value is read


class _Pair(nn.Module):
    """A model whose output is a NamedTuple (as the co-localiser's): logits and a second head."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(64, 2))

    def forward(self, x):
        from collections import namedtuple

        out = self.net(x)
        return namedtuple("Out", "logits doubled")(out, 2 * out)


def test_fit_and_evaluate_pass_a_tuple_output_to_loss_fn_and_error_fn():
    x, y = _data()
    seen = []

    def loss_fn(output, labels, reduction="mean"):
        seen.append((type(output).__name__, output.logits.dtype))
        return nn.functional.cross_entropy(output.doubled / 2, labels, reduction=reduction)

    torch.manual_seed(1)
    model = _Pair()
    hist = training.fit(model, (x, y), (x, y), steps=20, batch_size=32, lr=0.1, loss_fn=loss_fn,
                        error_fn=lambda out, labels: out.logits.argmax(1) != labels, progress=False)
    assert seen[0] == ("Out", torch.float32) and hist.val_error[-1] < 50
    result = training.evaluate(model, (x, y), loss_fn=loss_fn, error_fn=lambda out, labels: out.logits.argmax(1) != labels)
    assert result["error"] == hist.best_val_error
    with pytest.raises(TypeError, match="the model must return a tensor or a tuple of tensors, got dict"):
        training.as_float({"logits": torch.zeros(1)})
