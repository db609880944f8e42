"""The behaviour every port of a RecSim reference environment must show (shared by its test files).

A test file subclasses :class:`RecSimEnvContract`, sets the environment id and RecSim's measured
random-agent reward, and pytest collects the inherited tests.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import pytest
import tree
from gymnasium.utils.env_checker import check_env, data_equivalence
from gymnasium.wrappers import FlattenObservation

import recframe  # noqa: F401  (registers the environments)
from recframe.spaces import ObservationStacker
from recframe.user import AbstractUserModel

#: The configuration of RecSim's reference runs and of our parity runs.
PARITY_CONFIG = {"num_candidates": 10, "slate_size": 2, "resample_documents": True}


def random_slates(seed: int, n: int, num_candidates: int = 10, slate_size: int = 2) -> np.ndarray:
    """``n`` uniformly random slates of distinct indices."""
    rng = np.random.default_rng(seed)
    return rng.permuted(np.tile(np.arange(num_candidates), (n, 1)), axis=1)[:, :slate_size]


def reward_per_step(
    env: gym.Env, seed: int, min_steps: int, episode_cap: int | None
) -> tuple[float, float, int]:
    """Runs a random agent for whole episodes until ``min_steps`` steps have been taken.

    Returns:
        ``(mean reward per step, its standard error, steps)``. The standard error is the ratio
        estimator's over independent episodes: ``sqrt(sum((R_i - mean * T_i)^2)) / sum(T_i)``.
    """
    slates = random_slates(seed, 2 * min_steps + 10_000)
    env.reset(seed=seed)
    returns, lengths, position = [], [], 0
    while sum(lengths) < min_steps:
        total, steps, done = 0.0, 0, False
        while not done:
            _, reward, done, _, _ = env.step(slates[position])
            position += 1
            total += reward
            steps += 1
            done = done or steps == episode_cap
        returns.append(total)
        lengths.append(steps)
        env.reset()
    returns_array, lengths_array = np.array(returns), np.array(lengths, dtype=float)
    mean = returns_array.sum() / lengths_array.sum()
    se = np.sqrt(((returns_array - mean * lengths_array) ** 2).sum()) / lengths_array.sum()
    return float(mean), float(se), int(lengths_array.sum())


def trajectory(env: gym.Env, seed: int, steps: int) -> list[Any]:
    """Observations, rewards, flags and responses of a run with fixed random slates."""
    observation, _ = env.reset(seed=seed)
    record: list[Any] = [observation]
    for slate in random_slates(12345, steps):
        observation, reward, terminated, truncated, info = env.step(slate)
        record.append((observation, reward, terminated, truncated, info["responses"]))
        if terminated:
            record.append(env.reset()[0])
    return record


class RecSimEnvContract:
    """Inherited tests: Gymnasium compliance, determinism, validation and parity with RecSim."""

    ENV_ID: ClassVar[str]
    #: RecSim's random-agent mean reward per step under PARITY_CONFIG, and its standard error.
    RECSIM_MEAN: ClassVar[float]
    RECSIM_SE: ClassVar[float]
    #: Steps of our parity run.
    PARITY_STEPS: ClassVar[int] = 40_000
    #: Episode length for environments whose sessions never end (as in the reference run).
    EPISODE_CAP: ClassVar[int | None] = None

    def make(self, **kwargs: Any) -> Any:
        return gym.make(self.ENV_ID, **kwargs).unwrapped

    def test_check_env_without_warnings(self) -> None:
        env = gym.make(self.ENV_ID)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            check_env(env.unwrapped, skip_render_check=False)

    def test_flatten_observation(self) -> None:
        env = FlattenObservation(gym.make(self.ENV_ID))
        observation, _ = env.reset(seed=0)
        assert env.observation_space.contains(observation)
        observation, *_ = env.step(env.action_space.sample())
        assert observation.shape == env.observation_space.shape
        assert env.observation_space.contains(observation)

    def test_same_seed_is_bit_identical(self) -> None:
        first = trajectory(self.make(), seed=7, steps=300)
        second = trajectory(self.make(seed=99), seed=7, steps=300)
        assert data_equivalence(first, second, exact=True)

    def test_different_seeds_differ(self) -> None:
        assert not data_equivalence(
            trajectory(self.make(), seed=1, steps=50), trajectory(self.make(), seed=2, steps=50), exact=True
        )

    def test_constructor_seed_equals_reset_seed(self) -> None:
        constructed = self.make(seed=5)
        reseeded = self.make(seed=0)
        assert data_equivalence(constructed.reset()[0], reseeded.reset(seed=5)[0], exact=True)

    def test_global_numpy_rng_untouched(self) -> None:
        state = np.random.get_state()  # noqa: NPY002  (checking that the legacy global RNG is unused)
        trajectory(self.make(), seed=3, steps=200)
        after = np.random.get_state()  # noqa: NPY002
        assert state[0] == after[0] and np.array_equal(state[1], after[1]) and state[2:] == after[2:]

    def test_gymnasium_make_kwargs(self) -> None:
        env = self.make(num_candidates=5, slate_size=3)
        observation, _ = env.reset(seed=0)
        assert env.action_space.nvec.tolist() == [5, 5, 5]
        assert all(leaf.shape[0] == 5 for leaf in tree.flatten(observation["doc"]))
        observation, *_ = env.step([4, 0, 2])
        assert env.observation_space.contains(observation)

    def test_fixed_candidates_without_resampling(self) -> None:
        env = self.make(resample_documents=False)
        first, _ = env.reset(seed=0)
        second, *_ = env.step([0, 1])
        assert data_equivalence(first["doc"], second["doc"], exact=True)
        resampled = self.make()
        first, _ = resampled.reset(seed=0)
        second, *_ = resampled.step([0, 1])
        assert not data_equivalence(first["doc"], second["doc"], exact=True)

    def test_reset_response_is_the_null_observation(self) -> None:
        env = self.make()
        observation, _ = env.reset(seed=0)
        model = env.environment.user_model
        assert data_equivalence(
            observation["response"], AbstractUserModel.null_response_observation(model), exact=True
        )

    def test_documents_agree_with_the_stacked_observation(self) -> None:
        env = self.make()
        observation, _ = env.reset(seed=0)
        candidates = env.environment.candidate_set
        documents = candidates.get_all_documents()
        assert [doc.doc_id() for doc in documents] == list(
            range(documents[0].doc_id(), documents[0].doc_id() + 10)
        )
        assert candidates[3] is documents[3] and candidates[-1] is documents[9]
        with pytest.raises(IndexError):
            candidates[10]
        sampler = env.environment.document_sampler
        stacked = sampler.stacker.stack([doc.create_observation() for doc in documents])
        assert data_equivalence(stacked, observation["doc"], exact=True)
        # The agent may scribble on its observation; documents not yet built must not change.
        observation, *_ = env.step([0, 1])
        expected = tree.map_structure(np.copy, observation["doc"])
        for leaf in tree.flatten(observation["doc"]):
            leaf[...] = 0
        candidates = env.environment.candidate_set
        rebuilt = sampler.stacker.stack([doc.create_observation() for doc in candidates.get_all_documents()])
        assert data_equivalence(rebuilt, expected, exact=True)
        single = sampler.sample_document()
        assert single.observation_space().contains(single.create_observation())

    def test_response_objects_agree_with_the_observation(self) -> None:
        env = self.make()
        env.reset(seed=0)
        observation, _, _, _, info = env.step([2, 5])
        responses = info["responses"]
        item_space = type(responses[0]).response_space()
        assert all(item_space.contains(response.create_observation()) for response in responses)
        stacker = ObservationStacker(item_space)
        stacked = stacker.stack([response.create_observation() for response in responses])
        assert data_equivalence(stacked, observation["response"], exact=True)

    @pytest.mark.parametrize(
        ("slate", "error", "mentions"),
        [
            ([3, 3], ValueError, "repeat"),
            ([-1, 2], ValueError, "-1"),
            ([0, 10], ValueError, "10"),
            ([0], ValueError, "exactly 2"),
            ([0, 1, 2], ValueError, "exactly 2"),
            ([0.0, 1.0], TypeError, "0.0"),
            (np.array([0.5, 1.5]), TypeError, "float64"),
            ("01", TypeError, "str"),
        ],
    )
    def test_bad_slates_raise(self, slate: Any, error: type[Exception], mentions: str) -> None:
        env = self.make()
        env.reset(seed=0)
        with pytest.raises(error, match=mentions):
            env.step(slate)

    @pytest.mark.parametrize(
        ("overrides", "mentions"),
        [
            ({"bogus_key": 1}, "bogus_key"),
            ({"num_candidates": 3, "slate_size": 4}, "slate_size"),
            ({"num_candidates": 2.5}, "2.5"),
            ({"slate_size": 0}, "slate_size"),
            ({"resample_documents": "yes"}, "yes"),
        ],
    )
    def test_bad_config_raises(self, overrides: dict[str, Any], mentions: str) -> None:
        with pytest.raises(ValueError, match=mentions):
            gym.make(self.ENV_ID, **overrides)

    def test_bad_seed_and_parameter_types_raise(self) -> None:
        with pytest.raises(TypeError, match="-1"):
            gym.make(self.ENV_ID, seed=-1)
        module = importlib.import_module(gym.spec(self.ENV_ID).entry_point.split(":")[0])
        numeric = next(key for key, value in module.DEFAULT_CONFIG.items() if type(value) is float)
        with pytest.raises(ValueError, match=numeric):
            gym.make(self.ENV_ID, **{numeric: "1.0"})
        with pytest.raises(ValueError, match=numeric):
            gym.make(self.ENV_ID, **{numeric: float("nan")})

    def test_env_config_dict_and_render(self) -> None:
        module = importlib.import_module(gym.spec(self.ENV_ID).entry_point.split(":")[0])
        env = module.create_environment({**PARITY_CONFIG, "seed": 3}, render_mode="ansi")
        env.reset()
        env.step([1, 0])
        text = env.render()
        assert "step 1: slate=[1, 0]" in text
        env.close()

    @pytest.mark.slow
    def test_random_agent_reward_matches_recsim(self) -> None:
        env = self.make(**PARITY_CONFIG)
        mean, se, steps = reward_per_step(
            env, seed=2024, min_steps=self.PARITY_STEPS, episode_cap=self.EPISODE_CAP
        )
        tolerance = 4.0 * np.hypot(se, self.RECSIM_SE)
        assert abs(mean - self.RECSIM_MEAN) <= tolerance, (
            f"random-agent reward per step {mean:.4f} ± {se:.4f} ({steps} steps) vs RecSim's "
            f"{self.RECSIM_MEAN:.4f} ± {self.RECSIM_SE:.4f}: differs by more than {tolerance:.4f}"
        )
