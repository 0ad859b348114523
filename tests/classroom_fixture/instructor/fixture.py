"""Reference solutions and hidden inputs of the fixture chapter (the instructor's, never the learners')."""

import torch

from stn_course.classroom.trusted import Hidden
from stn_course.exercises import Case

CHAPTER = "00_fixture"


def square(x):
    return x * x


def mean_of(xs):
    return sum(xs) / len(xs)


def _square_cases(g: torch.Generator) -> list[Case]:
    values = (torch.randn(3, generator=g) * 10).tolist()
    return [Case(f"a number ({i + 1} of 3)", (v,)) for i, v in enumerate(values)] + [Case("zero", (0.0,))]


def _mean_cases(g: torch.Generator) -> list[Case]:
    lists = [(torch.randn(int(n), generator=g) * 5).tolist() for n in torch.randint(1, 8, (4,), generator=g)]
    return [Case(f"a list of {len(xs)} numbers", (xs,)) for xs in lists] + [Case("one number", ([4.5],))]


EXERCISES = {
    "ex-fixture-square": Hidden("square", square, _square_cases),
    "ex-fixture-mean": Hidden("mean_of", mean_of, _mean_cases),
}
