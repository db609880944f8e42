"""Wolpertinger on the tutorial environment through Gymnasium: the 90%-of-optimal target (issue 4).

The learned greedy policy is judged by its *exact* expected episode return (undiscounted, uniform
start; :func:`recframe.environments.tutorial.policy_value`) against value iteration's optimum
(:func:`recframe.environments.tutorial.solve`), not by training reward.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import recframe  # noqa: F401 - registers the environments
from recframe.agents.common.noise import GaussNoise
from recframe.agents.wolpertinger import TUTORIAL_HYPERPARAMETERS, WolpertingerRecommender
from recframe.environments import tutorial


def run_gymnasium(recommender: WolpertingerRecommender, env: gym.Env, steps: int, seed: int) -> None:
    """``steps`` environment steps of the recommender in the plain Gymnasium loop."""
    obs, _ = env.reset(seed=seed)
    slate = recommender.begin_episode(obs)
    for _ in range(steps):
        obs, reward, terminated, truncated, _ = env.step(slate)
        if terminated or truncated:
            recommender.end_episode(reward, obs, terminated=terminated)
            obs, _ = env.reset()
            slate = recommender.begin_episode(obs)
        else:
            slate = recommender.step(reward, obs)


def fraction_of_optimal(recommender: WolpertingerRecommender, env: gym.Env) -> float:
    """Exact return of the recommender's greedy policy over the optimal return."""
    w = env.unwrapped.environment.user_model.transition_matrix
    n = w.shape[0]
    eye = np.eye(n, dtype=np.float32)
    policy = [int(recommender.agent.select_slate(eye[i])[0]) for i in range(n)]
    optimal_values, _, _ = tutorial.solve(w)
    return float(tutorial.policy_value(w, policy).mean() / optimal_values.mean())


def test_runs_through_gymnasium_with_the_environment_spaces() -> None:
    env = gym.make("recframe/Tutorial-v0", seed=1)
    rec = WolpertingerRecommender(
        env=env, seed=0, noise=GaussNoise(sigma=0.05), learning_starts=50, **TUTORIAL_HYPERPARAMETERS
    )
    assert rec.agent.state_dim == 10 and rec.agent.n_items == 10 and rec.agent.k == 3
    run_gymnasium(rec, env, 120, seed=0)
    # Every environment step stores exactly one transition; updates start at the 50th.
    assert rec.agent.num_steps == 120 and len(rec.agent.buffer) == 120
    assert rec.agent.num_updates == 120 - 50 + 1
    rec.eval_mode = True
    assert env.action_space.contains(rec.begin_episode(env.reset(seed=1)[0]))


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reaches_90_percent_of_optimal_in_3000_steps_with_the_tutorial_parameters(seed: int) -> None:
    env = gym.make("recframe/Tutorial-v0", seed=seed)
    rec = WolpertingerRecommender(
        env=env, seed=seed, noise=GaussNoise(sigma=0.05), **TUTORIAL_HYPERPARAMETERS
    )
    run_gymnasium(rec, env, 3000, seed=seed)
    assert rec.agent.num_steps == 3000
    assert fraction_of_optimal(rec, env) >= 0.9
