"""RandomAgent, GreedyAgent and EpsilonGreedyAgent: slates, seeding, bad input, both loops."""

from __future__ import annotations

import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
from agent_loops import play_gymnasium
from gymnasium import spaces

from recframe.agents import EpsilonGreedyAgent, GreedyAgent, RandomAgent
from recframe.environments.linear_bandit import oracle_score_fn
from recframe.simulator.runner import run_episodes
from recframe.spaces import SlateSpace


def test_random_agent_draws_distinct_uniform_slates():
    # 6,000 slates of 2 from 6: each candidate appears with probability 1/3 per slate, so its count
    # is Binomial(6000, 1/3): mean 2000, sd ~37; each ordered pair has probability 1/30.
    agent = RandomAgent(SlateSpace(6, 2), seed=1)
    slates = np.array([agent.step(0.0, None) for _ in range(6000)])
    assert np.all(slates[:, 0] != slates[:, 1])
    counts = np.bincount(slates.ravel(), minlength=6)
    assert np.all(np.abs(counts - 2000) < 4 * np.sqrt(6000 / 3 * 2 / 3))
    first_counts = np.bincount(slates[:, 0], minlength=6)
    assert np.all(np.abs(first_counts - 1000) < 4 * np.sqrt(6000 / 6 * 5 / 6))


def test_random_agent_is_seeded_and_independent_of_the_space_and_numpy_rngs():
    space = SlateSpace(10, 3, seed=0)
    a, b, c = RandomAgent(space, seed=5), RandomAgent(space, seed=5), RandomAgent(space, seed=6)
    first = [a.step(0.0, None) for _ in range(20)]
    space.sample()
    np.random.default_rng(0).random()
    second = [b.step(0.0, None) for _ in range(20)]
    assert all(np.array_equal(x, y) for x, y in zip(first, second))
    assert not all(np.array_equal(x, c.step(0.0, None)) for x in first)


def test_random_agent_checkpoint_resumes_the_same_slates():
    agent = RandomAgent(SlateSpace(8, 2), seed=0)
    agent.begin_episode(None)
    bundle = agent.bundle_and_checkpoint("/unused", 0)
    expected = [agent.step(0.0, None) for _ in range(5)]
    restored = RandomAgent(SlateSpace(8, 2), seed=99)
    assert restored.unbundle("/unused", 0, bundle) and restored.episode_num == 1
    assert all(np.array_equal(x, restored.step(0.0, None)) for x in expected)
    assert not restored.unbundle("/unused", 0, {"episode_num": 1})


@pytest.mark.parametrize(
    "space, error, fragment",
    [
        (spaces.Discrete(5), TypeError, "single-user slate action space"),
        (spaces.Tuple([SlateSpace(5, 2)] * 2), TypeError, "single-user slate action space"),
        (spaces.MultiDiscrete([5, 4]), TypeError, r"nvec=\[5, 4\]"),
        (spaces.MultiDiscrete([3, 3, 3, 3]), ValueError, "slate_size 4 is larger than num_candidates 3"),
    ],
)
def test_agents_reject_spaces_that_are_not_slates(space, error, fragment):
    with pytest.raises(error, match=fragment):
        RandomAgent(space)
    with pytest.raises(error, match=fragment):
        GreedyAgent(space, lambda obs: np.zeros(5))


def test_random_agent_rejects_bad_seeds():
    with pytest.raises(ValueError, match="-1"):
        RandomAgent(SlateSpace(5, 2), seed=-1)
    with pytest.raises(TypeError, match="1.5"):
        RandomAgent(SlateSpace(5, 2), seed=1.5)


def test_greedy_agent_puts_the_top_scores_first_and_breaks_ties_by_index():
    scores = np.array([0.1, 0.9, 0.5, 0.9, -2.0])
    agent = GreedyAgent(SlateSpace(5, 3), lambda obs: scores)
    np.testing.assert_array_equal(agent.begin_episode({"doc": None}), [1, 3, 2])


