"""The LinearBandit-v0 environment: its reward model, its oracle hook, seeding and configuration."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import recframe  # noqa: F401  (registers recframe/ environments)
from recframe.environments.linear_bandit import create_environment, oracle_score_fn


def test_observations_are_unit_features_and_episodes_have_fixed_length():
    env = create_environment(episode_length=7, feature_dim=3, num_candidates=4, slate_size=2)
    obs, _ = env.reset(seed=0)
    assert obs["doc"].shape == (4, 3)
    np.testing.assert_allclose(np.linalg.norm(obs["doc"], axis=1), 1.0, rtol=1e-6)
    steps, terminated = 0, False
    while not terminated:
        obs, reward, terminated, truncated, _ = env.step(np.array([0, 1]))
        steps += 1
        assert reward in (0.0, 1.0, 2.0) and not truncated
    assert steps == 7 and obs["user"][0] == pytest.approx(1.0)


def test_click_frequencies_match_the_exposed_expected_rewards():
    # 4,000 steps of slate 1: every shown item's click is Bernoulli(p); the sum of (click - p) has
    # standard deviation sqrt(sum p (1 - p)) <= sqrt(4000) / 2 ~ 32.
    env = create_environment(num_candidates=5, slate_size=1, episode_length=4000, seed=3)
    score = oracle_score_fn(env)
    obs, _ = env.reset(seed=3)
    residuals, variance = 0.0, 0.0
    for step in range(4000):
        p = score(obs)[step % 5]
        obs, reward, *_ = env.step(np.array([step % 5]))
        residuals += reward - p
        variance += p * (1 - p)
    assert abs(residuals) < 4 * np.sqrt(variance)


def test_expected_rewards_are_linear_in_the_features():
    env = create_environment(seed=5)
    model = env.environment.user_model
    x = np.eye(5, dtype=np.float32)
    np.testing.assert_allclose(model.expected_rewards(x), 0.5 + 0.5 * model.theta)
    np.testing.assert_allclose(model.expected_rewards(np.stack([model.theta, -model.theta])), [1.0, 0.0])


def test_theta_comes_from_the_seed_and_reset_seed_replays_the_candidates():
    a, b, c = create_environment(seed=1), create_environment(seed=1), create_environment(seed=2)
    theta = a.environment.user_model.theta
    np.testing.assert_array_equal(theta, b.environment.user_model.theta)
    assert not np.allclose(theta, c.environment.user_model.theta)
    first, _ = a.reset(seed=9)
    a.step(np.array([0, 1]))
    again, _ = a.reset(seed=9)
    np.testing.assert_array_equal(first["doc"], again["doc"])
    # theta and the documents come from independent streams.
    assert not np.any(np.all(np.isclose(first["doc"], theta.astype(np.float32)), axis=1))


def test_gym_make_and_create_environment_agree():
    made = gym.make("recframe/LinearBandit-v0", seed=4, feature_dim=3)
    direct = create_environment({"seed": 4, "feature_dim": 3})
    np.testing.assert_array_equal(
        made.unwrapped.environment.user_model.theta, direct.environment.user_model.theta
    )
    obs_made, _ = made.reset(seed=0)
    obs_direct, _ = direct.reset(seed=0)
    np.testing.assert_array_equal(obs_made["doc"], obs_direct["doc"])


@pytest.mark.parametrize(
    "config, fragment",
    [
        ({"colour": 1}, "unknown linear_bandit config"),
        ({"slate_size": 11}, "slate_size"),
        ({"resample_documents": 1}, "resample_documents must be a bool"),
        ({"feature_dim": 0}, "feature_dim must be a positive integer, got 0"),
        ({"theta": np.zeros(5)}, "theta must be a finite non-zero vector"),
        ({"theta": np.ones(3)}, r"shape \(5,\)"),
    ],
)
def test_bad_config_is_named(config, fragment):
    with pytest.raises(ValueError, match=fragment):
        create_environment(config)


def test_fixed_candidates_stay_fixed_within_an_episode():
    env = create_environment(resample_documents=False, episode_length=3)
    obs, _ = env.reset(seed=0)
    following, *_ = env.step(np.array([0, 1]))
    np.testing.assert_array_equal(obs["doc"], following["doc"])


def test_oracle_score_fn_rejects_other_environments():
    with pytest.raises(TypeError, match="LinearBandit"):
        oracle_score_fn(gym.make("recframe/Tutorial-v0"))
