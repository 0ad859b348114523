"""Chapter 9, "The MNIST benchmark": reference solutions and hidden inputs."""

import torch

from stn_course.classroom import Hidden
from stn_course.exercises import Case

CHAPTER = "09_mnist_benchmark"


def cnn_param_count(in_size, c1, c2, num_classes=10):
    side = in_size // 2 // 2
    conv1 = (1 * 9 * 9 + 1) * c1
    conv2 = (c1 * 7 * 7 + 1) * c2
    linear = (c2 * side * side + 1) * num_classes
    return conv1 + conv2 + linear


def step_schedule(step, milestones, gamma):
    return gamma ** sum(1 for m in milestones if step >= m)


def _count_cases(g):
    cases = []
    for _ in range(5):
        size, c1, c2, k = (int(v) for v in (torch.randint(8, 64, (1,), generator=g), torch.randint(1, 40, (1,), generator=g),
                                            torch.randint(1, 80, (1,), generator=g), torch.randint(2, 20, (1,), generator=g)))
        cases.append(Case(f"in_size={size}, c1={c1}, c2={c2}, num_classes={k}", (size, c1, c2), kwargs={"num_classes": k}))
    return cases


def _schedule_cases(g):
    milestones = tuple(sorted(int(v) for v in torch.randint(1, 10_000, (3,), generator=g)))
    steps = [0, milestones[0] - 1, milestones[0], milestones[1], milestones[2] + 5, 20_000]
    gamma = round(float(torch.rand(1, generator=g)) * 0.9 + 0.05, 3)
    return [Case(f"step={s}, milestones={milestones}, gamma={gamma}", (s, milestones, gamma)) for s in steps] + \
        [Case("no milestones", (7, (), gamma))]


EXERCISES = {
    "ex-bench-cnn-params": Hidden("cnn_param_count", cnn_param_count, _count_cases),
    "ex-bench-step-schedule": Hidden("step_schedule", step_schedule, _schedule_cases, atol=1e-12, rtol=1e-9),
}
