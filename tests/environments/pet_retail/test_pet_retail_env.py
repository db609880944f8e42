"""The three pet-retail environments: Gymnasium contract, determinism, info, bad inputs."""

from __future__ import annotations

import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.wrappers import ClipAction, FlattenObservation

import recframe  # noqa: F401  (registers the environments)
from recframe.environments.pet_retail.boost import create_boost_environment
from recframe.environments.pet_retail.envs import create_catalog_environment, create_environment
from recframe.environments.pet_retail.reward import COMPONENTS
from recframe.environments.pet_retail.sessions import load_catalog

IDS = ["recframe/PetRetail-v0", "recframe/PetRetailCatalog-v0", "recframe/PetRetailBoost-v0"]


def _action(env: gym.Env, rng: np.random.Generator) -> np.ndarray:
    space = env.action_space
    if isinstance(space, gym.spaces.Box):
        return rng.uniform(space.low, space.high).astype(np.float32)
    return rng.choice(int(space.nvec[0]), size=space.shape[0], replace=False)


def _rollout(env: gym.Env, seed: int, steps: int) -> list:
    rng = np.random.default_rng(seed)
    trajectory = [env.reset(seed=seed)[0]]
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(_action(env, rng))
        trajectory.append((obs, reward, terminated, {k: info[k] for k in (*COMPONENTS, "product_ids")}))
        if terminated:
            trajectory.append(env.reset()[0])
    return trajectory


def _equal(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, tuple | list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return np.array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("env_id", IDS)
def test_check_env_without_warnings(env_id):
    env = gym.make(env_id, render_mode="ansi")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message=".*not having a spec.*")
        check_env(env.unwrapped)
    env.reset(seed=0)
    env.step(_action(env, np.random.default_rng(0)))
    assert "reward" in env.render()


@pytest.mark.parametrize("env_id", IDS)
def test_flattened_observations_stay_in_space(env_id):
    env = FlattenObservation(gym.make(env_id))
    obs, _ = env.reset(seed=1)
    assert obs.ndim == 1 and env.observation_space.contains(obs)
    rng = np.random.default_rng(1)
    for _ in range(5):
        obs, _, terminated, _, _ = env.step(_action(env, rng))
        assert env.observation_space.contains(obs)
        if terminated:
            obs, _ = env.reset()


@pytest.mark.parametrize("env_id", IDS)
def test_same_seed_same_trajectory_bit_for_bit(env_id):
    first = _rollout(gym.make(env_id), seed=7, steps=12)
    second = _rollout(gym.make(env_id), seed=7, steps=12)
    other = _rollout(gym.make(env_id), seed=8, steps=12)
    assert _equal(first, second)
    assert not _equal(first, other)


@pytest.mark.parametrize("env_id", IDS)
def test_observations_stay_in_space_over_many_visits_with_the_check_on(env_id):
    """The envs skip the per-step observation check by default; with it on, hundreds of steps pass it."""
    env = gym.make(env_id, check_observations=True)
    rng = np.random.default_rng(4)
    env.reset(seed=4)
    visits = 0
    for _ in range(400):
        if env.step(_action(env, rng))[2]:
            env.reset()
            visits += 1
    assert visits > 100


def test_the_observation_check_is_off_by_default_and_names_the_component_when_on(monkeypatch):
    bad = {"session": np.full(3, -1.0, dtype=np.float32)}  # counts below the space's 0
    for check in (None, True):
        env = create_environment() if check is None else create_environment(check_observations=check)
        env.reset(seed=0)
        observe_one = env.sessions.observe_one
        monkeypatch.setattr(env.sessions, "observe_one", lambda i, f=observe_one: {**f(i), **bad})
        if check is None:
            env.step(np.arange(10))
        else:
            with pytest.raises(ValueError, match="ShopperState.create_observation"):
                env.step(np.arange(10))


def test_the_boost_env_checks_its_observations_only_when_asked(monkeypatch):
    bad = {"session": np.full(3, -1.0, dtype=np.float32)}
    for check in (False, True):
        env = create_boost_environment(check_observations=check)
        env.reset(seed=0)
        observe_one = env.sessions.observe_one
        monkeypatch.setattr(env.sessions, "observe_one", lambda i, f=observe_one: {**f(i), **bad})
        if check:
            with pytest.raises(ValueError, match="outside its space"):
                env.step(np.zeros(10, dtype=np.float32))
        else:
            assert env.step(np.zeros(10, dtype=np.float32))[0]["user"]["session"][0] == -1.0
    with pytest.raises(ValueError, match="check_observations must be a bool, got 'yes'"):
        create_boost_environment(check_observations="yes")


