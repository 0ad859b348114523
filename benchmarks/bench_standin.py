"""How fast the SVHN stand-in is made: numbers per second, one process and all cores.

Generates ``--n`` house numbers (photograph, then the tight and the loose crop) once in one
process and once spread over the cores, checks the two agree byte for byte, and prints the
rates and their ratio. The benchmark's CPU runs draw 37,000 numbers per crop recipe.

    STN_COURSE_DATA=/path/to/data python benchmarks/bench_standin.py [--n 2000] [--side 48]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from stn_course import svhn


def _rate(n: int, side: int, loose: bool, workers: int) -> tuple[float, tuple[np.ndarray, np.ndarray]]:
    svhn.synthetic_house_numbers.cache_clear()
    start = time.perf_counter()
    out = svhn.synthetic_house_numbers(n, seed=0, train=True, size=side, loose=loose, workers=workers)
    return n / (time.perf_counter() - start), out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=2000, help="numbers to draw (default 2000)")
    p.add_argument("--side", type=int, default=48, help="crop side in pixels (default 48)")
    args = p.parse_args(argv)
    svhn.standin._mnist_digits(True)   # loading MNIST is not timed
    cores = os.cpu_count() or 1
    for loose in (False, True):
        one, a = _rate(args.n, args.side, loose, 1)
        many, b = _rate(args.n, args.side, loose, cores)
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]), "workers changed the data"
        print(f"{'loose' if loose else 'tight'} {args.side} px: 1 process {one:6.0f} numbers/s "
              f"({1000 / one:.1f} ms each); {cores} processes {many:6.0f} numbers/s; ratio {many / one:.2f}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average at the end: {load:.1f}")


if __name__ == "__main__":
    main()
