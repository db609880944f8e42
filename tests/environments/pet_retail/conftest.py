"""Fixtures shared by the retrieval tests."""

from __future__ import annotations

import pytest

from recframe.environments.pet_retail import retrieval


@pytest.fixture
def short_blocks(monkeypatch) -> list[int]:
    """First blocks of uniforms three standard deviations short of the mean number of hits (both
    retrieval paths read the setting), so that Bernoulli processes outrun them again and again;
    returns a list that counts the numpy path's continuations."""
    monkeypatch.setattr(retrieval, "_BLOCK_SPREAD", -3.0)
    continuations = [0]
    more_hits = retrieval._more_hits

    def counting(*args):
        continuations[0] += 1
        return more_hits(*args)

    monkeypatch.setattr(retrieval, "_more_hits", counting)
    return continuations
