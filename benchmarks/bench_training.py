"""Training throughput (images/s) of the Table 1 models on the current device.

Runs :func:`stn_course.training.fit` itself (fresh RTS distortions drawn on the device,
forward, backward, Adam step, mixed precision on a GPU) for a few hundred steps, after a
warm-up run, and prints images per second for ST-CNN Aff and the CNN on RTS. From the
ST-CNN's rate it estimates how long the whole Table 1 grid (5 distortions × 8 models, one
seed, the ``fast`` schedule) would take, against the target of 30 GPU-minutes.

    python benchmarks/bench_training.py [--steps 200] [--device cuda] [--threads 1]
"""

from __future__ import annotations

import argparse

import torch

from stn_course import benchmark, training
from stn_course.data import table1_splits
from stn_course.distortions import apply
from stn_course.models import MODEL_NAMES, DISTORTIONS, build_model


def throughput(name: str, distortion: str, steps: int, batch_size: int, device: torch.device) -> float:
    (x, y), _, _ = table1_splits(distortion, size=max(4 * batch_size, 2048))
    x, y = x.to(device), y.to(device)

    def augment(images, generator):
        return apply(distortion, images, generator)[0]

    torch.manual_seed(0)
    model = build_model(name, distortion)
    kwargs = dict(batch_size=batch_size, optimizer="adam", lr=1e-3, augment=augment, device=device, progress=False)
    training.fit(model, (x, y), steps=max(steps // 10, 5), **kwargs)  # warm-up (allocator, cuDNN autotuning)
    return training.fit(model, (x, y), steps=steps, **kwargs).images_per_s


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=None, help="timed steps (default 200 on GPU, 20 on CPU)")
    p.add_argument("--batch-size", type=int, default=benchmark.SCHEDULES["fast"].batch_size)
    p.add_argument("--device", default=None)
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = training.resolve_device(args.device)
    steps = args.steps or (200 if device.type == "cuda" else 20)
    print(f"device: {benchmark.device_name(device)}; torch {torch.__version__}; batch {args.batch_size}, "
          f"{steps} timed steps")
    st = throughput("st-cnn-aff", "RTS", steps, args.batch_size, device)
    cnn = throughput("cnn", "RTS", steps, args.batch_size, device)
    print(f"ST-CNN Aff on RTS: {st:9.0f} images/s")
    print(f"CNN        on RTS: {cnn:9.0f} images/s   (ST-CNN / CNN = {st / cnn:.2f})")
    fast = benchmark.SCHEDULES["fast"]
    images = len(MODEL_NAMES) * len(DISTORTIONS) * fast.steps * fast.batch_size
    minutes = images / st / 60
    print(f"whole Table 1 grid, fast schedule, 1 seed, at the ST-CNN's rate: ~{minutes:.1f} min "
          f"(target 30 GPU-min: ratio {30 / minutes:.2f}; > 1 meets it; evaluation not included)")


if __name__ == "__main__":
    main()
