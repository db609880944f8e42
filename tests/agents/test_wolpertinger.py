"""WolpertingerAgent / WolpertingerRecommender: API, correctness of the DDPG pieces, seeding, checkpoints."""

from __future__ import annotations

import pickle
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from gymnasium import spaces
from test_wolpertinger_mdp import TutorialMDP, greedy_policy, train

from recframe.agent import AbstractEpisodicRecommenderAgent
from recframe.agents.common.noise import GaussNoise, OrnsteinUhlenbeckNoise
from recframe.agents.wolpertinger import WolpertingerAgent, WolpertingerConfig, WolpertingerRecommender

SMALL = {"hidden_dim": 32, "batch_size": 16, "buffer_size": 500, "learning_starts": 20}


def _recommender(seed: int = 0, **kwargs) -> WolpertingerRecommender:
    args = {"n_items": 10, "state_dim": 10, "k_ratio": 0.3, "gamma": 0.8, "seed": seed, **SMALL, **kwargs}
    return WolpertingerRecommender(**args)


def _params(rec: WolpertingerRecommender) -> list[torch.Tensor]:
    core = rec.agent
    nets = (core.actor, core.critic, core.actor_target, core.critic_target)
    return [p.detach().clone() for net in nets for p in net.parameters()]


def _assert_same(a: list[torch.Tensor], b: list[torch.Tensor]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert torch.equal(x, y)


def test_is_an_episodic_recommender_with_the_tutorial_api() -> None:
    rec = _recommender()
    assert isinstance(rec, AbstractEpisodicRecommenderAgent)
    assert rec.agent.k == 3
    assert isinstance(rec.agent, WolpertingerAgent)
    action = rec.agent.predict_action(np.eye(10)[4])
    assert action.shape == (10,) and action.sum() == 1 and set(np.unique(action)) == {0.0, 1.0}
    q = rec.agent.predict_qvalues(4)
    assert q.shape == (10, 1)
    np.testing.assert_array_equal(rec.agent.predict_action(4), action)
    np.testing.assert_array_equal(rec.agent.predict_qvalues(np.eye(10)[4]), q)
    with pytest.raises(ValueError, match=r"state index must be in \[0, 10\)"):
        rec.agent.predict_qvalues(10)
    # The greedy action is the best of the k nearest items to the proto-action, by the critic.
    with torch.no_grad():
        proto = rec.agent.actor(torch.eye(10)[4:5])
    nearest = torch.topk(proto[0], 3).indices.numpy()
    assert int(action.argmax()) == nearest[np.argmax(q[nearest, 0])]


def test_critic_target_uses_the_knn_refined_target_action_not_the_proto_action() -> None:
    rec = _recommender()
    core = rec.agent
    next_states = torch.eye(10)
    rewards, terminated = torch.arange(10.0), torch.zeros(10)
    terminated[3] = 1.0
    target = core.td_target(rewards, next_states, terminated)
    with torch.no_grad():
        protos = core.actor_target(next_states)
        expected, raw = [], []
        for i in range(10):
            candidates = torch.topk(protos[i], core.k).indices  # one-hot items: nearest = largest coordinates
            q = core.critic_target(next_states[i], core.embeddings[candidates]).squeeze(-1)
            expected.append(q.max())
            raw.append(core.critic_target(next_states[i], protos[i]).squeeze(-1))
    expected, raw = torch.stack(expected), torch.stack(raw)
    mask = 1.0 - terminated
    torch.testing.assert_close(target, rewards + 0.8 * mask * expected)
    assert not torch.allclose(target, rewards + 0.8 * mask * raw)


def test_exploration_noise_is_applied_while_training_and_never_in_evaluation() -> None:
    rec = _recommender(noise=GaussNoise(sigma=5.0), learning_starts=0)
    state = np.eye(10, dtype=np.float32)[2]
    greedy = rec.agent.select_slate(state)[0]
    noise_state = rec.agent.noise.state_dict()["rng"]
    assert all(rec.agent.select_slate(state)[0] == greedy for _ in range(20))
    assert rec.agent.noise.state_dict()["rng"] == noise_state
    explored = {int(rec.agent.select_slate(state, explore=True)[0]) for _ in range(50)}
    # With sigma=5 the noise swamps the proto-action: 50 draws all hitting the greedy item is ~(1/3)^50.
    assert len(explored) > 1
    noisy_action = {int(rec.agent.predict_action(state, with_noise=True).argmax()) for _ in range(50)}
    assert len(noisy_action) > 1

    rec.eval_mode = True
    rec.begin_episode(2)
    n_stored = len(rec.agent.buffer)
    slates = [int(rec.step(1.0, 2)[0]) for _ in range(20)]
    assert slates == [greedy] * 20
    assert len(rec.agent.buffer) == n_stored


def test_warm_up_steps_are_uniformly_random_and_training_starts_after_them() -> None:
    rec = _recommender(learning_starts=300, buffer_size=1000)
    mdp, rng = TutorialMDP(0), np.random.default_rng(0)
    before = _params(rec)
    train(rec, mdp, 299, rng)
    _assert_same(_params(rec), before)
    counts = np.bincount(rec.agent.buffer.action_indices[:299], minlength=10)
    # Uniform over 10 items: each count ~ Binomial(299, 0.1), sd ~5.2; 5 sd either side.
    assert counts.min() > 29.9 - 26 and counts.max() < 29.9 + 26
    train(rec, mdp, 2, rng)
    assert rec.agent.num_updates == 2
    assert any(not torch.equal(a, b) for a, b in zip(_params(rec), before))


def test_same_seed_trains_bit_identically_and_another_seed_does_not() -> None:
    runs = []
    for seed in (5, 5, 6):
        rec = _recommender(seed=seed, noise=OrnsteinUhlenbeckNoise(sigma=0.3))
        train(rec, TutorialMDP(1), 120, np.random.default_rng(1))
        runs.append(_params(rec))
    _assert_same(runs[0], runs[1])
    assert any(not torch.equal(a, b) for a, b in zip(runs[0], runs[2]))


def test_training_does_not_touch_the_global_rngs() -> None:
    torch_state, np_state = torch.random.get_rng_state(), np.random.get_state()  # noqa: NPY002 - checking it is untouched
    rec = _recommender(seed=1)
    train(rec, TutorialMDP(1), 60, np.random.default_rng(1))
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    assert all(np.array_equal(a, b) for a, b in zip(np.random.get_state(), np_state))  # noqa: NPY002


def test_resumed_training_continues_bit_identically(tmp_path) -> None:
    mdp = TutorialMDP(2)
    kwargs = {"noise": OrnsteinUhlenbeckNoise(sigma=0.3), "eps": 0.2}
    straight, env_rng = _recommender(seed=3, **kwargs), np.random.default_rng(4)
    carry = train(straight, mdp, 90, env_rng)
    bundle = pickle.loads(pickle.dumps(straight.bundle_and_checkpoint(str(tmp_path), 1)))
    env_state = env_rng.bit_generator.state
    train(straight, mdp, 90, env_rng, carry)

    resumed = _recommender(seed=99, **kwargs)  # another seed: everything must come from the bundle
    assert resumed.unbundle(str(tmp_path), 1, bundle)
    env_rng = np.random.default_rng()
    env_rng.bit_generator.state = env_state
    train(resumed, mdp, 90, env_rng, carry)
    _assert_same(_params(resumed), _params(straight))
    assert resumed.episode_num == straight.episode_num
    for name in ("actor_optimizer", "critic_optimizer"):
        a, b = (getattr(r.agent, name).state_dict()["state"] for r in (straight, resumed))
        assert all(torch.equal(a[i]["exp_avg_sq"], b[i]["exp_avg_sq"]) for i in a)
    np.testing.assert_array_equal(
        straight.agent.buffer.sample(8)["states"], resumed.agent.buffer.sample(8)["states"]
    )
    assert not resumed.unbundle(str(tmp_path), 1, {"episode_num": 3})


def test_slates_are_distinct_critic_ranked_neighbours_even_when_k_is_smaller() -> None:
    rec = _recommender(k_ratio=0.1, slate_size=3)
    assert rec.agent.k == 3
    state = np.eye(10, dtype=np.float32)[1]
    warm_up = rec.step(0.0, 1)
    assert warm_up.shape == (3,) and len(set(warm_up.tolist())) == 3
    rec.eval_mode = True
    slate = rec.step(0.0, 1)
    assert slate.shape == (3,) and len(set(slate.tolist())) == 3
    q = rec.agent.predict_qvalues(1)[:, 0]
    assert (np.diff(q[slate]) <= 0).all()
    assert rec.agent.predict_action(state).shape == (3, 10)


def test_item_embeddings_define_the_action_space() -> None:
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(50, 4))
    rec = _recommender(item_embeddings=embeddings, n_items=None, k_ratio=0.1)
    assert rec.agent.k == 5 and rec.agent.action_dim == 4
    action = rec.agent.predict_action(np.eye(10)[0])
    assert any(np.allclose(action, row) for row in embeddings.astype(np.float32))
    slate = rec.step(0.0, 3)
    assert 0 <= slate[0] < 50


