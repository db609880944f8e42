"""Agent base classes: the recommender's side of the simulation loop.

The vocabulary is RecSim's, so a RecSim agent ports by changing imports:

* :class:`AbstractRecommenderAgent` maps ``(reward, observation)`` to a slate.
* :class:`AbstractEpisodicRecommenderAgent` adds ``begin_episode`` / ``end_episode``.
* :class:`AbstractMultiUserEpisodicRecommenderAgent` serves several users at once.
* :class:`AbstractHierarchicalAgentLayer` wraps base agents (for example to pre-process
  observations or post-process their slates).

A slate is a sequence of distinct candidate indices (positions in the candidate set of the
current observation), exactly the action of :class:`recframe.simulator.recsim_gym.RecSimGymEnv`.

Checkpoints: ``bundle_and_checkpoint(checkpoint_dir, iteration)`` returns a picklable dict of
everything needed to resume (subclasses may also write large tensors into ``checkpoint_dir``);
``unbundle(checkpoint_dir, iteration, bundle)`` restores it and returns whether it succeeded.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

__all__ = [
    "AbstractRecommenderAgent",
    "AbstractEpisodicRecommenderAgent",
    "AbstractMultiUserEpisodicRecommenderAgent",
    "AbstractHierarchicalAgentLayer",
]


class AbstractRecommenderAgent(abc.ABC):
    """An agent that recommends a slate of candidate indices each step.

    Args:
        action_space: the environment's action space (a slate space, or a ``Tuple`` of them
            for multi-user environments).
    """

    _multi_user: bool = False

    def __init__(self, action_space: spaces.Space) -> None:
        self._action_space = action_space

    @property
    def action_space(self) -> spaces.Space:
        """The action space this agent was built for."""
        return self._action_space

    @property
    def multi_user(self) -> bool:
        """Whether the agent acts for several users per step."""
        return self._multi_user

    @abc.abstractmethod
    def step(self, reward: float, observation: Any) -> np.ndarray:
        """Returns the next slate given the last reward and the current observation."""

    def bundle_and_checkpoint(self, checkpoint_dir: str, iteration_number: int) -> dict[str, Any] | None:
        """Returns a picklable dict of the agent's state (``None`` if it has none to save)."""
        del checkpoint_dir, iteration_number
        return {}

    def unbundle(self, checkpoint_dir: str, iteration_number: int, bundle_dict: dict[str, Any]) -> bool:
        """Restores the state saved by :meth:`bundle_and_checkpoint`; returns success."""
        del checkpoint_dir, iteration_number
        return bundle_dict is not None


class AbstractEpisodicRecommenderAgent(AbstractRecommenderAgent):
    """An agent that is told where episodes begin and end.

    Args:
        action_space: the environment's action space.
        summary_writer: optional writer (for example a TensorBoard ``SummaryWriter``) that
            subclasses may log to.
    """

    def __init__(self, action_space: spaces.Space, summary_writer: Any | None = None) -> None:
        super().__init__(action_space)
        self._episode_num = 0
        self._summary_writer = summary_writer

    @property
    def episode_num(self) -> int:
        """How many episodes have begun."""
        return self._episode_num

    def begin_episode(self, observation: Any = None) -> np.ndarray:
        """Starts an episode and returns its first slate."""
        self._episode_num += 1
        return self.step(0.0, observation)

    def end_episode(self, reward: float, observation: Any = None) -> None:
        """Receives the last reward and observation of an episode."""
        del reward, observation

    def bundle_and_checkpoint(self, checkpoint_dir: str, iteration_number: int) -> dict[str, Any] | None:
        del checkpoint_dir, iteration_number
        return {"episode_num": self._episode_num}

    def unbundle(self, checkpoint_dir: str, iteration_number: int, bundle_dict: dict[str, Any]) -> bool:
        del checkpoint_dir, iteration_number
        if not bundle_dict or "episode_num" not in bundle_dict:
            return False
        self._episode_num = int(bundle_dict["episode_num"])
        return True


