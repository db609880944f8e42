"""LinUCB and linear Thompson sampling: features, ridge updates, learning, seeding, bad input."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from recframe.agents import GreedyAgent, LinearThompsonSampling, LinUCB, RandomAgent
from recframe.agents._baselines import CandidateFeatures, click_rewards
from recframe.agents.linear_bandits import sherman_morrison
from recframe.environments.linear_bandit import oracle_score_fn
from recframe.environments.tutorial import create_environment as tutorial_environment
from recframe.environments.tutorial import policy_value, solve
from recframe.simulator.runner import run_episodes
from recframe.spaces import ObservationStacker

EPISODES = 30  # per agent on LinearBandit-v0 (50 steps, slate 2): ~0.3 s each


class ExpectedRewardRecorder(gym.Wrapper):
    """Records, per step, the true expected reward of the played slate and of the best slate."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self._score = oracle_score_fn(env)
        self.played: list[float] = []
        self.best: list[float] = []

    def reset(self, **kwargs):
        self._obs, info = self.env.reset(**kwargs)
        return self._obs, info

    def step(self, action):
        p = self._score(self._obs)
        self.played.append(float(p[action].sum()))
        self.best.append(float(np.sort(p)[-len(action) :].sum()))
        self._obs, *rest = self.env.step(action)
        return (self._obs, *rest)


def returns_of(env: gym.Env, agent, episodes: int = EPISODES, seed: int = 0) -> np.ndarray:
    return np.array([r.total_reward for r in run_episodes(env, agent, episodes, seed=seed)])


def mean_se(x: np.ndarray) -> tuple[float, float]:
    return float(np.mean(x)), float(np.std(x, ddof=1) / np.sqrt(len(x)))


@pytest.fixture(scope="module")
def bandit_returns():
    """Returns of each agent on LinearBandit-v0, env seed 0, plus LinUCB's per-step expected rewards."""
    env = gym.make("recframe/LinearBandit-v0")
    recorder = ExpectedRewardRecorder(env)
    obs_space, act_space = env.observation_space, env.action_space
    return {
        "random": returns_of(env, RandomAgent(act_space, seed=0)),
        "oracle": returns_of(env, GreedyAgent(act_space, oracle_score_fn(env))),
        "linucb": returns_of(recorder, LinUCB(obs_space, act_space, alpha=1.0)),
        "thompson": returns_of(env, LinearThompsonSampling(obs_space, act_space, scale=0.5, seed=0)),
        "linucb_expected": (np.array(recorder.played), np.array(recorder.best)),
    }


@pytest.mark.parametrize("agent", ["linucb", "thompson"])
def test_linear_bandits_beat_random_on_the_linear_environment(bandit_returns, agent):
    # 30 episodes of 50 steps each, env seed 0: random earns ~50 clicks per episode, the oracle ~78.
    # Observed (seed 0): random 50.7 +- 1.0, oracle 78.3 +- 0.9, LinUCB 77.8 +- 1.1, Thompson 77.3 +- 1.0.
    learned, learned_se = mean_se(bandit_returns[agent])
    random, random_se = mean_se(bandit_returns["random"])
    assert learned - random > 3 * np.hypot(learned_se, random_se)


def test_oracle_upper_bounds_linucb(bandit_returns):
    oracle, oracle_se = mean_se(bandit_returns["oracle"])
    linucb, linucb_se = mean_se(bandit_returns["linucb"])
    assert linucb < oracle + 3 * np.hypot(oracle_se, linucb_se)
    # Exactly, step by step: the oracle slate's expected reward is the best one, and LinUCB's
    # average gap to it shrinks as it learns (first 100 steps vs the last 500).
    played, best = bandit_returns["linucb_expected"]
    assert np.all(played <= best + 1e-12)
    gap = best - played
    assert gap[-500:].mean() < 0.25 * gap[:100].mean()
    assert gap[-500:].mean() < 0.02 * best[-500:].mean()


