"""Explicit random streams: every random draw in recframe comes from a Generator made here.

Components hold one ``numpy.random.Generator`` each for their whole life and are re-seeded *in
place* (:func:`reseed`), so anything that shares a component's generator (a choice model using its
user model's stream, say) follows a reset without being rewired. Child seeds are derived with
:func:`child_seeds`, which, unlike ``SeedSequence.spawn``, does not mutate its argument: deriving
twice from the same seed gives the same children.
"""

from __future__ import annotations

from typing import TypeAlias

import numpy as np

__all__ = ["SeedLike", "as_seed_sequence", "child_seeds", "make_rng", "reseed"]

SeedLike: TypeAlias = "int | np.random.SeedSequence | None"


def as_seed_sequence(seed: SeedLike) -> np.random.SeedSequence:
    """Returns ``seed`` as a SeedSequence; ``None`` draws fresh OS entropy."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0):
        raise TypeError(f"seed must be a non-negative int, a numpy SeedSequence or None, got {seed!r}")
    return np.random.SeedSequence(None if seed is None else int(seed))


def child_seeds(seed: SeedLike, n: int) -> list[np.random.SeedSequence]:
    """Derives ``n`` independent child seeds from ``seed`` without mutating it."""
    parent = as_seed_sequence(seed)
    return [
        np.random.SeedSequence(parent.entropy, spawn_key=(*parent.spawn_key, i), pool_size=parent.pool_size)
        for i in range(n)
    ]


def make_rng(seed: SeedLike) -> np.random.Generator:
    """Returns a new PCG64 Generator seeded from ``seed``."""
    return np.random.Generator(np.random.PCG64(as_seed_sequence(seed)))


def reseed(rng: np.random.Generator, seed: SeedLike) -> None:
    """Resets ``rng`` in place to the stream that ``make_rng(seed)`` would start."""
    rng.bit_generator.state = type(rng.bit_generator)(as_seed_sequence(seed)).state
