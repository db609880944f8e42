from __future__ import annotations

import numpy as np
import pytest

from recframe.seeding import as_seed_sequence, child_seeds, make_rng, reseed


def test_child_seeds_do_not_mutate_and_repeat():
    parent = np.random.SeedSequence(7)
    first = [s.generate_state(2).tolist() for s in child_seeds(parent, 3)]
    second = [s.generate_state(2).tolist() for s in child_seeds(parent, 3)]
    assert first == second
    assert parent.n_children_spawned == 0
    assert len({tuple(x) for x in first}) == 3


def test_child_seeds_match_spawn():
    spawned = np.random.SeedSequence(11).spawn(2)
    derived = child_seeds(11, 2)
    assert [s.generate_state(4).tolist() for s in spawned] == [s.generate_state(4).tolist() for s in derived]


def test_reseed_in_place_matches_a_new_generator():
    rng = make_rng(1)
    rng.random(10)
    holder = rng
    reseed(rng, 5)
    assert holder is rng
    assert np.array_equal(rng.random(5), make_rng(5).random(5))


def test_reseed_keeps_the_bit_generator_kind():
    rng = np.random.Generator(np.random.Philox(0))
    reseed(rng, 3)
    assert np.array_equal(
        rng.random(3), np.random.Generator(np.random.Philox(np.random.SeedSequence(3))).random(3)
    )


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True])
def test_bad_seeds_are_rejected(bad):
    with pytest.raises(TypeError, match="seed"):
        as_seed_sequence(bad)
