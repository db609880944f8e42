"""Base relevance of products to queries, and top-n retrieval by relevance.

relevance = w_sem * cosine(phi_emb, embedding) + w_lex * log1p(token overlap) + N(0, noise_sigma^2),
as in the textbook simulator, where a product's tokens are its category's words (``dog_food`` ->
``dog``, ``food``) and the overlap counts distinct shared tokens. Since a product's tokens depend
only on its category, the overlap is computed once per (query, category) pair and then gathered, so
scoring a query against the whole catalog is one float32 matrix-vector product, a look-up and the
noise draw. Queries in a batch get one matrix-vector product each (a loop over queries, never over
products): that keeps batched scores bit-identical to one-at-a-time scores, which a single
matrix-matrix product would not, and on small batches it is no slower.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recframe.environments.pet_retail.catalog import Catalog
from recframe.environments.pet_retail.config import RelevanceConfig, SimulatorConfig
from recframe.environments.pet_retail.queries import PAD, Query, QueryBatch

__all__ = ["category_overlap", "relevance_scores", "retrieve"]


def category_overlap(queries: QueryBatch) -> np.ndarray:
    """(n_queries, n_categories) int64: distinct tokens each query shares with each category's products."""
    ids = np.sort(queries.token_ids, axis=1)
    distinct = ids != PAD
    distinct[:, 1:] &= ids[:, 1:] != ids[:, :-1]
    matrix = queries.vocabulary.category_token_matrix
    hits = matrix[np.where(distinct, ids, 0)] & distinct[..., None]
    return hits.sum(axis=1, dtype=np.int64)


def _unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows of ``x`` scaled to unit length (float32; each row's norm is reduced on its own)."""
    x = x.astype(np.float32)
    norms = np.sqrt(np.square(x, dtype=np.float64).sum(axis=1))
    return (x / np.maximum(norms, np.finfo(np.float32).tiny)[:, None]).astype(np.float32)


def _cosines(phi: np.ndarray, unit: np.ndarray, products: np.ndarray | None = None) -> np.ndarray:
    """(n, m) float32 cosines of unit query rows ``phi`` with unit product embeddings ``unit`` (m, d).

    With ``products`` (n, m), query i meets the rows ``products[i]``. Each query row is one
    matrix-vector product of its own, so scoring queries one at a time or in a batch runs the very
    same operations and gives bit-identical results (one matrix-matrix product would not promise that).
    """
    out = np.empty((phi.shape[0], unit.shape[0] if products is None else products.shape[1]), dtype=np.float32)
    for i in range(phi.shape[0]):
        np.matmul(unit if products is None else unit[products[i]], phi[i], out=out[i])
    return out


def _as_batch(queries: Query | QueryBatch, config: SimulatorConfig) -> QueryBatch:
    return QueryBatch.from_queries([queries], config) if isinstance(queries, Query) else queries


def relevance_scores(
    queries: Query | QueryBatch,
    catalog: Catalog,
    config: SimulatorConfig,
    rng: np.random.Generator | Sequence[np.random.Generator],
    products: np.ndarray | None = None,
) -> np.ndarray:
    """Noisy base relevance of products to queries.

    Args:
        queries: one query or a batch of ``n``.
        catalog: the catalog.
        config: the simulator config (its ``relevance`` section sets the weights and noise).
        rng: draws the N(0, noise_sigma^2) noise, one value per score; or one generator per query
            (each draws its query's row, as if that query were scored alone).
        products: which products to score: None for the whole catalog, a 1-D array of product ids
            (the same ``m`` for every query) or an (n, m) array (``m`` per query).

    Returns:
        (n, m) float64 scores; (m,) for a single :class:`Query`. Scoring queries one at a time or
        in a batch gives bit-identical scores; scoring a subset agrees with the whole catalog to
        float32 precision (the cosines are float32).
    """
    batch = _as_batch(queries, config)
    rel: RelevanceConfig = config.relevance
    phi = _unit_rows(batch.phi_emb)
    unit = catalog.unit_embeddings
    # A product's lexical term depends only on its category: one value per (query, category).
    lexical = rel.w_lex * np.log1p(category_overlap(batch).astype(np.float64))
    if products is None:
        semantic = _cosines(phi, unit)
        lexical = lexical[:, catalog.categories]
    else:
        products = np.asarray(products, dtype=np.int64)
        if products.ndim == 1:
            semantic = _cosines(phi, unit[products])
            lexical = lexical[:, catalog.categories[products]]
        elif products.ndim == 2 and products.shape[0] == len(batch):
            semantic = _cosines(phi, unit, products)
            lexical = np.take_along_axis(lexical, catalog.categories[products], axis=1)
        else:
            raise ValueError(
                f"products must be None, 1-D or shaped (n_queries={len(batch)}, m), got shape {products.shape}"
            )
    scores = np.multiply(semantic, rel.w_sem, dtype=np.float64)
    scores += lexical
    if isinstance(rng, np.random.Generator):
        scores += rng.normal(0.0, rel.noise_sigma, size=scores.shape)
    else:
        _check_generators(rng, len(batch))
        for row, row_rng in zip(scores, rng, strict=True):
            row += row_rng.normal(0.0, rel.noise_sigma, size=row.shape)
    return scores[0] if isinstance(queries, Query) else scores


def _check_generators(rngs: Sequence[np.random.Generator], n_queries: int) -> None:
    if len(rngs) != n_queries or not all(isinstance(g, np.random.Generator) for g in rngs):
        raise TypeError(
            f"rng must be a numpy Generator or one Generator per query ({n_queries}), got {rngs!r}"
        )


def retrieve(
    queries: Query | QueryBatch,
    catalog: Catalog,
    config: SimulatorConfig,
    rng: np.random.Generator | Sequence[np.random.Generator],
    n_candidates: int,
    products: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``n_candidates`` most relevant products per query, best first.

    Scores with :func:`relevance_scores`, keeps the top ``n_candidates`` with ``np.argpartition``
    (linear in the number of products) and sorts only those.

    Returns:
        ``(product_ids, scores)``, each (n, c) with c = min(n_candidates, m); (c,) for a single Query.
    """
    if n_candidates < 1:
        raise ValueError(f"n_candidates must be >= 1, got {n_candidates!r}")
    scores = np.atleast_2d(relevance_scores(queries, catalog, config, rng, products))
    m = scores.shape[1]
    c = min(n_candidates, m)
    top = (
        np.argpartition(scores, m - c, axis=1)[:, m - c :]
        if c < m
        else np.broadcast_to(np.arange(m), scores.shape)
    )
    top_scores = np.take_along_axis(scores, top, axis=1)
    order = np.argsort(-top_scores, axis=1, kind="stable")
    top = np.take_along_axis(top, order, axis=1)
    top_scores = np.take_along_axis(top_scores, order, axis=1)
    if products is None:
        ids = top
    else:
        products = np.asarray(products, dtype=np.int64)
        ids = products[top] if products.ndim == 1 else np.take_along_axis(products, top, axis=1)
    if isinstance(queries, Query):
        return ids[0], top_scores[0]
    return ids, top_scores
