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
3. Every other product (the rest) scores below the threshold, so it can only reach tau if its
   noise z >= t = (tau - threshold) / sigma. These events are independent with probability Q(t)
   each, so the rest products are exchangeable with respect to them: draw how many have them
   (Binomial), which ones (uniformly without replacement) and their z from N(0, 1) truncated to
   [t, inf). The others cannot reach tau; their noise is never needed.
4. The top k of the head and the drawn products is the top k of the catalog.

Any threshold that depends only on the noiseless scores keeps this exact. With the default head
(about 1,500 products on the default world) a query draws its head's normals, one Binomial and,
in about 29% of the queries, about two late draws, instead of one normal per product. The head
pad trades normals (cheap in a batch) against late draws (a dozen numpy calls each time, which is
what a single query pays for; a head of ~500 with about 55 late draws per query, drawn for the
whole batch at once, was 20% faster batched but made the one-shopper environments 15-20% slower).
Thresholds, the head, the late draws' sorting, positions and acceptance tests, and the final top
k run on the whole batch at once; only the generator calls and a partition run row by row (a
single query takes a scalar path with the same arithmetic). Each row consumes only its own
generator, in an order fixed by its own scores, and every array operation is elementwise or row
by row, so a row's result is bit-identical alone or in any batch.

Scores come from one float32 matrix product, ``vectors @ matrix`` (:attr:`CategoryIndex.matrix`:
the unit embeddings over the category one-hots, so the per-category lexical shift rides along).
:func:`noisy_top_k_rows` checks once per shape that BLAS computes each row of a batched product
exactly as it computes that row alone, and falls back to one product per row where it does not.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from recframe.environments.pet_retail.catalog import Catalog

__all__ = [
    "CategoryIndex",
    "noisy_top_k_of_score_rows",
    "noisy_top_k_of_scores",
    "noisy_top_k_rows",
    "truncated_normal_above",
    "uniform_subset",
]

_MARGIN = 1e-9
"""Lowers each truncation point a hair, so that rounding can only widen the set of products drawn."""

_ROBERT_THRESHOLD = 0.45
"""Below this truncation point plain rejection from N(0, 1) accepts at least about a third of the draws."""

_SAMPLE = 256
"""Products in the strided sample that sets the head threshold (sorting it costs about a us per row)."""

_HEAD_SPREAD = 5.0
"""The head reaches at least this many sigma below the 2k-th best score (estimated from the sample)."""

HEAD_PAD = 1450
"""Default head: about ``k + HEAD_PAD`` products get their noise up front (tuned on the default world)."""


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
    if len(accepted) == 1:  # the usual case: no copy
        return accepted[0]
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
        subset = rng.integers(0, n, size)
        subset.sort()
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


