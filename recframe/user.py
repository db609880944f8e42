"""Users: their latent state, how they are sampled, how they respond to slates.

* :class:`AbstractUserState` is the user's latent state; the agent sees only
  :meth:`~AbstractUserState.create_observation`.
* :class:`AbstractUserSampler` draws users (the start of each episode).
* :class:`AbstractResponse` is the user's reaction to one slate item (a click, a watch time, ...).
* :class:`AbstractUserModel` ties them together: given a slate it simulates the responses
  (usually through a :mod:`recframe.choice_model`), updates the state, and says when the session
  ends.

Randomness: a user model owns one response stream (``self._rng``) for the choices and state
transitions it simulates; its sampler owns another for drawing users. Both are seeded and are
re-seeded in place by :meth:`AbstractUserModel.reset_sampler`.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

import numpy as np
from gymnasium import spaces

from recframe.document import AbstractDocument
from recframe.seeding import SeedLike, child_seeds, make_rng, reseed
from recframe.spaces import ObservationStacker, batch_space, compile_copy, null_value

__all__ = ["AbstractUserState", "AbstractUserSampler", "AbstractResponse", "AbstractUserModel"]


class AbstractUserState(abc.ABC):
    """The latent state of one user.

    Choice models score documents through ``score_document(doc_obs) -> float``; define it (or
    the vectorized ``score_documents(stacked_doc_obs) -> np.ndarray``) when you use one.
    """

    NUM_FEATURES: int | None = None

    @abc.abstractmethod
    def create_observation(self) -> Any:
        """What the agent may observe of the user (a value of :meth:`observation_space`)."""

    @classmethod
    @abc.abstractmethod
    def observation_space(cls) -> spaces.Space:
        """The space of :meth:`create_observation`'s values."""


UserT = TypeVar("UserT", bound=AbstractUserState)


class AbstractUserSampler(abc.ABC, Generic[UserT]):
    """Draws users from a seeded random stream.

    Args:
        user_ctor: the user state class (or factory) this sampler builds.
        seed: seed of the sampler's stream; :meth:`reset_sampler` returns to it.
    """

    def __init__(self, user_ctor: type[UserT], seed: SeedLike = 0) -> None:
        self._user_ctor = user_ctor
        self._seed = seed
        self._rng = make_rng(seed)
        self.reset_sampler()

    @property
    def rng(self) -> np.random.Generator:
        """The sampler's random stream."""
        return self._rng

    def reset_sampler(self, seed: SeedLike = None) -> None:
        """Restarts the stream, from ``seed`` if given (and from then on), else the sampler's seed."""
        if seed is not None:
            self._seed = seed
        reseed(self._rng, self._seed)

    @abc.abstractmethod
    def sample_user(self) -> UserT:
        """Draws one user state."""

    def get_user_ctor(self) -> type[UserT]:
        """The user state class this sampler builds."""
        return self._user_ctor


class AbstractResponse(abc.ABC):
    """A user's response to one document of a slate.

    Responses are values: two responses are equal when they are of the same class with equal
    attributes (so trajectories can be compared for determinism).
    """

    NUM_FEATURES: int | None = None
    __hash__ = None  # type: ignore[assignment]  # mutable values

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        mine, theirs = vars(self), vars(other)
        return mine.keys() == theirs.keys() and all(np.array_equal(mine[k], theirs[k]) for k in mine)

    def __repr__(self) -> str:
        fields = ", ".join(f"{key}={value!r}" for key, value in vars(self).items())
        return f"{type(self).__name__}({fields})"

    @abc.abstractmethod
    def create_observation(self) -> Any:
        """The response as the agent observes it (a value of :meth:`response_space`)."""

    @classmethod
    @abc.abstractmethod
    def response_space(cls) -> spaces.Space:
        """The space of :meth:`create_observation`'s values."""

    @classmethod
    def null_observation(cls) -> Any:
        """The observation of "no response yet", used at reset. Zeros, moved into the space's bounds."""
        return null_value(cls.response_space())