def test_info_components_add_up_to_the_reward_and_match_the_products_bought():
    env = create_environment()
    catalog = load_catalog(env.config)
    cfg = env.config.reward
    env.reset(seed=3)
    rng = np.random.default_rng(3)
    purchases = 0
    for _ in range(60):
        obs, reward, terminated, _, info = env.step(rng.choice(50, size=10, replace=False))
        weighted = (
            cfg.alpha_gmv * info["gmv"]
            + cfg.beta_cm2 * info["cm2"]
            + cfg.gamma_strat * info["strategic_purchases"]
            + cfg.delta_clicks * info["clicks"]
        )
        assert reward == pytest.approx(weighted, rel=1e-12, abs=1e-12)
        bought = info["product_ids"][obs["response"]["purchase"].astype(bool)]
        assert info["gmv"] == pytest.approx(catalog.prices[bought].sum())
        assert info["cm2"] == pytest.approx(catalog.cm2[bought].sum())
        assert info["strategic_purchases"] == catalog.strategic[bought].sum()
        assert info["clicks"] == obs["response"]["click"].sum()
        assert len(info["responses"]) == 10
        purchases += len(bought)
        if terminated:
            env.reset()
    assert purchases > 0  # the checks above saw real purchases


def test_candidates_are_the_most_relevant_products_best_first():
    env = create_environment()
    obs, _ = env.reset(seed=5)
    relevance = obs["doc"][:, -1]
    assert np.all(np.diff(relevance) <= 0)
    assert env.doc_feature_names[-1] == "relevance" and obs["doc"].shape == (50, len(env.doc_feature_names))
    ids = env.environment.candidate_set.doc_ids()
    catalog = load_catalog(env.config)
    np.testing.assert_array_equal(obs["doc"][:, 0], catalog.prices[ids].astype(np.float32))


def test_an_agent_writing_into_its_observation_does_not_change_later_ones():
    """The last candidates, offered again in the observation that ends a visit, are kept apart."""
    terminal_docs = []
    for scribble in (False, True):
        env = create_environment()
        obs, _ = env.reset(seed=3)
        env.action_space.seed(3)
        terminated = False
        while not terminated:
            if scribble:
                obs["doc"][:] = -123.0
            obs, _, terminated, _, _ = env.step(env.action_space.sample())
        terminal_docs.append(obs["doc"])
    np.testing.assert_array_equal(terminal_docs[1], terminal_docs[0])
    assert terminal_docs[1].min() > -123.0


def test_catalog_env_acts_on_product_ids_and_exposes_static_features():
    env = create_catalog_environment()
    obs, _ = env.reset(seed=2)
    assert set(obs) == {"user", "response"}
    features = env.catalog_features
    assert features.shape == (10_000, len(env.doc_feature_names)) and not features.flags.writeable
    slate = np.array([9_999, 0, 4_321, 17, 256, 1024, 77, 5_000, 8_888, 3])
    _, _, _, _, info = env.step(slate)
    np.testing.assert_array_equal(info["product_ids"], slate)


def test_boost_weights_change_the_ranking():
    env = create_boost_environment()
    shown = []
    for weights in (np.zeros(10), np.eye(10)[5]):  # the second ranks by price
        env.reset(seed=11)
        shown.append(env.step(weights.astype(np.float32))[4]["product_ids"])
    assert not np.array_equal(shown[0], shown[1])
    prices = load_catalog(env.config).prices
    assert prices[shown[1]].mean() > prices[shown[0]].mean()


@pytest.mark.parametrize(
    ("slate", "error", "match"),
    [
        ([0, 1, 2, 3, 4, 5, 6, 7, 8, 8], ValueError, "repeat"),
        ([0, 1, 2, 3, 4, 5, 6, 7, 8, -1], ValueError, "-1 is out of range"),
        ([0, 1, 2, 3, 4, 5, 6, 7, 8, 50], ValueError, "50 is out of range"),
        ([0, 1, 2], ValueError, "exactly 10"),
        (np.arange(10, dtype=np.float64), TypeError, "integer"),
    ],
)
def test_bad_slates_are_rejected(slate, error, match):
    env = create_environment()
    env.reset(seed=0)
    with pytest.raises(error, match=match):
        env.step(slate)


