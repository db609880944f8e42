from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from recframe.environments.tutorial import create_environment, make_transition_matrix, policy_value, solve
from recframe.seeding import make_rng


@pytest.fixture(scope="module")
def w():
    return make_transition_matrix(10, make_rng(0))


def test_transition_matrix_has_one_favourite_per_item(w):
    assert w.shape == (10, 10) and np.all((0 <= w) & (w <= 1))
    best = np.sort(w, axis=1)
    assert np.all(best[:, -1] >= 0.9) and np.all(best[:, -2] < 0.2)
    assert sorted(w.argmax(axis=1).tolist()) == list(range(10))


def test_value_iteration_is_optimal_against_every_single_deviation(w):
    values, policy, q = solve(w)
    np.testing.assert_allclose(policy_value(w, policy), values, rtol=1e-9)
    # No one-state change of the policy improves the value anywhere.
    for state in range(10):
        for action in range(10):
            deviated = policy.copy()
            deviated[state] = action
            assert np.all(policy_value(w, deviated) <= values + 1e-9)
    assert np.array_equal(q.argmax(axis=1), policy)


def test_random_policy_earns_about_a_ninth_of_optimal(w):
    values, policy, _ = solve(w)
    uniform_accept = w.mean(axis=1)
    # Uniform random policy: accept prob per state is the row mean; the next state averages over items.
    n = 10
    transition = (w / n) * 0.9 + ((1 - uniform_accept) * 0.8 / n)[:, None]
    random_values = np.linalg.solve(np.eye(n) - transition, uniform_accept)
    ratio = random_values.mean() / values.mean()
    assert 0.05 < ratio < 0.2


def test_simulated_returns_match_the_exact_value(w):
    env = create_environment(transition_matrix=w, seed=3)
    _, policy, _ = solve(w)
    exact = policy_value(w, policy).mean()
    returns = []
    obs, _ = env.reset(seed=3)
    while len(returns) < 3000:
        total, terminated = 0.0, False
        while not terminated:
            obs, reward, terminated, _, _ = env.step(np.array([policy[obs["user"]]]))
            total += reward
        returns.append(total)
        obs, _ = env.reset()
    se = np.std(returns) / np.sqrt(len(returns))
    assert abs(np.mean(returns) - exact) < 4 * se


def test_gym_make_and_create_environment_agree():
    a = gym.make("recframe/Tutorial-v0", seed=4).unwrapped
    b = create_environment({"seed": 4})
    np.testing.assert_array_equal(
        a.environment.user_model.transition_matrix, b.environment.user_model.transition_matrix
    )


@pytest.mark.parametrize(
    "config, fragment",
    [({"colour": 1}, "unknown tutorial config"), ({"transition_matrix": np.ones((3, 3))}, "10x10")],
)
def test_bad_config_is_named(config, fragment):
    with pytest.raises(ValueError, match=fragment):
        create_environment(config)


def test_other_catalog_sizes():
    env = create_environment(num_items=4)
    assert env.observation_space["user"].n == 4 and env.action_space.num_candidates == 4
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
