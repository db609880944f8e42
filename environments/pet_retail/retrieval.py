"""Exact top-k retrieval under Gaussian relevance noise, drawing the noise only where it can matter.

Each search step ranks the whole catalog by ``relevance = w_sem * cosine + w_lex * log1p(overlap) +
N(0, noise_sigma^2)`` (see :mod:`.relevance`), optionally plus per-product boosts, and keeps the best
k. Drawing 10,000 normals per query would be most of a step's cost, yet only products near the top
can make it. :func:`noisy_top_k_of_scores` returns the top k with the same joint distribution of
products and noisy scores as drawing every product's noise:

1. Pick a threshold ``thr`` from the noiseless scores alone (the ``head_size``-th best score of an
   evenly strided sample, scaled up; see :func:`head_threshold`) and draw the noise of the head,
   the products scoring at least ``thr`` (about ``head_size`` of them). Let tau be the k-th best
   noisy score of the head (the head is widened to the exact k best if it has fewer than k).
2. Every other product (the rest) scores below ``thr``, so it can only reach tau if its noise z >=
   t* = (tau - thr) / sigma. These events are independent with probability Q(t*) each, so the
   rest products are exchangeable with respect to them: draw how many have them (Binomial),
   which ones (uniformly without replacement) and their z from N(0, 1) truncated to [t*, inf). The others cannot reach tau; their noise is never
   needed.
3. The top k of the head and the drawn products is the top k of the catalog.

Any rule for the head that depends only on the noiseless scores keeps this exact; the strided
sample just makes it cheap (one pass over the catalog for the comparison, none for a partition).
The random numbers consumed depend on the draws themselves, but only on the shopper's own
generator, so results stay bit-identical between single and batched simulation.

Scores come from one float32 matrix-vector product per query (:attr:`CategoryIndex.matrix`: the
unit embeddings and category one-hots, so the per-category lexical shift rides along), in the
``(d,) @ (d, m)`` orientation, which BLAS streams about three times faster than ``(m, d) @ (d,)``.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from recframe.environments.pet_retail.catalog import Catalog

__all__ = [
    "CategoryIndex",
    "head_threshold",
    "noisy_top_k",
    "noisy_top_k_of_scores",
    "noisy_top_k_rows",
    "truncated_normal_above",
    "uniform_subset",
]

_MARGIN = 1e-9
"""Lowers each threshold a hair, so that rounding can only widen the set of products drawn."""

_ROBERT_THRESHOLD = 0.45
"""Below this truncation point plain rejection from N(0, 1) accepts at least about a third of the draws."""

_SAMPLE = 256
"""Products in the strided sample that sets the head threshold (its partition costs a few us)."""


def _upper_tail(t: float) -> float:
    """Q(t) = P(Z >= t) for a standard normal Z."""
    return 0.5 * math.erfc(t / math.sqrt(2.0))


def truncated_normal_above(t: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` draws of N(0, 1) conditioned on being >= ``t``, by rejection.

    Plain rejection from N(0, 1) for small ``t``; for larger ``t`` Robert's (1995) exponential
    proposal with rate (t + sqrt(t^2 + 4)) / 2, which accepts over 75% of its proposals.
    """
    accepted: list[np.ndarray] = []
    missing = n
    if t < _ROBERT_THRESHOLD:
        p = _upper_tail(t)
        while missing > 0:
            z = rng.standard_normal(int(missing / p) + 8)
            accepted.append(z[z >= t][:missing])
            missing -= accepted[-1].size
    else:
        alpha = 0.5 * (t + math.sqrt(t * t + 4.0))
        while missing > 0:
            size = int(missing / 0.75) + 8
            x = t + rng.exponential(1.0 / alpha, size)
            keep = rng.random(size) <= np.exp(-0.5 * (x - alpha) ** 2)
            accepted.append(x[keep][:missing])
            missing -= accepted[-1].size
    return np.concatenate(accepted) if accepted else np.empty(0)


