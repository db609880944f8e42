"""Seeding helpers: every random number an agent draws comes from a generator it owns.

The global RNGs (``torch.manual_seed``, ``np.random.*``) are never touched, so two agents built
with the same seed behave identically however the rest of the program uses randomness.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["spawn_seeds", "torch_generator", "check_seed"]


def check_seed(seed: int | None) -> int | None:
    """Returns ``seed`` if it is ``None`` or a non-negative int, else raises."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"seed must be a non-negative int or None, got {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative int or None, got {seed}")
    return int(seed)


def spawn_seeds(seed: int | None, n: int) -> list[int]:
    """Derives ``n`` independent 63-bit seeds from ``seed`` (fresh entropy when ``None``)."""
    root = np.random.SeedSequence(check_seed(seed))
    return [int(child.generate_state(1, np.uint64)[0] >> np.uint64(1)) for child in root.spawn(n)]


def torch_generator(seed: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with ``seed``."""
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator
