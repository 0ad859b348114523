"""Issue 25, finding 5/6: every check tests only what its exercise states, and no hint gives the answer away.

A learner sees three texts besides the statement: the stub's hint (the exercise's ``hint``), the
check's message while the stub is untouched, and the check's message on a wrong answer. None of
them may spell out the formula the exercise asks for. And where a check depends on a convention,
the statement says it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from stn_course import classroom
from stn_course.classroom.chapters import read_chapter
from stn_course.exercises import ExerciseFailed, ch04, ch05, ch06, ch07, ch10, ch11

ROOT = Path(__file__).resolve().parents[1]
REFERENCES = classroom.load_references(ROOT / "instructor")


def _reference(chapter: str, label: str):
    return REFERENCES[chapter][label].reference


def _exercise(chapter: str, label: str):
    return read_chapter(ROOT / "book" / f"{chapter}.ipynb").exercises[label]


def stub(*args, **kwargs):
    raise NotImplementedError


def _wrong_head(in_features, transform):
    return nn.Linear(in_features, transform.num_params)  # PyTorch's default init: not the identity


def _supersample_ignoring_rotation(theta, in_size, out_size):
    return max(1, round(theta[:, 0, 0].abs().max().item() * in_size[1] / out_size[1]))


def _compose_thetas_reversed(thetas):
    return _reference("10_svhn", "ex-svhn-compose")(list(reversed(thetas)))


def _crop_box_without_shift(params, size):
    h, w = size
    s, t = params[:, :1], params[:, 1:]
    scale = torch.tensor([w / 2, h / 2])
    return torch.cat([(t - s) * scale, (t + s) * scale], dim=1)


# (chapter, label, check, a wrong answer, what no hint or message may say)
HINTS = [
    ("04_sampler", "ex-sampler-supersample-factor", ch04.check_supersample_factor, _supersample_ignoring_rotation,
     ["θ00·W/W_out", "θ10·H/W_out"]),
    ("05_localisation", "ex-loc-identity-head", ch05.check_identity_head, _wrong_head,
     ["weights to zero", "weights start at zero", "zero-initialised", "bias to transform.identity_params",
      "bias is transform.identity_params"]),
    ("06_spatial_transformer", "ex-st-rotation-angle", ch06.check_rotation_angle,
     lambda t: torch.atan2(t[:, 1, 0], t[:, 0, 0]),  # radians
     ["first column", "s·cos a", "(s·cos a, s·sin a)"]),
    ("06_spatial_transformer", "ex-st-compose-theta", ch06.check_compose_theta,
     lambda a, b: _reference("06_spatial_transformer", "ex-st-compose-theta")(b, a),
     ["A1 (A2 p + t2) + t1", "A1 A2", "A1 t2"]),
    ("07_beyond_affine", "ex-beyond-affine-as-tps", ch07.check_affine_as_tps,
     lambda t, c: c @ t[:, :, :2].transpose(1, 2) + t[:, None, :, 2],  # the moved points, not the offsets
     ["A c_k + t", "minus c_k"]),
    ("10_svhn", "ex-svhn-compose", ch10.check_compose_thetas, _compose_thetas_reversed,
     ["θ1·θ2·…·θk", "in order θ1", "in that order"]),
    ("11_several_transformers", "ex-several-crop-box", ch11.check_crop_box, _crop_box_without_shift,
     ["t − s … t + s", "(u + 1) · W / 2", "(v + 1) · H / 2"]),
]


@pytest.mark.parametrize("chapter, label, check, wrong, forbidden", HINTS, ids=[h[1] for h in HINTS])
def test_no_hint_or_message_gives_the_answer_away(chapter, label, check, wrong, forbidden, capsys):
    texts = {"the stub's hint": _exercise(chapter, label).hint}
    assert check(stub) is False
    texts["the untouched stub's check"] = capsys.readouterr().out
    with pytest.raises(ExerciseFailed) as info:
        check(wrong)
    texts["the failure message"] = str(info.value)
    capsys.readouterr()
    for where, text in texts.items():
        for phrase in forbidden:
            assert phrase not in text, f"{where} gives the answer away ({phrase!r}): {text}"
    # the reference still passes
    assert check(_reference(chapter, label)) is True


def test_rotation_angle_states_the_order_of_rotation_and_scaling():
    """The check's third case scales x and y differently: reading the angle off a row of θ, as for
    θ = S·R, fails it. So the statement must say that θ's 2 × 2 part is R(α)·S(s_x, s_y)."""
    text = _exercise("06_spatial_transformer", "ex-st-rotation-angle").text
    assert r"R(\alpha)\,S(s_x, s_y)" in text

    def from_the_first_row(theta):  # right for θ = S·R, which the statement now rules out
        return torch.rad2deg(torch.atan2(-theta[:, 0, 1], theta[:, 0, 0]))

    with pytest.raises(ExerciseFailed, match="different x and y scales"):
        ch06.check_rotation_angle(from_the_first_row)


def test_rts_theta_states_that_scale_one_keeps_the_pixel_size():
    """Case 1 of the check (28 → 42, scale 1) expects θ = (42/28)·I, not the identity: the statement says why."""
    text = _exercise("08_distorted_mnist", "ex-distorted-rts-theta").text
    assert "a scale of 1 keeps the digit's size in pixels" in text
