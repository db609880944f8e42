"""Search queries: what a shopper types, drawn from the shopper's preferences.

A query's intent category follows the shopper's category affinities, its embedding is the
shopper's taste plus a little noise, and its tokens are the intent category's words, the query type
and a few filler tokens from a fixed vocabulary. :func:`sample_queries` draws one query per shopper
of a :class:`~recframe.environments.pet_retail.users.UserBatch` as columns; tokens are stored as ids
into a :class:`Vocabulary` so that lexical matching is a table look-up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING

import numpy as np

from recframe.environments.pet_retail.config import SimulatorConfig
from recframe.environments.pet_retail.users import User, UserBatch

if TYPE_CHECKING:
    import torch

__all__ = [
    "Query",
    "QueryBatch",
    "QueryTables",
    "Vocabulary",
    "assemble_queries",
    "build_vocabulary",
    "query_tables",
    "sample_queries",
    "sample_query",
]

PAD = -1
"""Token id of an empty slot in :attr:`QueryBatch.token_ids`."""


@dataclass(frozen=True, eq=False)
class Vocabulary:
    """Every token a query or product can carry.

    The words come first (category words such as ``dog`` and ``food``, then the query-type names),
    then the filler tokens ``tok_0 .. tok_{V-1}``.

    Attributes:
        words: the tokens; a token's id is its position.
        category_token_ids: per catalog category, the ids of its words (a product's tokens).
        type_token_ids: per query type, the id of its name.
        filler_offset: the id of ``tok_0``.
    """

    words: tuple[str, ...]
    category_token_ids: tuple[tuple[int, ...], ...]
    type_token_ids: tuple[int, ...]
    filler_offset: int

    def __len__(self) -> int:
        return len(self.words)

    @cached_property
    def index(self) -> dict[str, int]:
        """Token to id."""
        return {word: i for i, word in enumerate(self.words)}

    @cached_property
    def category_token_matrix(self) -> np.ndarray:
        """(len(vocabulary), n_categories) bool: whether a token is one of a category's words."""
        matrix = np.zeros((len(self.words), len(self.category_token_ids)), dtype=bool)
        for code, ids in enumerate(self.category_token_ids):
            matrix[list(ids), code] = True
        return matrix

    @cached_property
    def category_word_table(self) -> np.ndarray:
        """(n_categories, max words per category) int64 word ids, :data:`PAD`-filled (a query's leading tokens)."""
        width = max(len(ids) for ids in self.category_token_ids)
        table = np.full((len(self.category_token_ids), width), PAD, dtype=np.int64)
        for code, ids in enumerate(self.category_token_ids):
            table[code, : len(ids)] = ids
        return table


@lru_cache(maxsize=32)
def _vocabulary(categories: tuple[str, ...], query_types: tuple[str, ...], n_filler: int) -> Vocabulary:
    words: dict[str, int] = {}
    for word in [w for c in categories for w in c.split("_")] + list(query_types):
        words.setdefault(word, len(words))
    offset = len(words)
    return Vocabulary(
        words=(*words, *(f"tok_{i}" for i in range(n_filler))),
        category_token_ids=tuple(tuple(words[w] for w in c.split("_")) for c in categories),
        type_token_ids=tuple(words[t] for t in query_types),
        filler_offset=offset,
    )


def build_vocabulary(config: SimulatorConfig) -> Vocabulary:
    """The vocabulary of ``config`` (cached: equal configs share one object)."""
    return _vocabulary(
        tuple(config.catalog.categories), tuple(config.queries.query_types), config.queries.token_vocab_size
    )


@dataclass(frozen=True, eq=False)
class Query:
    """One search query.

    Attributes:
        intent_category: the category the shopper is after.
        query_type: ``category``, ``brand`` or ``generic`` (by default).
        phi_cat: one-hot float64 vector of the intent category.
        phi_emb: the query embedding (float32 tensor).
        tokens: the query's tokens (category words, type, filler tokens).
        specificity: how specific the query type is (brand 1.0, category 0.7, generic 0.4).
    """

    intent_category: str
    query_type: str
    phi_cat: np.ndarray
    phi_emb: torch.Tensor
    tokens: tuple[str, ...]
    specificity: float


class QueryBatch(Sequence[Query]):
    """``n`` queries as columns; indexing gives :class:`Query` views.

    Attributes:
        category_names, query_type_names: names for the codes below.
        intent: (n,) int64 intent-category codes.
        query_type: (n,) int64 query-type codes.
        phi_emb: (n, d) float32 query embeddings.
        token_ids: (n, L) int64 ids into ``vocabulary``, :data:`PAD` in empty slots.
        specificity: (n,) float64.
        vocabulary: the :class:`Vocabulary` the ids refer to.
    """

    def __init__(
        self,
        *,
        category_names: Sequence[str],
        query_type_names: Sequence[str],
        intent: np.ndarray,
        query_type: np.ndarray,
        phi_emb: np.ndarray,
        token_ids: np.ndarray,
        specificity: np.ndarray,
        vocabulary: Vocabulary,
    ) -> None:
        self.category_names = tuple(category_names)
        self.query_type_names = tuple(query_type_names)
        self.intent = intent
        self.query_type = query_type
        self.phi_emb = phi_emb
        self.token_ids = token_ids
        self.specificity = specificity
        self.vocabulary = vocabulary

    @classmethod
    def from_queries(cls, queries: Sequence[Query], config: SimulatorConfig) -> QueryBatch:
        """Packs :class:`Query` objects into columns (tokens outside the vocabulary become :data:`PAD`)."""
        vocab = build_vocabulary(config)
        cats, types = list(config.catalog.categories), list(config.queries.query_types)
        width = max((len(q.tokens) for q in queries), default=0)
        token_ids = np.full((len(queries), width), PAD, dtype=np.int64)
        for row, q in enumerate(queries):
            token_ids[row, : len(q.tokens)] = [vocab.index.get(t, PAD) for t in q.tokens]
        return cls(
            category_names=cats,
            query_type_names=types,
            intent=np.array([cats.index(q.intent_category) for q in queries], dtype=np.int64),
            query_type=np.array([types.index(q.query_type) for q in queries], dtype=np.int64),
            phi_emb=np.array([np.asarray(q.phi_emb) for q in queries], dtype=np.float32).reshape(
                len(queries), config.catalog.embedding_dim
            ),
            token_ids=token_ids,
            specificity=np.array([q.specificity for q in queries], dtype=np.float64),
            vocabulary=vocab,
        )

    def __len__(self) -> int:
        return self.intent.shape[0]

    @property
    def phi_cat(self) -> np.ndarray:
        """(n, n_categories) float64 one-hot intents."""
        return np.eye(len(self.category_names), dtype=np.float64)[self.intent]

    def __getitem__(self, index: int) -> Query:  # type: ignore[override]
        i = int(index)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"query index {index} out of range for a batch of {len(self)}")
        import torch  # on first use: vectorized work never needs it

        words = self.vocabulary.words
        return Query(
            intent_category=self.category_names[self.intent[i]],
            query_type=self.query_type_names[self.query_type[i]],
            phi_cat=np.eye(len(self.category_names), dtype=np.float64)[self.intent[i]],
            phi_emb=torch.from_numpy(self.phi_emb[i]),
            tokens=tuple(words[t] for t in self.token_ids[i] if t != PAD),
            specificity=float(self.specificity[i]),
        )

    def __repr__(self) -> str:
        return f"QueryBatch(n={len(self)}, query_types={list(self.query_type_names)})"


