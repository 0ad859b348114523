"""Forward+backward time of our bilinear sampler against torch.nn.functional.grid_sample.

    python benchmarks/bench_sampler.py [--device cuda] [--repeats 20]

Prints one line per channel count with both times and their ratio (ours / PyTorch's).
The target is a ratio of at most 2 on the CPU.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from stn_course.geometry import theta_from
from stn_course.sampler import bilinear


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _time_pair(fn_a, fn_b, repeats: int, device: torch.device, clock=time.perf_counter) -> tuple[float, float]:
    """Median seconds of ``fn_a()`` and ``fn_b()``, timed alternately so that a busy machine
    slows both alike, after two warm-up runs of each."""
    for _ in range(2):
        fn_a(), fn_b()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for fn, bucket in ((fn_a, times[0]), (fn_b, times[1])):
            _sync(device)
            start = clock()
            fn()
            _sync(device)
            bucket.append(clock() - start)
    return tuple(sorted(t)[len(t) // 2] for t in times)  # type: ignore[return-value]


def bench(n: int, c: int, size: int, device: torch.device, repeats: int, clock=time.perf_counter) -> tuple[float, float]:
    """Forward+backward seconds of (ours, grid_sample) for N×C×size×size → size×size."""
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(n, c, size, size, generator=gen).to(device).requires_grad_()
    angle = (torch.rand(n, generator=gen) - 0.5) * 2
    theta = theta_from(angle, 0.8 + 0.4 * torch.rand(n, generator=gen), tx=0.1, ty=-0.1).to(device)
    grid = F.affine_grid(theta, [n, c, size, size], align_corners=False).requires_grad_()
    grad = torch.rand(n, c, size, size, generator=gen).to(device)

    def step(sample):
        def run():
            out = sample(x, grid)
            torch.autograd.grad(out, [x, grid], grad)
        return run

    return _time_pair(step(lambda a, g: bilinear(a, g)),
                      step(lambda a, g: F.grid_sample(a, g, align_corners=False)), repeats, device, clock)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall time, or the process's CPU time (steadier on a shared CPU; CPU only)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (1 gives steadier figures on a busy machine)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"N={args.batch}, {args.size}x{args.size} -> {args.size}x{args.size}, forward+backward, median of {args.repeats} ({args.clock} time)")
    clock = time.process_time if args.clock == "cpu" and device.type == "cpu" else time.perf_counter
    for c in (1, 3):
        ours, ref = bench(args.batch, c, args.size, device, args.repeats, clock)
        print(f"C={c}: ours {ours * 1e3:7.2f} ms   grid_sample {ref * 1e3:7.2f} ms   ratio {ours / ref:5.2f}x")


if __name__ == "__main__":
    main()
