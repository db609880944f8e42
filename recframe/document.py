"""Documents, document samplers and the candidate set.

A *document* is anything a recommender can put on a slate (a video, a product, an article). A
*document sampler* creates them; each step the environment asks it for a :class:`CandidateSet`,
the documents the agent may choose from, addressed by position ``0 .. num_candidates - 1``.

Candidate generation may depend on the user: a search engine retrieves candidates for the user's
query. Samplers override :meth:`AbstractDocumentSampler.sample_candidates`, which receives the
current user state; the default ignores it and calls :meth:`~AbstractDocumentSampler.sample_document`
``num_candidates`` times, so a RecSim sampler works unchanged.

Example:
    >>> import numpy as np
    >>> from gymnasium import spaces
    >>> class Video(AbstractDocument):
    ...     def __init__(self, doc_id, quality):
    ...         super().__init__(doc_id)
    ...         self.quality = quality
    ...     def create_observation(self):
    ...         return np.array([self.quality], dtype=np.float32)
    ...     @classmethod
    ...     def observation_space(cls):
    ...         return spaces.Box(-np.inf, np.inf, shape=(1,), dtype=np.float32)
    >>> class VideoSampler(AbstractDocumentSampler):
    ...     def sample_document(self):
    ...         self._next_id += 1
    ...         return self._doc_ctor(self._next_id, self._rng.normal())
    ...     def reset_sampler(self, seed=None):
    ...         super().reset_sampler(seed)
    ...         self._next_id = 0
    >>> candidates = VideoSampler(Video, seed=0).sample_candidates(3)
    >>> candidates.create_observation().shape
    (3, 1)
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

import numpy as np
from gymnasium import spaces

from recframe.seeding import SeedLike, make_rng, reseed
from recframe.spaces import ObservationStacker

if TYPE_CHECKING:
    from recframe.user import AbstractUserState

__all__ = ["AbstractDocument", "FeatureDocument", "AbstractDocumentSampler", "CandidateSet"]


class AbstractDocument(abc.ABC):
    """A recommendable item with an id and an observation the agent sees.

    Args:
        doc_id: the document's identifier (unique within its sampler's stream).
    """

    NUM_FEATURES: int | None = None

    def __init__(self, doc_id: int) -> None:
        self._doc_id = int(doc_id)

    def doc_id(self) -> int:
        """The document's identifier."""
        return self._doc_id

    @abc.abstractmethod
    def create_observation(self) -> Any:
        """The document's features as the agent sees them (a value of :meth:`observation_space`)."""

    @classmethod
    @abc.abstractmethod
    def observation_space(cls) -> spaces.Space:
        """The space of :meth:`create_observation`'s values."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(doc_id={self._doc_id})"


class FeatureDocument(AbstractDocument):
    """A document whose observation is a fixed-length float32 feature vector.

    Subclasses set ``NUM_FEATURES`` and the bounds ``FEATURE_LOW`` / ``FEATURE_HIGH``; vectorized
    samplers hand each document a row (a view) of the candidates' stacked feature matrix.

    Args:
        doc_id: the document's identifier.
        features: its feature vector.
    """

    NUM_FEATURES: int = 0
    FEATURE_LOW: float = -np.inf
    FEATURE_HIGH: float = np.inf

    def __init__(self, doc_id: int, features: np.ndarray) -> None:
        super().__init__(doc_id)
        self.features = features

    def create_observation(self) -> np.ndarray:
        return self.features

    @classmethod
    def observation_space(cls) -> spaces.Box:
        return spaces.Box(cls.FEATURE_LOW, cls.FEATURE_HIGH, (cls.NUM_FEATURES,), np.float32)


DocT = TypeVar("DocT", bound=AbstractDocument)


class CandidateSet(Sequence[DocT], Generic[DocT]):
    """The documents available this step, addressed by position.

    A sequence of documents plus their stacked observation (one array per leaf with a leading
    candidate axis). Vectorized samplers may pass the stacked ``observation`` directly, and a lazy
    sequence of documents, so that no per-item work happens unless someone asks for the objects.

    Args:
        documents: the candidate documents, in position order.
        observation: their stacked observation, if already known.
        stacker: the stacker for the document observation space (shared to avoid rebuilding it).
    """

    def __init__(
        self,
        documents: Iterable[DocT] = (),
        observation: Any | None = None,
        stacker: ObservationStacker | None = None,
    ) -> None:
        self._documents: Sequence[DocT] = documents if isinstance(documents, Sequence) else list(documents)
        self._observation = observation
        self._stacker = stacker

    def __len__(self) -> int:
        return len(self._documents)

    @overload
    def __getitem__(self, index: int) -> DocT: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[DocT]: ...

    def __getitem__(self, index: int | slice) -> DocT | Sequence[DocT]:
        return self._documents[index]

    def size(self) -> int:
        """The number of candidates (RecSim's name for ``len``)."""
        return len(self._documents)

    def get_documents(self, indices: Iterable[int]) -> list[DocT]:
        """The documents at the given positions, in that order."""
        documents = self._documents
        return [documents[i] for i in indices]

    def get_all_documents(self) -> list[DocT]:
        """All candidate documents in position order."""
        return list(self._documents)

    def add_document(self, document: DocT) -> None:
        """Appends a document (RecSim compatibility; prefer building a new set)."""
        self._documents = [*self._documents, document]
        self._observation = None

    def remove_document(self, document: DocT) -> None:
        """Removes a document (RecSim compatibility; prefer building a new set)."""
        self._documents = [doc for doc in self._documents if doc is not document]
        self._observation = None

    def doc_ids(self) -> np.ndarray:
        """The documents' ids in position order."""
        return np.fromiter((doc.doc_id() for doc in self._documents), dtype=np.int64, count=len(self))

    def create_observation(self) -> Any:
        """The stacked observation of all candidates (computed once, then cached)."""
        if self._observation is None:
            if not self._documents:
                raise ValueError("an empty candidate set has no observation")
            if self._stacker is None:
                self._stacker = ObservationStacker(type(self._documents[0]).observation_space())
            self._observation = self._stacker.stack([doc.create_observation() for doc in self._documents])
        return self._observation

    def __repr__(self) -> str:
        return f"CandidateSet(size={len(self)})"


class AbstractDocumentSampler(abc.ABC):
    """Creates documents from a seeded random stream.

    Args:
        doc_ctor: the document class (or factory) this sampler builds.
        seed: seed of the sampler's stream; :meth:`reset_sampler` returns to it.
    """

    def __init__(self, doc_ctor: type[AbstractDocument], seed: SeedLike = 0) -> None:
        self._doc_ctor = doc_ctor
        self._seed = seed
        self._rng = make_rng(seed)
        self._stacker: ObservationStacker | None = None
        self.reset_sampler()

    @property
    def rng(self) -> np.random.Generator:
        """The sampler's random stream (one object for the sampler's life)."""
        return self._rng

    def reset_sampler(self, seed: SeedLike = None) -> None:
        """Restarts the sampler's stream, from ``seed`` if given (and from then on), else its own seed.

        Subclasses that keep other state (id counters, a fixed catalog) extend this and call super.
        """
        if seed is not None:
            self._seed = seed
        reseed(self._rng, self._seed)

    @abc.abstractmethod
    def sample_document(self) -> AbstractDocument:
        """Draws one document."""

    def sample_candidates(
        self, num_candidates: int, user_state: AbstractUserState | None = None
    ) -> CandidateSet:
        """Draws the candidate set for one step.

        Override to make candidates depend on the user (for example, retrieval for the user's
        query) or to build them vectorized. The default ignores ``user_state``.
        """
        del user_state
        return CandidateSet([self.sample_document() for _ in range(num_candidates)], stacker=self.stacker)

    def document_observation_space(self) -> spaces.Space:
        """The space of one document's observation.

        Defaults to the document class's ``observation_space()``; override it when the space
        depends on the sampler's parameters (a catalog size, a feature dimension) instead of
        making a document subclass per setting.
        """
        return self._doc_ctor.observation_space()

    @property
    def stacker(self) -> ObservationStacker:
        """Stacks this sampler's document observations (built once)."""
        if self._stacker is None:
            self._stacker = ObservationStacker(self.document_observation_space())
        return self._stacker

    def get_doc_ctor(self) -> type[AbstractDocument]:
        """The document class this sampler builds."""
        return self._doc_ctor

    @property
    def num_clusters(self) -> int:
        """The number of document clusters (topics), 0 when the sampler has none."""
        return 0

    def update_state(self, documents: Sequence[AbstractDocument], responses: Sequence[Any]) -> None:
        """Lets the sampler react to a slate and its responses (no-op by default)."""
        del documents, responses
