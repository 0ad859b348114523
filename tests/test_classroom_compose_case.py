"""Chapter 2's `compose` check tests only what its exercise states: two batches of θ of shape (N, 2, 3)."""

import torch

from stn_course.exercises import ch02


def _hint_following_compose(first, second):
    """The hint's way: extend both θ to 3×3 and multiply (needs both batches the same N)."""
    row = torch.tensor([0.0, 0.0, 1.0], dtype=first.dtype).expand(first.shape[0], 1, 3)
    m = torch.cat([first, row], 1) @ torch.cat([second, row], 1)
    return m[:, :2]


def test_compose_check_passes_a_solution_that_follows_the_hint():
    ch02.check_compose(_hint_following_compose)


def test_learner_error_message_has_no_doubled_full_stop():
    def broken(first, second):
        raise ValueError("shapes differ.")
    try:
        ch02.check_compose(broken)
    except AssertionError as err:
        assert ".." not in str(err)
    else:
        raise AssertionError("a raising compose must fail its check")
