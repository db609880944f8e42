"""Shared fixtures: a small custom environment built from the components, exercising nested spaces."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "helpers"))

os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_configure(config):
    """One torch thread per test process: the suite runs on 2 cores with 2 xdist workers, and tiny
    networks only lose time to thread contention."""
    import torch

    torch.set_num_threads(1)


@pytest.fixture
def toy_env_factory():
    """Builds toy RecSimGymEnvs (see tests/helpers/toy_env.py)."""
    from toy_env import make_toy_env

    return make_toy_env
