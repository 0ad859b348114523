"""``python -m stn_course.benchmark``: the command line of :mod:`stn_course.benchmark.cli`."""

import sys

from .cli import main

sys.exit(main())
