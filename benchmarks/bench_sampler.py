"""Forward+backward time of our bilinear sampler against torch.nn.functional.grid_sample.

    python benchmarks/bench_sampler.py [--device cuda] [--repeats 20] [--baseline OLD_SAMPLER_PY]

Prints one line per channel count with both times and their ratio (ours / PyTorch's).
The target is a ratio of at most 2 on the CPU. ``--baseline`` also times another version of
``stn_course/sampler.py`` (e.g. ``git show REV:stn_course/sampler.py > /tmp/old.py``) in the same
loop, so that a busy machine slows all of them alike and a change can be compared with its past.
"""

from __future__ import annotations

import argparse
import importlib.util
import time

import torch
import torch.nn.functional as F

from stn_course.geometry import theta_from
from stn_course.sampler import bilinear


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _time_all(fns: list, repeats: int, device: torch.device, clock=time.perf_counter) -> list[float]:
    """Median seconds of each of ``fns``, timed in turn (in reversed order every other round) so
    that a busy machine slows all alike, after two warm-up runs of each."""
    for _ in range(2):
        for fn in fns:
            fn()
    times: list[list[float]] = [[] for _ in fns]
    for r in range(repeats):
        order = range(len(fns)) if r % 2 == 0 else reversed(range(len(fns)))
        for i in order:
            _sync(device)
            start = clock()
            fns[i]()
            _sync(device)
            times[i].append(clock() - start)
    return [sorted(t)[len(t) // 2] for t in times]


def load_sampler(path: str):
    """Another version of ``stn_course/sampler.py``, imported as a module of this package."""
    spec = importlib.util.spec_from_file_location("stn_course._baseline_sampler", path)
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "stn_course"
    spec.loader.exec_module(module)
    return module


def bench(n: int, c: int, size: int, device: torch.device, repeats: int, clock=time.perf_counter,
          baseline=None) -> list[float]:
    """Forward+backward seconds of [ours, grid_sample(, the baseline's bilinear)] for N×C×size×size → size×size."""
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

    fns = [step(lambda a, g: bilinear(a, g)), step(lambda a, g: F.grid_sample(a, g, align_corners=False))]
    if baseline is not None:
        fns.append(step(lambda a, g: baseline.bilinear(a, g)))
    return _time_all(fns, repeats, device, clock)


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
    parser.add_argument("--baseline", default=None, help="path of another sampler.py to time in the same loop")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"N={args.batch}, {args.size}x{args.size} -> {args.size}x{args.size}, forward+backward, median of {args.repeats} ({args.clock} time)")
    clock = time.process_time if args.clock == "cpu" and device.type == "cpu" else time.perf_counter
    baseline = load_sampler(args.baseline) if args.baseline else None
    for c in (1, 3):
        ours, ref, *old = bench(args.batch, c, args.size, device, args.repeats, clock, baseline)
        line = f"C={c}: ours {ours * 1e3:7.2f} ms   grid_sample {ref * 1e3:7.2f} ms   ratio {ours / ref:5.2f}x"
        if old:
            line += f"   baseline {old[0] * 1e3:7.2f} ms   ratio {old[0] / ref:5.2f}x"
        print(line)


if __name__ == "__main__":
    main()
