"""Contextual linear bandits over candidate features: LinUCB and linear Thompson sampling.

Both model the reward of showing candidate ``i`` as linear in its feature vector ``x_i`` (see
:class:`~recframe.agents._baselines.CandidateFeatures`: the flattened document observation,
optionally joined with the user observation, plus an intercept) and keep the ridge-regression
statistics ``A = lambda I + sum x x^T`` and ``b = sum r x``, so ``theta = A^{-1} b``.

* :class:`LinUCB` (Li et al. 2010) scores ``theta . x + alpha sqrt(x^T A^{-1} x)``.
* :class:`LinearThompsonSampling` (Agrawal & Goyal 2013) scores ``theta~ . x`` with
  ``theta~ ~ N(theta, scale^2 A^{-1})`` drawn from the agent's own seeded generator.

The statistics are *shared* by all candidates (one ``theta``; right when candidates are fresh
documents each step) or *disjoint*, one set per candidate position (Li et al.'s per-arm model; right
when the candidate set is fixed, as in the tutorial environment). ``A^{-1}`` is kept up to date with
Sherman-Morrison rank-one updates, one per shown slate item, and scoring is vectorized over the
candidates. The slate is the top ``slate_size`` scores.

Learning uses the responses in the observation: after each step, ``item_rewards(observation,
slate)`` gives one reward per item of the previous slate (by default the click indicators,
:func:`~recframe.agents._baselines.click_rewards`), and every shown item is one regression sample.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any

import numpy as np
from gymnasium import spaces

from recframe.agent import AbstractEpisodicRecommenderAgent
from recframe.agents._baselines import (
    CandidateFeatures,
    SeededAgentMixin,
    check_positive,
    click_rewards,
    slate_shape,
    top_k_slate,
)

__all__ = ["ItemRewardFn", "LinUCB", "LinearThompsonSampling", "sherman_morrison"]

#: Maps ``(observation, previous slate)`` to one reward per item of that slate.
ItemRewardFn = Callable[[Any, np.ndarray], np.ndarray]


def sherman_morrison(a_inv: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``(A + x x^T)^{-1}`` from ``A^{-1}`` (symmetric) in ``O(d^2)``."""
    a_inv_x = a_inv @ x
    return a_inv - np.outer(a_inv_x, a_inv_x) / (1.0 + x @ a_inv_x)


