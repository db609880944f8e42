"""Exact top-k retrieval under Gaussian relevance noise, for a batch of queries at once.

Each search step ranks the whole catalog by ``relevance = w_sem * cosine + w_lex * log1p(overlap) +
N(0, noise_sigma^2)`` (see :mod:`.relevance`), optionally plus per-product boosts, and keeps the best
k. Drawing 10,000 normals per query would be most of a step's cost, yet only products near the top
can make it. :func:`noisy_top_k_of_score_rows` returns, for every row of a score matrix, the top k
with the same joint distribution of products and noisy scores as drawing every product's noise:

1. From the noiseless scores alone, a threshold per row: rank ``k + head_pad`` of an evenly strided
   sample of 256 scores, scaled up, or 5 sigma below rank 2k if that is higher (a top that is not
   crowded, as under strong boosts). The *head* is the products scoring at least that (widened to
   the exact k best if the sample aimed too high).
2. The head's noise is drawn (N(0, 1) from the row's generator). Let tau be the k-th best noisy
   score of the head: no product scoring below tau can make the top k.
3. Every other product scores below the threshold, so it can only reach tau if its noise z >= t =
   (tau - threshold) / sigma, independently with probability Q(t). These events are drawn as a
   Bernoulli(Q(t)) process over the row's positions (geometric gaps between successes, one uniform
   each; successes on head products are ignored, their noise is already drawn), and each success
   gets z from N(0, 1) truncated to [t, inf) by inversion, ``-ndtri(v * Q(t))`` (torch's ndtri).
4. The top k of everything drawn is the top k of the catalog.

Any threshold that depends only on the noiseless scores keeps this exact. Per query it draws about
``k + head_pad`` normals and about a hundred uniforms instead of one normal per product (on the
default world: a head of ~500, ~55 late draws), and only the generator calls and a partition run
row by row; the rest works on the whole batch at once. Each row consumes only
its own generator, in an order fixed by its own scores, and every array operation is elementwise
or row by row, so a row's result is bit-identical alone or in any batch.

Scores come from one float32 matrix product, ``vectors @ matrix`` (:attr:`CategoryIndex.matrix`:
the unit embeddings over the category one-hots, so the per-category lexical shift rides along).
:func:`noisy_top_k_rows` checks once per shape that BLAS computes each row of a batched product
exactly as it computes that row alone, and falls back to one product per row where it does not.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch

from recframe.environments.pet_retail.catalog import Catalog

__all__ = [
    "CategoryIndex",
    "noisy_top_k_of_score_rows",
    "noisy_top_k_of_scores",
    "noisy_top_k_rows",
]

_MARGIN = 1e-9
"""Lowers each truncation point a hair, so that rounding can only widen the set of products drawn."""

_SAMPLE = 256
"""Products in the strided sample that sets the head threshold (sorting it costs about a us per row)."""

_BUDGET_SLACK = (6.0, 8.0)
"""A row draws mean + 6 sd + 8 gaps for its late successes (about Poisson): rarely short, then it draws more."""

_HEAD_SPREAD = 5.0
"""The head reaches at least this many sigma below the 2k-th best score (estimated from the sample)."""

HEAD_PAD = 450
"""Default head: about ``k + HEAD_PAD`` products get their noise up front (tuned on the default world)."""


def _upper_tail(t: float) -> float:
    """Q(t) = P(Z >= t) for a standard normal Z."""
    return 0.5 * math.erfc(t / math.sqrt(2.0))


def _ndtri(p: np.ndarray) -> np.ndarray:
    """The standard normal quantile function, elementwise (float64; torch's, computed one element at a time)."""
    return torch.special.ndtri(torch.from_numpy(np.ascontiguousarray(p, dtype=np.float64))).numpy()


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


def _head_threshold(scores: np.ndarray, k: int, head_pad: int, spread: float) -> np.ndarray:
    """Per row, the head threshold: the score about ``k + head_pad`` products reach, but no lower
    than ``spread`` below the score about 2k products reach (where the top is not crowded, as
    under strong boosts, fewer products then make the head).

    Ranks are read off an evenly strided sample of the scores (rank 2k at least three sample
    points deep, so that the head rarely falls short of k). Only a function of the noiseless
    scores, what keeps the sampler exact. Returns (n,) float32.
    """
    m = scores.shape[1]
    stride = max(1, m // _SAMPLE)
    sample = np.sort(scores[:, ::stride], axis=1)
    size = sample.shape[1]
    crowded, spread_out = (
        sample[:, size - min(size, -(-rank // stride))] for rank in (k + head_pad, 2 * k + 2 * stride)
    )
    return np.maximum(crowded, spread_out - np.float32(spread))


def noisy_top_k_of_score_rows(
    scores: np.ndarray, k: int, sigma: float, rngs: list[np.random.Generator], head_pad: int = HEAD_PAD
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best positions of each row by ``scores + sigma * z`` (z iid N(0, 1)), best first.

    Args:
        scores: (n, m) float32 noiseless scores, C-contiguous.
        k: how many to keep per row (1 <= k <= m).
        sigma: the noise scale (>= 0).
        rngs: one generator per row; row r's noise comes from ``rngs[r]`` alone.
        head_pad: the head's rank beyond k (see the module docstring). The default balances the
            head's normals against the late draws on the default world; any value gives the same
            distribution.

    Returns:
        ``(positions, noisy)``: (n, k) int64 positions and (n, k) float64 noisy scores
        (``scores[r, positions[r]] + sigma * z``), best first.
    """
    n, m = scores.shape
    if len(rngs) != n:
        raise ValueError(f"need one generator per row ({n}), got {len(rngs)}")
    if not 1 <= k <= m:
        raise ValueError(f"k must be between 1 and the number of products {m}, got {k}")
    if not sigma > 0.0:
        if sigma == 0.0:
            order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
            return order, np.take_along_axis(scores, order, axis=1).astype(np.float64)
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    flat_scores = scores.reshape(-1)
    threshold = _head_threshold(scores, k, head_pad, _HEAD_SPREAD * sigma)
    head, starts = _at_least(scores, threshold)
    short = starts[1:] - starts[:-1] < k
    if (head.size < k) if n == 1 else short.any():  # a sample that aimed too high: the exact k-th best
        threshold[short] = np.partition(scores[short], m - k, axis=1)[:, m - k]
        head, starts = _at_least(scores, threshold)

    # The head's noise; then row by row tau (the k-th best noisy score of the head, below which
    # nothing can make the top k), the probability q = Q(t) that another product reaches it, and
    # the uniforms of the late draws.
    bounds = starts.tolist()
    z = np.empty(head.size)
    for r, rng in enumerate(rngs):
        rng.standard_normal(out=z[bounds[r] : bounds[r + 1]])
    head_noisy = flat_scores[head] + sigma * z
    late = _LateDraws(n, m)
    for r, (rng, cut) in enumerate(zip(rngs, threshold.tolist(), strict=True)):
        a, b = bounds[r], bounds[r + 1]
        ranked = head_noisy[a:b].copy()
        ranked.partition(b - a - k)
        tau = float(ranked[b - a - k])
        late.draw(r, tau, _upper_tail((tau - cut) / sigma - _MARGIN), rng)
    late_flat, late_noisy = late.successes(scores, sigma, threshold)

    # Candidates: whatever reaches tau (the head's k best at least); the k best of them, per row.
    keep = head_noisy >= (late.tau if n == 1 else late.tau[np.repeat(np.arange(n), starts[1:] - starts[:-1])])
    return _best_per_row(
        np.concatenate([head[keep], late_flat]), np.concatenate([head_noisy[keep], late_noisy]), n, m, k
    )


def _best_per_row(
    flat: np.ndarray, noisy: np.ndarray, n: int, m: int, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` highest ``noisy`` of each row (flat indices ``row * m + position``), best first.

    Ties go to the row's earlier entry in the given order (rows padded with -inf, a stable sort).
    """
    if n == 1:
        best = np.argsort(-noisy, kind="stable")[:k]
        return flat[best][None], noisy[best][None]
    rows = flat // m
    order = np.argsort(rows, kind="stable")  # rows together, each in the given order
    flat, noisy, rows = flat[order], noisy[order], rows[order]
    row_starts = np.searchsorted(rows, np.arange(n))
    columns = np.arange(flat.size) - row_starts[rows]
    padded = np.full((n, int(columns.max()) + 1), -np.inf)
    padded[rows, columns] = noisy
    best = np.argsort(-padded, axis=1, kind="stable")[:, :k]
    chosen = flat[row_starts[:, None] + best]
    return chosen - np.arange(n)[:, None] * m, np.take_along_axis(padded, best, axis=1)


def _at_least(scores: np.ndarray, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The flat indices of the entries reaching their row's threshold, and the (n + 1,) row boundaries."""
    n, m = scores.shape
    flat = np.flatnonzero(scores >= thresholds[:, None])
    return flat, np.array([0, flat.size]) if n == 1 else np.searchsorted(flat, np.arange(n + 1) * m)


class _LateDraws:
    """The products outside the head that reach tau: a Bernoulli(q[r]) process over each row's
    positions, with N(0, 1) noise truncated to [t, inf) where Q(t) = q[r].

    :meth:`draw` takes row r's ``2 * budget`` uniforms in one call, ``budget`` well above the
    expected successes m * q: as many geometric gaps (the success positions are their running
    sums) and as many uniforms for the successes' noise. :meth:`successes` then works on all rows
    at once; a row whose gaps end before position m - 1 draws further chunks (rare).
    """

    def __init__(self, n: int, m: int) -> None:
        self.m = m
        self.tau = np.empty(n)
        self.q = np.empty(n)
        self.budget = np.empty(n, dtype=np.int64)
        self.rngs: list[np.random.Generator] = []
        self.uniforms: list[np.ndarray] = []

    def draw(self, r: int, tau: float, q: float, rng: np.random.Generator) -> None:
        mean = self.m * q
        sds, extra = _BUDGET_SLACK
        budget = max(1, math.ceil(mean + sds * math.sqrt(mean) + extra))
        self.tau[r], self.q[r], self.budget[r] = tau, q, budget
        self.rngs.append(rng)
        self.uniforms.append(rng.random(2 * budget))

    def successes(
        self, scores: np.ndarray, sigma: float, threshold: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The successes below the head threshold whose noisy score reaches tau: flat indices, noisy scores."""
        m, budget = self.m, self.budget
        if budget.size == 1:  # one row: the same numbers with fewer numpy calls
            flat, z = self._row(0, -1.0, self.uniforms[0])
            late_scores = scores.reshape(-1)[flat]
            noisy = late_scores + sigma * z
            keep = (late_scores < threshold[0]) & (noisy >= self.tau[0])
            return flat[keep], noisy[keep]
        rows = np.repeat(np.arange(budget.size), budget)
        starts = np.concatenate([[0], np.cumsum(budget)])
        uniforms = np.concatenate(self.uniforms)
        first = starts[rows] + np.arange(rows.size)  # a row's gaps lie before its z uniforms
        q = self.q[rows]
        total = np.cumsum(_gaps(uniforms[first], _log_fail(self.q)[rows], m))
        # Each row's running sums (exact integers) minus one: 0-based positions.
        position = total - np.repeat(np.concatenate([[0.0], total[starts[1:-1] - 1]]), budget) - 1.0
        hit = position < m
        flat = rows[hit] * m + position[hit].astype(np.int64)
        z = _truncated_by_inversion(uniforms[first + budget[rows]][hit], q[hit])
        unfinished = np.flatnonzero(position[starts[1:] - 1] < m - 1).tolist()
        if unfinished:
            extra = [self._row(r, float(position[starts[r + 1] - 1])) for r in unfinished]
            flat = np.concatenate([flat, *(e[0] for e in extra)])
            z = np.concatenate([z, *(e[1] for e in extra)])
            order = np.argsort(flat // m, kind="stable")
            flat, z = flat[order], z[order]
        rows = flat // m
        late_scores = scores.reshape(-1)[flat]
        noisy = late_scores + sigma * z
        keep = (late_scores < threshold[rows]) & (noisy >= self.tau[rows])  # head products have theirs
        return flat[keep], noisy[keep]

    def _row(
        self, r: int, reached: float, uniforms: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Row r's successes after position ``reached``: from ``uniforms`` (gaps, then z's) if given,
        then from further chunks of the same size while the gaps end before position m - 1."""
        m, chunk, q = self.m, int(self.budget[r]), self.q[r : r + 1]
        log_fail = _log_fail(q)
        positions, zs = [], []
        while True:
            if uniforms is None:
                uniforms = self.rngs[r].random(2 * chunk)
            position = reached + np.cumsum(_gaps(uniforms[:chunk], log_fail, m))
            hit = position < m
            positions.append(position[hit].astype(np.int64))
            zs.append(_truncated_by_inversion(uniforms[chunk:][hit], q))
            reached, uniforms = float(position[-1]), None
            if reached >= m - 1:
                break
        flat, z = (positions[0], zs[0]) if len(zs) == 1 else (np.concatenate(positions), np.concatenate(zs))
        return flat + r * m if r else flat, z


def _gaps(u: np.ndarray, log_fail: np.ndarray, m: int) -> np.ndarray:
    """Geometric gaps between Bernoulli(q) successes, as float64 integers, from uniforms u in [0, 1).

    G = floor(log(v) / log(1 - q)) + 1 >= 1 for v = 1 - u in (0, 1], with ``log_fail`` = log(1 - q)
    (see :func:`_log_fail`). A gap past m ends a row's successes; capping gaps at m + 1 keeps every
    running sum a small exact integer.
    """
    return np.minimum(np.floor(np.log1p(-u) / log_fail) + 1.0, m + 1.0)


def _log_fail(q: np.ndarray) -> np.ndarray:
    """log(1 - q), kept at most -1e-300 so that the gaps' division never overflows (q below 1e-300
    then has no success in any catalog, as it should to within 1e-290)."""
    return np.minimum(np.log1p(-q), -1e-300)


def _truncated_by_inversion(u: np.ndarray, q: np.ndarray) -> np.ndarray:
    """N(0, 1) conditioned on Z >= t, where Q(t) = q, from uniforms u in [0, 1): -ndtri((1 - u) * q)."""
    return -_ndtri(np.maximum((1.0 - u) * q, np.finfo(np.float64).tiny))


@lru_cache(maxsize=16)
def _batched_rows_match(d: int, m: int, dtype: np.dtype) -> bool:
    """Whether ``(n, d) @ (d, m)`` gives each row exactly as ``(1, d) @ (d, m)`` does (BLAS-dependent)."""
    rng = np.random.default_rng(0)
    matrix = rng.standard_normal((d, m)).astype(dtype)
    vectors = rng.standard_normal((67, d)).astype(dtype)
    batch = vectors @ matrix
    cuts = (0, 1, 2, 3, 5, 8, 13, 21, 34, 67)
    return all(np.array_equal(vectors[i:j] @ matrix, batch[i:j]) for i, j in zip(cuts, cuts[1:])) and all(
        np.array_equal(vectors[i : i + 1] @ matrix, batch[i : i + 1]) for i in range(0, 67, 11)
    )


def noisy_top_k_rows(
    matrix: np.ndarray, vectors: np.ndarray, k: int, sigma: float, rngs: list[np.random.Generator]
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`noisy_top_k_of_score_rows` of the scores ``vectors @ matrix``.

    Args:
        matrix: (d, m) float32, C-contiguous (e.g. :attr:`CategoryIndex.matrix`).
        vectors: (n, d) float32 query rows.
        k, sigma, rngs: as :func:`noisy_top_k_of_score_rows`.

    Returns:
        ``(positions, noisy)``, each (n, k), best first; row i is the same alone or in a batch.
    """
    vectors = np.asarray(vectors, dtype=matrix.dtype)
    if len(vectors) == 1 or _batched_rows_match(*matrix.shape, matrix.dtype):
        scores = vectors @ matrix
    else:  # pragma: no cover - a BLAS whose batched rows differ from single rows
        scores = np.concatenate([vectors[i : i + 1] @ matrix for i in range(len(vectors))])
    return noisy_top_k_of_score_rows(scores, k, sigma, rngs)


def noisy_top_k_of_scores(
    scores: np.ndarray, k: int, sigma: float, rng: np.random.Generator, **pads: int
) -> tuple[np.ndarray, np.ndarray]:
    """One row of :func:`noisy_top_k_of_score_rows`: ``(positions, noisy)``, each (k,), best first."""
    row = np.ascontiguousarray(scores, dtype=np.float32)[None]
    positions, noisy = noisy_top_k_of_score_rows(row, k, sigma, [rng], **pads)
    return positions[0], noisy[0]