@pytest.mark.parametrize(
    "scores, fragment",
    [
        (np.zeros(4), r"shape \(5,\), got shape \(4,\)"),
        (np.zeros((5, 1)), r"got shape \(5, 1\)"),
        (np.array([0.0, np.nan, 1.0, 2.0, 3.0]), "non-finite scores"),
        (np.array([0.0, np.inf, 1.0, 2.0, 3.0]), "non-finite scores"),
    ],
)
def test_greedy_agent_names_bad_scores(scores, fragment):
    def my_scores(obs):
        return scores

    for agent in (
        GreedyAgent(SlateSpace(5, 2), my_scores),
        EpsilonGreedyAgent(SlateSpace(5, 2), my_scores, 0.0),
    ):
        with pytest.raises(ValueError, match=fragment) as info:
            agent.step(0.0, None)
        assert "my_scores" in str(info.value)


def test_greedy_agent_needs_a_callable():
    with pytest.raises(TypeError, match="score_fn must be callable"):
        GreedyAgent(SlateSpace(5, 2), np.zeros(5))


@pytest.mark.parametrize("epsilon", [-0.1, 1.5, float("nan")])
def test_epsilon_outside_unit_interval_is_named(epsilon):
    with pytest.raises(ValueError, match=f"epsilon must be in \\[0, 1\\], got {epsilon}"):
        EpsilonGreedyAgent(SlateSpace(5, 2), lambda obs: np.zeros(5), epsilon=epsilon)


def test_epsilon_greedy_explores_at_rate_epsilon_and_is_seeded():
    # The greedy slate is [4, 3]; a random slate equals it with probability 1/20, so the rate of
    # other slates is 0.3 * 19/20 = 0.285. With 4,000 steps its sd is sqrt(0.285 * 0.715 / 4000) ~ 0.0071.
    score = lambda obs: np.arange(5.0)  # noqa: E731
    agent = EpsilonGreedyAgent(SlateSpace(5, 2), score, epsilon=0.3, seed=2)
    slates = np.array([agent.step(0.0, None) for _ in range(4000)])
    other = np.mean(np.any(slates != [4, 3], axis=1))
    assert abs(other - 0.285) < 4 * np.sqrt(0.285 * 0.715 / 4000)
    twin = EpsilonGreedyAgent(SlateSpace(5, 2), score, epsilon=0.3, seed=2)
    np.testing.assert_array_equal(slates, [twin.step(0.0, None) for _ in range(4000)])
    greedy = EpsilonGreedyAgent(SlateSpace(5, 2), score, epsilon=0.0)
    assert all(np.array_equal(greedy.step(0.0, None), [4, 3]) for _ in range(50))


def test_agents_run_through_the_runner_and_plain_gymnasium_stepping():
    # LinearBandit-v0 (slate 2, 50 steps): the oracle earns ~78 clicks per episode and a random
    # slate ~50 (sd ~5 per episode); 20 episodes each give standard errors near 1.
    env = gym.make("recframe/LinearBandit-v0")
    n = 20
    oracle = [
        r.total_reward
        for r in run_episodes(env, GreedyAgent(env.action_space, oracle_score_fn(env)), n, seed=0)
    ]
    explorer = EpsilonGreedyAgent(env.action_space, oracle_score_fn(env), epsilon=0.5, seed=0)
    mixed = play_gymnasium(env, explorer, n, seed=0)
    random = play_gymnasium(env, RandomAgent(env.action_space, seed=0), n, seed=0)
    means = [np.mean(x) for x in (oracle, mixed, random)]
    se = [np.std(x, ddof=1) / np.sqrt(n) for x in (oracle, mixed, random)]
    assert means[0] - means[1] > 3 * np.hypot(se[0], se[1])
    assert means[1] - means[2] > 3 * np.hypot(se[1], se[2])
    assert explorer.episode_num == n


def test_importing_agents_does_not_import_torch_and_lazy_names_resolve():
    code = (
        "import sys, recframe.agents as a; assert 'torch' not in sys.modules; assert 'SlateQAgent' in dir(a)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    import recframe.agents as agents
    from recframe.agents.common.noise import GaussNoise, OrnsteinUhlenbeckNoise
    from recframe.agents.slate_q import SlateQAgent
    from recframe.agents.wolpertinger import WolpertingerRecommender

    assert agents.SlateQAgent is SlateQAgent and agents.WolpertingerRecommender is WolpertingerRecommender
    assert (agents.GaussNoise, agents.OrnsteinUhlenbeckNoise) == (GaussNoise, OrnsteinUhlenbeckNoise)
    assert all(getattr(agents, name) is not None for name in agents.__all__)
    with pytest.raises(AttributeError, match="NoSuchAgent"):
        agents.NoSuchAgent  # noqa: B018