def uniform_subset(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random ``size``-subset of ``range(n)``, sorted.

    For the few late draws of a query (``size`` far below sqrt(n)): ``size`` uniform integers,
    redrawn until distinct. Rejection keeps the result uniform over subsets, and it costs a draw
    and a sort where ``rng.choice(n, size, replace=False)`` would allocate and shuffle all ``n``
    (used when collisions would be frequent).
    """
    if size * size > n:
        return np.sort(rng.choice(n, size=size, replace=False))
    while True:
        subset = np.sort(rng.integers(0, n, size))
        if not (subset[1:] == subset[:-1]).any():
            return subset


class CategoryIndex:
    """The catalog's products grouped by category: position p of the grouped order is product ``ids[p]``.

    Attributes:
        ids: (m,) product ids in grouped order (by category, then id).
        bounds: the n_categories + 1 boundaries of the categories' position ranges.
        categories: (m,) category codes in grouped order.
        unit_embeddings: (m, d) float32 unit embeddings in grouped order.
        matrix: (d + n_categories, m) float32, C-contiguous: the unit embeddings over the category
            one-hots, so that ``[w_sem * phi_unit, lexical shifts] @ matrix`` is a query's
            noiseless relevance to every product.
    """

    def __init__(self, catalog: Catalog) -> None:
        self.ids = np.argsort(catalog.categories, kind="stable")
        counts = np.bincount(catalog.categories, minlength=len(catalog.category_names))
        self.bounds: list[int] = np.concatenate([[0], np.cumsum(counts)]).tolist()
        self.categories = catalog.categories[self.ids]
        self.unit_embeddings = np.ascontiguousarray(catalog.unit_embeddings[self.ids])
        onehot = np.arange(len(counts))[:, None] == self.categories[None, :]
        self.matrix = np.concatenate([self.unit_embeddings.T, onehot], axis=0, dtype=np.float32)

    @staticmethod
    @lru_cache(maxsize=4)
    def of(catalog: Catalog) -> CategoryIndex:
        """The index of ``catalog`` (built once per catalog object and shared)."""
        return CategoryIndex(catalog)


def head_threshold(scores: np.ndarray, head_size: int) -> float:
    """A score about ``head_size`` products reach: that rank in an evenly strided sample, scaled.

    Only a function of the noiseless scores (what keeps :func:`noisy_top_k_of_scores` exact); the
    head it gives varies around ``head_size`` from query to query.
    """
    stride = max(1, scores.size // _SAMPLE)
    sample = scores[::stride]
    rank = min(sample.size, max(1, -(-head_size // stride)))  # ceil(head_size / stride)
    return float(np.partition(sample, sample.size - rank)[sample.size - rank])


def noisy_top_k_of_scores(
    scores: np.ndarray, k: int, sigma: float, rng: np.random.Generator, pad: int = 1500
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``k`` best positions by ``scores + sigma * z`` (z iid N(0, 1)), best first.

    Args:
        scores: (m,) noiseless scores (any float dtype; compared and ranked as float64).
        k: how many to keep (1 <= k <= m).
        sigma: the noise scale (>= 0).
        rng: the generator of the noise (see the module docstring for what it draws).
        pad: the head holds about ``k + pad`` products whose noise is drawn up front. The default
            catalog's top scores are dense next to sigma (a head of 850 still leaves about 10 late
            draws per query for k = 50); measured per query, 1,500 beat 400..1,000 (late draws
            cost a dozen numpy calls) and tied with 2,000 (more normals).

    Returns:
        ``(positions, z, noisy)``: the (k,) positions, best first, their standard-normal noise and
        their noisy scores (float64 ``scores[positions] + sigma * z``).
    """
    m = scores.size
    if sigma == 0.0:
        return _best(np.arange(m), np.zeros(m), scores.astype(np.float64), k)
    thr = head_threshold(scores, k + pad)
    head = np.flatnonzero(scores >= thr)
    if head.size < k:  # a sample that aimed too high: fall back to the exact k-th best score
        thr = float(np.partition(scores, m - k)[m - k])
        head = np.flatnonzero(scores >= thr)
    z = rng.standard_normal(head.size)
    noisy = scores[head] + sigma * z
    # Only the head's k best can make the top k: the rest of the head is dropped here.
    top = np.argpartition(noisy, head.size - k)[head.size - k :]
    positions, z, noisy, n_rest = head[top], z[top], noisy[top], m - head.size
    t_star = (float(noisy.min()) - thr) / sigma - _MARGIN
    count = int(rng.binomial(n_rest, _upper_tail(t_star)))
    if count:
        hits = uniform_subset(n_rest, count, rng)  # among the rest, in position order
        # The j-th position not in the (sorted) head is j plus the head positions at or before it.
        late = hits + np.searchsorted(head - np.arange(head.size), hits, side="right")
        late_z = truncated_normal_above(t_star, count, rng)
        positions, z = np.concatenate([positions, late]), np.concatenate([z, late_z])
        noisy = np.concatenate([noisy, scores[late] + sigma * late_z])
    return _best(positions, z, noisy, k)


def noisy_top_k(
    within: np.ndarray,
    shifts: np.ndarray,
    index: CategoryIndex,
    k: int,
    sigma: float,
    rng: np.random.Generator,
    pad: int = 1500,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`noisy_top_k_of_scores` of ``within + shifts[category]`` (scores given per category
    part), returning ``(positions, z)``.

    Args:
        within: (m,) noiseless scores in grouped order, without the per-category shift.
        shifts: (n_categories,) the per-category shift (the lexical term).
        index: the grouping (only its ``categories`` are read).
    """
    return noisy_top_k_of_scores(within + shifts[index.categories], k, sigma, rng, pad)[:2]


def noisy_top_k_rows(
    matrix: np.ndarray, vectors: np.ndarray, k: int, sigma: float, rngs: list[np.random.Generator]
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best positions of each row of ``vectors @ matrix`` under N(0, sigma^2) noise, best first.

    Args:
        matrix: (d, m) float32, C-contiguous (e.g. :attr:`CategoryIndex.matrix`).
        vectors: (n, d) float32 query rows.
        k: how many positions per row (1 <= k <= m).
        sigma: the noise scale.
        rngs: one generator per row (row i's noise comes from ``rngs[i]`` alone).

    Returns:
        ``(positions, noisy)``: (n, k) int64 positions and (n, k) float64 noisy scores, best first.
        Row i is the same whether computed alone or in a batch.
    """
    positions = np.empty((len(rngs), k), dtype=np.int64)
    noisy = np.empty((len(rngs), k))
    scores = np.empty(matrix.shape[1], dtype=np.float32)
    for row, rng in enumerate(rngs):
        np.matmul(vectors[row], matrix, out=scores)
        positions[row], _, noisy[row] = noisy_top_k_of_scores(scores, k, sigma, rng)
    return positions, noisy


def _best(
    positions: np.ndarray, z: np.ndarray, noisy: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``k`` entries with the highest ``noisy`` values, best first (positions, z, noisy)."""
    if k < noisy.size:
        top = np.argpartition(noisy, noisy.size - k)[noisy.size - k :]
        positions, z, noisy = positions[top], z[top], noisy[top]
    order = np.argsort(-noisy, kind="stable")
    return positions[order], z[order], noisy[order]
