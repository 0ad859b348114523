"""Time to generate every fixed split (train + val + test) of R, RTS, P, E and TC on this CPU.

Target (issue 5): under 60 s in all, on a 2-core CPU. Loading MNIST is timed apart (it is
shared by every recipe and cached). Prints one line per recipe and split, then the total
and its ratio to the target.

    STN_COURSE_DATA=/path/to/data python benchmarks/bench_distortions.py [--threads 2] [--recipes R TC]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import torch

from stn_course import data

TARGET_S = 60.0


def main(argv: list[str] | None = None) -> float:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads while rendering (default 1, as stn_course.data does; 0: torch's choice)")
    p.add_argument("--recipes", nargs="+", default=list(data.DISTORTIONS), choices=list(data.DISTORTIONS) + ["addition"])
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    threads = args.threads or None
    print(f"torch {torch.__version__}, {threads or torch.get_num_threads()} thread(s), {os.cpu_count()} CPUs, "
          f"{platform.processor() or platform.machine()}")
    start = time.perf_counter()
    data.mnist_tensors(True, str(data.data_root()))
    data.mnist_tensors(False, str(data.data_root()))
    print(f"load MNIST: {time.perf_counter() - start:.2f} s (not counted)")
    total = cpu_total = 0.0
    for recipe in args.recipes:
        for split in data.SPLITS:
            t, c = time.perf_counter(), time.process_time()
            result = data.generate_split(recipe, split, args.seed, threads=threads)
            dt, dc = time.perf_counter() - t, time.process_time() - c
            total += dt
            cpu_total += dc
            print(f"{recipe:>8} {split:>5}: {len(result['labels']):6d} images {tuple(result['images'].shape[1:])} "
                  f"in {dt:6.2f} s wall, {dc:6.2f} s CPU ({len(result['labels']) / dt:6.0f} images/s)")
            del result
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"CPU time (all threads): {cpu_total:.1f} s; load average at the end: {load:.1f}")
    print(f"total: {total:.1f} s wall for {len(args.recipes)} recipes × (50k + 10k + 10k); "
          f"target {TARGET_S:.0f} s; ratio total/target = {total / TARGET_S:.2f}")
    return total


if __name__ == "__main__":
    main()