def _sample_plan(m: int, k: int, head_pad: int) -> tuple[int, list[int]]:
    """The head threshold's strided sample of ``m`` scores: its stride, and the positions in the
    sorted sample of the two ranks it reads (``k + head_pad``, and 2k at least three points deep)."""
    stride = max(1, m // _SAMPLE)
    size = -(-m // stride)
    return stride, [size - min(size, -(-rank // stride)) for rank in (k + head_pad, 2 * k + 2 * stride)]


def _head_threshold(scores: np.ndarray, k: int, head_pad: int, spread: float) -> np.ndarray:
    """Per row, the head threshold: the score about ``k + head_pad`` products reach, but no lower
    than ``spread`` below the score about 2k products reach (where the top is not crowded, as
    under strong boosts, fewer products then make the head).

    Ranks are read off an evenly strided sample of the scores (see :func:`_sample_plan`), so that
    the head rarely falls short of k. Only a function of the noiseless scores, what keeps the
    sampler exact. Returns (n,) float32.
    """
    stride, ranks = _sample_plan(scores.shape[1], k, head_pad)
    picked = np.sort(scores[:, ::stride], axis=1)[:, ranks]
    return np.maximum(picked[:, 0], picked[:, 1] - np.float32(spread))


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
    if n == 1:
        positions, noisy = _one_row(scores[0], k, sigma, rngs[0], head_pad)
        return positions[None], noisy[None]
    flat_scores = scores.reshape(-1)
    threshold = _head_threshold(scores, k, head_pad, _HEAD_SPREAD * sigma)
    head, starts = _at_least(scores, threshold)
    short = starts[1:] - starts[:-1] < k
    if short.any():  # a sample that aimed too high: the exact k-th best score
        threshold[short] = np.partition(scores[short], m - k, axis=1)[:, m - k]
        head, starts = _at_least(scores, threshold)

    # The head's noise; then row by row tau (the k-th best noisy score of the head, below which
    # nothing can make the top k) and the rest's draws that can reach it.
    bounds = starts.tolist()
    z = np.empty(head.size)
    for r, rng in enumerate(rngs):
        rng.standard_normal(out=z[bounds[r] : bounds[r + 1]])
    head_noisy = flat_scores[head] + sigma * z
    best, late = [], []
    for r, (rng, cut) in enumerate(zip(rngs, threshold.tolist(), strict=True)):
        a, b = bounds[r], bounds[r + 1]
        top = head_noisy[a:b].argpartition(b - a - k)[b - a - k :] + a  # the head's k best, tau first
        best.append(top)
        tau = float(head_noisy[top[0]])
        t = (tau - cut) / sigma - _MARGIN
        count = int(rng.binomial(m - (b - a), _upper_tail(t)))
        if count:
            late.append(_Late(r, count, t, tau))

    # Candidates: the head's k best and the rest's draws that reach tau; the k best of them, per row.
    chosen = np.concatenate(best)
    flat, noisy = head[chosen], head_noisy[chosen]
    if late:
        late_flat, late_noisy = _late_draws(flat_scores, head, bounds, m, sigma, late, rngs)
        flat, noisy = np.concatenate([flat, late_flat]), np.concatenate([noisy, late_noisy])
    return _best_per_row(flat, noisy, n, m, k)


def _one_row(
    row: np.ndarray, k: int, sigma: float, rng: np.random.Generator, head_pad: int
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`noisy_top_k_of_score_rows` of one row (the single environments' every step).

    The same arithmetic on the same values, in the same order, as a row of a batch (so the result
    is bit-identical), with scalars and 1-D arrays where the batch needs per-row index arithmetic.
    """
    m = row.size
    stride, (crowded, spread_out) = _sample_plan(m, k, head_pad)
    sample = row[::stride].copy()  # array methods: numpy's Python-level wrappers cost a us each here
    sample.sort()
    # float32 scalars: the same arithmetic as the batch's arrays
    threshold = max(sample[crowded], sample[spread_out] - np.float32(_HEAD_SPREAD * sigma))
    head = (row >= threshold).nonzero()[0]
    if head.size < k:  # a sample that aimed too high: the exact k-th best score
        threshold = np.partition(row, m - k)[m - k]
        head = (row >= threshold).nonzero()[0]
    head_noisy = row[head] + sigma * rng.standard_normal(head.size)
    h = head.size
    top = head_noisy.argpartition(h - k)[h - k :]  # the head's k best, tau first
    tau = float(head_noisy[top[0]])
    t = (tau - float(threshold)) / sigma - _MARGIN
    count = int(rng.binomial(m - h, _upper_tail(t)))
    flat, noisy = head[top], head_noisy[top]
    if count:
        positions, late_noisy = _rest_draws(row, head, count, t, sigma, tau, rng)
        flat, noisy = np.concatenate([flat, positions]), np.concatenate([noisy, late_noisy])
    best = (-noisy).argsort(kind="stable")[:k]
    return flat[best], noisy[best]


class _Late(NamedTuple):
    """A row whose rest has draws: ``count`` products with noise z >= ``t`` that may reach ``tau``."""

    row: int
    count: int
    t: float
    tau: float


def _late_draws(
    flat_scores: np.ndarray,
    head: np.ndarray,
    bounds: list[int],
    m: int,
    sigma: float,
    late: list[_Late],
    rngs: list[np.random.Generator],
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_rest_draws` for several rows of a batch: flat indices and noisy scores of the drawn
    rest products that reach their row's tau.

    Each row makes the generator calls a lone row makes, in the same order (its subset's draws,
    then its truncated normals'), so results are bit-identical; sorting, the positions and the
    acceptance tests run on all rows at once. Rests are numbered globally: row r's rest products
    are ``r * m - bounds[r]`` onwards, so one sort and one search serve every row.
    """
    rows = [late_row.row for late_row in late]
    offsets = [r * m - bounds[r] for r in rows]
    rests = [m - bounds[r + 1] + bounds[r] for r in rows]
    # Which rest products: one draw per row, then redraws (as uniform_subset's) for rows with repeats.
    subsets = [
        np.sort(rngs[r].choice(size, size=count, replace=False))
        if count * count > size
        else rngs[r].integers(0, size, count)
        for (r, count, _, _), size in zip(late, rests, strict=True)
    ]
    counts = np.array([late_row.count for late_row in late])
    rest_index = np.concatenate(subsets) + np.repeat(offsets, counts)
    rest_index.sort()  # row ranges are disjoint and increasing: rows stay in order
    repeated = rest_index[1:] == rest_index[:-1]
    if repeated.any():
        for i in np.unique(np.repeat(np.arange(len(late)), counts)[1:][repeated]).tolist():
            subsets[i] = uniform_subset(rests[i], late[i].count, rngs[rows[i]])
        rest_index = np.concatenate(subsets) + np.repeat(offsets, counts)
        rest_index.sort()
    # The j-th rest product of a row is j plus the number of its head positions at or before it:
    # searched among these rows' heads only, each head position h_g numbered g - (rest before it).
    segments = np.concatenate([np.arange(bounds[r], bounds[r + 1]) for r in rows])
    head_sizes = [bounds[r + 1] - bounds[r] for r in rows]
    skipped = np.array([bounds[r] for r in rows]) - np.cumsum([0, *head_sizes[:-1]])  # other rows' heads
    flat = (
        rest_index
        + np.searchsorted(head[segments] - segments, rest_index, side="right")
        + np.repeat(skipped, counts)
    )

    # Their noise, N(0, 1) truncated to [t, inf): Robert's first round for every row at once.
    robert = [i for i, late_row in enumerate(late) if late_row.t >= _ROBERT_THRESHOLD]
    z: list[np.ndarray | None] = [None] * len(late)
    if robert:
        t = np.array([late[i].t for i in robert])
        alpha = 0.5 * (t + np.sqrt(t * t + 4.0))
        sizes = [int(late[i].count / 0.75) + 8 for i in robert]
        draws = [
            (rngs[late[i].row].exponential(1.0 / rate, size), rngs[late[i].row].random(size))
            for i, rate, size in zip(robert, alpha.tolist(), sizes, strict=True)
        ]
        x = np.concatenate([d[0] for d in draws]) + np.repeat(t, sizes)
        keep = np.concatenate([d[1] for d in draws]) <= np.exp(-0.5 * (x - np.repeat(alpha, sizes)) ** 2)
        ends = np.cumsum(sizes)
        running = np.cumsum(keep)  # accepted so far, over all rows
        before = np.concatenate([[0], running[ends[:-1] - 1]])
        accepted = running[ends - 1] - before
        x = x[keep & (running - np.repeat(before, sizes) <= np.repeat(counts[robert], sizes))]
        split = np.cumsum(np.minimum(accepted, counts[robert]))[:-1].tolist()
        for i, row_z, got in zip(robert, np.split(x, split), accepted.tolist(), strict=True):
            missing = late[i].count - got
            z[i] = (
                row_z
                if missing <= 0
                else np.concatenate([row_z, truncated_normal_above(late[i].t, missing, rngs[late[i].row])])
            )
    for i, late_row in enumerate(late):  # plain rejection rows (t below Robert's threshold)
        if z[i] is None:
            z[i] = truncated_normal_above(late_row.t, late_row.count, rngs[late_row.row])
    noisy = flat_scores[flat] + sigma * np.concatenate(z)  # type: ignore[arg-type]
    reach = noisy >= np.repeat([late_row.tau for late_row in late], counts)
    return flat[reach], noisy[reach]


def _rest_draws(
    row_scores: np.ndarray,
    head: np.ndarray,
    count: int,
    t: float,
    sigma: float,
    tau: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` products drawn uniformly from the rest (not in the sorted positions ``head``), with
    noise N(0, 1) truncated to [t, inf); returns the positions and noisy scores of those reaching tau."""
    hits = uniform_subset(row_scores.size - head.size, count, rng)
    # The j-th rest product is j plus the number of head positions at or before it.
    positions = hits + (head - np.arange(head.size)).searchsorted(hits, side="right")
    noisy = row_scores[positions] + sigma * truncated_normal_above(t, count, rng)
    reach = noisy >= tau
    return positions[reach], noisy[reach]


def _best_per_row(
    flat: np.ndarray, noisy: np.ndarray, n: int, m: int, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` highest ``noisy`` of each row (flat indices ``row * m + position``), best first.

    Ties go to the row's earlier entry in the given order (rows padded with -inf, a stable sort).
    """
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
    flat = (scores >= thresholds[:, None]).ravel().nonzero()[0]
    return flat, np.searchsorted(flat, np.arange(n + 1) * m)


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