def test_candidate_features_flatten_each_candidate(toy_env_factory):
    env = toy_env_factory(num_candidates=4, slate_size=2)
    obs, _ = env.reset(seed=0)
    doc_space = env.observation_space["doc"]
    item_space = env.unwrapped.environment.document_sampler.get_doc_ctor().observation_space()
    items = ObservationStacker(item_space).unstack(obs["doc"], 4)
    expected = np.array(
        [np.concatenate([spaces.flatten(item_space[key], item[key]) for key in doc_space]) for item in items]
    )
    features = CandidateFeatures(env.observation_space, 4, bias=False)
    np.testing.assert_array_equal(features(obs), expected)
    user = spaces.flatten(env.observation_space["user"], obs["user"])
    concat = CandidateFeatures(env.observation_space, 4, user_features="concat")(obs)
    np.testing.assert_array_equal(concat, np.hstack([expected, np.tile(user, (4, 1)), np.ones((4, 1))]))
    outer = CandidateFeatures(env.observation_space, 4, user_features="outer", bias=False)(obs)
    np.testing.assert_allclose(outer[2], np.outer(user, expected[2]).ravel())


def test_candidate_features_reject_bad_modes_and_spaces(toy_env_factory):
    env = toy_env_factory()
    with pytest.raises(ValueError, match="user_features must be one of .* got 'inner'"):
        CandidateFeatures(env.observation_space, 5, user_features="inner")
    with pytest.raises(TypeError, match="Dict\\(user=..., doc=..."):
        CandidateFeatures(spaces.Box(0, 1, (5, 2)), 5)
    with pytest.raises(ValueError, match="stacked by candidate"):
        CandidateFeatures(env.observation_space, 6)


def test_sherman_morrison_matches_the_inverse():
    rng = np.random.default_rng(0)
    m = rng.standard_normal((4, 4))
    a = m @ m.T + np.eye(4)
    x = rng.standard_normal(4)
    np.testing.assert_allclose(sherman_morrison(np.linalg.inv(a), x), np.linalg.inv(a + np.outer(x, x)))


