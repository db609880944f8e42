"""make_vec(..., num_workers=W): the pet-retail vector envs sharded over processes, bit for bit one process.

Workers start with ``fork`` here (milliseconds, and the shards inherit the catalog this process
has built); the default start method re-imports torch in every worker (seconds) and is covered by
the core's tests.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import tree

import recframe  # noqa: F401  (registers the environments)
from recframe.environments.pet_retail.vector import PetRetailVectorEnv, SlateBatchSpace
from recframe.simulator.sharded import ShardedVectorEnv

IDS = ("recframe/PetRetail-v0", "recframe/PetRetailCatalog-v0", "recframe/PetRetailBoost-v0")


def _make(env_id: str, num_envs: int = 5, **kwargs):
    return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs)


def _sharded(env_id: str, num_workers: int, num_envs: int = 5, **kwargs) -> ShardedVectorEnv:
    return _make(env_id, num_envs, num_workers=num_workers, start_method="fork", **kwargs)


def _assert_same(a, b) -> None:
    dtypes = [tree.map_structure(lambda x: np.asarray(x).dtype, r) for r in (a, b)]
    assert tree.flatten(dtypes[0]) == tree.flatten(dtypes[1])
    tree.map_structure(np.testing.assert_array_equal, a, b)


@pytest.mark.parametrize("num_workers", [2, 3])
@pytest.mark.parametrize("env_id", IDS)
def test_sharded_equals_one_process_bit_for_bit(env_id, num_workers):
    whole = _make(env_id)
    with _sharded(env_id, num_workers) as sharded:
        assert sharded.shard_sizes == ([3, 2] if num_workers == 2 else [2, 2, 1])
        assert type(sharded.action_space) is type(whole.action_space)
        assert sharded.action_space == whole.action_space
        assert sharded.observation_space == whole.observation_space
        sharded.action_space.seed(0)
        _assert_same(sharded.reset(seed=11), whole.reset(seed=11))
        autoresets = 0
        for _ in range(30):
            actions = sharded.action_space.sample()  # the sharded env's space draws valid actions
            result = sharded.step(actions)
            _assert_same(result, whole.step(actions))
            autoresets += int((result[4]["product_ids"][:, 0] < 0).sum())
        assert autoresets >= 3


def test_list_seeds_and_construction_seeds_match_one_process():
    env_id, seeds = "recframe/PetRetailCatalog-v0", [5, 1, 4, 1, 3]
    whole = _make(env_id, seed=100)
    with _sharded(env_id, 2, seed=100) as sharded:
        _assert_same(sharded.reset(), whole.reset())  # built with seed 100: shard 1 starts at 103
        actions = sharded.action_space.sample()
        _assert_same(sharded.step(actions), whole.step(actions))
        _assert_same(sharded.reset(seed=seeds), whole.reset(seed=seeds))
        _assert_same(sharded.step(actions), whole.step(actions))


def test_a_bad_slate_in_the_second_shard_names_it():
    with _sharded("recframe/PetRetail-v0", 2) as sharded:
        sharded.reset(seed=0)
        actions = np.tile(np.arange(10), (5, 1))
        actions[4, 3] = actions[4, 2]  # env 4 of the whole, env 1 of shard 1
        with pytest.raises(ValueError, match=r"shard 1 \(envs 3 to 4 of 5.*\): the slate of env 1 repeats"):
            sharded.step(actions)
        sharded.reset(seed=0)  # the first shard had stepped: a reset brings them in step again
        actions[4, 3] = 3
        sharded.step(actions)


def test_close_is_idempotent_and_the_workers_are_gone():
    sharded = _sharded("recframe/PetRetailBoost-v0", 2, num_envs=2)
    processes = list(sharded._processes)
    sharded.close()
    sharded.close()
    assert not any(process.is_alive() for process in processes)


def test_num_workers_one_is_the_plain_env_and_bad_values_are_rejected():
    assert isinstance(_make("recframe/PetRetail-v0", 2, num_workers=1), PetRetailVectorEnv)
    assert isinstance(_make("recframe/PetRetail-v0", 2).action_space, SlateBatchSpace)
    for bad in (0, -1, 1.5, "2", 3):
        with pytest.raises(ValueError, match="num_workers"):
            _make("recframe/PetRetail-v0", 2, num_workers=bad)
