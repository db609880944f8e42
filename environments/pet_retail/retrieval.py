"""Exact top-k retrieval under Gaussian relevance noise, drawing the noise only where it can matter.

Each search step ranks the whole catalog by ``relevance = w_sem * cosine + w_lex * log1p(overlap) +
N(0, noise_sigma^2)`` (see :mod:`.relevance`), optionally plus per-product boosts, and keeps the best
k. Drawing 10,000 normals per query is most of a step's cost, yet only products near the top can
make it. :func:`noisy_top_k` returns the top k with the same joint distribution of products and
noisy scores as drawing every product's noise:

1. Products are grouped by category (:class:`CategoryIndex`): the lexical term is a per-category
   shift, so within a category the ranking needs only ``w_sem * cosine (+ boost)``.
2. In each category take the ``k + pad`` products with the highest noiseless scores (the head, one
   ``argpartition`` per category) and draw their noise; let tau be the k-th best noisy score over
   all heads. The top k of the catalog all reach tau.
3. A product outside its category's head scores at most that category's ``floor`` (the lowest
   noiseless score of the head), so it can only reach tau if its noise z >= t* = (tau - floor) /
   sigma. Those products are exchangeable with respect to that event, of probability Q(t*): draw
   how many have it (Binomial), which ones (uniformly without replacement) and their z from N(0, 1)
   truncated to [t*, inf). The others cannot reach tau; their noise is never needed.
4. The top k of the heads and the drawn products is the top k of the catalog.

The random numbers consumed depend on the draws themselves, but only on the shopper's own
generator, so results stay bit-identical between single and batched simulation.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from recframe.environments.pet_retail.catalog import Catalog

__all__ = ["CategoryIndex", "noisy_top_k", "truncated_normal_above"]

_MARGIN = 1e-9
"""Lowers each threshold a hair, so that rounding can only widen the set of products drawn."""

_ROBERT_THRESHOLD = 0.45
"""Below this truncation point plain rejection from N(0, 1) accepts at least about a third of the draws."""


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


class CategoryIndex:
    """The catalog's products grouped by category: position p of the grouped order is product ``ids[p]``.

    Attributes:
        ids: (m,) product ids in grouped order (by category, then id).
        bounds: the n_categories + 1 boundaries of the categories' position ranges.
        categories: (m,) category codes in grouped order.
        unit_embeddings: (m, d) float32 unit embeddings in grouped order.
    """

    def __init__(self, catalog: Catalog) -> None:
        self.ids = np.argsort(catalog.categories, kind="stable")
        counts = np.bincount(catalog.categories, minlength=len(catalog.category_names))
        self.bounds: list[int] = np.concatenate([[0], np.cumsum(counts)]).tolist()
        self.categories = catalog.categories[self.ids]
        self.unit_embeddings = np.ascontiguousarray(catalog.unit_embeddings[self.ids])

    @staticmethod
    @lru_cache(maxsize=4)
    def of(catalog: Catalog) -> CategoryIndex:
        """The index of ``catalog`` (built once per catalog object and shared)."""
        return CategoryIndex(catalog)


def noisy_top_k(
    within: np.ndarray,
    shifts: np.ndarray,
    index: CategoryIndex,
    k: int,
    sigma: float,
    rng: np.random.Generator,
    pad: int = 256,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best positions by ``within + shifts[category] + sigma * z`` (z iid N(0, 1)), best first.

    Args:
        within: (m,) noiseless scores in grouped order, without the per-category shift.
        shifts: (n_categories,) the per-category shift (the lexical term).
        index: the grouping.
        k: how many to keep (1 <= k <= m).
        sigma: the noise scale (>= 0).
        rng: the generator of the noise (see the module docstring for what it draws).
        pad: products beyond k per category whose noise is drawn up front (256 leaves a few dozen
            late draws per query on the default catalog).

    Returns:
        ``(positions, z)``: the (k,) grouped-order positions, best first, and their standard-normal noise.
    """
    bounds = index.bounds
    heads, rests = [], []
    for c, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        size = hi - lo
        head = min(size, k + pad)
        if head == size or sigma == 0.0:
            heads.append(np.arange(lo, hi))
        else:
            part = np.argpartition(within[lo:hi], size - head)
            heads.append(part[size - head :] + lo)
            # The rest (positions part[:size - head] + lo) and the head's lowest score.
            rests.append((part, lo, size - head, float(within[lo + part[size - head]] + shifts[c])))
    positions = np.concatenate(heads)
    noisy = within[positions] + shifts[index.categories[positions]]
    z = np.zeros(positions.size) if sigma == 0.0 else rng.standard_normal(positions.size)
    if sigma == 0.0:
        return _best(positions, noisy, z, k)
    noisy += sigma * z
    tau = float(np.partition(noisy, positions.size - k)[positions.size - k])
    drawn_positions, drawn_z = [positions], [z]
    for part, lo, n_rest, floor in rests:
        t_star = (tau - floor) / sigma - _MARGIN
        count = int(rng.binomial(n_rest, _upper_tail(t_star)))
        if count:
            drawn_positions.append(part[rng.choice(n_rest, size=count, replace=False)] + lo)
            drawn_z.append(truncated_normal_above(t_star, count, rng))
    if len(drawn_positions) > 1:
        positions, z = np.concatenate(drawn_positions), np.concatenate(drawn_z)
        noisy = within[positions] + shifts[index.categories[positions]] + sigma * z
    return _best(positions, noisy, z, k)


def _best(positions: np.ndarray, noisy: np.ndarray, z: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` entries with the highest ``noisy`` values, best first."""
    top = np.argpartition(noisy, noisy.size - k)[noisy.size - k :]
    top = top[np.argsort(-noisy[top], kind="stable")]
    return positions[top], z[top]