def _categorical_rows(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw per row of ``probs`` (rows on the simplex) by inverse CDF with a single uniform each."""
    cdf = np.cumsum(probs, axis=1)
    u = rng.random((probs.shape[0], 1))
    return np.minimum((cdf <= u).sum(axis=1), probs.shape[1] - 1).astype(np.int64)


def sample_queries(users: UserBatch, config: SimulatorConfig, rng: np.random.Generator) -> QueryBatch:
    """Draws one query per shopper.

    In order: intent ~ Categorical(theta_cat) per shopper; type ~ Categorical(query_type_mix);
    phi_emb = theta_emb + N(0, phi_noise_std^2 I); ``n_random_tokens`` filler tokens uniform over
    the ``token_vocab_size`` fillers. The same generator state gives bit-identical queries.

    Args:
        users: the shoppers issuing the queries.
        config: the simulator config.
        rng: the generator to draw from (advanced by the call).
    """
    qcfg, tables = config.queries, query_tables(config)
    n = len(users)
    intent = _categorical_rows(users.theta_cat, rng)
    qtype = rng.choice(len(qcfg.query_types), size=n, p=qcfg.query_type_mix).astype(np.int64, copy=False)
    noise = rng.standard_normal(users.theta_emb.shape, dtype=np.float32)
    # integers(low, high) draws integers(0, high - low) + low: the fillers' vocabulary ids directly.
    fillers = rng.integers(*tables.filler_ids, size=(n, tables.n_fillers))
    return assemble_queries(users.theta_emb, tables, intent, qtype, noise, fillers)


@dataclass(frozen=True, eq=False)
class QueryTables:
    """Per-config look-ups that turn drawn codes into queries (built once per config, then shared).

    Attributes:
        category_names, query_type_names: names for the codes.
        vocabulary: the config's :class:`Vocabulary`.
        leading_ids: (n_categories, n_query_types, width) int64: a query's tokens before the
            fillers, by intent and type (the intent's category words, :data:`PAD`-filled, then the
            type's name).
        specificity: (n_query_types,) float64 per-type specificities.
        noise_std: ``phi_noise_std`` as float32 (the embedding noise's scale).
        filler_ids: ``(low, high)``: filler tokens are the ids in ``[low, high)``.
        n_fillers: filler tokens per query (``n_random_tokens``).
    """

    category_names: tuple[str, ...]
    query_type_names: tuple[str, ...]
    vocabulary: Vocabulary
    leading_ids: np.ndarray
    specificity: np.ndarray
    noise_std: np.float32
    filler_ids: tuple[int, int]
    n_fillers: int


def query_tables(config: SimulatorConfig) -> QueryTables:
    """The :class:`QueryTables` of ``config`` (cached: equal settings share one object)."""
    qcfg = config.queries
    return _query_tables(
        tuple(config.catalog.categories),
        tuple(qcfg.query_types),
        qcfg.token_vocab_size,
        qcfg.n_random_tokens,
        tuple(qcfg.specificity[t] for t in qcfg.query_types),
        qcfg.phi_noise_std,
    )


@lru_cache(maxsize=32)
def _query_tables(
    categories: tuple[str, ...],
    query_types: tuple[str, ...],
    n_filler: int,
    n_fillers: int,
    specificity: tuple[float, ...],
    noise_std: float,
) -> QueryTables:
    vocab = _vocabulary(categories, query_types, n_filler)
    words = vocab.category_word_table
    leading = np.empty((len(categories), len(query_types), words.shape[1] + 1), dtype=np.int64)
    leading[:, :, :-1] = words[:, None, :]
    leading[:, :, -1] = vocab.type_token_ids
    specificities = np.array(specificity, dtype=np.float64)
    for table in (leading, specificities):
        table.setflags(write=False)
    return QueryTables(
        category_names=categories,
        query_type_names=query_types,
        vocabulary=vocab,
        leading_ids=leading,
        specificity=specificities,
        noise_std=np.float32(noise_std),
        filler_ids=(vocab.filler_offset, vocab.filler_offset + n_filler),
        n_fillers=n_fillers,
    )


def assemble_queries(
    theta_emb: np.ndarray,
    tables: QueryTables,
    intent: np.ndarray,
    query_type: np.ndarray,
    noise: np.ndarray,
    filler_ids: np.ndarray,
) -> QueryBatch:
    """The queries made of drawn parts: the shoppers' (n, d) float32 tastes, (n,) int64 intent and
    type codes, (n, d) float32 standard-normal embedding noise and (n, n_fillers) filler token ids
    (in ``tables.filler_ids``). Everything config-dependent is a look-up in ``tables``: this runs
    for every query a shopper types."""
    return QueryBatch(
        category_names=tables.category_names,
        query_type_names=tables.query_type_names,
        intent=intent,
        query_type=query_type,
        phi_emb=theta_emb + tables.noise_std * noise,
        token_ids=np.concatenate([tables.leading_ids[intent, query_type], filler_ids], axis=1),
        specificity=tables.specificity[query_type],
        vocabulary=tables.vocabulary,
    )


def sample_query(*, user: User, config: SimulatorConfig, rng: np.random.Generator) -> Query:
    """Draws one query for ``user`` (see :func:`sample_queries`)."""
    return sample_queries(UserBatch.from_users([user], config), config, rng)[0]
