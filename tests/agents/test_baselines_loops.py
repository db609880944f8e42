"""Every baseline runs through the runner's RecSim-style loop and plain Gymnasium stepping alike."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from agent_loops import play_gymnasium

from recframe.agents import (
    EpsilonGreedyAgent,
    GreedyAgent,
    LinearThompsonSampling,
    LinUCB,
    RandomAgent,
    SlateQAgent,
)
from recframe.environments.linear_bandit import oracle_score_fn
from recframe.simulator.runner import run_episodes

AGENTS = {
    "random": ("LinearBandit-v0", lambda env: RandomAgent(env.action_space, seed=3)),
    "oracle": ("LinearBandit-v0", lambda env: GreedyAgent(env.action_space, oracle_score_fn(env))),
    "epsilon_greedy": (
        "LinearBandit-v0",
        lambda env: EpsilonGreedyAgent(env.action_space, oracle_score_fn(env), epsilon=0.3, seed=3),
    ),
    "linucb": ("LinearBandit-v0", lambda env: LinUCB(env.observation_space, env.action_space, alpha=0.5)),
    "linucb_disjoint_outer": (
        "LinearBandit-v0",
        lambda env: LinUCB(env.observation_space, env.action_space, disjoint=True, user_features="outer"),
    ),
    "thompson": (
        "LinearBandit-v0",
        lambda env: LinearThompsonSampling(
            env.observation_space, env.action_space, user_features="concat", seed=3
        ),
    ),
    "slate_q": (
        "InterestEvolution-v0",
        lambda env: SlateQAgent(
            env.observation_space, env.action_space, learning_starts=30, batch_size=8, seed=3
        ),
    ),
}


@pytest.mark.parametrize("name", sorted(AGENTS))
def test_runner_and_gymnasium_loops_agree(name):
    env_name, make = AGENTS[name]
    env = gym.make(
        f"recframe/{env_name}", **({"episode_length": 20} if env_name == "LinearBandit-v0" else {})
    )
    via_runner_agent, via_gym_agent = make(env), make(env)
    via_runner = [r.total_reward for r in run_episodes(env, via_runner_agent, 2, seed=1)]
    via_gym = play_gymnasium(env, via_gym_agent, 2, seed=1)
    assert via_runner == via_gym
    assert via_runner_agent.episode_num == via_gym_agent.episode_num == 2
    assert np.all(np.isfinite(via_runner)) and via_runner[0] != via_runner[1]