ResponseT = TypeVar("ResponseT", bound=AbstractResponse)


class AbstractUserModel(abc.ABC, Generic[UserT, ResponseT]):
    """Simulates one user's responses to slates and the evolution of their state.

    Args:
        response_model_ctor: the response class this model returns.
        user_sampler: draws the user at every :meth:`reset`.
        slate_size: the number of documents per slate.
        seed: seed of the model's response stream (``self._rng``). Give the sampler and the model
            different seeds (e.g. ``recframe.seeding.child_seeds(seed, 2)``, as
            :meth:`reset_sampler` does): equal seeds would give them identical streams.
    """

    def __init__(
        self,
        response_model_ctor: type[ResponseT],
        user_sampler: AbstractUserSampler[UserT],
        slate_size: int,
        seed: SeedLike = 0,
    ) -> None:
        if int(slate_size) < 1:
            raise ValueError(f"slate_size must be a positive integer, got {slate_size!r}")
        self._response_model_ctor = response_model_ctor
        self._user_sampler = user_sampler
        self._slate_size = int(slate_size)
        self._seed = seed
        self._rng = make_rng(seed)
        self._response_stacker = ObservationStacker(response_model_ctor.response_space())
        self._response_copier = compile_copy(response_model_ctor.response_space())
        self._null_response: Any = None
        self._user_state: UserT = user_sampler.sample_user()

    @property
    def user_state(self) -> UserT:
        """The current user's latent state."""
        return self._user_state

    @property
    def rng(self) -> np.random.Generator:
        """The response stream: use it for every random draw in responses and transitions."""
        return self._rng

    @property
    def slate_size(self) -> int:
        """The number of documents per slate."""
        return self._slate_size

    def get_response_model_ctor(self) -> type[ResponseT]:
        """The response class this model returns."""
        return self._response_model_ctor

    def reset(self) -> None:
        """Starts a new session with a newly sampled user."""
        self._user_state = self._user_sampler.sample_user()

    def reset_sampler(self, seed: SeedLike = None) -> None:
        """Restarts the user and response streams.

        With ``seed``, both are derived from it (and kept from then on); without, each returns to
        its own seed.
        """
        if seed is None:
            self._user_sampler.reset_sampler()
        else:
            sampler_seed, self._seed = child_seeds(seed, 2)
            self._user_sampler.reset_sampler(sampler_seed)
        reseed(self._rng, self._seed)

    def response_space(self) -> spaces.Space:
        """The space of the stacked responses to one slate."""
        return batch_space(self._response_model_ctor.response_space(), self._slate_size)

    def null_response_observation(self) -> Any:
        """The stacked "no response yet" observation, shown at reset (built once, copied out)."""
        if self._null_response is None:
            null = self._response_model_ctor.null_observation()
            self._null_response = self._response_stacker.stack([null] * self._slate_size)
        return self._response_copier(self._null_response)

    def create_response_observation(self, responses: Sequence[ResponseT]) -> Any:
        """Stacks the observations of a slate's responses (override to build them vectorized)."""
        return self._response_stacker.stack([response.create_observation() for response in responses])

    def observation_space(self) -> spaces.Space:
        """The space of the user observation."""
        return self._user_state.observation_space()

    def create_observation(self) -> Any:
        """The agent's observation of the current user."""
        return self._user_state.create_observation()

    @abc.abstractmethod
    def is_terminal(self) -> bool:
        """Whether the session is over."""

    @abc.abstractmethod
    def update_state(
        self, slate_documents: Sequence[AbstractDocument], responses: Sequence[ResponseT]
    ) -> None:
        """Moves the user's state after seeing ``slate_documents`` and responding with ``responses``."""

    @abc.abstractmethod
    def simulate_response(self, documents: Sequence[AbstractDocument]) -> list[ResponseT]:
        """Returns one response per slate document, in slate order."""