def test_catalog_env_rejects_product_ids_outside_the_catalog():
    env = create_catalog_environment()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="10000 is out of range"):
        env.step(np.arange(9_991, 10_001))


@pytest.mark.parametrize(
    ("weights", "match"),
    [
        ([0.0] * 9 + [np.nan], r"finite, got \[nan\] at index\(es\) \[\[9\]\]"),
        ([0.0, np.inf] + [0.0] * 8, "finite"),
        ([0.0, 0.0, 1.5] + [0.0] * 7, r"\[-1.0, 1.0\], got \[1.5\] at index\(es\) \[\[2\]\].*ClipAction"),
        ([0.0] * 9, r"shape \(\.\.\., 10\)"),
    ],
)
def test_bad_boost_weights_are_rejected(weights, match):
    env = create_boost_environment()
    env.reset(seed=0)
    with pytest.raises(ValueError, match=match):
        env.step(np.array(weights))


def test_unnormalized_boost_actions_are_the_textbook_weights():
    env = create_boost_environment(normalize_action=False)
    assert env.action_space.low.min() == -5.0 and env.action_space.high.max() == 5.0
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"\[-5.0, 5.0\], got \[5.5\]"):
        env.step(np.array([5.5] + [0.0] * 9))
    clipped = ClipAction(create_boost_environment(normalize_action=False))
    clipped.reset(seed=0)
    clipped.step(np.full(10, 7.0, dtype=np.float32))  # ClipAction is the way to clip


def test_step_after_the_visit_ended_needs_a_reset():
    env = create_boost_environment()
    env.reset(seed=0)
    terminated = False
    while not terminated:
        terminated = env.step(np.zeros(10, dtype=np.float32))[2]
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(10, dtype=np.float32))


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"config": {"catalog": {"category_mix": [0.5, 0.5, 0.1, 0.1]}}}, ValueError, "category_mix"),
        ({"config": {"behavior": {"sigma_u": -1.0}}}, ValueError, "sigma_u"),
        ({"config": 3}, TypeError, "config must be"),
        ({"slate_size": 60}, ValueError, "slate_size <= num_candidates"),
        ({"num_candidates": 0}, ValueError, "num_candidates must be a positive integer"),
        ({"bogus": 1}, ValueError, "bogus"),
    ],
)
def test_bad_options_are_rejected(options, error, match):
    with pytest.raises(error, match=match):
        create_environment(**options)


def test_bad_boost_options_are_rejected():
    with pytest.raises(ValueError, match="feature_dim must be 10"):
        create_boost_environment(config={"action": {"feature_dim": 4}})
    with pytest.raises(ValueError, match="normalize_action must be a bool"):
        create_boost_environment(normalize_action="yes")
    with pytest.raises(ValueError, match=r"top_k \(30\) must not exceed the catalog size \(25\)"):
        create_boost_environment(config={"catalog": {"n_products": 25}, "top_k": 30})


def test_stepping_the_environments_never_imports_torch():
    """torch (a second or more to import) loads only for the object views that hand out tensors, so
    a sharded env's worker processes start fast."""
    script = (
        "import sys, gymnasium as gym, recframe\n"
        "for name in ('PetRetail-v0', 'PetRetailCatalog-v0', 'PetRetailBoost-v0'):\n"
        "    env = gym.make('recframe/' + name); env.reset(seed=0); env.step(env.action_space.sample())\n"
        "    envs = gym.make_vec('recframe/' + name, num_envs=2, vectorization_mode='vector_entry_point')\n"
        "    envs.reset(seed=0); envs.step(envs.action_space.sample())\n"
        "assert 'torch' not in sys.modules\n"
        "from recframe.environments.pet_retail.sessions import load_catalog\n"
        "from recframe.environments.pet_retail.config import SimulatorConfig\n"
        "assert load_catalog(SimulatorConfig())[0].embedding.dtype.is_floating_point\n"
        "assert 'torch' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)
