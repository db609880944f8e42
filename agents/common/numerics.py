"""Numerical hygiene for small networks trained on CPU.

Adam's moment estimates for parameters whose gradient is (nearly) zero, such as dead ReLU units
under weight decay, decay geometrically into the float32 *subnormal* range, where x86 CPUs take a
slow microcode path: on the tutorial problem training slowed tenfold after about 1,500 updates.
:func:`flush_denormals` treats subnormals as zero while an agent computes, then restores the mode.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

__all__ = ["flush_denormals", "denormals_flushed"]

_SUBNORMAL = torch.tensor([1e-40], dtype=torch.float32)


def denormals_flushed() -> bool:
    """Whether torch currently treats float32 subnormals as zero on this thread."""
    return bool((_SUBNORMAL * 1.0).item() == 0.0)


@contextlib.contextmanager
def flush_denormals(enabled: bool = True) -> Iterator[None]:
    """Within the block, flush float32 subnormals to zero (``torch.set_flush_denormal``).

    The previous mode is restored on exit. The mode is per thread: with several intra-op threads,
    work done on the other threads is not covered. Does nothing if ``enabled`` is false or the CPU
    does not support the mode.
    """
    if not enabled or denormals_flushed():
        yield
        return
    changed = torch.set_flush_denormal(True)
    try:
        yield
    finally:
        if changed:
            torch.set_flush_denormal(False)
