"""Greedy (oracle) and epsilon-greedy recommenders over a per-candidate scorer.

:class:`GreedyAgent` puts the ``slate_size`` highest-scoring candidates on the slate. Given an
environment's true expected reward per candidate (for example
:func:`recframe.environments.linear_bandit.oracle_score_fn`) it is the oracle that bounds what a
learning agent can reach when slate items contribute independently. :class:`EpsilonGreedyAgent`
explores with a uniformly random slate with probability ``epsilon``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from gymnasium import spaces

from recframe.agent import AbstractEpisodicRecommenderAgent
from recframe.agents._baselines import SeededAgentMixin, check_scores, slate_shape, top_k_slate

__all__ = ["ScoreFn", "GreedyAgent", "EpsilonGreedyAgent"]

#: Maps an observation to one score per candidate (higher is better).
ScoreFn = Callable[[Any], np.ndarray]


class GreedyAgent(AbstractEpisodicRecommenderAgent):
    """Ranks the candidates by ``score_fn(observation)`` and recommends the top ``slate_size``.

    Args:
        action_space: the environment's slate space.
        score_fn: ``observation -> np.ndarray`` of shape ``(num_candidates,)``; must be finite.

    Raises:
        ValueError: from :meth:`step` when ``score_fn`` returns the wrong shape or a NaN/inf.
    """

    def __init__(self, action_space: spaces.Space, score_fn: ScoreFn) -> None:
        super().__init__(action_space)
        if not callable(score_fn):
            raise TypeError(
                f"score_fn must be callable (observation -> per-candidate scores), got {score_fn!r}"
            )
        self._num_candidates, self._slate_size = slate_shape(action_space)
        self._score_fn = score_fn

    def scores(self, observation: Any) -> np.ndarray:
        """The checked per-candidate scores of ``observation``."""
        name = getattr(self._score_fn, "__name__", repr(self._score_fn))
        return check_scores(self._score_fn(observation), self._num_candidates, f"score_fn {name}")

    def step(self, reward: float, observation: Any) -> np.ndarray:
        """Returns the ``slate_size`` best-scoring candidates, best first (ties: lower index)."""
        del reward
        return top_k_slate(self.scores(observation), self._slate_size)


class EpsilonGreedyAgent(SeededAgentMixin, GreedyAgent):
    """:class:`GreedyAgent` that recommends a uniformly random slate with probability ``epsilon``.

    Args:
        action_space: the environment's slate space.
        score_fn: as :class:`GreedyAgent`.
        epsilon: exploration probability per step, in ``[0, 1]``.
        seed: seed of the agent's own generator (exploration coin and random slates).
    """

    def __init__(
        self, action_space: spaces.Space, score_fn: ScoreFn, epsilon: float = 0.1, seed: int = 0
    ) -> None:
        super().__init__(action_space, score_fn)
        if isinstance(epsilon, bool) or not isinstance(epsilon, int | float | np.integer | np.floating):
            raise TypeError(f"epsilon must be a number in [0, 1], got {epsilon!r}")
        if not 0.0 <= epsilon <= 1.0:
            raise ValueError(f"epsilon must be in [0, 1], got {epsilon!r}")
        self.epsilon = float(epsilon)
        self._init_rng(seed)

    def step(self, reward: float, observation: Any) -> np.ndarray:
        """Explores with probability ``epsilon``, else returns the greedy slate."""
        if self._rng.random() < self.epsilon:
            return self._rng.choice(self._num_candidates, size=self._slate_size, replace=False)
        return super().step(reward, observation)
