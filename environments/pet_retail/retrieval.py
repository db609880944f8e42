"""Exact top-k retrieval under Gaussian relevance noise, for a batch of queries at once.

Each search step ranks the whole catalog by ``relevance = w_sem * cosine + w_lex * log1p(overlap) +
N(0, noise_sigma^2)`` (see :mod:`.relevance`), optionally plus per-product boosts, and keeps the best
k. Drawing 10,000 normals per query would be most of a step's cost, yet only products near the top
can make it. :func:`noisy_top_k_of_score_rows` returns, for every row of a score matrix, the top k
with the same joint distribution of products and noisy scores as drawing every product's noise:

1. From the noiseless scores alone, two thresholds per row, read off an evenly strided sample of
   256 scores: ``c_top`` near rank ``k + top_pad`` and ``c_head`` near rank ``k + head_pad``, each
   no lower than 5 sigma below rank 2k (a top that is not crowded, as under strong boosts, needs
   fewer products, and the two then coincide). The *top* tier is the products scoring at least
   ``c_top``, the *head* those scoring at least ``c_head`` (each widened to the exact k best if the
   sample aimed too high).
2. The top tier's noise is drawn (N(0, 1) from the row's generator). Let tau be the k-th best noisy
   score of the top tier: no product scoring below tau can make the top k.
3. A product below a tier's threshold ``c`` can reach tau only if its noise z >= t = (tau - c) /
   sigma. Within a tier these events are independent with probability Q(t) each, so which products
   have them is a Bernoulli process over the tier's products (drawn through geometric gaps between
   hits), and a hit's z is N(0, 1) truncated to [t, inf) (drawn by inverting the normal CDF). The
   middle tier (head below ``c_top``) is walked in head order with ``t`` from ``c_top``, its top
   tier members skipped; the rest of the catalog (below ``c_head``) with ``t`` from ``c_head``. A
   product that is not a hit cannot reach tau, and its noise is never needed.
4. The top k of the top tier and the hits that reach tau is the top k of the catalog.

Any thresholds that depend only on the noiseless scores keep this exact. On the default world
(crowded: the best 1,500 products lie within about 3.5 sigma) a query draws about 650 normals for
its top tier (median; its head holds about 1,490 products) and has about 2 hits (mean 3.7, 90th
percentile 11), of which one in five reaches tau, instead of drawing one normal per product.
Generator calls per row: the top tier's normals, one block of uniforms for both tiers' gaps (a
further block only when a tier outruns it), and one for the hits' truncated normals.

The pads trade normals (cheap in a batch, about 15 ns each) against the steps that hits take (for
a lone query each numpy call costs 2-3 us inside an environment step, so a lone row handles its
hits as Python numbers). Measured inside the environments, alternating with the single tier of
1,450 products that this replaced: vectorized PetRetail-v0 about 17% faster and the one-shopper
environment unchanged with these pads; (350, 1000) was faster vectorized but 7-13% slower alone,
(250, 750) slower both ways.

Thresholds, the tiers, the gaps, the hits' positions and noise, and the final top k run on the
whole batch at once; only the generator calls, a partition and the hits' truncated normals (a
few Python floats) run row by row (a single query takes a scalar path with the same arithmetic).
Each row consumes only its own generator, in an order fixed by its own scores, and every array
operation is elementwise or row by row, so a row's result is bit-identical alone or in any batch.

With numba installed (the ``fast`` extra), :mod:`.retrieval_kernel` runs all of this after the
score product in one compiled call, with the same draws and the same arithmetic: the results and
the generators' states are bit-identical to this module's (which is why the gaps take the C
library's ``log1p`` here, not numpy's SIMD loop), so the extra changes speed only. The environment
variable ``RECFRAME_NUMBA=0`` turns it off; generators other than PCG64 take the numpy path.

Scores come from one float32 matrix product, ``vectors @ matrix`` (:attr:`CategoryIndex.matrix`:
the unit embeddings over the category one-hots, so the per-category lexical shift rides along).
:func:`noisy_top_k_rows` checks once per shape that BLAS computes each row of a batched product
exactly as it computes that row alone, and falls back to one product per row where it does not.
A batch also takes the thresholds' strided sample from its own small product, ``vectors @
matrix[:, ::stride]``, where BLAS gives the same numbers as the whole product's columns (also
checked once per shape): the same thresholds without a cache miss per sampled score.
"""

