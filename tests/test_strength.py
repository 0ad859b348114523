"""Errors by distortion strength (chapter 9's look at P): corner displacement, ink pushed out, bins."""

import pytest
import torch

from stn_course import distortions
from stn_course.benchmark import strength


def test_corner_displacement_is_the_mean_distance_the_corners_moved():
    shift = torch.tensor([[[3.0, 4.0], [0.0, 0.0], [0.0, 5.0], [-5.0, 0.0]]])
    assert strength.corner_displacement(shift).tolist() == [pytest.approx(3.75)]
    with pytest.raises(ValueError, match="corner_shift"):
        strength.corner_displacement(torch.zeros(2, 4))


def test_ink_outside_counts_the_ink_a_warp_pushes_out_of_the_frame():
    clean = torch.zeros(3, 1, 28, 28)
    clean[:, 0, 0, 0] = 1.0     # a speck in the top-left corner pixel
    clean[:, 0, 14, 14] = 3.0   # and ink at the centre, three times as heavy
    identity = distortions.CORNERS * 14
    corners = torch.stack([identity, identity * 0.5, identity * 2])  # as is, shrunk to half, doubled
    lost = strength.ink_outside(clean, corners)
    # doubled about the centre, the corner speck (at 13.5 px from it on each axis) lands at 27 px: outside
    assert lost.tolist() == [0.0, 0.0, pytest.approx(0.25)]
    with pytest.raises(ValueError, match="corners"):
        strength.ink_outside(clean, corners[:2])


def test_the_recipe_would_fold_a_few_percent_of_its_raw_draws():
    share = strength.fold_share(20_000, seed=0)
    assert 0.005 < share < 0.03  # at 5 px on a 28 px image folds are rare, and the recipe redraws them


def test_errors_by_bins_split_the_errors_and_their_share():
    wrong = torch.tensor([True, False, False, True, True, False])
    value = torch.tensor([1.0, 2.0, 3.0, 7.0, 8.0, 12.0])
    bins = strength.errors_by_bins(wrong, value, [0, 5, 10, 20])
    assert [(b["n"], b["error"], b["share_of_errors"]) for b in bins] == [
        (3, pytest.approx(100 / 3), pytest.approx(100 / 3)), (2, 100.0, pytest.approx(200 / 3)), (1, 0.0, 0.0)]
    with pytest.raises(ValueError, match="edges"):
        strength.errors_by_bins(wrong, value, [5, 0])
