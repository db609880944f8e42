from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest

from recframe.agent import AbstractEpisodicRecommenderAgent
from recframe.simulator.runner import Runner, run_episode, run_episodes


class CountingAgent(AbstractEpisodicRecommenderAgent):
    """Recommends item (steps mod n); remembers how many steps and rewards it saw."""

    def __init__(self, action_space):
        super().__init__(action_space)
        self.steps, self.rewards, self.ended = 0, [], 0

    def step(self, reward, observation):
        self.steps += 1
        self.rewards.append(reward)
        return np.array([self.steps % self.action_space.num_candidates])

    def end_episode(self, reward, observation=None):
        self.ended += 1
        self.rewards.append(reward)

    def bundle_and_checkpoint(self, checkpoint_dir, iteration_number):
        return {**super().bundle_and_checkpoint(checkpoint_dir, iteration_number), "steps": self.steps}

    def unbundle(self, checkpoint_dir, iteration_number, bundle_dict):
        self.steps = bundle_dict["steps"]
        return super().unbundle(checkpoint_dir, iteration_number, bundle_dict)


@pytest.fixture
def env():
    return gym.make("recframe/Tutorial-v0")


def test_run_episode_follows_the_recsim_loop(env):
    agent = CountingAgent(env.action_space)
    result = run_episode(env, agent, seed=0)
    assert agent.episode_num == 1 and agent.ended == 1
    assert result.steps == agent.steps  # begin_episode + one step() per non-final step
    assert result.total_reward == pytest.approx(sum(agent.rewards))
    assert result.terminated and not result.truncated


def test_max_steps_truncates(env):
    result = run_episode(env, CountingAgent(env.action_space), seed=0, max_steps=1)
    assert result.steps == 1 and (result.truncated or result.terminated)
    with pytest.raises(ValueError, match="max_steps"):
        run_episode(env, CountingAgent(env.action_space), max_steps=0)


def test_run_episodes_is_reproducible(env):
    first = [r.total_reward for r in run_episodes(env, CountingAgent(env.action_space), 20, seed=3)]
    second = [r.total_reward for r in run_episodes(env, CountingAgent(env.action_space), 20, seed=3)]
    assert first == second and len(first) == 20
    with pytest.raises(ValueError, match="num_episodes"):
        run_episodes(env, CountingAgent(env.action_space), 0)


def test_runner_writes_results_checkpoints_and_resumes(env, tmp_path):
    agent = CountingAgent(env.action_space)
    runner = Runner(env, agent, tmp_path, episodes_per_iteration=3, seed=1, checkpoint_every=1)
    first = runner.run(2)
    assert [r["iteration"] for r in first] == [0, 1]
    assert sorted(p.name for p in runner.checkpoint_dir.iterdir()) == ["ckpt.0", "ckpt.1"]
    steps_at_checkpoint = agent.steps

    resumed_agent = CountingAgent(env.action_space)
    resumed = Runner(env, resumed_agent, tmp_path, episodes_per_iteration=3, seed=1)
    assert resumed.iteration == 2 and resumed_agent.steps == steps_at_checkpoint
    assert resumed_agent.episode_num == 6
    resumed.run(1)
    lines = [json.loads(line) for line in runner.results_path.read_text().splitlines()]
    assert [line["iteration"] for line in lines] == [0, 1, 2]  # earlier results kept
    assert resumed.read_results() == lines
    assert all(len(line["episode_returns"]) == 3 for line in lines)


def test_iteration_seeds_make_runs_reproducible(env, tmp_path):
    a = Runner(env, CountingAgent(env.action_space), tmp_path / "a", episodes_per_iteration=4, seed=5).run(2)
    b = Runner(env, CountingAgent(env.action_space), tmp_path / "b", episodes_per_iteration=4, seed=5).run(2)
    assert [r["episode_returns"] for r in a] == [r["episode_returns"] for r in b]


def test_a_failed_restore_is_an_error(env, tmp_path):
    Runner(env, CountingAgent(env.action_space), tmp_path, episodes_per_iteration=1).run(1)

    class Forgetful(CountingAgent):
        def unbundle(self, checkpoint_dir, iteration_number, bundle_dict):
            return False

    with pytest.raises(RuntimeError, match="could not restore checkpoint 0"):
        Runner(env, Forgetful(env.action_space), tmp_path)


def test_runner_progress_bar(env, tmp_path, capsys):
    pytest.importorskip("tqdm")
    Runner(env, CountingAgent(env.action_space), tmp_path, episodes_per_iteration=1, progress=True).run(2)
    assert "2/2" in capsys.readouterr().err


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"episodes_per_iteration": 0}, "episodes_per_iteration"),
        ({"checkpoint_every": -1}, "checkpoint_every"),
    ],
)
def test_runner_rejects_bad_settings(env, tmp_path, kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        Runner(env, CountingAgent(env.action_space), tmp_path, **kwargs)


def test_tensorboard_logs_or_a_message_naming_the_extra(env, tmp_path):
    try:
        import torch.utils.tensorboard  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match=r"recframe\[tensorboard\]"):
            Runner(env, CountingAgent(env.action_space), tmp_path, tensorboard=True)
        return
    Runner(env, CountingAgent(env.action_space), tmp_path, episodes_per_iteration=1, tensorboard=True).run(1)
    assert any((tmp_path / "tensorboard").iterdir())