class AbstractMultiUserEpisodicRecommenderAgent(AbstractEpisodicRecommenderAgent):
    """An episodic agent that returns one slate per user.

    Args:
        action_space: a ``gymnasium.spaces.Tuple`` with one slate space per user.
    """

    _multi_user = True

    def __init__(self, action_space: spaces.Space) -> None:
        if not isinstance(action_space, spaces.Tuple) or len(action_space) == 0:
            raise TypeError(
                f"a multi-user agent needs a non-empty spaces.Tuple of per-user slate spaces, "
                f"got {action_space!r}"
            )
        self._num_users = len(action_space)
        super().__init__(action_space)

    @property
    def num_users(self) -> int:
        """The number of users served per step."""
        return self._num_users


class AbstractHierarchicalAgentLayer(AbstractRecommenderAgent):
    """An agent built on top of base agents.

    Subclasses transform what flows between the environment and the base agents by
    overriding :meth:`_preprocess_reward_observation` and :meth:`_postprocess_actions`.

    Args:
        action_space: the environment's action space.
        *base_agent_ctors: callables ``ctor(action_space) -> AbstractRecommenderAgent``.
    """

    def __init__(
        self,
        action_space: spaces.Space,
        *base_agent_ctors: Callable[[spaces.Space], AbstractRecommenderAgent],
    ) -> None:
        super().__init__(action_space)
        self._base_agents: list[AbstractRecommenderAgent] = [ctor(action_space) for ctor in base_agent_ctors]
        self._episode_num = 0

    def _preprocess_reward_observation(self, reward: float, observation: Any) -> tuple[float, Any]:
        """Maps the environment's reward and observation to the base agents' (identity)."""
        return reward, observation

    @abc.abstractmethod
    def _postprocess_actions(self, action_list: Sequence[np.ndarray]) -> np.ndarray:
        """Combines the base agents' slates into the slate returned to the environment."""

    def _base_actions(self, method: str, reward: float, observation: Any) -> list[np.ndarray]:
        reward, observation = self._preprocess_reward_observation(reward, observation)
        actions = []
        for agent in self._base_agents:
            if method == "begin_episode" and isinstance(agent, AbstractEpisodicRecommenderAgent):
                actions.append(agent.begin_episode(observation))
            else:
                actions.append(agent.step(reward, observation))
        return actions

    def begin_episode(self, observation: Any = None) -> np.ndarray:
        """Starts an episode for every episodic base agent and combines their first slates."""
        self._episode_num += 1
        return self._postprocess_actions(self._base_actions("begin_episode", 0.0, observation))

    def step(self, reward: float, observation: Any) -> np.ndarray:
        return self._postprocess_actions(self._base_actions("step", reward, observation))

    def end_episode(self, reward: float, observation: Any = None) -> None:
        """Forwards the end of the episode to every episodic base agent."""
        reward, observation = self._preprocess_reward_observation(reward, observation)
        for agent in self._base_agents:
            if isinstance(agent, AbstractEpisodicRecommenderAgent):
                agent.end_episode(reward, observation)

    def bundle_and_checkpoint(self, checkpoint_dir: str, iteration_number: int) -> dict[str, Any] | None:
        return {
            "episode_num": self._episode_num,
            "base_agents": [
                agent.bundle_and_checkpoint(checkpoint_dir, iteration_number) for agent in self._base_agents
            ],
        }

    def unbundle(self, checkpoint_dir: str, iteration_number: int, bundle_dict: dict[str, Any]) -> bool:
        if not bundle_dict or len(bundle_dict.get("base_agents", ())) != len(self._base_agents):
            return False
        self._episode_num = int(bundle_dict["episode_num"])
        return all(
            agent.unbundle(checkpoint_dir, iteration_number, bundle)
            for agent, bundle in zip(self._base_agents, bundle_dict["base_agents"])
        )
