"""The plain Gymnasium loop for RecSim-style agents (the runner's loop, written out for tests)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym


def play_gymnasium(env: gym.Env, agent: Any, num_episodes: int, seed: int) -> list[float]:
    """Plays episodes with ``reset``/``step`` until terminated, calling the agent's episode hooks.

    The first reset uses ``seed``; every action is checked against the action space.
    """
    returns = []
    for episode in range(num_episodes):
        obs, _ = env.reset(seed=seed if episode == 0 else None)
        action, total = agent.begin_episode(obs), 0.0
        while True:
            assert env.action_space.contains(action), action
            obs, reward, terminated, truncated, _ = env.step(action)
            total += reward
            if terminated or truncated:
                agent.end_episode(reward, obs)
                break
            action = agent.step(reward, obs)
        returns.append(total)
    return returns
