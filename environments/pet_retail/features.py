"""What a retailer observes: product features, query/session features and responses, with their spaces.

* Products: a float32 row per product, ``price, cm2, discount, is_pl, bestseller, strategic``, the
  category one-hot and the embedding (:func:`product_features`); retrieval adds the query's
  ``relevance`` as a last column.
* Shopper: the query (type and intent one-hots, embedding phi_emb) and the visit so far (queries
  before this one, clicks, purchases). The latent preferences (segment, thetas) and satisfaction
  are never shown.
* Responses, per slate position: ``examined, click, purchase`` (0/1), ``revenue`` (price if
  bought), ``margin`` (CM2 if bought), ``strategic`` (a strategic product was bought).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from gymnasium import spaces

from recframe.environments.pet_retail.catalog import Catalog
from recframe.environments.pet_retail.config import SimulatorConfig

__all__ = [
    "BIG",
    "RESPONSE_FIELDS",
    "SESSION_FEATURES",
    "product_feature_names",
    "product_features",
    "response_space",
    "shopper_observation",
    "shopper_space",
]

SESSION_FEATURES = ("queries_before", "clicks_before", "purchases_before")
"""The visit-so-far features of the shopper observation's ``session`` entry."""

RESPONSE_FIELDS = ("examined", "click", "purchase", "revenue", "margin", "strategic")
"""The keys of one slate position's response observation."""

_BINARY = ("examined", "click", "purchase", "strategic")

BIG = float(np.finfo(np.float32).max)
"""The bound of unbounded float32 features (finite, as ``check_env`` asks of Box spaces)."""


def product_feature_names(config: SimulatorConfig, relevance: bool = False) -> tuple[str, ...]:
    """Column names of :func:`product_features` (plus ``relevance`` last when retrieved for a query)."""
    base = ("price", "cm2", "discount", "is_pl", "bestseller", "strategic")
    cats = tuple(f"category_{c}" for c in config.catalog.categories)
    emb = tuple(f"embedding_{i}" for i in range(config.catalog.embedding_dim))
    return base + cats + emb + (("relevance",) if relevance else ())


def product_features(catalog: Catalog) -> np.ndarray:
    """(n_products, n_features) float32 static features, read-only (see :func:`product_feature_names`)."""
    numeric = np.stack(
        [
            catalog.prices,
            catalog.cm2,
            catalog.discounts,
            catalog.is_pl,
            catalog.bestseller,
            catalog.strategic,
        ],
        axis=1,
    )
    onehot = np.eye(len(catalog.category_names))[catalog.categories]
    features = np.concatenate([numeric, onehot, catalog.embeddings], axis=1).astype(np.float32)
    features.setflags(write=False)
    return features


def shopper_space(config: SimulatorConfig) -> spaces.Dict:
    """The space of one shopper observation."""
    n_types, n_cats = len(config.queries.query_types), len(config.catalog.categories)
    dim = config.catalog.embedding_dim
    return spaces.Dict(
        query_type=spaces.Box(0.0, 1.0, (n_types,), np.float32),
        intent=spaces.Box(0.0, 1.0, (n_cats,), np.float32),
        query_embedding=spaces.Box(-BIG, BIG, (dim,), np.float32),
        session=spaces.Box(0.0, BIG, (len(SESSION_FEATURES),), np.float32),
    )


def shopper_observation(
    query_type: np.ndarray | int,
    intent: np.ndarray | int,
    phi_emb: np.ndarray,
    session: np.ndarray,
    config: SimulatorConfig,
) -> dict[str, np.ndarray]:
    """Shopper observations as new arrays (never views): of a batch, from (n,) codes, (n, d)
    embeddings and (n, 3) session counts, a dict of (n, ...) arrays; of one shopper, from integer
    codes and 1-D rows, a dict of 1-D arrays (the single environments' every step)."""
    return {
        "query_type": _one_hot(len(config.queries.query_types), query_type),
        "intent": _one_hot(len(config.catalog.categories), intent),
        "query_embedding": phi_emb.astype(np.float32),
        "session": session.astype(np.float32),
    }


def _one_hot(n: int, codes: np.ndarray | int) -> np.ndarray:
    """float32 one-hot rows of an array of codes, or the one-hot vector of one integer code (a
    copy of the shared identity's row: a row itself is a view)."""
    rows = _eye(n)[codes]
    return rows if isinstance(codes, np.ndarray) else rows.copy()


@lru_cache(maxsize=8)
def _eye(n: int) -> np.ndarray:
    """The float32 identity of size n (one-hot rows), shared."""
    return np.eye(n, dtype=np.float32)


@lru_cache(maxsize=1)
def response_space() -> spaces.Dict:
    """The space of one slate position's response (one shared object: do not modify it)."""
    items: dict[str, spaces.Space] = {name: spaces.Discrete(2) for name in _BINARY}
    items["revenue"] = spaces.Box(0.0, BIG, (), np.float32)
    items["margin"] = spaces.Box(-BIG, BIG, (), np.float32)
    return spaces.Dict({name: items[name] for name in RESPONSE_FIELDS})
