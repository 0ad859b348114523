"""Shared test setup: make the helpers beside the tests (``cdp``) importable in any import mode."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