from __future__ import annotations

import math
from functools import lru_cache
from statistics import NormalDist
from types import ModuleType

import numpy as np

from recframe.environments.pet_retail import compiled
from recframe.environments.pet_retail.catalog import Catalog

__all__ = [
    "CategoryIndex",
    "bernoulli_hits",
    "noisy_top_k_of_score_rows",
    "noisy_top_k_of_scores",
    "noisy_top_k_rows",
    "truncated_normal_above",
]

_MARGIN = 1e-9
"""Lowers each truncation point a hair, so that rounding can only widen the set of products drawn."""

_SAMPLE = 256
"""Products in the strided sample that sets the thresholds (sorting it costs about a us per row)."""

_SPREAD = 5.0
"""Both tiers reach at least this many sigma below the 2k-th best score (estimated from the sample):
where the top is not crowded the head is the top tier, and the hits come from the rest alone."""

TOP_PAD = 600
"""Default top tier: about ``k + TOP_PAD`` products get their noise up front (tuned on the default world)."""

HEAD_PAD = 1450
"""Default head: about ``k + HEAD_PAD`` products form the top and middle tiers."""


def _upper_tail(t: float) -> float:
    """Q(t) = P(Z >= t) for a standard normal Z."""
    return 0.5 * math.erfc(t / math.sqrt(2.0))


_BELOW_ONE = 1.0 - 2.0**-53
"""The largest float below 1."""

_phi_inverse = NormalDist().inv_cdf


def truncated_normal_above(tail: float, uniform: float) -> float:
    """An N(0, 1) draw conditioned on Z >= t, by inversion: ``Q^-1(Q(t) (1 - u))``.

    Args:
        tail: Q(t) = P(Z >= t) of the truncation point t (> 0).
        uniform: a U[0, 1) draw (``1 - u`` keeps the argument in (0, Q(t)]).

    Exact up to float64 rounding, with one uniform per draw. ``Q^-1(x) = -Phi^-1(x)`` comes from the
    standard library's ``NormalDist.inv_cdf`` (Wichura's AS241, about 16 digits) on Python floats:
    draws are few, and a batch and a lone row run this very function.
    """
    return -_phi_inverse(min(tail * (1.0 - uniform), _BELOW_ONE))


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


_BLOCK_SPREAD = 3.0
"""A process's first block of uniforms covers the mean number of hits plus this many standard
deviations (plus three). Tests lower it to make processes outrun their blocks; both paths read it."""


def _block_size(length: int, p: float) -> int:
    """Uniforms drawn up front for the gaps of a Bernoulli(p) process over ``length`` items: the mean
    number of hits plus three standard deviations plus three, enough for all but rare rows."""
    if not p > 0.0:
        return 0
    mean = length * p
    return max(1, int(mean + _BLOCK_SPREAD * math.sqrt(mean) + 3.0))


def _log_miss(p: float) -> float:
    """log(1 - p), at most -1e-300: for a tinier p every gap is past the end either way, and the cap
    keeps the gaps' ratio finite; -inf for p = 1 (every gap 0)."""
    return min(math.log1p(-p), -1e-300) if p < 1.0 else -math.inf


def _log_of_misses(uniforms: np.ndarray) -> np.ndarray:
    """``log(1 - u)`` for each uniform, by the C library's ``log1p`` (``math.log1p``).

    Not ``np.log1p``: numpy's SIMD loops may round differently in the last bit (they do on AVX-512),
    and the gaps must be the same numbers in every path, the compiled kernel's included.
    """
    return np.array(list(map(math.log1p, (-uniforms).tolist())))


def _hit_positions(ratios: np.ndarray, cap: float) -> np.ndarray:
    """Item positions of a Bernoulli(p) process's successive hits, from ``log(1 - u) / log(1 - p)``
    per gap (u uniform): the gap before a hit is Geometric, the floor of that ratio.

    Gaps are capped at ``cap`` (at least the process's length: past the end either way), which keeps
    the running sums exact integers. Several processes may be laid end to end, each restarted by
    the caller.
    """
    return np.cumsum(np.floor(np.fmin(ratios, cap)) + 1.0) - 1.0


