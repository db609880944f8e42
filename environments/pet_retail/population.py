"""Shoppers and their queries drawn one generator per shopper, for environments that step them in batches.

:func:`recframe.environments.pet_retail.users.sample_users` and
:func:`~recframe.environments.pet_retail.queries.sample_queries` draw a whole batch from one
generator, so the draws a shopper gets depend on the batch it is in. The environments instead give
every shopper its own streams, and here each shopper draws a fixed block of random numbers from its
own generator, in a fixed order; the arithmetic that turns the blocks into users and queries is
vectorized over the batch and elementwise. A shopper therefore gets bit-identical users and queries
whether it is simulated alone or among thousands, which is what lets the vectorized environment
reproduce single environments exactly. The distributions are those of ``users`` and ``queries``.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

import numpy as np

from recframe.environments.pet_retail.config import SimulatorConfig
from recframe.environments.pet_retail.queries import QueryBatch, assemble_queries, query_tables
from recframe.environments.pet_retail.users import UserBatch

__all__ = ["Population", "capped_cdf", "dirichlet_by_gammas"]

_STICK_BREAKING_BELOW = 0.1
"""numpy's ``Generator.dirichlet`` breaks sticks with beta draws when every concentration is below
this, and normalizes standard gamma draws otherwise."""


def dirichlet_by_gammas(rng: np.random.Generator, alpha: Sequence[float]) -> list[float]:
    """``rng.dirichlet(alpha)`` for concentrations with ``max(alpha) >= 0.1``: the same numbers from
    the same stream, a third of the cost.

    numpy draws one standard gamma per entry in order, adds them up left to right and multiplies
    each by the reciprocal of the sum; so does this, with one scalar ``standard_gamma`` call per
    entry instead of ``dirichlet``'s array set-up and checks (~3 vs ~6-9 us for 4 entries). For
    smaller concentrations numpy takes its stick-breaking branch: call ``rng.dirichlet`` instead.
    """
    gammas = [rng.standard_gamma(a) for a in alpha]
    total = 0.0
    for g in gammas:
        total += g
    scale = 1.0 / total if total else math.inf  # all zero: NaN entries, as numpy's 0 * (1 / 0)
    return [g * scale for g in gammas]


def capped_cdf(probs: np.ndarray) -> np.ndarray:
    """Cumulative sums of ``probs`` along the last axis, the last entry replaced by +inf.

    A category is drawn from a uniform u as the number of entries <= u (inverse CDF). With the
    last sum, rounding could make that k for u near 1, and the code would need a cap at k - 1;
    with +inf there (it never counts, and the sums before it are non-decreasing) the count is
    exactly the capped code, so drawing is one comparison and one reduction, or one
    ``searchsorted`` for a shared CDF.
    """
    cdf = np.cumsum(probs, axis=-1)
    cdf[..., -1] = np.inf
    return cdf


class Population:
    """Draws shoppers and queries of ``config``, one generator per shopper.

    Args:
        config: the simulator config (users, queries, the catalog's categories and embedding size).
    """

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        ucfg = config.users
        params = [ucfg.segment_params[s] for s in ucfg.segments]
        self._segment_cdf = np.cumsum(ucfg.segment_mix).tolist()
        self._concentrations = [[float(a) for a in p.cat_conc] for p in params]
        self._by_gammas = [max(p.cat_conc) >= _STICK_BREAKING_BELOW for p in params]
        # Per segment: the means of theta_price and theta_pl, then their standard deviations.
        self._theta_params = np.array([[p.price_mean, p.pl_mean, p.price_std, p.pl_std] for p in params])
        self._type_cdf = capped_cdf(np.asarray(config.queries.query_type_mix, dtype=np.float64))
        self._tables = query_tables(config)
        self._dim = config.catalog.embedding_dim
        self._n_cats = len(config.catalog.categories)

    def users(self, rngs: Sequence[np.random.Generator]) -> UserBatch:
        """One shopper per generator.

        Each generator draws, in order: a uniform (segment), two standard normals (theta_price,
        theta_pl), a Dirichlet vector of the segment's concentrations (theta_cat) and
        ``embedding_dim`` float32 standard normals (theta_emb).
        """
        n, last = len(rngs), len(self._segment_cdf) - 1
        segments = np.empty(n, dtype=np.int64)
        normals = np.empty((n, 2))
        theta_cat = np.empty((n, self._n_cats))
        theta_emb = np.empty((n, self._dim), dtype=np.float32)
        for i, rng in enumerate(rngs):
            segment = min(bisect.bisect_right(self._segment_cdf, rng.random()), last)
            segments[i] = segment
            rng.standard_normal(out=normals[i])
            alpha = self._concentrations[segment]
            theta_cat[i] = (
                dirichlet_by_gammas(rng, alpha) if self._by_gammas[segment] else rng.dirichlet(alpha)
            )
            rng.standard_normal(out=theta_emb[i], dtype=np.float32)
        p = self._theta_params[segments]
        thetas = p[:, :2] + p[:, 2:] * normals  # theta_price, theta_pl: mean + std * z, both at once
        return UserBatch(
            segment_names=self.config.users.segments,
            segments=segments,
            theta_price=thetas[:, 0],
            theta_pl=thetas[:, 1],
            theta_cat=theta_cat,
            theta_emb=theta_emb,
        )

    def queries(self, users: UserBatch, rngs: Sequence[np.random.Generator]) -> QueryBatch:
        """One query per shopper, the i-th drawn from ``rngs[i]`` (see :meth:`draw_queries`)."""
        return self.draw_queries(users.theta_emb, capped_cdf(users.theta_cat), rngs)

    def draw_queries(
        self, theta_emb: np.ndarray, intent_cdf: np.ndarray, rngs: Sequence[np.random.Generator]
    ) -> QueryBatch:
        """One query per shopper from their (n, d) tastes and (n, n_categories) :func:`capped_cdf`
        of their category affinities (kept per shopper by the engine, which draws a query far more
        often than a shopper).

        Each generator draws, in order: two uniforms (intent ~ theta_cat, type ~ query_type_mix),
        ``embedding_dim`` float32 standard normals (phi_emb = theta_emb + phi_noise_std * noise)
        and ``n_random_tokens`` filler tokens.
        """
        tables = self._tables
        n = len(rngs)
        uniforms = np.empty((n, 2))
        noise = np.empty((n, self._dim), dtype=np.float32)
        fillers = np.empty((n, tables.n_fillers), dtype=np.int64)
        low, high = tables.filler_ids
        positions = range(tables.n_fillers)
        for i, rng in enumerate(rngs):
            rng.random(out=uniforms[i])
            rng.standard_normal(out=noise[i], dtype=np.float32)
            row = fillers[i]
            for j in positions:
                # integers(low, high) is integers(0, high - low) + low; one at a time it is the same
                # stream as size=n_fillers without that call's ~3 us of size handling (np.prod).
                row[j] = rng.integers(low, high)
        intent = np.add.reduce(intent_cdf <= uniforms[:, :1], axis=1, dtype=np.int64)
        qtype = np.searchsorted(self._type_cdf, uniforms[:, 1], side="right")
        return assemble_queries(theta_emb, tables, intent, qtype, noise, fillers)
