"""Training throughput (images/s): the course's recipe against the old code path, in one run.

Runs :func:`stn_course.training.fit` itself (fresh distortions drawn every step, forward,
backward, optimiser step) for the same model on the same data twice: once with the settings
of the ``fast`` schedule (float32, contiguous NCHW: the code path before the ``efficient``
recipe) and once with the ``efficient`` schedule's (bfloat16 autocast where the processor
computes it natively, the transformer in float32; channels-last; AdamW, label smoothing and
the weight average). Prints both rates and their ratio, for ST-CNN Aff and the CNN.

    python benchmarks/bench_training.py                       # R, 2 threads, batch 128, on the CPU
    python benchmarks/bench_training.py --distortion RTS --device cuda --steps 300
"""

from __future__ import annotations

import argparse

import torch

from stn_course import benchmark, training
from stn_course.data import table1_splits
from stn_course.distortions import apply
from stn_course.models import DISTORTIONS, MODEL_NAMES, build_model


def throughput(name: str, distortion: str, schedule: benchmark.Schedule, steps: int, batch_size: int,
               device: torch.device) -> float:
    """Training images/s of ``name`` on ``distortion`` with ``schedule``'s settings (after a warm-up)."""
    (x, y), _, _ = table1_splits(distortion, size=max(4 * batch_size, 2048))
    x, y = x.to(device), y.to(device)

    def augment(images, generator):
        return apply(distortion, images, generator)[0]

    torch.manual_seed(0)
    model = build_model(name, distortion)
    kwargs = {**schedule.fit_kwargs(device), "batch_size": batch_size, "warmup": 0, "eval_every": None}
    warm = max(steps // 10, 5)
    training.fit(model, (x, y), **{**kwargs, "steps": warm}, augment=augment, device=device, progress=False)
    return training.fit(model, (x, y), **{**kwargs, "steps": steps}, augment=augment, device=device,
                        progress=False).images_per_s


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=None, help="timed steps (default 300 on a GPU, 60 on a CPU)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--distortion", default="R", choices=DISTORTIONS)
    p.add_argument("--device", default=None)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    device = training.resolve_device(args.device)
    steps = args.steps or (300 if device.type == "cuda" else 60)
    old, new = benchmark.SCHEDULES["fast"], benchmark.SCHEDULES["efficient"]
    print(f"device: {benchmark.device_name(device)}; torch {torch.__version__}; {args.distortion}, batch "
          f"{args.batch_size}, {steps} timed steps")
    print(f"old path ({old.name}): {benchmark.precision_name(old.amp(device), device)}, contiguous")
    print(f"new path ({new.name}): {benchmark.precision_name(new.amp(device), device)}, "
          f"{'channels-last' if new.channels_last else 'contiguous'}")
    rates = {}
    for name in ("st-cnn-aff", "cnn"):
        before = throughput(name, args.distortion, old, steps, args.batch_size, device)
        after = throughput(name, args.distortion, new, steps, args.batch_size, device)
        rates[name] = after
        print(f"{name:11s} on {args.distortion}: old {before:7.0f} images/s   new {after:7.0f} images/s   "
              f"ratio {after / before:.2f}", flush=True)
    images = len(MODEL_NAMES) * len(DISTORTIONS) * new.steps * new.batch_size
    minutes = images / rates["st-cnn-aff"] / 60
    print(f"whole Table 1 grid ({new.name} schedule, 1 seed) at the ST-CNN's rate on {args.distortion}, "
          f"one cell at a time: ~{minutes:.0f} min (evaluation not included)")


if __name__ == "__main__":
    main()
