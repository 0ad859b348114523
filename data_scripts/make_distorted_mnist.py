"""Write the fixed splits of the distorted-MNIST suite (R, RTS, P, E, TC, addition) to disk.

For each recipe it writes ``<out>/<recipe>/`` with IDX files (as MNIST: ``train-images-idx3-ubyte``,
``train-labels-idx1-ubyte``, ``train-indices-idx1-int``, the same for ``val`` and ``test``) and
a ``manifest.json`` (recipe, options, seed, package and torch versions, SHA-256 of every file).
``<out>`` defaults to ``<root>/distorted_mnist/seed_<seed>``, where
``stn_course.data.DistortedMNIST`` finds them. The same seed writes the same bytes; existing
files are never replaced without ``--force``.

Usage::

    STN_COURSE_DATA=/path/to/data python data_scripts/make_distorted_mnist.py            # all recipes
    python data_scripts/make_distorted_mnist.py --recipes R RTS --seed 1 --out /tmp/dmnist
    python data_scripts/make_distorted_mnist.py --recipes E --option sigma=2.0 --force
"""

from __future__ import annotations

import argparse
import ast
import sys
import time
from pathlib import Path

from stn_course import data


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", type=Path, default=None,
                   help="data root holding MNIST/raw (default: $STN_COURSE_DATA or the per-user cache)")
    p.add_argument("--out", type=Path, default=None,
                   help="output folder (default: <root>/distorted_mnist/seed_<seed>)")
    p.add_argument("--recipes", nargs="+", default=list(data.DISTORTIONS) + ["addition"],
                   choices=list(data.DISTORTIONS) + ["addition"], help="which recipes (default: all)")
    p.add_argument("--splits", nargs="+", default=list(data.SPLITS), choices=list(data.SPLITS))
    p.add_argument("--seed", type=int, default=0, help="distortion seed (default 0)")
    p.add_argument("--split-seed", type=int, default=0, help="seed of the 50k/10k train/val split (default 0)")
    p.add_argument("--size", type=int, default=None, help="write only the first SIZE examples of each split")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe option, e.g. sigma=2.0 (Python literal); applies to every recipe given")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    p.add_argument("--no-download", action="store_true", help="fail instead of downloading MNIST")
    return p.parse_args(argv)


def _options(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--option must look like KEY=VALUE, got {pair!r}")
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = args.out if args.out is not None else data.distorted_dir(args.root, args.seed)
    options = _options(args.option)
    start = time.perf_counter()
    from tqdm.auto import tqdm

    for recipe in tqdm(args.recipes, desc="recipes", unit="recipe"):
        try:
            manifest = data.write_distorted(out, recipe, seed=args.seed, splits=tuple(args.splits), root=args.root,
                                            split_seed=args.split_seed, size=args.size, options=options or None,
                                            force=args.force, download=not args.no_download, progress=True)
        except FileExistsError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        except (data.DataNotFoundError, ValueError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        except OSError as err:  # e.g. a read-only data root
            print(f"error: cannot write the {recipe} files to {out}: {err}. Choose another folder with --out.",
                  file=sys.stderr)
            return 3
        tqdm.write(f"wrote {manifest}")
    print(f"done in {time.perf_counter() - start:.1f} s: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
