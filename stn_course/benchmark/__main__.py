"""``python -m stn_course.benchmark``: the command line of :mod:`stn_course.benchmark.cli`."""

import sys

from .cli import main

if __name__ == "__main__":  # not when a --jobs worker process imports the parent's main module
    sys.exit(main())
