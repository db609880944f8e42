"""Tests of the interest exploration environment (a port of RecSim's)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from recsim_contract import RecSimEnvContract

from recframe.environments import interest_exploration as iex


class TestInterestExplorationContract(RecSimEnvContract):
    ENV_ID = "recframe/InterestExploration-v0"
    # Sessions never end: the reference run and ours cut episodes after 100 steps.
    EPISODE_CAP = 100
    # Reference data, not our result: RecSim 0.2.4 (numpy 1.26.4, gym 0.26.2), random agent with
    # uniform slates of 2 distinct indices out of 10 resampled candidates, seeds 0-9, 1,000,000
    # steps in 10,000 episodes of 100 steps, measured 2026-11-22; standard error by the ratio
    # estimator over episodes.
    RECSIM_MEAN = 0.229613
    RECSIM_SE = 0.000534


def documents(*pairs: tuple[int, float]) -> list[iex.IEDocument]:
    return [iex.IEDocument(i, cluster, quality) for i, (cluster, quality) in enumerate(pairs)]


def test_choice_probabilities_follow_the_logit_formula() -> None:
    model = iex.IEUserModel(2, seed=1)
    affinity = model.user_state.topic_affinity
    slate = documents((0, 2.0), (1, 1.0))
    n, clicks = 20_000, np.zeros(3)
    for _ in range(n):
        chosen = [i for i, r in enumerate(model.simulate_response(slate)) if r.clicked]
        clicks[chosen[0] if chosen else 2] += 1
    logits = np.array([affinity[0] + 2.0, affinity[1] + 1.0, 5.0])
    expected = np.exp(logits) / np.exp(logits).sum()
    se = np.sqrt(expected * (1 - expected) / n)
    assert np.all(np.abs(clicks / n - expected) <= 4 * se), (clicks / n, expected)


def test_user_never_changes_and_never_leaves() -> None:
    env = iex.create_environment(seed=0)
    env.reset()
    state = env.environment.user_model.user_state
    before = state.topic_affinity.copy()
    for _ in range(300):
        _, _, terminated, truncated, _ = env.step([0, 1])
        assert not terminated and not truncated
    assert env.environment.user_model.user_state is state
    assert np.array_equal(state.topic_affinity, before)


def test_document_topics_and_qualities_follow_the_distribution() -> None:
    sampler = iex.IETopicDocumentSampler(seed=2)
    observation = sampler.sample_candidates(20_000).create_observation()
    topics, qualities = observation["cluster_id"], observation["quality"].astype(np.float64)
    share = np.mean(topics == 1)
    assert abs(share - 0.8) <= 4 * np.sqrt(0.8 * 0.2 / 20_000)
    for topic, mean in ((0, 0.8), (1, 0.2)):
        logs = np.log(qualities[topics == topic])
        assert abs(logs.mean() - mean) <= 4 * 0.1 / np.sqrt(len(logs))
        assert abs(logs.std() - 0.1) < 0.01


def test_user_types_and_affinities_follow_the_distribution() -> None:
    sampler = iex.IEClusterUserSampler(seed=5)
    affinities = np.log([sampler.sample_user().topic_affinity for _ in range(4000)])
    niche = affinities[:, 0] > affinities[:, 1]  # type 1 prefers topic 0
    assert abs(niche.mean() - 0.7) <= 4 * np.sqrt(0.7 * 0.3 / 4000)
    assert np.allclose(sampler.avg_affinity_given_topic(), [0.3 * 0.1 + 0.7 * 0.7, 0.3 * 0.7 + 0.7 * 0.1])


def test_more_topics_get_their_own_classes() -> None:
    three = gym.make(
        "recframe/InterestExploration-v0",
        topic_distribution=(0.2, 0.3, 0.5),
        topic_quality_mean=(0.1, 0.2, 0.3),
        topic_quality_stddev=(0.1, 0.1, 0.1),
        user_document_mean_affinity_matrix=((0.1, 0.2, 0.3), (0.3, 0.2, 0.1)),
        user_document_stddev_affinity_matrix=((0.1, 0.1, 0.1), (0.1, 0.1, 0.1)),
    ).unwrapped
    two = gym.make("recframe/InterestExploration-v0").unwrapped
    assert three.observation_space["doc"]["cluster_id"].nvec.tolist() == [3] * 10
    assert two.observation_space["doc"]["cluster_id"].nvec.tolist() == [2] * 10
    assert iex.IEDocument.NUM_CLUSTERS == 2
    observation, _ = three.reset(seed=0)
    observation, *_ = three.step([0, 1])
    assert three.observation_space.contains(observation)


@pytest.mark.parametrize(
    ("overrides", "mentions"),
    [
        ({"topic_distribution": (0.5, 0.6)}, "topic_distribution"),
        ({"user_type_distribution": (1.0,)}, "one row per user type"),
        ({"topic_quality_mean": (0.1,)}, "topic_quality_mean"),
        ({"no_click_mass": -1.0}, "no_click_mass"),
    ],
)
def test_bad_parameters_raise(overrides: dict[str, object], mentions: str) -> None:
    with pytest.raises(ValueError, match=mentions):
        iex.create_environment(**overrides)


def test_avg_user_state_and_reward() -> None:
    model = iex.IEUserModel(2)
    assert np.allclose(model.avg_user_state.topic_affinity, [0.52, 0.28])
    responses = [iex.IEResponse(clicked=True), iex.IEResponse()]
    assert iex.total_clicks_reward(responses) == 1.0


def test_model_seed_matches_reset_sampler_and_splits_streams() -> None:
    constructed = iex.IEUserModel(2, seed=3)
    reseeded = iex.IEUserModel(2, seed=0)
    reseeded.reset_sampler(3)
    reseeded.reset()
    assert np.array_equal(constructed.user_state.topic_affinity, reseeded.user_state.topic_affinity)
    assert constructed.rng.random() == reseeded.rng.random()
    constructed.reset_sampler(3)  # both streams back at their starts: they must differ
    assert constructed._user_sampler.rng.random() != constructed.rng.random()
