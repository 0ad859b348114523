"""``python -m stn_course.classroom``: the command line (see :mod:`stn_course.classroom.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
