from __future__ import annotations

import warnings

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.wrappers import FlattenObservation

import recframe
from recframe.environments import ENVIRONMENTS
from recframe.registration import register_environment

REGISTERED = [f"recframe/{name}" for name in ENVIRONMENTS]


def test_every_builtin_environment_is_registered_on_import():
    assert set(REGISTERED) <= set(recframe.registered_environments())


@pytest.mark.parametrize("env_id", REGISTERED)
def test_registered_environment_passes_check_env(env_id):
    env = gym.make(env_id, render_mode="ansi")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert isinstance(env.render(), str)
    env.close()


@pytest.mark.parametrize("env_id", REGISTERED)
def test_registered_environment_flattens(env_id):
    env = FlattenObservation(gym.make(env_id))
    obs, _ = env.reset(seed=0)
    assert obs.ndim == 1 and env.observation_space.contains(obs)
    obs, *_ = env.step(env.action_space.sample())
    assert env.observation_space.contains(obs)


def test_register_environment_is_idempotent():
    first = register_environment("Tutorial-v0", "recframe.environments.tutorial:create_environment")
    assert first == "recframe/Tutorial-v0"
    assert gym.spec(first).entry_point == "recframe.environments.tutorial:create_environment"


def test_environments_that_never_end_get_a_time_limit():
    env = gym.make("recframe/InterestExploration-v0")
    env.reset(seed=0)
    steps, truncated = 0, False
    while not truncated:
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        assert not terminated
        steps += 1
    assert steps == 100