def test_linucb_estimate_is_the_ridge_solution_of_what_it_saw():
    env = gym.make("recframe/LinearBandit-v0", episode_length=20)
    agent = LinUCB(env.observation_space, env.action_space, alpha=0.5, regularization=2.0)
    rows, rewards = [], []
    obs, _ = env.reset(seed=1)
    slate = agent.begin_episode(obs)
    for _ in range(20):
        shown = agent.features(obs)[slate]
        obs, reward, terminated, _, _ = env.step(slate)
        rows.append(shown)
        rewards.append(click_rewards(obs, slate))
        if terminated:
            agent.end_episode(reward, obs)
            break
        slate = agent.step(reward, obs)
    x, r = np.vstack(rows), np.concatenate(rewards)
    ridge = np.linalg.solve(2.0 * np.eye(x.shape[1]) + x.T @ x, x.T @ r)
    np.testing.assert_allclose(agent.theta[0], ridge, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("make", [LinUCB, LinearThompsonSampling])
def test_linear_bandits_are_deterministic_given_seeds(make):
    env = gym.make("recframe/LinearBandit-v0", episode_length=20)
    first = returns_of(env, make(env.observation_space, env.action_space), episodes=3, seed=2)
    second = returns_of(env, make(env.observation_space, env.action_space), episodes=3, seed=2)
    np.testing.assert_array_equal(first, second)


def test_thompson_draws_follow_the_seed_and_the_posterior():
    env = gym.make("recframe/LinearBandit-v0")
    a = LinearThompsonSampling(env.observation_space, env.action_space, scale=2.0, regularization=4.0, seed=7)
    b = LinearThompsonSampling(env.observation_space, env.action_space, scale=2.0, regularization=4.0, seed=7)
    draws = np.array([a.sample_theta()[0] for _ in range(4000)])
    np.testing.assert_array_equal(draws[:10], [b.sample_theta()[0] for _ in range(10)])
    # Prior: theta ~ N(0, scale^2 / lambda I) = N(0, I); the sample variance of 4,000 draws has sd ~0.022.
    np.testing.assert_allclose(draws.var(axis=0), 1.0, atol=0.1)
    assert np.all(np.abs(draws.mean(axis=0)) < 4 / np.sqrt(4000))


def test_checkpoint_resumes_exactly():
    env = gym.make("recframe/LinearBandit-v0", episode_length=15)
    agent = LinearThompsonSampling(env.observation_space, env.action_space, seed=1)
    run_episodes(env, agent, 2, seed=0)
    bundle = agent.bundle_and_checkpoint("/unused", 1)
    expected = returns_of(env, agent, episodes=2, seed=5)
    restored = LinearThompsonSampling(env.observation_space, env.action_space, seed=99)
    assert restored.unbundle("/unused", 1, bundle) and restored.episode_num == 2
    np.testing.assert_array_equal(returns_of(env, restored, episodes=2, seed=5), expected)
    assert not restored.unbundle("/unused", 1, {"episode_num": 3, "a": np.eye(2)})


@pytest.mark.parametrize("seed", [0, 1])
def test_disjoint_linucb_learns_the_tutorial_favourites(seed):
    # Tutorial: 10 fixed items, slate 1, accept/reject responses. With one-hot user features ("outer")
    # and one model per candidate, LinUCB estimates W[i, j]. Recommending each item's most likely
    # accept is nearly optimal in this MDP, so after 100 episodes the greedy policy of the estimate
    # has >= 90% of the exact optimal return (a random policy has ~11%; seeds 0, 1 give 98%, 100%).
    env = tutorial_environment(seed=seed)
    w = env.environment.user_model.transition_matrix
    agent = LinUCB(
        env.observation_space, env.action_space, alpha=0.3, disjoint=True, user_features="outer", bias=False
    )
    run_episodes(env, agent, 100, seed=seed)
    policy = [int(np.argmax(agent.estimated_rewards({"user": i, "doc": np.arange(10)}))) for i in range(10)]
    assert policy_value(w, policy).mean() >= 0.9 * solve(w)[0].mean()


def test_works_with_nested_observations_and_user_features(toy_env_factory):
    env = toy_env_factory(num_candidates=5, slate_size=2)
    for agent in (
        LinUCB(env.observation_space, env.action_space, user_features="concat"),
        LinearThompsonSampling(env.observation_space, env.action_space, user_features="outer", disjoint=True),
    ):
        results = run_episodes(env, agent, 3, seed=0)
        assert all(r.steps == 5 for r in results)
        assert np.any(agent.theta != 0)


@pytest.mark.parametrize(
    "kwargs, error, fragment",
    [
        ({"alpha": 0.0}, ValueError, "alpha must be a finite number > 0, got 0.0"),
        ({"alpha": -1}, ValueError, "alpha must be a finite number > 0, got -1"),
        ({"alpha": "1"}, TypeError, "alpha must be a real number"),
        ({"regularization": 0}, ValueError, "regularization must be a finite number > 0, got 0"),
        ({"user_features": "both"}, ValueError, "'both'"),
        ({"item_rewards": 3}, TypeError, "item_rewards must be callable"),
    ],
)
def test_linucb_names_bad_arguments(kwargs, error, fragment):
    env = gym.make("recframe/LinearBandit-v0")
    with pytest.raises(error, match=fragment):
        LinUCB(env.observation_space, env.action_space, **kwargs)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [({"scale": float("inf")}, "scale must be a finite number > 0, got inf"), ({"seed": -2}, "-2")],
)
def test_thompson_names_bad_arguments(kwargs, fragment):
    env = gym.make("recframe/LinearBandit-v0")
    with pytest.raises(ValueError, match=fragment):
        LinearThompsonSampling(env.observation_space, env.action_space, **kwargs)


def test_slate_larger_than_candidates_is_named():
    env = gym.make("recframe/LinearBandit-v0", num_candidates=3, slate_size=3)
    too_long = spaces.MultiDiscrete([3, 3, 3, 3])
    with pytest.raises(ValueError, match="slate_size 4 is larger than num_candidates 3"):
        LinUCB(env.observation_space, too_long)


@pytest.mark.parametrize(
    "item_rewards, fragment",
    [
        (lambda obs, slate: np.zeros(3), r"2 finite rewards .* got array\(\[0., 0., 0.\]\)"),
        (lambda obs, slate: np.array([0.0, np.nan]), "nan"),
    ],
)
def test_bad_item_rewards_are_named(item_rewards, fragment):
    env = gym.make("recframe/LinearBandit-v0")
    agent = LinUCB(env.observation_space, env.action_space, item_rewards=item_rewards)
    obs, _ = env.reset(seed=0)
    obs, reward, *_ = env.step(agent.begin_episode(obs))
    with pytest.raises(ValueError, match=fragment):
        agent.step(reward, obs)


def test_click_rewards_needs_a_click_entry():
    with pytest.raises(ValueError, match="'click' entry .* got keys \\['watch'\\]"):
        click_rewards({"response": {"watch": np.zeros(2)}}, np.array([0, 1]))
    np.testing.assert_array_equal(click_rewards({"response": np.array([1])}, np.array([4])), [1.0])
