"""A uniformly random recommender: the baseline every learning agent must beat."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from recframe.agent import AbstractEpisodicRecommenderAgent
from recframe.agents._baselines import SeededAgentMixin, slate_shape

__all__ = ["RandomAgent"]


class RandomAgent(SeededAgentMixin, AbstractEpisodicRecommenderAgent):
    """Recommends a uniformly random slate of distinct candidates every step.

    Draws from its own ``numpy.random.Generator`` (never the action space's or a global one), so two
    agents with the same seed recommend the same slates whatever else runs.

    Args:
        action_space: the environment's slate space (``SlateSpace`` or 1-D ``MultiDiscrete``).
        seed: seed of the agent's generator.

    Example:
        >>> from recframe.spaces import SlateSpace
        >>> agent = RandomAgent(SlateSpace(num_candidates=5, slate_size=2), seed=0)
        >>> slate = agent.begin_episode()
        >>> len(set(slate.tolist())) == 2
        True
    """

    def __init__(self, action_space: spaces.Space, seed: int = 0) -> None:
        super().__init__(action_space)
        self._num_candidates, self._slate_size = slate_shape(action_space)
        self._init_rng(seed)

    def step(self, reward: float, observation: Any) -> np.ndarray:
        """Ignores the reward and observation; returns a uniformly random slate."""
        del reward, observation
        return self._rng.choice(self._num_candidates, size=self._slate_size, replace=False)
