#!/usr/bin/env python
"""Preprocess SVHN's multi-digit archives into compact arrays (Goodfellow et al. 2013, as the paper).

Usage::

    python data_scripts/fetch_svhn.py                  # first: the archives into $STN_COURSE_DATA/SVHN/raw
    python data_scripts/prepare_svhn.py                # train and test, 64 and 128 px
    python data_scripts/prepare_svhn.py --splits train test extra --sizes 64

Reads ``<root>/raw/<split>.tar.gz`` (extracting it once) or an extracted ``<root>/raw/<split>/``,
crops every photograph to the box around its digits expanded by 30% (64×64) and to the looser
box (128×128), drops numbers longer than five digits, and writes ``<root>/prepared/`` with
a ``manifest.json`` of shapes, counts and SHA-256 sums. See :mod:`stn_course.svhn`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from stn_course import svhn


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=None,
                        help="the SVHN folder holding raw/ (default: $STN_COURSE_DATA/SVHN)")
    parser.add_argument("--splits", nargs="+", default=["train", "test"], choices=svhn.SPLITS)
    parser.add_argument("--sizes", nargs="+", type=int, default=list(svhn.SIZES), choices=svhn.SIZES)
    parser.add_argument("--limit", type=int, default=None, help="only the first N photographs of each split (for a try)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    try:
        manifest = svhn.prepare(args.root, args.splits, args.sizes, args.limit, progress=not args.no_progress)
    except svhn.DataNotPreparedError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    out = svhn.svhn_root(args.root) / "prepared"
    for split in args.splits:
        entry = manifest["splits"][split]
        print(f"{split}: {entry['count']} numbers kept, {entry['dropped_longer_than_5']} longer than five dropped, "
              f"lengths {json.dumps(entry['length_counts'])}")
    print(f"written to {out} (manifest.json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
