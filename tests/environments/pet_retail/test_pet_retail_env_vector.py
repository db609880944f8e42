"""The vectorized pet-retail environment: make_vec, autoreset, bit-identical to single environments."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

import recframe  # noqa: F401  (registers the environments)
from recframe.environments.pet_retail.boost import create_boost_environment
from recframe.environments.pet_retail.envs import create_catalog_environment, create_environment
from recframe.environments.pet_retail.reward import COMPONENTS
from recframe.environments.pet_retail.vector import PetRetailVectorEnv

SINGLE = {
    "slate": create_environment,
    "catalog": create_catalog_environment,
    "boost": create_boost_environment,
}


def _actions(variant: str, venv: PetRetailVectorEnv, rng: np.random.Generator) -> np.ndarray:
    if variant == "boost":
        return rng.uniform(-1.0, 1.0, size=(venv.num_envs, 10)).astype(np.float32)
    return np.stack(
        [rng.choice(venv.num_candidates, size=venv.k, replace=False) for _ in range(venv.num_envs)]
    )


def _row(tree, i):
    return {k: _row(v, i) for k, v in tree.items()} if isinstance(tree, dict) else tree[i]


def _assert_same(single, batched, where: str) -> None:
    if isinstance(single, dict):
        assert single.keys() == batched.keys(), where
        for key in single:
            _assert_same(single[key], batched[key], f"{where}[{key!r}]")
    else:
        single = np.asarray(single)
        assert single.dtype == np.asarray(batched).dtype, where
        np.testing.assert_array_equal(single, batched, err_msg=where)


@pytest.mark.parametrize("variant", ["slate", "catalog", "boost"])
def test_vector_env_matches_single_envs_bit_for_bit(variant):
    n, steps, seed = 5, 25, 40
    venv = PetRetailVectorEnv(n, variant)
    singles = [SINGLE[variant]() for _ in range(n)]
    rng = np.random.default_rng(0)
    obs, _ = venv.reset(seed=seed)
    for i, env in enumerate(singles):
        _assert_same(env.reset(seed=seed + i)[0], _row(obs, i), f"reset env {i}")
    done = np.zeros(n, dtype=bool)
    resets = 0
    for t in range(steps):
        actions = _actions(variant, venv, rng)
        obs, rewards, terminated, truncated, info = venv.step(actions)
        assert not truncated.any()
        for i, env in enumerate(singles):
            where = f"step {t} env {i}"
            if done[i]:
                single_obs, reward, term = env.reset()[0], 0.0, False
                resets += 1
                assert info["product_ids"][i, 0] == -1
            else:
                single_obs, reward, term, _, single_info = env.step(actions[i])
                for name in COMPONENTS:
                    assert single_info[name] == info[name][i], f"{where} {name}"
                np.testing.assert_array_equal(single_info["product_ids"], info["product_ids"][i])
            _assert_same(single_obs, _row(obs, i), where)
            assert reward == rewards[i] and term == terminated[i], where
        done = terminated
    assert resets > 0  # the autoreset path was exercised


def test_make_vec_uses_the_native_vector_env():
    for env_id in ("recframe/PetRetail-v0", "recframe/PetRetailCatalog-v0", "recframe/PetRetailBoost-v0"):
        venv = gym.make_vec(env_id, num_envs=3, vectorization_mode="vector_entry_point")
        assert isinstance(venv.unwrapped, PetRetailVectorEnv)
        assert venv.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP
        obs, _ = venv.reset(seed=0)
        assert venv.observation_space.contains(obs)
        obs, rewards, terminated, truncated, _ = venv.step(venv.action_space.sample())
        assert rewards.shape == terminated.shape == truncated.shape == (3,)
        assert venv.observation_space.contains(obs)


def test_autoreset_ignores_the_action_and_starts_a_new_visit():
    venv = PetRetailVectorEnv(4, "catalog")
    venv.reset(seed=1)
    rng = np.random.default_rng(1)
    for _ in range(50):
        _, _, terminated, _, _ = venv.step(_actions("catalog", venv, rng))
        if terminated.any():
            break
    ended = np.flatnonzero(terminated)
    assert ended.size
    bad = _actions("catalog", venv, rng)
    bad[ended] = 10_000_000  # ignored: these envs are being reset
    obs, rewards, terminated, _, _ = venv.step(bad)
    assert np.all(rewards[ended] == 0) and not terminated[ended].any()
    assert np.all(obs["user"]["session"][ended] == 0)
    assert np.all(obs["response"]["examined"][ended] == 0)


@pytest.mark.parametrize(
    ("variant", "mutate", "error", "match"),
    [
        ("slate", lambda a: a.__setitem__((2, 3), a[2, 4]), ValueError, "env 2 repeats"),
        ("slate", lambda a: a.__setitem__((1, 0), -3), ValueError, "-3 of env 1 is out of range"),
        ("catalog", lambda a: a.__setitem__((0, 0), 10_000), ValueError, "10000 of env 0 is out of range"),
        (
            "boost",
            lambda a: a.__setitem__((3, 7), np.nan),
            ValueError,
            r"finite, got \[nan\] at index\(es\) \[\[3, 7\]\]",
        ),
        ("boost", lambda a: a.__setitem__((0, 1), 2.0), ValueError, r"\[-1.0, 1.0\]"),
    ],
)
def test_vector_env_rejects_bad_actions(variant, mutate, error, match):
    venv = PetRetailVectorEnv(4, variant)
    venv.reset(seed=0)
    actions = _actions(variant, venv, np.random.default_rng(0))
    mutate(actions)
    with pytest.raises(error, match=match):
        venv.step(actions)


def test_vector_env_rejects_bad_arguments():
    with pytest.raises(ValueError, match="variant"):
        PetRetailVectorEnv(2, "grid")
    with pytest.raises(ValueError, match="num_envs"):
        PetRetailVectorEnv(0)
    venv = PetRetailVectorEnv(2)
    with pytest.raises(ValueError, match="one seed per env"):
        venv.reset(seed=[1, 2, 3])