def _more_hits(rng: np.random.Generator, start: int, length: int, p: float) -> np.ndarray:
    """The hits at positions ``start`` onwards of a Bernoulli(p) process over ``length`` items (the
    continuation of a process whose first block of uniforms ran out before its end)."""
    found = []
    log_miss = _log_miss(p)
    while start < length:
        ratios = _log_of_misses(rng.random(_block_size(length - start, p))) / log_miss
        positions = _hit_positions(ratios, float(length)) + start
        found.append(positions[positions < length])
        start = int(positions[-1]) + 1
    return np.concatenate(found).astype(np.int64)


def bernoulli_hits(
    lengths: list[int], probabilities: list[float], rngs: list[np.random.Generator], per_row: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Independent Bernoulli processes: process j marks each of its ``lengths[j]`` items with
    probability ``probabilities[j]``.

    Processes are laid out row by row, ``per_row`` to a row. Row r's processes draw from ``rngs[r]``
    alone: one block of uniforms for all of them (see :func:`_block_size`), then a further block for
    each process that outruns it. Returns ``(process, position)`` of every hit, int64, ordered by process
    and then position; a row's hits are the same alone or in any batch.
    """
    sizes = [_block_size(n, p) for n, p in zip(lengths, probabilities, strict=True)]
    ends = np.cumsum(sizes)
    uniforms = np.empty(int(ends[-1]) if sizes else 0)
    a = 0
    for rng, b in zip(rngs, ends[per_row - 1 :: per_row].tolist(), strict=True):
        if b > a:
            rng.random(out=uniforms[a:b])
        a = b
    process = np.repeat(np.arange(len(sizes)), sizes)
    length = np.array(lengths, dtype=np.float64)
    log_miss = np.array([_log_miss(p) for p in probabilities])
    positions = _hit_positions(_log_of_misses(uniforms) / log_miss[process], float(max(lengths, default=0)))
    # restart the running sum at each process: subtract the sum before its first gap
    first = ends - sizes
    positions -= np.repeat(np.concatenate([[-1.0], positions])[first], sizes) + 1.0
    last = positions[np.maximum(ends - 1, 0)].tolist() if positions.size else []
    outrun = [(j, int(last[j]) + 1) for j, size in enumerate(sizes) if size and last[j] < lengths[j] - 1]
    hit = positions < length[process]
    process, positions = process[hit], positions[hit].astype(np.int64)
    if not outrun:
        return process, positions
    extra = [_more_hits(rngs[j // per_row], start, lengths[j], probabilities[j]) for j, start in outrun]
    process = np.concatenate([process, *(np.full(more.size, j) for (j, _), more in zip(outrun, extra))])
    positions = np.concatenate([positions, *extra])
    order = np.argsort(process, kind="stable")
    return process[order], positions[order]


@lru_cache(maxsize=64)
def _sample_plan(m: int, k: int, top_pad: int, head_pad: int) -> tuple[int, tuple[int, int, int]]:
    """The thresholds' strided sample of ``m`` scores: its stride, and the positions in the sorted
    sample of the ranks it reads (``k + top_pad``, ``k + head_pad``, and 2k at least three points deep)."""
    stride = max(1, m // _SAMPLE)
    size = -(-m // stride)
    ranks = (k + top_pad, k + head_pad, 2 * k + 2 * stride)
    return stride, tuple(size - min(size, -(-rank // stride)) for rank in ranks)


def _sample_levels(
    scores: np.ndarray, k: int, top_pad: int, head_pad: int, sample: np.ndarray | None = None
) -> np.ndarray:
    """(n, 3) float32: per row, the strided sample's scores that about ``k + top_pad``, ``k +
    head_pad`` and 2k products reach (see :func:`_sample_plan`). ``sample``: the strided sample
    ``scores[:, ::stride]`` if the caller has it (see :func:`noisy_top_k_rows`)."""
    stride, ranks = _sample_plan(scores.shape[1], k, top_pad, head_pad)
    return np.sort(scores[:, ::stride] if sample is None else sample, axis=1)[:, ranks]


def _thresholds(
    scores: np.ndarray, k: int, top_pad: int, head_pad: int, sigma: float, sample: np.ndarray | None = None
) -> np.ndarray:
    """Per row, ``(c_top, c_head)``: the scores about ``k + top_pad`` and ``k + head_pad`` products
    reach, but no lower than 5 sigma below the score about 2k products reach (where the top is
    not crowded, as under strong boosts, both then hold fewer products), and ``c_head <= c_top``.

    Only a function of the noiseless scores, what keeps the sampler exact. Returns (2, n) float32.
    """
    top, head, spread = _sample_levels(scores, k, top_pad, head_pad, sample).T
    floor = spread - np.float32(_SPREAD * sigma)
    c_top = np.maximum(top, floor)
    return np.stack([c_top, np.minimum(c_top, np.maximum(head, floor))])


def _kth_best(rows: np.ndarray, k: int) -> np.ndarray:
    """The k-th best score of each row (a threshold that exactly k products reach, ties aside)."""
    return np.partition(rows, rows.shape[1] - k, axis=1)[:, rows.shape[1] - k]


def noisy_top_k_of_score_rows(
    scores: np.ndarray,
    k: int,
    sigma: float,
    rngs: list[np.random.Generator],
    top_pad: int = TOP_PAD,
    head_pad: int = HEAD_PAD,
    sample: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best positions of each row by ``scores + sigma * z`` (z iid N(0, 1)), best first.

    Args:
        scores: (n, m) float32 noiseless scores, C-contiguous.
        k: how many to keep per row (1 <= k <= m).
        sigma: the noise scale (>= 0).
        rngs: one generator per row; row r's noise comes from ``rngs[r]`` alone.
        top_pad, head_pad: the tiers' ranks beyond k (see the module docstring). The defaults balance
            normals against hits on the default world; any values give the same distribution.
        sample: ``scores[:, ::stride]`` (:func:`_sample_plan`'s stride), contiguous, if the caller
            has it from a smaller product: the thresholds then read no strided scores.

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
    kernel = _compiled_kernel()
    if kernel is not None and kernel.supports(rngs):  # the same numbers, in one compiled call
        stride, sample_positions = _sample_plan(m, k, top_pad, head_pad)
        spread = np.float32(_SPREAD * sigma)
        levels = None if sample is None else _sample_levels(scores, k, top_pad, head_pad, sample)
        return kernel.noisy_top_k(
            scores, k, sigma, rngs, stride, sample_positions, spread, _MARGIN, _BLOCK_SPREAD, levels
        )
    if n == 1:
        positions, noisy = _one_row(scores[0], k, sigma, rngs[0], top_pad, head_pad)
        return positions[None], noisy[None]
    flat_scores = scores.reshape(-1)
    c_top, c_head = _thresholds(scores, k, top_pad, head_pad, sigma, sample)
    head, starts = _at_least(scores, c_head)
    short = starts[1:] - starts[:-1] < k
    if short.any():  # a sample that aimed too high: the exact k-th best score
        c_head[short] = _kth_best(scores[short], k)
        head, starts = _at_least(scores, c_head)
    head_sizes = starts[1:] - starts[:-1]
    head_scores = flat_scores[head]
    in_top = head_scores >= np.repeat(c_top, head_sizes)
    top_at = in_top.nonzero()[0]
    short = np.diff(np.searchsorted(top_at, starts)) < k
    if short.any():
        c_top[short] = _kth_best(scores[short], k)
        in_top = head_scores >= np.repeat(c_top, head_sizes)
        top_at = in_top.nonzero()[0]

    # The top tier's noise, its k best and tau (the k-th best noisy score) per row.
    bounds = np.searchsorted(top_at, starts).tolist()
    z = np.empty(top_at.size)
    for r, rng in enumerate(rngs):
        rng.standard_normal(out=z[bounds[r] : bounds[r + 1]])
    top_noisy = head_scores[top_at] + sigma * z
    chosen = np.concatenate(
        [top_noisy[a:b].argpartition(b - a - k)[b - a - k :] + a for a, b in zip(bounds, bounds[1:])]
    )  # each row's k best, tau first
    taus = top_noisy[chosen[::k]]

    # The hits: per row, the middle tier (the head, its top tier skipped) and then the rest.
    tails = [
        _upper_tail((tau - cut) / sigma - _MARGIN)
        for tau, top_cut, head_cut in zip(taus.tolist(), c_top.tolist(), c_head.tolist(), strict=True)
        for cut in (top_cut, head_cut)
    ]
    sizes = head_sizes.tolist()
    process, index = bernoulli_hits([x for h in sizes for x in (h, m - h)], tails, rngs, per_row=2)
    rows, rest = process >> 1, (process & 1).astype(bool)
    in_head = np.where(rest, 0, starts[rows] + index)
    keep = rest | ~in_top[in_head]
    rows, rest, process, index, flat = rows[keep], rest[keep], process[keep], index[keep], head[in_head[keep]]
    if rest.any():
        flat[rest] = _rest_positions(head, starts, m, rows[rest], index[rest])
    ends = np.cumsum(np.bincount(rows, minlength=n)).tolist()
    uniforms = np.empty(flat.size)
    a = 0
    for rng, b in zip(rngs, ends, strict=True):
        if b > a:
            rng.random(out=uniforms[a:b])
        a = b
    z = list(map(truncated_normal_above, [tails[j] for j in process.tolist()], uniforms.tolist()))
    hit_noisy = flat_scores[flat] + sigma * np.array(z)
    reach = hit_noisy >= taus[rows]
    return _best_per_row(
        np.concatenate([head[top_at[chosen]], flat[reach]]),
        np.concatenate([top_noisy[chosen], hit_noisy[reach]]),
        n,
        m,
        k,
    )


def _compiled_kernel() -> ModuleType | None:
    """:mod:`.retrieval_kernel` when it can run (see :mod:`.compiled`), else None."""
    return compiled.kernel("retrieval_kernel")


def _rest_positions(
    head: np.ndarray, starts: np.ndarray, m: int, rows: np.ndarray, index: np.ndarray
) -> np.ndarray:
    """Flat positions of the ``index[i]``-th product outside row ``rows[i]``'s head.

    The j-th product outside a head is j plus the number of head members i (in position order p_i)
    with ``p_i - i <= j``, a non-decreasing key: a binary search for every hit at once in its own
    row's segment of ``head`` (a dozen rounds of small array operations; no key array is built).
    """
    base, offset = starts[rows], rows * m
    lo, hi = np.zeros_like(rows), starts[rows + 1] - base
    last = head.size - 1
    for _ in range(int(hi.max()).bit_length()):
        mid = (lo + hi) >> 1
        above = head[np.minimum(base + mid, last)] - offset - mid > index  # the first key above j: the count
        active = lo < hi
        hi = np.where(active & above, mid, hi)
        lo = np.where(active & ~above, mid + 1, lo)
    return offset + index + lo


def _one_row(
    row: np.ndarray, k: int, sigma: float, rng: np.random.Generator, top_pad: int, head_pad: int
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`noisy_top_k_of_score_rows` of one row (the single environments' every step).

    The same arithmetic on the same values, in the same order, as a row of a batch (so the result
    is bit-identical), with scalars and 1-D arrays where the batch needs per-row index arithmetic.
    """
    m = row.size
    stride, (top_rank, head_rank, spread_rank) = _sample_plan(m, k, top_pad, head_pad)
    sample = row[::stride].copy()  # array methods: numpy's Python-level wrappers cost a us each here
    sample.sort()
    # float32 scalars: the same arithmetic as the batch's arrays
    floor = sample[spread_rank] - np.float32(_SPREAD * sigma)
    c_top = max(sample[top_rank], floor)
    c_head = min(c_top, max(sample[head_rank], floor))
    head = (row >= c_head).nonzero()[0]
    if head.size < k:  # a sample that aimed too high: the exact k-th best score
        c_head = np.partition(row, m - k)[m - k]
        head = (row >= c_head).nonzero()[0]
    head_scores = row[head]
    in_top = head_scores >= c_top
    top_at = in_top.nonzero()[0]
    if top_at.size < k:
        c_top = np.partition(row, m - k)[m - k]
        in_top = head_scores >= c_top
        top_at = in_top.nonzero()[0]
    top_noisy = head_scores[top_at] + sigma * rng.standard_normal(top_at.size)
    size = top_at.size
    chosen = top_noisy.argpartition(size - k)[size - k :]  # the top tier's k best, tau first
    tau = float(top_noisy[chosen[0]])

    # From here on a lone row's few hits are Python numbers: the batch's values (exact integers,
    # IEEE floats, the C library's log1p), without a dozen numpy calls that cost 2-3 us each in an env step.
    h = head.size
    tails = [_upper_tail((tau - float(cut)) / sigma - _MARGIN) for cut in (c_top, c_head)]
    lengths = (h, m - h)
    sizes = (_block_size(h, tails[0]), _block_size(m - h, tails[1]))
    logs = list(map(math.log1p, (-rng.random(sizes[0] + sizes[1])).tolist()))  # both tiers' gaps, one block
    tier_hits = []
    for tier, tier_logs in enumerate((logs[: sizes[0]], logs[sizes[0] :])):
        hits, position, log_miss, cap = [], -1, _log_miss(tails[tier]), float(m)
        for log_u in tier_logs:  # as _hit_positions: a capped floor of each ratio, then a running sum
            position += math.floor(min(log_u / log_miss, cap)) + 1
            if position >= lengths[tier]:
                break
            hits.append(position)
        else:
            if tier_logs and position < lengths[tier] - 1:  # the block ran out before the end
                hits += _more_hits(rng, position + 1, lengths[tier], tails[tier]).tolist()
        tier_hits.append(hits)
    middle = [i for i in tier_hits[0] if not in_top[i]]
    flat = [int(head[i]) for i in middle]
    if tier_hits[1]:  # the j-th rest product is j plus the number of head positions at or before it
        rest = np.array(tier_hits[1])
        flat += (rest + (head - np.arange(h)).searchsorted(rest, side="right")).tolist()
    positions, noisy = head[top_at[chosen]], top_noisy[chosen]
    if flat:
        tails_of_hits = [tails[0]] * len(middle) + [tails[1]] * len(tier_hits[1])
        z = map(truncated_normal_above, tails_of_hits, rng.random(len(flat)).tolist())
        reach = [(f, float(row[f]) + sigma * z_f) for f, z_f in zip(flat, z)]
        reach = [(f, value) for f, value in reach if value >= tau]
        if reach:
            positions = np.concatenate([positions, [f for f, _ in reach]])
            noisy = np.concatenate([noisy, [value for _, value in reach]])
    best = (-noisy).argsort(kind="stable")[:k]
    return positions[best], noisy[best]


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


@lru_cache(maxsize=16)
def _sample_columns_match(d: int, m: int, stride: int, dtype: np.dtype) -> bool:
    """Whether ``vectors @ matrix[:, ::stride]`` gives exactly ``(vectors @ matrix)[:, ::stride]``
    (BLAS-dependent; checked on random data, as :func:`_batched_rows_match`)."""
    rng = np.random.default_rng(1)
    matrix = rng.standard_normal((d, m)).astype(dtype)
    vectors = rng.standard_normal((67, d)).astype(dtype)
    columns = np.ascontiguousarray(matrix[:, ::stride])
    return all(np.array_equal(vectors[:n] @ columns, (vectors[:n] @ matrix)[:, ::stride]) for n in (2, 7, 67))


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
    sample = None
    if len(vectors) > 1:
        # The thresholds' strided sample from its own small product, where BLAS gives the same
        # numbers: read from the scores, each sampled score costs a cache miss.
        stride = _sample_plan(matrix.shape[1], k, TOP_PAD, HEAD_PAD)[0]
        if _sample_columns_match(*matrix.shape, stride, matrix.dtype):
            sample = vectors @ np.ascontiguousarray(matrix[:, ::stride])
    return noisy_top_k_of_score_rows(scores, k, sigma, rngs, sample=sample)


def noisy_top_k_of_scores(
    scores: np.ndarray, k: int, sigma: float, rng: np.random.Generator, **pads: int
) -> tuple[np.ndarray, np.ndarray]:
    """One row of :func:`noisy_top_k_of_score_rows`: ``(positions, noisy)``, each (k,), best first."""
    row = np.ascontiguousarray(scores, dtype=np.float32)[None]
    positions, noisy = noisy_top_k_of_score_rows(row, k, sigma, [rng], **pads)
    return positions[0], noisy[0]