@pytest.mark.parametrize(
    ("space", "observation", "expected"),
    [
        (spaces.Discrete(4), 2, [0, 0, 1, 0]),
        (spaces.Box(-1, 1, (2, 2)), np.array([[0.5, -0.5], [1.0, 0.0]]), [0.5, -0.5, 1.0, 0.0]),
        (
            spaces.Dict({"a": spaces.Discrete(2), "b": spaces.Dict({"c": spaces.Box(0, 1, (1,))})}),
            {"a": 1, "b": {"c": np.array([0.25])}},
            [0, 1, 0.25],
        ),
    ],
)
def test_user_state_is_flattened_from_the_environment_spaces(space, observation, expected) -> None:
    env = SimpleNamespace(
        action_space=spaces.MultiDiscrete([6]),
        observation_space=spaces.Dict({"user": space, "doc": spaces.Discrete(3)}),
    )
    rec = WolpertingerRecommender(env=env, k_ratio=0.5, seed=0, **SMALL)
    assert rec.agent.state_dim == len(expected) and rec.agent.n_items == 6
    np.testing.assert_array_equal(
        rec.state({"user": observation, "doc": 0}), np.asarray(expected, np.float32)
    )
    assert rec.begin_episode({"user": observation, "doc": 0}).shape == (1,)


