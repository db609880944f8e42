"""Products as RecSim documents, and the samplers that offer them: a query retriever and the whole catalog.

* :class:`ProductDocument` is a catalog row as an :class:`~recframe.document.AbstractDocument`
  (its observation is the product's feature row, see :mod:`.features`).
* :class:`ProductRetriever` is a user-aware candidate sampler: ``sample_candidates(n, shopper)``
  retrieves the ``n`` products most relevant to the shopper's current query (noisy relevance over
  the whole catalog, exact top n, see :mod:`.retrieval`), best first, with the relevance as a
  last feature.
* :class:`CatalogSampler` offers the whole catalog, in product-id order, as one fixed candidate set.

Both build the stacked candidate observation directly from column arrays; document objects are
created only for the positions put on a slate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from recframe.document import AbstractDocument, AbstractDocumentSampler, CandidateSet, FeatureDocument
from recframe.environments.pet_retail.features import BIG
from recframe.environments.pet_retail.sessions import ShopperSessions
from recframe.seeding import SeedLike

if TYPE_CHECKING:
    from recframe.user import AbstractUserState

__all__ = ["CatalogSampler", "ProductDocument", "ProductRetriever", "product_document_class"]

_SHOPPER = np.zeros(1, dtype=np.int64)
_SHOPPER.setflags(write=False)
"""The engine's one shopper, as the index array retrieval takes."""


class ProductDocument(FeatureDocument):
    """One product offered to the agent; ``doc_id()`` is its product id.

    Args:
        doc_id: the product id (its catalog row).
        features: its feature row (float32; a view into the candidate set's observation).
    """

    FEATURE_LOW, FEATURE_HIGH = -BIG, BIG

    def __init__(self, doc_id: int, features: np.ndarray) -> None:
        # FeatureDocument's attributes set here, not through its two-level super() chain: every slate
        # position of every step builds one.
        self._doc_id = int(doc_id)
        self.features = features


def product_document_class(num_features: int) -> type[ProductDocument]:
    """A :class:`ProductDocument` subclass whose observations have ``num_features`` features.

    Spaces are class-level (RecSim's convention), so the feature count lives in a subclass.
    """
    return type("ProductDocument", (ProductDocument,), {"NUM_FEATURES": int(num_features)})


class _LazyProducts(Sequence[ProductDocument]):
    """Product documents of a candidate set, created only for the positions accessed."""

    def __init__(self, ctor: type[ProductDocument], ids: list[int], observation: np.ndarray) -> None:
        self._ctor, self._ids, self._observation = ctor, ids, observation
        self._cache: dict[int, ProductDocument] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def __getitem__(self, index: int) -> ProductDocument:  # type: ignore[override]
        # Every slate position of every step comes through here: the common case (a fresh,
        # in-range position) is a failed dict lookup, one list read and the constructor.
        document = self._cache.get(index)
        if document is None:
            doc_id = self._ids[index]  # a list: IndexError out of range, as a sequence must
            document = self._cache[index] = self._ctor(doc_id, self._observation[index])
        return document


class _ProductSampler(AbstractDocumentSampler):
    """Shared parts: a product-document class and candidate sets built from a feature array."""

    def sample_document(self) -> AbstractDocument:
        raise TypeError(
            f"{type(self).__name__} offers products for a shopper's query; call sample_candidates(num_candidates, "
            "user_state) instead of sample_document()"
        )

    def _candidates(self, product_ids: np.ndarray, observation: np.ndarray) -> CandidateSet:
        documents = _LazyProducts(self._doc_ctor, product_ids.tolist(), observation)
        return CandidateSet(documents, observation=observation, stacker=self.stacker)


class ProductRetriever(_ProductSampler):
    """Retrieves, for the shopper's current query, the most relevant products (the candidate set).

    Its generator is the shopper's relevance stream: it is installed in ``sessions`` at
    construction, and re-seeding the sampler re-seeds the stream.

    Args:
        doc_ctor: the product-document class (``NUM_FEATURES`` = static features + 1).
        sessions: the shopper engine (one shopper).
        features: (n_products, n) static product features.
        seed: seed of the relevance stream.
    """

    def __init__(
        self,
        doc_ctor: type[ProductDocument],
        sessions: ShopperSessions,
        features: np.ndarray,
        seed: SeedLike = 0,
    ) -> None:
        super().__init__(doc_ctor, seed)
        self._sessions = sessions
        # The features with a spare last column: a candidate's row is one gather, then its relevance.
        self._rows = np.zeros((features.shape[0], features.shape[1] + 1), dtype=np.float32)
        self._rows[:, :-1] = features
        self._last: tuple[np.ndarray, np.ndarray] | None = None
        sessions.streams["relevance"][0] = self.rng

    def sample_candidates(
        self, num_candidates: int, user_state: AbstractUserState | None = None
    ) -> CandidateSet:
        """The ``num_candidates`` products most relevant to the shopper's query, best first.

        Once the shopper has left there is no new query: the last candidates are offered again
        (a copy; no random numbers are drawn).
        """
        if user_state is None:
            raise ValueError("ProductRetriever needs the shopper's state (its query) to retrieve candidates")
        sessions = self._sessions
        if not sessions.active[0] and self._last is not None:
            ids, observation = self._last
            return self._candidates(ids, observation.copy())
        ids, relevance = sessions.top_products(_SHOPPER, num_candidates)
        observation = self._rows[ids[0]]  # a new array
        observation[:, -1] = relevance[0]
        self._last = ids[0], observation.copy()  # kept apart from what the agent may modify
        return self._candidates(ids[0], observation)


class CatalogSampler(_ProductSampler):
    """The whole catalog as one fixed candidate set (position = product id); draws nothing.

    Args:
        doc_ctor: the product-document class.
        features: (n_products, n) static product features (read-only; the candidate observation).
        seed: unused (the catalog is fixed), kept for the sampler interface.
    """

    def __init__(self, doc_ctor: type[ProductDocument], features: np.ndarray, seed: SeedLike = 0) -> None:
        self._set = None
        super().__init__(doc_ctor, seed)
        self._set = self._candidates(np.arange(features.shape[0]), features)

    def sample_candidates(self, num_candidates: int, user_state: Any = None) -> CandidateSet:
        del user_state
        if num_candidates != len(self._set):
            raise ValueError(
                f"CatalogSampler offers the whole catalog ({len(self._set)} products), got num_candidates={num_candidates}"
            )
        return self._set
