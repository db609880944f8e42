"""The compiled kernels of the pet-retail environments (numba, the ``fast`` extra), when they can run.

Each kernel gives the numbers its numpy twin gives, bit for bit, so whether it runs changes speed
only. They run when numba imports and the environment variable ``RECFRAME_NUMBA`` is not ``0``;
callers also fall back to numpy for generators the kernels do not support.
"""

from __future__ import annotations

import importlib
import os
from functools import cache
from types import ModuleType

__all__ = ["kernel"]


@cache
def kernel(name: str) -> ModuleType | None:
    """``recframe.environments.pet_retail.<name>`` (e.g. ``"retrieval_kernel"``), or None when
    numba is missing or turned off."""
    if os.environ.get("RECFRAME_NUMBA", "1") == "0":
        return None
    try:
        return importlib.import_module(f"recframe.environments.pet_retail.{name}")
    except ImportError:
        return None
