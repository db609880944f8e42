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

from recframe.environments.pet_retail import compiled
from recframe.environments.pet_retail.config import SimulatorConfig
from recframe.environments.pet_retail.queries import QueryBatch, assemble_queries, query_tables
from recframe.environments.pet_retail.users import UserBatch

__all__ = ["Population", "capped_cdf", "dirichlet_by_gammas", "normalized_rows", "uniform_integers"]

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


def normalized_rows(gammas: np.ndarray) -> np.ndarray:
    """Each row of the (n, c) ``gammas`` times the reciprocal of its sum, added left to right: what
    :func:`dirichlet_by_gammas` does with one row of gamma draws, for a batch (the same numbers)."""
    total = gammas[:, 0].copy()
    for column in gammas.T[1:]:
        total += column
    with np.errstate(divide="ignore", invalid="ignore"):  # all zero: NaN entries, as there
        return gammas * (1.0 / total)[:, None]


def uniform_integers(rng: np.random.Generator, low: int, high: int, n: int) -> list[int]:
    """``n`` draws of ``rng.integers(low, high)``: the same numbers from the same stream, as a list.

    For a range of 2 to 2**32 - 1 numbers numpy draws each one by Lemire's method from the bit
    generator's 32-bit output: the product of a 32-bit draw and the range, drawn again while its
    low word is below ``2**32 % range``, gives the number as its high word. So does this, calling
    the bit generator's ``next_uint32`` through its ctypes interface instead of going through
    ``integers``'s argument checks (about 0.6 instead of 2.4 us a number; like every direct bit
    generator call it does not take the generator's lock). Other ranges go to ``integers``.
    """
    span = high - low
    if not 1 < span < 2**32:
        return rng.integers(low, high, size=n).tolist()  # the stream of n one-at-a-time draws
    interface = rng.bit_generator.ctypes
    next_uint32, state = interface.next_uint32, interface.state_address
    threshold = 2**32 % span  # numpy's (UINT32_MAX - (span - 1)) % span
    numbers = []
    for _ in range(n):
        m = next_uint32(state) * span
        while m & 0xFFFFFFFF < threshold:
            m = next_uint32(state) * span
        numbers.append(low + (m >> 32))
    return numbers


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
        self._gamma_segments = np.array(self._by_gammas)
        self._segment_cdf_array = np.array(self._segment_cdf)  # the compiled draws read arrays
        self._concentration_rows = np.array(self._concentrations)
        # Per segment: the means of theta_price and theta_pl, then their standard deviations.
        self._theta_params = np.array([[p.price_mean, p.pl_mean, p.price_std, p.pl_std] for p in params])
        self._type_cdf = capped_cdf(np.asarray(config.queries.query_type_mix, dtype=np.float64))
        self._tables = query_tables(config)
        self._dim = config.catalog.embedding_dim
        self._n_cats = len(config.catalog.categories)
        # One shopper's draws (user_into, query_into) read these look-ups as Python lists.
        self._theta_rows = self._theta_params.tolist()
        self._type_cdf_list = self._type_cdf.tolist()
        self._leading = self._tables.leading_ids.tolist()
        self._specificity = self._tables.specificity.tolist()

    def users(self, rngs: Sequence[np.random.Generator]) -> UserBatch:
        """One shopper per generator.

        Each generator draws, in order: a uniform (segment), two standard normals (theta_price,
        theta_pl), a Dirichlet vector of the segment's concentrations (theta_cat) and
        ``embedding_dim`` float32 standard normals (theta_emb).
        """
        draws = compiled.kernel("pcg64_kernel")
        if draws is not None and self._gamma_segments.all() and draws.supports(rngs):  # the same, compiled
            segments, normals, rows, theta_emb = draws.user_draws(
                rngs, self._segment_cdf_array, self._concentration_rows, self._dim
            )
        else:
            segments, normals, rows, theta_emb = self._user_draws(rngs)
        theta_cat = np.where(self._gamma_segments[segments, None], normalized_rows(rows), rows)
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

    def _user_draws(
        self, rngs: Sequence[np.random.Generator]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`users`'s draws shopper by shopper: segments, (n, 2) normals, (n, n_categories)
        standard gammas (or numpy's Dirichlet draws, for stick-breaking segments), float32 theta_emb."""
        n, last = len(rngs), len(self._segment_cdf) - 1
        normals = np.empty((n, 2))
        theta_emb = np.empty((n, self._dim), dtype=np.float32)
        codes, draws = [], []  # draws: a shopper's standard gammas, or numpy's dirichlet (stick breaking)
        for rng, z, emb in zip(rngs, normals, theta_emb):  # rows of an array: views, cheaper than indexing
            segment = min(bisect.bisect_right(self._segment_cdf, rng.random()), last)
            codes.append(segment)
            rng.standard_normal(out=z)
            alpha = self._concentrations[segment]
            draws.append(
                [rng.standard_gamma(a) for a in alpha]
                if self._by_gammas[segment]
                else rng.dirichlet(alpha).tolist()
            )
            rng.standard_normal(out=emb, dtype=np.float32)
        rows = np.array(draws, dtype=np.float64).reshape(n, self._n_cats)
        return np.array(codes, dtype=np.int64), normals, rows, theta_emb

    def user_into(self, users: UserBatch, i: int, rng: np.random.Generator) -> list[float]:
        """Draws one shopper from ``rng`` into row ``i`` of ``users``: the numbers :meth:`users`
        gives for ``[rng]``, from scalar draws (no batch arrays). Returns the row's intent CDF
        (:func:`capped_cdf` of theta_cat) as a list, which the shopper's queries are drawn from."""
        segment = min(bisect.bisect_right(self._segment_cdf, rng.random()), len(self._segment_cdf) - 1)
        z_price, z_pl = rng.standard_normal(), rng.standard_normal()  # the stream of standard_normal(2)
        alpha = self._concentrations[segment]
        theta_cat = (
            dirichlet_by_gammas(rng, alpha) if self._by_gammas[segment] else rng.dirichlet(alpha).tolist()
        )
        rng.standard_normal(out=users.theta_emb[i], dtype=np.float32)
        price_mean, pl_mean, price_std, pl_std = self._theta_rows[segment]
        users.segments[i] = segment
        users.theta_price[i] = price_mean + price_std * z_price
        users.theta_pl[i] = pl_mean + pl_std * z_pl
        users.theta_cat[i] = theta_cat
        cdf, total = [], 0.0
        for p in theta_cat[:-1]:  # cumsum adds left to right, as this does
            total += p
            cdf.append(total)
        return [*cdf, math.inf]

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
        (low, high), n_fillers = tables.filler_ids, tables.n_fillers
        draws = compiled.kernel("pcg64_kernel")
        if draws is not None and draws.supports(rngs) and 1 < high - low < 2**32:  # the same, compiled
            fillers = np.empty((n, n_fillers), dtype=np.int64)
            draws.query_draws(rngs, uniforms, noise, fillers, low, high)
        else:
            filler_rows = []
            for rng, u, z in zip(rngs, uniforms, noise):  # rows of an array: views, cheaper than indexing
                rng.random(out=u)
                rng.standard_normal(out=z, dtype=np.float32)
                filler_rows.append(uniform_integers(rng, low, high, n_fillers))
            fillers = np.array(filler_rows, dtype=np.int64).reshape(n, n_fillers)
        intent = np.add.reduce(intent_cdf <= uniforms[:, :1], axis=1, dtype=np.int64)
        qtype = np.searchsorted(self._type_cdf, uniforms[:, 1], side="right")
        return assemble_queries(theta_emb, tables, intent, qtype, noise, fillers)

    def query_into(
        self,
        queries: QueryBatch,
        i: int,
        theta_emb: np.ndarray,
        intent_cdf: Sequence[float],
        rng: np.random.Generator,
    ) -> tuple[int, int]:
        """Draws one shopper's next query from ``rng`` into row ``i`` of ``queries``: the numbers
        :meth:`draw_queries` gives for a batch of one (the same draws and arithmetic), from scalar
        draws and Python look-ups. ``theta_emb``: the shopper's (d,) taste; ``intent_cdf``: their
        :func:`capped_cdf` of theta_cat as a sequence. Returns the query's intent and type codes."""
        tables = self._tables
        u_intent, u_type = rng.random(), rng.random()  # the stream of random(2)
        phi_emb = queries.phi_emb[i]
        rng.standard_normal(out=phi_emb, dtype=np.float32)
        low, high = tables.filler_ids
        fillers = uniform_integers(rng, low, high, tables.n_fillers)
        intent = 0
        for c in intent_cdf:  # the count of entries <= u, as the batch's comparison and sum
            intent += c <= u_intent
        qtype = bisect.bisect_right(self._type_cdf_list, u_type)  # searchsorted(side="right")
        np.multiply(phi_emb, tables.noise_std, out=phi_emb)  # theta_emb + noise_std * noise, in float32
        np.add(theta_emb, phi_emb, out=phi_emb)
        queries.intent[i] = intent
        queries.query_type[i] = qtype
        queries.token_ids[i] = self._leading[intent][qtype] + fillers
        queries.specificity[i] = self._specificity[qtype]
        return intent, qtype
