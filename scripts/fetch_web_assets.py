"""Fetch the book's web assets from the npm registry, for an offline build and the browser test.

    python scripts/fetch_web_assets.py                 # into _static_vendor/ (git-ignored)
    STN_BOOK_ASSETS=local jupyter-book build . -W      # then build with the local copies

Uses ``npm pack`` (so npm's own registry configuration applies) for the packages and
versions pinned in ``scripts/stn_book_assets.py``, unpacks them in a temporary folder and
copies only the files the pages load into ``<dest>/vendor/``. Nothing here is committed.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stn_book_assets import DEFAULT_VENDOR_DIR, NPM_ASSETS, REQUIRED  # noqa: E402

# MathJax's speech-rule engine is large and only used by the accessibility menu's speech
# option; the rest of its es5 folder is copied.
SKIP = {"mathjax": ("sre",)}


def fetch(dest: Path, npm: str = "npm") -> Path:
    """Download, unpack and copy every asset into ``dest/vendor``; return that folder."""
    if shutil.which(npm) is None:
        raise SystemExit(f"`{npm}` was not found: install Node.js/npm to fetch the web assets")
    vendor = dest / "vendor"
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        for name, (version, files) in NPM_ASSETS.items():
            spec = f"{name}@{version}"
            out = subprocess.run([npm, "pack", spec, "--silent", "--pack-destination", tmp],
                                 check=True, capture_output=True, text=True).stdout.split()
            tgz = tmp_path / out[-1]
            unpack = tmp_path / tgz.stem
            with tarfile.open(tgz) as tar:
                tar.extractall(unpack, filter="data")
            for src, target in files.items():
                source, goal = unpack / "package" / src, vendor / target
                if goal.exists():
                    shutil.rmtree(goal) if goal.is_dir() else goal.unlink()
                goal.parent.mkdir(parents=True, exist_ok=True)
                if source.is_dir():
                    shutil.copytree(source, goal, ignore=shutil.ignore_patterns(*SKIP.get(name, ())))
                else:
                    shutil.copy2(source, goal)
            print(f"fetched {spec}")
    missing = [f for f in REQUIRED if not (vendor / f).exists()]
    if missing:
        raise SystemExit(f"after fetching, {vendor} still lacks {', '.join(missing)}")
    return vendor


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=DEFAULT_VENDOR_DIR,
                        help=f"folder to fill (default: {DEFAULT_VENDOR_DIR})")
    args = parser.parse_args(argv)
    vendor = fetch(args.dest.resolve())
    print(f"web assets in {vendor}; build with STN_BOOK_ASSETS="
          f"{'local' if args.dest.resolve() == DEFAULT_VENDOR_DIR else args.dest.resolve()}")


if __name__ == "__main__":
    main()