class _LinearBandit(AbstractEpisodicRecommenderAgent):
    """The ridge-regression bookkeeping and the act/learn loop shared by LinUCB and Thompson sampling.

    Subclasses define :meth:`_scores` (feature matrix -> per-candidate scores).
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        *,
        regularization: float = 1.0,
        disjoint: bool = False,
        user_features: str = "ignore",
        bias: bool = True,
        item_rewards: ItemRewardFn = click_rewards,
    ) -> None:
        super().__init__(action_space)
        self._num_candidates, self._slate_size = slate_shape(action_space)
        self.features = CandidateFeatures(observation_space, self._num_candidates, user_features, bias)
        if not callable(item_rewards):
            raise TypeError(
                f"item_rewards must be callable (observation, slate) -> rewards, got {item_rewards!r}"
            )
        self._item_rewards = item_rewards
        self.regularization = check_positive("regularization", regularization)
        self.disjoint = bool(disjoint)
        arms, d = (self._num_candidates if self.disjoint else 1), self.features.dim
        self._a = np.tile(self.regularization * np.eye(d), (arms, 1, 1))
        self._a_inv = np.tile(np.eye(d) / self.regularization, (arms, 1, 1))
        self._b = np.zeros((arms, d))
        self._theta = np.zeros((arms, d))
        self._last: tuple[np.ndarray, np.ndarray] | None = None  # (slate, its feature rows)

    @property
    def theta(self) -> np.ndarray:
        """The ridge estimate, ``(arms, dim)``: one row, or one per candidate position when disjoint."""
        return self._theta

    def estimated_rewards(self, observation: Any) -> np.ndarray:
        """The ridge estimate ``theta . x`` of each candidate's reward (no exploration bonus or draw)."""
        return self._mean_and_variance(self.features(observation))[0]

    def _arm(self, position: int) -> int:
        return position if self.disjoint else 0

    @abc.abstractmethod
    def _scores(self, features: np.ndarray) -> np.ndarray:
        """One score per candidate row of ``features``; the slate is the top ``slate_size``."""

    def _mean_and_variance(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``theta . x`` and ``x^T A^{-1} x`` for every candidate row ``x`` of ``features``."""
        if self.disjoint:
            mean = np.einsum("nd,nd->n", features, self._theta)
            variance = np.einsum("nd,nde,ne->n", features, self._a_inv, features)
        else:
            mean = features @ self._theta[0]
            variance = np.einsum("nd,de,ne->n", features, self._a_inv[0], features)
        return mean, np.maximum(variance, 0.0)

    def _learn(self, observation: Any) -> None:
        """One regression sample per item of the previous slate, rewarded from ``observation``."""
        slate, rows = self._last
        rewards = np.asarray(self._item_rewards(observation, slate), dtype=np.float64)
        if rewards.shape != (self._slate_size,) or not np.all(np.isfinite(rewards)):
            raise ValueError(
                f"item_rewards must return {self._slate_size} finite rewards (one per slate item), got {rewards!r}"
            )
        for position, x, reward in zip(slate.tolist(), rows, rewards):
            arm = self._arm(position)
            self._a[arm] += np.outer(x, x)
            self._a_inv[arm] = sherman_morrison(self._a_inv[arm], x)
            self._b[arm] += reward * x
            self._theta[arm] = self._a_inv[arm] @ self._b[arm]

    def begin_episode(self, observation: Any = None) -> np.ndarray:
        self._last = None
        return super().begin_episode(observation)

    def step(self, reward: float, observation: Any) -> np.ndarray:
        """Learns from the responses to the previous slate, then recommends the top-scoring candidates."""
        del reward  # the per-item rewards come from the responses
        if self._last is not None:
            self._learn(observation)
        features = self.features(observation)
        slate = top_k_slate(self._scores(features), self._slate_size)
        self._last = (slate, features[slate])
        return slate

    def end_episode(self, reward: float, observation: Any = None) -> None:
        if self._last is not None:
            self._learn(observation)
        self._last = None

    def bundle_and_checkpoint(self, checkpoint_dir: str, iteration_number: int) -> dict[str, Any] | None:
        bundle = super().bundle_and_checkpoint(checkpoint_dir, iteration_number)
        arrays = {"a": self._a, "a_inv": self._a_inv, "b": self._b, "theta": self._theta}
        return {**bundle, **{key: value.copy() for key, value in arrays.items()}}

    def unbundle(self, checkpoint_dir: str, iteration_number: int, bundle_dict: dict[str, Any]) -> bool:
        if not super().unbundle(checkpoint_dir, iteration_number, bundle_dict):
            return False
        if any(np.shape(bundle_dict.get(key)) != self._a.shape for key in ("a", "a_inv")):
            return False
        self._a, self._a_inv = bundle_dict["a"].copy(), bundle_dict["a_inv"].copy()
        self._b, self._theta = bundle_dict["b"].copy(), bundle_dict["theta"].copy()
        self._last = None
        return True


class LinUCB(_LinearBandit):
    """Linear upper-confidence-bound bandit: optimism ``alpha`` standard deviations above the estimate.

    Args:
        observation_space: the environment's ``Dict(user, doc, response)`` observation space.
        action_space: the environment's slate space.
        alpha: width of the confidence bonus (> 0).
        regularization: ridge ``lambda`` (> 0), the prior precision of ``theta``.
        disjoint: one model per candidate position instead of one shared model.
        user_features: ``"ignore"``, ``"concat"`` or ``"outer"`` (see ``CandidateFeatures``).
        bias: append an intercept feature.
        item_rewards: ``(observation, previous slate) -> per-item rewards`` (default: clicks).

    Example:
        >>> import gymnasium as gym, recframe
        >>> from recframe.simulator.runner import run_episodes
        >>> env = gym.make("recframe/LinearBandit-v0")
        >>> agent = LinUCB(env.observation_space, env.action_space, alpha=1.0)
        >>> returns = [r.total_reward for r in run_episodes(env, agent, 2, seed=0)]
    """

    def __init__(
        self, observation_space: spaces.Space, action_space: spaces.Space, alpha: float = 1.0, **kwargs: Any
    ) -> None:
        self.alpha = check_positive("alpha", alpha)
        super().__init__(observation_space, action_space, **kwargs)

    def _scores(self, features: np.ndarray) -> np.ndarray:
        mean, variance = self._mean_and_variance(features)
        return mean + self.alpha * np.sqrt(variance)


class LinearThompsonSampling(SeededAgentMixin, _LinearBandit):
    """Linear Thompson sampling: rank by a draw of ``theta`` from its Gaussian posterior.

    The draw is ``theta + scale * L^{-T} z`` with ``A = L L^T`` and ``z`` standard normal, so its
    covariance is ``scale^2 A^{-1}``; the Cholesky factor is taken of the exactly accumulated ``A``
    (not of the Sherman-Morrison inverse), which stays positive definite.

    Args:
        observation_space: the environment's ``Dict(user, doc, response)`` observation space.
        action_space: the environment's slate space.
        scale: posterior standard-deviation multiplier (> 0; ``v`` in Agrawal & Goyal).
        seed: seed of the agent's generator.
        **kwargs: ``regularization``, ``disjoint``, ``user_features``, ``bias``, ``item_rewards`` as
            :class:`LinUCB`.
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        scale: float = 1.0,
        seed: int = 0,
        **kwargs: Any,
    ) -> None:
        self.scale = check_positive("scale", scale)
        super().__init__(observation_space, action_space, **kwargs)
        self._init_rng(seed)

    def sample_theta(self) -> np.ndarray:
        """One posterior draw of ``theta`` per arm, ``(arms, dim)``."""
        z = self._rng.standard_normal(self._theta.shape)
        cholesky = np.linalg.cholesky(self._a)
        offsets = np.linalg.solve(np.swapaxes(cholesky, 1, 2), z[..., None])[..., 0]
        return self._theta + self.scale * offsets

    def _scores(self, features: np.ndarray) -> np.ndarray:
        theta = self.sample_theta()
        return np.einsum("nd,nd->n", features, theta) if self.disjoint else features @ theta[0]
