"""The raw simulation environment: one step of the recommender's dynamic Bayesian network.

Each :meth:`SingleUserEnvironment.step`:

1. takes the agent's slate (distinct positions in the current candidate set),
2. lets the user model simulate the responses to the slate's documents,
3. moves the user's state and lets the document sampler see the slate and responses,
4. draws the next candidate set (if ``resample_documents``), possibly for the user's new state,
5. returns the user observation, the stacked candidate observation, the responses and ``done``.

Wrap it in :class:`recframe.simulator.recsim_gym.RecSimGymEnv` for a Gymnasium environment.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any

from gymnasium import spaces

from recframe.document import AbstractDocumentSampler, CandidateSet
from recframe.seeding import SeedLike, child_seeds
from recframe.spaces import as_slate, batch_space
from recframe.user import AbstractResponse, AbstractUserModel

__all__ = [
    "AbstractEnvironment",
    "SingleUserEnvironment",
    "Environment",
    "MultiUserEnvironment",
    "EpisodeEndedError",
]


class EpisodeEndedError(ValueError, RuntimeError):
    """Raised when stepping an environment whose episode has ended; call ``reset()`` first."""


class AbstractEnvironment(abc.ABC):
    """What single- and multi-user environments share: the candidate set and its sampler.

    Args:
        user_model: the user model (a sequence of them for :class:`MultiUserEnvironment`).
        document_sampler: draws the candidate documents.
        num_candidates: the number of candidates offered each step.
        slate_size: the number of candidates the agent puts on a slate.
        resample_documents: draw a new candidate set every step (else only at construction).
    """

    def __init__(
        self,
        user_model: Any,
        document_sampler: AbstractDocumentSampler,
        num_candidates: int,
        slate_size: int,
        resample_documents: bool = True,
    ) -> None:
        num_candidates, slate_size = int(num_candidates), int(slate_size)
        if slate_size < 1 or num_candidates < slate_size:
            raise ValueError(
                f"need 1 <= slate_size <= num_candidates, got slate_size={slate_size}, num_candidates={num_candidates}"
            )
        self._user_model = user_model
        self._document_sampler = document_sampler
        self._num_candidates = num_candidates
        self._slate_size = slate_size
        self._resample_documents = bool(resample_documents)
        self._ended = True
        self._candidate_set: CandidateSet = self._sample_candidates()

    @property
    def user_model(self) -> Any:
        """The user model (or the sequence of them)."""
        return self._user_model

    @property
    def document_sampler(self) -> AbstractDocumentSampler:
        """The document sampler."""
        return self._document_sampler

    @property
    def num_candidates(self) -> int:
        """The number of candidates per step."""
        return self._num_candidates

    @property
    def slate_size(self) -> int:
        """The number of documents per slate."""
        return self._slate_size

    @property
    def resample_documents(self) -> bool:
        """Whether candidates are redrawn every step."""
        return self._resample_documents

    @property
    def candidate_set(self) -> CandidateSet:
        """The current candidates."""
        return self._candidate_set

    @property
    def num_clusters(self) -> int:
        """The number of document clusters of the sampler."""
        return self._document_sampler.num_clusters

    def _candidate_user(self) -> Any:
        """The user state candidates are drawn for (None when candidates are shared by several users)."""
        return None

    def _sample_candidates(self) -> CandidateSet:
        candidates = self._document_sampler.sample_candidates(self._num_candidates, self._candidate_user())
        if len(candidates) != self._num_candidates:
            raise ValueError(
                f"{type(self._document_sampler).__name__}.sample_candidates returned {len(candidates)} documents, "
                f"expected num_candidates={self._num_candidates}"
            )
        return candidates

    def _check_slate(self, slate: Any) -> list[int]:
        return as_slate(slate, self._num_candidates, self._slate_size)

    def _check_not_ended(self) -> None:
        if self._ended:
            raise EpisodeEndedError("the episode has ended (or never started): call reset() before step()")

    def document_observation_space(self) -> spaces.Space:
        """The space of the stacked candidate observation."""
        return batch_space(self._document_sampler.document_observation_space(), self._num_candidates)

    @abc.abstractmethod
    def reset(self) -> tuple[Any, Any]:
        """Starts an episode; returns ``(user_observation, document_observation)``."""

    @abc.abstractmethod
    def reset_sampler(self, seed: SeedLike = None) -> None:
        """Restarts every random stream, from ``seed`` if given."""

    @abc.abstractmethod
    def step(self, slate: Any) -> tuple[Any, Any, Any, bool]:
        """Plays one slate; returns ``(user_obs, document_obs, responses, done)``."""


class SingleUserEnvironment(AbstractEnvironment):
    """An environment with one user per episode (RecSim's ``Environment``).

    Candidates are drawn for the current user's state, so a sampler overriding
    ``sample_candidates(num_candidates, user_state)`` can retrieve for the user's query.
    """

    _user_model: AbstractUserModel

    def _candidate_user(self) -> Any:
        return self._user_model.user_state

    def reset(self) -> tuple[Any, Any]:
        self._user_model.reset()
        if self._resample_documents:
            self._candidate_set = self._sample_candidates()
        self._ended = False
        return self._user_model.create_observation(), self._candidate_set.create_observation()

    def reset_sampler(self, seed: SeedLike = None) -> None:
        if seed is None:
            self._document_sampler.reset_sampler()
            self._user_model.reset_sampler()
        else:
            document_seed, user_seed = child_seeds(seed, 2)
            self._document_sampler.reset_sampler(document_seed)
            self._user_model.reset_sampler(user_seed)
        if not self._resample_documents:
            self._candidate_set = self._sample_candidates()

    def step(self, slate: Any) -> tuple[Any, Any, list[AbstractResponse], bool]:
        self._check_not_ended()
        documents = self._candidate_set.get_documents(self._check_slate(slate))
        responses = self._user_model.simulate_response(documents)
        self._user_model.update_state(documents, responses)
        self._document_sampler.update_state(documents, responses)
        done = bool(self._user_model.is_terminal())
        self._ended = done
        if self._resample_documents:
            self._candidate_set = self._sample_candidates()
        return (
            self._user_model.create_observation(),
            self._candidate_set.create_observation(),
            responses,
            done,
        )


Environment = SingleUserEnvironment


class MultiUserEnvironment(AbstractEnvironment):
    """Several users served from one shared candidate set each step.

    ``step`` takes one slate per user and returns per-user tuples of observations and responses.
    A user whose session has ended gets no slate simulated (an empty response list) while the
    others go on; the episode is done when every user's session is.

    Args:
        user_model: a sequence of user models, one per user.
        document_sampler, num_candidates, slate_size, resample_documents: as
            :class:`AbstractEnvironment` (the sampler is called without a user state).
    """

    _user_model: Sequence[AbstractUserModel]

    def __init__(
        self,
        user_model: Sequence[AbstractUserModel],
        document_sampler: AbstractDocumentSampler,
        num_candidates: int,
        slate_size: int,
        resample_documents: bool = True,
    ) -> None:
        if isinstance(user_model, AbstractUserModel) or len(user_model) == 0:
            raise TypeError(
                f"MultiUserEnvironment needs a non-empty sequence of user models, got {user_model!r}"
            )
        super().__init__(tuple(user_model), document_sampler, num_candidates, slate_size, resample_documents)

    @property
    def num_users(self) -> int:
        """The number of users."""
        return len(self._user_model)

    def reset(self) -> tuple[tuple[Any, ...], Any]:
        for model in self._user_model:
            model.reset()
        if self._resample_documents:
            self._candidate_set = self._sample_candidates()
        self._ended = False
        return tuple(
            model.create_observation() for model in self._user_model
        ), self._candidate_set.create_observation()

    def reset_sampler(self, seed: SeedLike = None) -> None:
        seeds = [None] * (self.num_users + 1) if seed is None else child_seeds(seed, self.num_users + 1)
        self._document_sampler.reset_sampler(seeds[0])
        for model, user_seed in zip(self._user_model, seeds[1:]):
            model.reset_sampler(user_seed)
        if not self._resample_documents:
            self._candidate_set = self._sample_candidates()

    def step(self, slates: Sequence[Any]) -> tuple[tuple[Any, ...], Any, list[list[AbstractResponse]], bool]:
        self._check_not_ended()
        if len(slates) != self.num_users:
            raise ValueError(f"expected one slate per user ({self.num_users}), got {len(slates)} slates")
        all_documents, all_responses = [], []
        for model, slate in zip(self._user_model, slates):
            documents = self._candidate_set.get_documents(self._check_slate(slate))
            responses: list[AbstractResponse] = []
            if not model.is_terminal():
                responses = model.simulate_response(documents)
                model.update_state(documents, responses)
            all_documents.extend(documents)
            all_responses.append(responses)
        self._document_sampler.update_state(
            all_documents, [r for responses in all_responses for r in responses]
        )
        done = all(model.is_terminal() for model in self._user_model)
        self._ended = done
        if self._resample_documents:
            self._candidate_set = self._sample_candidates()
        user_obs = tuple(model.create_observation() for model in self._user_model)
        return user_obs, self._candidate_set.create_observation(), all_responses, done
