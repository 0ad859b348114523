"""Shared test setup: make the helpers beside the tests (``cdp``) importable in any import mode,
and fixtures several test files use."""

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture
def one_thread():
    """Tiny models train faster on one torch thread (and the CI machine is shared)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