def test_plain_int_and_array_observations_without_a_space() -> None:
    rec = _recommender()
    np.testing.assert_array_equal(rec.state(3), np.eye(10, dtype=np.float32)[3])
    np.testing.assert_array_equal(rec.state(np.arange(10.0)), np.arange(10.0, dtype=np.float32))
    np.testing.assert_array_equal(rec.state({"user": 1}), np.eye(10, dtype=np.float32)[1])
    with pytest.raises(ValueError, match="expected \\(10,\\)"):
        rec.state(np.zeros(3))
    with pytest.raises(ValueError, match="int observation"):
        rec.state(12)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"k_ratio": 0.0}, ValueError, "k_ratio"),
        ({"k_ratio": 1.5}, ValueError, "k_ratio"),
        ({"k_ratio": "0.3"}, TypeError, "k_ratio"),
        ({"item_embeddings": np.zeros((9, 3))}, ValueError, r"item_embeddings must have shape \(10, d\)"),
        ({"item_embeddings": np.eye(10), "action_dim": 4}, ValueError, "action_dim"),
        ({"action_dim": 7}, ValueError, "action_dim"),
        ({"gamma": 1.5}, ValueError, "gamma"),
        ({"eps": -0.1}, ValueError, "eps"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"slate_size": 11}, ValueError, "slate_size"),
        ({"noise": 0.05}, TypeError, "noise"),
        ({"dpg_coef": 0.0, "pull_coef": 0.0}, ValueError, "dpg_coef"),
        ({"actor_output": "sigmoid"}, ValueError, "actor_output"),
        ({"knn_backend": "annoy"}, ValueError, "backend"),
        ({"state_dim": None}, ValueError, "state_dim"),
    ],
)
def test_bad_arguments_name_the_value_and_what_was_expected(kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        _recommender(**kwargs)


def test_bad_rewards_and_env_spaces_are_rejected() -> None:
    rec = _recommender()
    rec.begin_episode(0)
    with pytest.raises(ValueError, match="reward must be finite"):
        rec.step(float("nan"), 1)
    with pytest.raises(TypeError, match="reward"):
        rec.step(None, 1)
    env = SimpleNamespace(action_space=spaces.Discrete(5), observation_space=spaces.Discrete(3))
    with pytest.raises(TypeError, match="MultiDiscrete"):
        WolpertingerRecommender(env=env)
    env = SimpleNamespace(action_space=spaces.MultiDiscrete([5]), observation_space=spaces.Discrete(3))
    with pytest.raises(ValueError, match="state_dim=4 disagrees"):
        WolpertingerRecommender(env=env, state_dim=4)


def test_config_defaults_are_the_documented_ones() -> None:
    config = WolpertingerConfig()
    assert (config.k, config.slate_size, config.gamma, config.tau) == (1, 1, 0.99, 1e-3)
    assert config.pull_coef > 0 and config.pull_replay_action


def test_learned_policy_value_is_measured_on_the_exact_mdp() -> None:
    """Smoke check of the evaluation path used by the slow target test (tiny budget)."""
    mdp = TutorialMDP(0)
    rec = _recommender(seed=0)
    train(rec, mdp, 50, np.random.default_rng(0))
    policy = greedy_policy(rec, 10)
    assert policy.shape == (10,) and ((policy >= 0) & (policy < 10)).all()
    assert 0 < mdp.policy_return(policy) <= mdp.policy_return(mdp.optimal_policy()) + 1e-9
