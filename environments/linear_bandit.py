"""A contextual linear bandit: fresh candidates each step, click probability linear in their features.

Every step (or once, with ``resample_documents=False``) ``num_candidates`` documents arrive with
features ``x`` drawn uniformly on the unit sphere of ``R^feature_dim``. A fixed hidden parameter
``theta`` (a unit vector drawn from ``seed``, the same for every user and episode) sets each shown
document's click probability

    P(click | x) = (1 + theta . x) / 2,

independently for every slate item; the reward is the number of clicks. Sessions last
``episode_length`` steps. The user observation is only the fraction of the session elapsed, so the
documents' features are all there is to learn from: LinUCB and linear Thompson sampling (with an
intercept feature) are well specified here, and a random slate earns 1/2 click per item.

The true expected rewards are exposed for oracles: :meth:`LinearUserModel.expected_rewards` maps the
stacked candidate features to their click probabilities, and :func:`oracle_score_fn` wraps it as a
``score_fn`` for :class:`recframe.agents.GreedyAgent`, which is then the optimal policy (clicks are
independent, so the best slate is the top ``slate_size`` probabilities).

Example:
    >>> import gymnasium as gym, recframe
    >>> from recframe.agents import GreedyAgent
    >>> env = gym.make("recframe/LinearBandit-v0")
    >>> oracle = GreedyAgent(env.action_space, oracle_score_fn(env))
    >>> obs, _ = env.reset(seed=0)
    >>> obs, reward, *_ = env.step(oracle.begin_episode(obs))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from recframe.document import AbstractDocumentSampler, CandidateSet, FeatureDocument
from recframe.environments._recsim_common import COMMON_DEFAULTS, merge_config
from recframe.seeding import child_seeds, make_rng
from recframe.simulator.environment import SingleUserEnvironment
from recframe.simulator.recsim_gym import RecSimGymEnv
from recframe.user import AbstractResponse, AbstractUserModel, AbstractUserSampler, AbstractUserState

__all__ = [
    "DEFAULT_CONFIG",
    "LinearUserModel",
    "click_reward",
    "create_environment",
    "draw_theta",
    "oracle_score_fn",
]

DEFAULT_CONFIG: dict[str, Any] = {
    **COMMON_DEFAULTS,  # num_candidates 10, slate_size 2, resample_documents True, seed 0
    "feature_dim": 5,
    "episode_length": 50,
    "theta": None,
}


def draw_theta(feature_dim: int, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random unit vector (the hidden reward parameter)."""
    theta = rng.standard_normal(feature_dim)
    return theta / np.linalg.norm(theta)


class LinearDocument(FeatureDocument):
    """A document with a unit-norm feature vector."""

    NUM_FEATURES = 5
    FEATURE_LOW, FEATURE_HIGH = -1.0, 1.0


class SphereDocumentSampler(AbstractDocumentSampler):
    """Draws documents with features uniform on the unit sphere, a whole candidate set at once."""

    def reset_sampler(self, seed: Any = None) -> None:
        super().reset_sampler(seed)
        self._next_id = 0

    def _features(self, n: int) -> np.ndarray:
        x = self._rng.standard_normal((n, self._doc_ctor.NUM_FEATURES))
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

    def sample_document(self) -> LinearDocument:
        return self.sample_candidates(1)[0]

    def sample_candidates(self, num_candidates: int, user_state: Any = None) -> CandidateSet:
        del user_state
        features = self._features(num_candidates)
        ids = range(self._next_id, self._next_id + num_candidates)
        self._next_id += num_candidates
        documents = [self._doc_ctor(doc_id, row) for doc_id, row in zip(ids, features)]
        return CandidateSet(documents, observation=features, stacker=self.stacker)


class SessionState(AbstractUserState):
    """How far the session is; observed as the fraction of ``episode_length`` elapsed."""

    def __init__(self, episode_length: int) -> None:
        self.episode_length = episode_length
        self.steps = 0

    def create_observation(self) -> np.ndarray:
        return np.array([self.steps / self.episode_length], dtype=np.float32)

    @classmethod
    def observation_space(cls) -> spaces.Space:
        return spaces.Box(0.0, 1.0, (1,), np.float32)

    def __repr__(self) -> str:
        return f"SessionState(steps={self.steps}, episode_length={self.episode_length})"


class SessionSampler(AbstractUserSampler):
    """Starts every session at step 0 (users differ only in their random clicks)."""

    def __init__(self, user_ctor: Any, episode_length: int, seed: Any = 0) -> None:
        self._episode_length = episode_length
        super().__init__(user_ctor, seed)

    def sample_user(self) -> SessionState:
        return self._user_ctor(self._episode_length)


