from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env, data_equivalence
from gymnasium.wrappers import FlattenObservation

from recframe.simulator.environment import EpisodeEndedError


def _rollout(env, seed, steps=30):
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    trace = [obs]
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        trace.append((obs, reward, terminated, info["responses"]))
        if terminated:
            obs, _ = env.reset()
            trace.append(obs)
    return trace


def _check_env_strictly(env):
    """check_env with its warnings as errors (but the one about a missing registry spec)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message=".*not having a spec")
        check_env(env)


def test_toy_env_passes_check_env(toy_env_factory):
    env = toy_env_factory(render_mode="ansi")
    _check_env_strictly(env)


def test_observation_space_is_fixed_and_stacked_by_position(toy_env_factory):
    env = toy_env_factory(num_candidates=4, slate_size=2)
    obs, _ = env.reset(seed=1)
    assert env.observation_space["doc"]["quality"].shape == (4, 1)
    assert env.observation_space["response"]["click"].shape == (2,)
    for _ in range(3):
        assert env.observation_space.contains(obs)
        obs, *_ = env.step(np.array([0, 3]))


def test_reset_shows_a_valid_null_response(toy_env_factory):
    env = toy_env_factory()
    obs, info = env.reset(seed=0)
    assert obs["response"]["click"].tolist() == [0, 0] and info == {}


def test_same_seed_same_trajectory_different_seed_differs(toy_env_factory):
    a, b = _rollout(toy_env_factory(), 5), _rollout(toy_env_factory(), 5)
    assert data_equivalence(a, b)
    assert not data_equivalence(a, _rollout(toy_env_factory(), 6))


def test_reset_with_seed_restarts_every_stream(toy_env_factory):
    env = toy_env_factory()
    first = _rollout(env, 9)
    _rollout(env, 1)
    assert data_equivalence(first, _rollout(env, 9))


def test_observations_flatten(toy_env_factory):
    env = FlattenObservation(toy_env_factory(num_candidates=4, slate_size=2))
    obs, _ = env.reset(seed=0)
    # user: 3 floats; doc: 4 x (3 one-hot topic + 1 quality); response: 2 x (2 one-hot click + 1)
    assert obs.shape == (3 + 4 * 4 + 2 * 3,) and env.observation_space.contains(obs)


@pytest.mark.parametrize(
    "action, error, fragment",
    [
        (np.array([1, 1]), ValueError, "repeat"),
        (np.array([-1, 1]), ValueError, "out of range"),
        (np.array([0, 5]), ValueError, "out of range"),
        (np.array([0]), ValueError, "exactly 2"),
        (np.array([0.0, 1.0]), TypeError, "integer"),
    ],
)
def test_bad_slates_raise_and_do_not_advance(toy_env_factory, action, error, fragment):
    env = toy_env_factory()
    env.reset(seed=0)
    user_before = env.environment.user_model.user_state.budget
    with pytest.raises(error, match=fragment):
        env.step(action)
    assert env.environment.user_model.user_state.budget == user_before


def test_stepping_an_ended_episode_is_an_error(toy_env_factory):
    env = toy_env_factory()
    with pytest.raises(EpisodeEndedError, match="reset"):
        env.step(np.array([0, 1]))
    env.reset(seed=0)
    terminated = False
    while not terminated:
        _, _, terminated, _, _ = env.step(np.array([0, 1]))
    assert env.game_over
    with pytest.raises(ValueError, match="reset"):
        env.step(np.array([0, 1]))


def test_nan_reward_is_an_error(toy_env_factory):
    env = toy_env_factory()
    env._reward_aggregator = lambda responses: float("nan")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="nan.*finite"):
        env.step(np.array([0, 1]))


def test_a_document_observation_outside_its_space_names_the_document(toy_env_factory):
    env = toy_env_factory()
    env.reset(seed=0)
    env.environment.document_sampler.sample_document = _bad_document(env)
    with pytest.raises(ValueError, match=r"ToyDoc.create_observation\(\) \(candidate 0.*outside Box"):
        env.step(np.array([0, 1]))


def _bad_document(env):
    from toy_env import ToyDoc

    return lambda topic=None: ToyDoc(99, 0, 50.0)


def test_a_user_observation_outside_its_space_names_the_user(toy_env_factory):
    env = toy_env_factory()
    env.reset(seed=0)
    env.environment.user_model.user_state.interests = np.array([5.0, 0.0, 0.0])
    with pytest.raises(ValueError, match=r"ToyUser.create_observation\(\).*outside"):
        env.step(np.array([0, 1]))


def test_a_response_observation_outside_its_space_names_the_response(toy_env_factory):
    from toy_env import ToyResponse

    env = toy_env_factory()
    env.reset(seed=0)
    env.environment.user_model.simulate_response = lambda docs: [ToyResponse(True, 99.0), ToyResponse()]
    with pytest.raises(ValueError, match=r"ToyResponse.create_observation\(\).*99"):
        env.step(np.array([0, 1]))


def test_checks_can_be_turned_off(toy_env_factory):
    env = toy_env_factory(check_observations=False)
    env.reset(seed=0)
    env.environment.user_model.user_state.interests = np.array([5.0, 0.0, 0.0])
    obs, *_ = env.step(np.array([0, 1]))
    assert not env.observation_space.contains(obs)


def test_reset_rejects_options(toy_env_factory):
    with pytest.raises(ValueError, match="options"):
        toy_env_factory().reset(options={"x": 1})


def test_render_ansi_and_close(toy_env_factory):
    env = toy_env_factory(render_mode="ansi")
    assert "not reset" in env.render()
    env.reset(seed=0)
    env.step(np.array([2, 0]))
    text = env.render()
    assert "slate=[2, 0]" in text and "ToyResponse(" in text
    env.close()
    env.close()
    assert toy_env_factory().render() is None
    with pytest.raises(ValueError, match="render_mode"):
        toy_env_factory(render_mode="human")


def test_metrics_hooks_follow_recsim():
    from toy_env import make_toy_env

    def aggregate(responses, metrics, info):
        metrics["clicks"] += sum(r.clicked for r in responses)
        metrics["impressions"] += len(responses)
        return metrics

    env = make_toy_env(metrics_aggregator=aggregate)
    env.reset(seed=0)
    for _ in range(3):
        _, _, _, _, info = env.step(np.array([0, 1]))
        env.update_metrics(info["responses"])
    written = {}
    env.write_metrics(written.__setitem__)
    assert written["impressions"] == 6 and 0 <= written["clicks"] <= 3
    env.reset_metrics()
    assert dict(env.metrics) == {}


def test_user_aware_candidates_see_the_current_user(toy_env_factory):
    env = toy_env_factory(user_aware=True, num_candidates=4)
    obs, _ = env.reset(seed=3)
    sampler = env.environment.document_sampler
    user = env.environment.user_model.user_state
    assert sampler.seen_users[-1] is user
    assert set(obs["doc"]["topic"].tolist()) == {int(np.argmax(user.interests))}


def test_fixed_candidates_are_copied_between_steps(toy_env_factory):
    env = toy_env_factory(resample_documents=False)
    first, _ = env.reset(seed=0)
    second, *_ = env.step(np.array([0, 1]))
    assert data_equivalence(first["doc"], second["doc"])
    assert first["doc"]["quality"] is not second["doc"]["quality"]


def test_multi_user_environment_through_the_adapter(toy_env_factory):
    env = toy_env_factory(num_users=3)
    assert isinstance(env.action_space, gym.spaces.Tuple) and len(env.action_space) == 3
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    steps = 0
    terminated = False
    while not terminated:
        obs, reward, terminated, _, info = env.step(env.action_space.sample())
        assert env.observation_space.contains(obs) and len(info["responses"]) == 3
        steps += 1
    assert steps == 5
    _check_env_strictly(toy_env_factory(num_users=2))


def test_multi_user_needs_one_slate_per_user(toy_env_factory):
    env = toy_env_factory(num_users=2)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="one slate per user"):
        env.step((np.array([0, 1]),))
