"""The Gymnasium adapter: any raw recframe environment as a ``gymnasium.Env``.

Observation: ``Dict(user=..., doc=..., response=...)``.

* ``user``: the user model's observation.
* ``doc``: the candidates' observations *stacked by candidate position* (every leaf has a leading
  axis of ``num_candidates``), so the space is the same every step and flattens with
  ``gymnasium.spaces.flatten``. RecSim keyed documents by ever-growing ids instead.
* ``response``: the responses to the last slate, stacked by slate position; at reset, the
  responses' null observation (RecSim returned ``None``, outside any space).

Action: a :class:`~recframe.spaces.SlateSpace`, i.e. ``MultiDiscrete([num_candidates] * slate_size)``
with distinct indices. Slates with a repeated, negative or out-of-range index, the wrong length or
non-integer entries raise an error naming the value (RecSim accepted some of them silently).

For a :class:`~recframe.simulator.environment.MultiUserEnvironment`, ``user``, ``response`` and the
action are tuples with one entry per user.

Metrics follow RecSim: the runner calls :meth:`RecSimGymEnv.update_metrics` with each step's
responses, and :meth:`RecSimGymEnv.write_metrics` hands the aggregated metrics to a writer.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from recframe.simulator.environment import AbstractEnvironment, MultiUserEnvironment
from recframe.spaces import SlateSpace, check_in_space, compile_contains, compile_copy

__all__ = ["RecSimGymEnv", "RewardAggregator"]

RewardAggregator = Callable[[Sequence[Any]], float]
MetricsAggregator = Callable[[Sequence[Any], dict[str, float], Any], dict[str, float]]
MetricsWriter = Callable[[dict[str, float], Callable[[str, float], None]], None]


def _default_metrics_aggregator(
    responses: Sequence[Any], metrics: dict[str, float], info: Any
) -> dict[str, float]:
    del responses, info
    return metrics


def _default_metrics_writer(metrics: dict[str, float], add_summary_fn: Callable[[str, float], None]) -> None:
    for name, value in metrics.items():
        add_summary_fn(name, value)


class RecSimGymEnv(gym.Env[dict[str, Any], np.ndarray]):
    """Wraps a raw environment as a Gymnasium environment.

    Args:
        raw_environment: a :class:`~recframe.simulator.environment.SingleUserEnvironment` or
            :class:`~recframe.simulator.environment.MultiUserEnvironment`.
        reward_aggregator: maps a step's responses (one list per user when multi-user) to the reward.
        metrics_aggregator: ``f(responses, metrics, info) -> metrics``, called by
            :meth:`update_metrics`.
        metrics_writer: ``f(metrics, add_summary_fn)``, called by :meth:`write_metrics`.
        render_mode: ``None`` or ``"ansi"`` (``render()`` then returns a text summary of the step).
        check_observations: check every observation against its declared space and raise a
            ValueError naming the offending component. Turn off only for speed once a component is
            trusted.

    Example:
        >>> import gymnasium as gym, recframe
        >>> env = gym.make("recframe/InterestEvolution-v0")
        >>> obs, info = env.reset(seed=0)
        >>> obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(
        self,
        raw_environment: AbstractEnvironment,
        reward_aggregator: RewardAggregator,
        metrics_aggregator: MetricsAggregator = _default_metrics_aggregator,
        metrics_writer: MetricsWriter = _default_metrics_writer,
        render_mode: str | None = None,
        check_observations: bool = True,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}"
            )
        self._environment = raw_environment
        self._reward_aggregator = reward_aggregator
        self._metrics_aggregator = metrics_aggregator
        self._metrics_writer = metrics_writer
        self.render_mode = render_mode
        self._check_observations = check_observations
        self._multi_user = isinstance(raw_environment, MultiUserEnvironment)
        self._user_models = (
            list(raw_environment.user_model) if self._multi_user else [raw_environment.user_model]
        )
        self.metrics: dict[str, float] = collections.defaultdict(float)
        self._last: dict[str, Any] = {}

        slate = SlateSpace(raw_environment.num_candidates, raw_environment.slate_size)
        user_spaces = [model.observation_space() for model in self._user_models]
        response_spaces = [model.response_space() for model in self._user_models]
        if self._multi_user:
            self.action_space = spaces.Tuple([slate] * len(self._user_models))
            user_space: spaces.Space = spaces.Tuple(user_spaces)
            response_space: spaces.Space = spaces.Tuple(response_spaces)
        else:
            self.action_space = slate
            user_space, response_space = user_spaces[0], response_spaces[0]
        self.observation_space = spaces.Dict(
            user=user_space, doc=raw_environment.document_observation_space(), response=response_space
        )
        self._user_space, self._response_space = user_space, response_space
        self._doc_space = self.observation_space["doc"]
        self._contains = compile_contains(self.observation_space)
        # A candidate set that is not resampled keeps its cached observation: hand out copies so
        # that observations of different steps never share memory.
        self._copy_docs = compile_copy(self._doc_space) if not raw_environment.resample_documents else None

    @property
    def environment(self) -> AbstractEnvironment:
        """The raw environment."""
        return self._environment

    @property
    def game_over(self) -> bool:
        """Whether the current episode has ended (RecSim's name)."""
        return bool(self._last.get("terminated", False))

    def _null_responses(self) -> Any:
        nulls = [model.null_response_observation() for model in self._user_models]
        return tuple(nulls) if self._multi_user else nulls[0]

    def _response_observation(self, responses: Any) -> Any:
        if not self._multi_user:
            return self._user_models[0].create_response_observation(responses)
        return tuple(
            model.create_response_observation(rs) if rs else model.null_response_observation()
            for model, rs in zip(self._user_models, responses)
        )

    def _observation(self, user_obs: Any, doc_obs: Any, response_obs: Any) -> dict[str, Any]:
        if self._copy_docs is not None:
            doc_obs = self._copy_docs(doc_obs)
        observation = {"user": user_obs, "doc": doc_obs, "response": response_obs}
        if self._check_observations and not self._contains(observation):
            self._raise_bad_observation(user_obs, doc_obs, response_obs)
        return observation

    def _raise_bad_observation(self, user_obs: Any, doc_obs: Any, response_obs: Any) -> None:
        users = self._user_models
        check_in_space(
            self._user_space, user_obs, f"{type(users[0].user_state).__name__}.create_observation()"
        )
        if not self._doc_space.contains(doc_obs):
            candidates = self._environment.candidate_set
            item_space = self._environment.document_sampler.document_observation_space()
            for position, document in enumerate(candidates):
                check_in_space(
                    item_space,
                    document.create_observation(),
                    f"{type(document).__name__}.create_observation() (candidate {position}, doc_id {document.doc_id()})",
                )
            check_in_space(
                self._doc_space, doc_obs, f"{type(self._environment.document_sampler).__name__} candidates"
            )
        ctor = users[0].get_response_model_ctor()
        check_in_space(self._response_space, response_obs, f"{ctor.__name__}.create_observation()")
        raise ValueError(
            f"observation outside {self.observation_space}"
        )  # pragma: no cover - one check above fires

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict]:
        """Starts an episode with a new user (and candidates).

        Args:
            seed: re-seeds every random stream of the simulation (documents, users, responses) from
                this seed; without it the streams continue.
            options: not used; must be ``None`` or empty.
        """
        if options:
            raise ValueError(f"RecSimGymEnv.reset takes no options, got {options!r}")
        super().reset(seed=seed)
        if seed is not None:
            self._environment.reset_sampler(seed)
        user_obs, doc_obs = self._environment.reset()
        observation = self._observation(user_obs, doc_obs, self._null_responses())
        self._last = {"step": 0, "slate": None, "responses": None, "reward": 0.0, "terminated": False}
        return observation, {}

    def step(self, action: Any) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        """Shows the slate(s) ``action`` to the user(s); returns Gymnasium's 5-tuple.

        ``info["responses"]`` holds the response objects (for metrics and runners).
        """
        user_obs, doc_obs, responses, terminated = self._environment.step(action)
        reward = self._reward_aggregator(responses)
        if not isinstance(reward, int | float | np.integer | np.floating) or not math.isfinite(reward):
            raise ValueError(
                f"reward_aggregator {getattr(self._reward_aggregator, '__name__', self._reward_aggregator)!r} returned "
                f"{reward!r}; expected a finite number"
            )
        observation = self._observation(user_obs, doc_obs, self._response_observation(responses))
        self._last = {
            "step": self._last.get("step", 0) + 1,
            "slate": action,
            "responses": responses,
            "reward": float(reward),
            "terminated": terminated,
        }
        return observation, float(reward), terminated, False, {"responses": responses}

    def render(self) -> str | None:
        """With ``render_mode="ansi"``, a text summary of the last step."""
        if self.render_mode != "ansi":
            return None
        last = self._last
        if not last:
            return "RecSimGymEnv: not reset yet\n"
        lines = [f"step {last['step']}: slate={_fmt(last['slate'])} reward={last['reward']:.4g}"]
        for model in self._user_models:
            lines.append(f"  user: {model.user_state!r}")
        for response in last["responses"] or []:
            lines.append(f"  response: {response!r}")
        if last["terminated"]:
            lines.append("  (episode over)")
        return "\n".join(lines) + "\n"

    def close(self) -> None:
        """Holds no external resources, so there is nothing to release; safe to call repeatedly."""

    # RecSim's metrics hooks.
    def update_metrics(self, responses: Sequence[Any], info: Any = None) -> None:
        """Folds one step's responses into :attr:`metrics` with the metrics aggregator."""
        self.metrics = self._metrics_aggregator(responses, self.metrics, info)

    def write_metrics(self, add_summary_fn: Callable[[str, float], None]) -> None:
        """Hands the aggregated metrics to the metrics writer."""
        self._metrics_writer(self.metrics, add_summary_fn)

    def reset_metrics(self) -> None:
        """Clears the aggregated metrics."""
        self.metrics = collections.defaultdict(float)


def _fmt(slate: Any) -> str:
    return str(np.asarray(slate).tolist()) if slate is not None else "-"