class ClickResponse(AbstractResponse):
    """Whether the user clicked the shown document."""

    def __init__(self, clicked: bool = False) -> None:
        self.clicked = clicked

    def create_observation(self) -> dict[str, int]:
        return {"click": int(self.clicked)}

    @classmethod
    def response_space(cls) -> spaces.Space:
        return spaces.Dict(click=spaces.Discrete(2))


class LinearUserModel(AbstractUserModel):
    """Clicks each shown document independently with probability ``(1 + theta . x) / 2``.

    Args:
        theta: the hidden unit-norm reward parameter, shape ``(feature_dim,)``.
        episode_length: steps per session.
        slate_size: documents per slate.
        seed: seed of the sampler and click streams.
    """

    def __init__(self, theta: np.ndarray, episode_length: int, slate_size: int, seed: Any = 0) -> None:
        super().__init__(ClickResponse, SessionSampler(SessionState, episode_length, seed), slate_size, seed)
        self.theta = theta

    def expected_rewards(self, doc_obs: np.ndarray) -> np.ndarray:
        """The click probability of each document of a stacked ``(n, feature_dim)`` observation.

        This is the true expected reward of showing each candidate, for oracle agents.
        """
        return np.clip(0.5 + 0.5 * (np.asarray(doc_obs, dtype=np.float64) @ self.theta), 0.0, 1.0)

    def simulate_response(self, documents: Sequence[LinearDocument]) -> list[ClickResponse]:
        probabilities = self.expected_rewards(np.stack([doc.features for doc in documents]))
        clicks = self._rng.random(len(documents)) < probabilities
        return [ClickResponse(bool(click)) for click in clicks]

    def update_state(
        self, slate_documents: Sequence[LinearDocument], responses: Sequence[ClickResponse]
    ) -> None:
        del slate_documents, responses
        self._user_state.steps += 1

    def is_terminal(self) -> bool:
        return self._user_state.steps >= self._user_state.episode_length


def click_reward(responses: Sequence[ClickResponse]) -> float:
    """The number of clicked slate items."""
    return float(sum(response.clicked for response in responses))


def oracle_score_fn(env: gym.Env) -> Callable[[Any], np.ndarray]:
    """A ``score_fn`` giving each candidate's true expected reward in ``env`` (made here, maybe wrapped).

    With it, :class:`recframe.agents.GreedyAgent` is the optimal policy of this environment.
    """
    user_model = getattr(getattr(env.unwrapped, "environment", None), "user_model", None)
    if not isinstance(user_model, LinearUserModel):
        raise TypeError(f"oracle_score_fn needs a LinearBandit environment, got {env!r}")

    def expected_rewards(observation: Any) -> np.ndarray:
        return user_model.expected_rewards(observation["doc"])

    return expected_rewards


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def create_environment(env_config: Mapping[str, Any] | None = None, **overrides: Any) -> RecSimGymEnv:
    """Builds the linear bandit (RecSim's ``create_environment`` convention).

    Keys (``env_config`` or keywords): ``num_candidates``, ``slate_size``, ``resample_documents``
    (draw new candidates every step, default True), ``feature_dim``, ``episode_length``, ``seed``
    (draws ``theta`` and seeds the streams), ``theta`` (use this parameter instead; normalized to
    unit length), ``render_mode``.
    """
    config, render_mode = merge_config("linear_bandit", DEFAULT_CONFIG, env_config, overrides)
    num_candidates, slate_size = config["num_candidates"], config["slate_size"]
    feature_dim = _positive_int("feature_dim", config["feature_dim"])
    episode_length = _positive_int("episode_length", config["episode_length"])
    # Independent streams for theta, the documents and the users (one seed for all would correlate them).
    theta_seed, document_seed, user_seed = child_seeds(config["seed"], 3)
    theta = config["theta"]
    if theta is None:
        theta = draw_theta(feature_dim, make_rng(theta_seed))
    theta = np.asarray(theta, dtype=np.float64)
    if theta.shape != (feature_dim,) or not np.all(np.isfinite(theta)) or not np.any(theta):
        raise ValueError(f"theta must be a finite non-zero vector of shape ({feature_dim},), got {theta}")
    theta = theta / np.linalg.norm(theta)
    # Spaces are class-level (RecSim's convention), so the feature dimension lives in a subclass.
    document = type("LinearDocument", (LinearDocument,), {"NUM_FEATURES": feature_dim})
    user_model = LinearUserModel(theta, episode_length, slate_size, user_seed)
    sampler = SphereDocumentSampler(document, seed=document_seed)
    raw = SingleUserEnvironment(
        user_model, sampler, num_candidates, slate_size, resample_documents=config["resample_documents"]
    )
    return RecSimGymEnv(raw, click_reward, render_mode=render_mode)
