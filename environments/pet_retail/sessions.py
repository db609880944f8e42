"""Shopper visits, simulated for a batch of shoppers at once: the engine behind every pet-retail env.

A visit: a shopper arrives (:meth:`ShopperSessions.start` draws them and their first query); each
step the retailer shows a ranked list for the current query and the shopper responds through the
cascade (:meth:`ShopperSessions.respond`), after which they either type another query or leave.

Random streams: every shopper has three generators, ``relevance`` (retrieval noise), ``shopper``
(who they are and what they type) and ``behavior`` (cascade and retention), each consumed in a fixed
order and amount per event. All cross-shopper work is elementwise or row by row, so a shopper's
trajectory depends only on its own streams and actions, not on the batch: the single environments
(a batch of one) and the vectorized one give bit-identical results. :func:`shopper_streams` derives
the three generators from a seed exactly as the RecSim components derive theirs
(``SingleUserEnvironment.reset_sampler``), so ``env.reset(seed=s)`` and a vectorized shopper
seeded with ``s`` are the same shopper.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from types import SimpleNamespace

import numpy as np

from recframe.environments.pet_retail.behavior import (
    cascade_of_one,
    draw_cascade,
    draw_cascade_of_one,
    position_bias_table,
    retention_continues,
    retention_logit,
    simulate_cascade,
    to_float32,
    utilities,
    utilities_of_one,
)
from recframe.environments.pet_retail.catalog import Catalog
from recframe.environments.pet_retail.config import SimulatorConfig
from recframe.environments.pet_retail.features import SESSION_FEATURES, shopper_observation
from recframe.environments.pet_retail.population import Population, capped_cdf
from recframe.environments.pet_retail.queries import QueryBatch, build_vocabulary
from recframe.environments.pet_retail.relevance import category_overlap
from recframe.environments.pet_retail.retrieval import CategoryIndex, noisy_top_k_rows
from recframe.environments.pet_retail.reward import reward_weights, weighted_components
from recframe.environments.pet_retail.users import UserBatch
from recframe.environments.pet_retail.world import World
from recframe.seeding import SeedLike, child_seeds, make_rng

__all__ = ["Outcome", "ShopperSessions", "lexical_shifts", "load_catalog", "shopper_streams", "unit_rows"]


def shopper_streams(seed: SeedLike) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    """The ``(relevance, shopper, behavior)`` generators of a shopper seeded with ``seed``.

    Mirrors the RecSim nesting: the environment splits its seed into the document sampler's and
    the user model's, and the user model splits its own into the user sampler's and the response
    stream's.
    """
    document_seed, user_seed = child_seeds(seed, 2)
    sampler_seed, model_seed = child_seeds(user_seed, 2)
    return make_rng(document_seed), make_rng(sampler_seed), make_rng(model_seed)


@lru_cache(maxsize=4)
def _catalog(config_json: str) -> Catalog:
    return World.create(SimulatorConfig.from_dict(json.loads(config_json))).catalog


def load_catalog(config: SimulatorConfig) -> Catalog:
    """The catalog of ``config``'s world (drawn from ``config.seed``; cached, shared between envs)."""
    config.validate()
    return _catalog(json.dumps(config.to_dict(), sort_keys=True))


_TINY = float(np.finfo(np.float32).tiny)


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows of ``x`` scaled to unit length, float32 (each row on its own)."""
    x = np.asarray(x, dtype=np.float32)  # no copy of float32 input: the result is a new array anyway
    norms = np.sqrt(np.add.reduce(np.square(x, dtype=np.float64), axis=1))
    # Divided in float64 and rounded into the float32 result (what astype after the division did).
    out = np.empty(x.shape, dtype=np.float32)
    return np.divide(x, np.maximum(norms, _TINY)[:, None], out=out, casting="same_kind")


def lexical_shifts(config: SimulatorConfig) -> np.ndarray:
    """(n_categories, n_query_types, n_categories) float64: the lexical relevance term by the query's
    intent and type, per product category: w_lex * log1p(distinct shared tokens).

    A query's tokens are its intent's category words, its type's name and filler tokens, and the
    fillers are never category words (their ids follow all the words), so the overlap depends on
    the intent and type alone: one table per config instead of a token match per query.
    """
    vocab = build_vocabulary(config)
    if vocab.category_token_matrix[vocab.filler_offset :].any():  # pragma: no cover - vocabulary invariant
        raise AssertionError("filler tokens must not be category words")
    words = vocab.category_word_table
    n_cats, n_types = words.shape[0], len(vocab.type_token_ids)
    intent, qtype = np.divmod(np.arange(n_cats * n_types), n_types)
    tokens = np.concatenate([words[intent], np.asarray(vocab.type_token_ids)[qtype, None]], axis=1)
    overlap = category_overlap(SimpleNamespace(token_ids=tokens, vocabulary=vocab))  # type: ignore[arg-type]
    shifts = config.relevance.w_lex * np.log1p(overlap.astype(np.float64))
    return shifts.reshape(n_cats, n_types, n_cats)


@dataclass(frozen=True)
class Outcome:
    """The responses of a batch of shoppers to the lists they were shown.

    Attributes:
        product_ids: (n, k) the products shown, in rank order.
        examined, clicks, buys, strategic: (n, k) bool (``strategic``: a strategic product bought).
        revenue, margin: (n, k) price and CM2 of the bought products, 0 elsewhere.
        satisfaction: (n,) satisfaction at the end of the cascade.
        continues: (n,) whether the shopper searches again (else the visit is over).
        components: ``reward, gmv, cm2, strategic_purchases, clicks``, each (n,).
    """

    product_ids: np.ndarray
    examined: np.ndarray
    clicks: np.ndarray
    buys: np.ndarray
    strategic: np.ndarray
    revenue: np.ndarray
    margin: np.ndarray
    satisfaction: np.ndarray
    continues: np.ndarray
    components: dict[str, np.ndarray]

    def responses(self) -> dict[str, np.ndarray]:
        """The (n, k) arrays behind each response field (see ``features.RESPONSE_FIELDS``)."""
        return {
            "examined": self.examined,
            "click": self.clicks,
            "purchase": self.buys,
            "revenue": self.revenue,
            "margin": self.margin,
            "strategic": self.strategic,
        }


class ShopperSessions:
    """The state and random streams of ``num_shoppers`` shoppers, and the vectorized simulation steps.

    Methods take ``idx``, the shoppers concerned: an int64 array of slots (each at most once). The
    per-step ones (:meth:`start`, :meth:`respond`, :meth:`cosines`, :meth:`observe`) also take a
    slice: the one-shopper environments pass ``slice(0, 1)``, so that their reads are views and
    their writes slice assignments, several times cheaper than one-element index arrays; a one-slot
    slice also takes the one-shopper paths (scalar draws, Python floats: a batch row's numbers).

    Attributes:
        config, catalog: the world.
        users: a :class:`UserBatch` with one row per shopper (the current shopper of each slot).
        queries: a :class:`QueryBatch` with each shopper's current query.
        session: (num_shoppers, 3) float64 visit counts (see ``SESSION_FEATURES``).
        active: (num_shoppers,) whether the shopper's visit is going on.
        index: the catalog grouped by category (the order retrieval works in).
        streams: ``{"relevance": [...], "shopper": [...], "behavior": [...]}``, one generator per
            shopper; owners may replace entries (the RecSim components put their own generators in).
    """

    def __init__(self, config: SimulatorConfig, catalog: Catalog, num_shoppers: int) -> None:
        if (
            isinstance(num_shoppers, bool)
            or not isinstance(num_shoppers, int | np.integer)
            or num_shoppers < 1
        ):
            raise ValueError(f"num_shoppers must be a positive integer, got {num_shoppers!r}")
        self.config, self.catalog, self.num_shoppers = config, catalog, int(num_shoppers)
        rngs = [shopper_streams(i) for i in range(self.num_shoppers)]
        self.streams: dict[str, list[np.random.Generator]] = {
            name: [r[j] for r in rngs] for j, name in enumerate(("relevance", "shopper", "behavior"))
        }
        self.population = Population(config)
        placeholder = [make_rng(0)] * self.num_shoppers  # values until each shopper's start()
        self.users: UserBatch = self.population.users(placeholder)
        self.queries: QueryBatch = self.population.queries(self.users, placeholder)
        self._intent_cdf = capped_cdf(self.users.theta_cat)  # per shopper: drawing an intent reads it
        self.phi_unit = unit_rows(self.queries.phi_emb)
        self._shifts = lexical_shifts(config)
        self._shift_lists = self._shifts.tolist()  # one query's shifts as Python floats
        self.query_vectors = self._query_vectors(self.queries, self.phi_unit)
        self.session = np.zeros((self.num_shoppers, len(SESSION_FEATURES)))
        self.active = np.zeros(self.num_shoppers, dtype=bool)
        self._pos_bias = position_bias_table(
            config.behavior, config.queries.query_types, max(config.top_k, 64)
        )
        self._unit = catalog.unit_embeddings
        self.index = CategoryIndex.of(catalog)
        # Per-product rows the cascade and reward read, gathered in one indexing operation:
        # log1p(price), is_pl, price, cm2, strategic.
        self._table = np.stack(
            [np.log1p(catalog.prices), catalog.is_pl, catalog.prices, catalog.cm2, catalog.strategic]
        )
        self._slots = np.arange(self.num_shoppers)
        self._reward_weights = reward_weights(config.reward)

    def reseed(self, index: int, seed: SeedLike) -> None:
        """Restarts shopper ``index``'s three generators from ``seed`` (in place)."""
        for name, rng in zip(("relevance", "shopper", "behavior"), shopper_streams(seed), strict=True):
            self.streams[name][index].bit_generator.state = rng.bit_generator.state

    def _rngs(self, name: str, idx: np.ndarray | slice) -> list[np.random.Generator]:
        stream = self.streams[name]
        return stream[idx] if isinstance(idx, slice) else [stream[i] for i in idx.tolist()]

    def _one(self, idx: np.ndarray | slice) -> int | None:
        """The slot if ``idx`` is a slice of exactly one (a single environment's), else None."""
        if isinstance(idx, slice):
            slots = range(*idx.indices(self.num_shoppers))
            if len(slots) == 1:
                return slots[0]
        return None

    def start(self, idx: np.ndarray | slice, draw_queries: bool = True) -> None:
        """New shoppers arrive in slots ``idx``: draws them and their first queries (``draw_queries``
        False leaves those to :meth:`next_queries`)."""
        i = self._one(idx)
        if i is not None:  # one shopper: scalar draws straight into the rows (the same numbers)
            intent_cdf = self.population.user_into(self.users, i, self.streams["shopper"][i])
            self._intent_cdf[i] = intent_cdf
            self.session[i] = 0.0
            self.active[i] = True
            if draw_queries:
                self._next_query_of_one(i, intent_cdf)
            return
        users = self.population.users(self._rngs("shopper", idx))
        for name in ("segments", "theta_price", "theta_pl", "theta_cat", "theta_emb"):
            getattr(self.users, name)[idx] = getattr(users, name)
        self._intent_cdf[idx] = intent_cdf = capped_cdf(users.theta_cat)
        self.session[idx] = 0.0
        self.active[idx] = True
        if draw_queries:
            self.next_queries(idx, users.theta_emb, intent_cdf)

    def next_queries(
        self,
        idx: np.ndarray | slice,
        theta_emb: np.ndarray | None = None,
        intent_cdf: np.ndarray | None = None,
    ) -> None:
        """Draws the next query of shoppers ``idx`` (their tastes and intent CDFs, if already at hand).

        :meth:`start` and :meth:`respond` call it, unless told to leave it to the caller: the
        vectorized env draws the queries of the shoppers who stay and of those who arrive in one
        batch (each shopper's streams are its own, so batching them is only cheaper).
        """
        i = self._one(idx)
        if i is not None:
            self._next_query_of_one(i)
            return
        if theta_emb is None or intent_cdf is None:
            theta_emb, intent_cdf = self.users.theta_emb[idx], self._intent_cdf[idx]
        queries = self.population.draw_queries(theta_emb, intent_cdf, self._rngs("shopper", idx))
        for name in ("intent", "query_type", "phi_emb", "token_ids", "specificity"):
            getattr(self.queries, name)[idx] = getattr(queries, name)
        self.phi_unit[idx] = phi_unit = unit_rows(queries.phi_emb)
        self.query_vectors[idx] = self._query_vectors(queries, phi_unit)

    def _next_query_of_one(self, i: int, intent_cdf: list[float] | None = None) -> None:
        """:meth:`next_queries` of slot ``i`` alone, drawn and written row by row (the same numbers)."""
        if intent_cdf is None:
            intent_cdf = self._intent_cdf[i].tolist()
        intent, qtype = self.population.query_into(
            self.queries, i, self.users.theta_emb[i], intent_cdf, self.streams["shopper"][i]
        )
        # unit_rows and _query_vectors of the row on Python floats: the same double operations (the
        # squares summed by numpy, in its order), rounded to float32 where the arrays are float32.
        phi_emb = self.queries.phi_emb[i]
        norm = max(math.sqrt(np.add.reduce(np.square(phi_emb, dtype=np.float64))), _TINY)
        self.phi_unit[i] = phi_unit = to_float32([x / norm for x in phi_emb.tolist()])
        w_sem = self.config.relevance.w_sem
        self.query_vectors[i] = [w_sem * x for x in phi_unit] + self._shift_lists[intent][qtype]

    def _query_vectors(self, queries: QueryBatch, phi_unit: np.ndarray) -> np.ndarray:
        """(n, d + n_categories) float32 rows ``[w_sem * phi_unit, lexical shift per category]``.

        Times :attr:`CategoryIndex.matrix <.retrieval.CategoryIndex>` they give each query's
        noiseless relevance to every product in one matrix-vector product; computed once per query.
        """
        d = phi_unit.shape[1]
        vectors = np.empty((len(phi_unit), d + self._shifts.shape[2]), dtype=np.float32)
        w_sem = self.config.relevance.w_sem
        np.multiply(phi_unit, w_sem, out=vectors[:, :d], dtype=np.float64, casting="same_kind")
        vectors[:, d:] = self._shifts[queries.intent, queries.query_type]
        return vectors

    def user_rows(self, idx: np.ndarray) -> UserBatch:
        """The shoppers in slots ``idx`` as a :class:`UserBatch` (copies)."""
        u = self.users
        return UserBatch(
            segment_names=u.segment_names,
            segments=u.segments[idx],
            theta_price=u.theta_price[idx],
            theta_pl=u.theta_pl[idx],
            theta_cat=u.theta_cat[idx],
            theta_emb=u.theta_emb[idx],
        )

    def query_rows(self, idx: np.ndarray) -> QueryBatch:
        """The current queries of slots ``idx`` as a :class:`QueryBatch` (copies)."""
        q = self.queries
        return QueryBatch(
            category_names=q.category_names,
            query_type_names=q.query_type_names,
            intent=q.intent[idx],
            query_type=q.query_type[idx],
            phi_emb=q.phi_emb[idx],
            token_ids=q.token_ids[idx],
            specificity=q.specificity[idx],
            vocabulary=q.vocabulary,
        )

    def observe(self, idx: np.ndarray | slice) -> dict[str, np.ndarray]:
        """Shopper observations of slots ``idx`` (dict of (n, ...) arrays; new arrays, never views)."""
        q = self.queries
        return shopper_observation(
            q.query_type[idx], q.intent[idx], q.phi_emb[idx], self.session[idx], self.config
        )

    def observe_one(self, i: int) -> dict[str, np.ndarray]:
        """The observation of slot ``i`` alone, as 1-D arrays (the single environments' every step):
        one-hot rows copied from the identity and row copies, no index arrays or batch of one."""
        q = self.queries
        return shopper_observation(
            int(q.query_type[i]), int(q.intent[i]), q.phi_emb[i], self.session[i], self.config
        )

    def top_products(
        self, idx: np.ndarray, k: int, scoring: tuple[np.ndarray, np.ndarray] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best products for each current query by noisy relevance (+ boosts), best first.

        Relevance is the textbook's (:mod:`.relevance`): w_sem * cosine + w_lex * log1p(token
        overlap) + N(0, noise_sigma^2) for every catalog product. The noiseless scores are one
        float32 matrix product for the batch (the shoppers' :attr:`query_vectors` rows times the
        index's :attr:`~.retrieval.CategoryIndex.matrix`); :func:`.retrieval.noisy_top_k_rows`
        finds the top ``k`` exactly while drawing the noise of only the products that can make it,
        from each shopper's relevance stream (bit-identical alone or in a batch).

        Args:
            idx: the shoppers.
            k: how many products per shopper (<= catalog size).
            scoring: optional ``(matrix, vectors)`` replacing the relevance: (d', m) float32 rows
                over the products in the order of :attr:`index` and (n, d') float32 per-shopper
                weights; score = vectors[i] @ matrix (see :class:`~.boost.BoostRanker`).

        Returns:
            ``(product_ids, scores)``, each (n, k): the products and their noisy scores.
        """
        matrix, vectors = scoring if scoring is not None else (self.index.matrix, self.query_vectors[idx])
        sigma = self.config.relevance.noise_sigma
        positions, relevance = noisy_top_k_rows(matrix, vectors, k, sigma, self._rngs("relevance", idx))
        return self.index.ids[positions], relevance

    def cosines(self, idx: np.ndarray | slice, product_ids: np.ndarray) -> np.ndarray:
        """(n, k) float32 cosines between each shopper's query and the products ``product_ids[i]``.

        One stacked matrix-vector product: numpy runs it as one BLAS gemv per shopper, the call a
        single shopper's ``(k, d) @ (d,)`` makes, so a shopper's cosines do not depend on the batch.
        """
        return np.matmul(self._unit[product_ids], self.phi_unit[idx][:, :, None])[:, :, 0]

    def respond(self, idx: np.ndarray | slice, product_ids: np.ndarray, draw_queries: bool = True) -> Outcome:
        """Shoppers ``idx`` respond to the ranked lists ``product_ids`` (n, k), then search again or leave.

        Draws each shopper's cascade from its behavior stream and, for those who stay, their next
        query from their shopper stream (``draw_queries`` False leaves those to :meth:`next_queries`);
        updates the visit counts and :attr:`active`.
        """
        n, k = product_ids.shape
        if k > self._pos_bias.shape[1]:
            self._pos_bias = position_bias_table(self.config.behavior, self.config.queries.query_types, k)
        i = self._one(idx)
        if i is not None:
            return self._respond_of_one(i, idx, product_ids, draw_queries)
        u = self.users
        draws = draw_cascade(self._rngs("behavior", idx), k)
        # take, not self._table[:, product_ids]: that one comes out product-major, and sums over its
        # strided rows would not be added in the order of a contiguous row.
        table = np.take(self._table, product_ids, axis=1)
        log_price, is_pl, strategic = table[0], table[1], table[4]
        utility = utilities(
            self.config.behavior,
            self.cosines(idx, product_ids),
            log_price,
            is_pl,
            u.theta_cat[self._slots[idx, None], self.catalog.categories[product_ids]],
            u.theta_price[idx],
            u.theta_pl[idx],
            draws.noise,
        )
        pos_bias = self._pos_bias[self.queries.query_type[idx], :k]
        cascade = simulate_cascade(self.config.behavior, utility, log_price, pos_bias, draws)
        buys = cascade.buys
        money = np.where(buys, table[2:4], 0.0)  # revenue, margin
        strategic = np.logical_and(buys, strategic)
        # gmv, cm2, strategic purchases, clicks (the reward's components, in order), purchases
        tallies = np.empty((5, n))
        np.add.reduce(money, axis=2, out=tallies[0:2])
        np.add.reduce(strategic, axis=1, dtype=np.float64, out=tallies[2])
        np.add.reduce(cascade.flags[1:], axis=2, dtype=np.float64, out=tallies[3:5])
        components = weighted_components(self._reward_weights, tallies[:4])
        continues = retention_continues(
            self.config.retention, components["clicks"], cascade.satisfaction, draws
        )
        self.session[idx, 0] += 1.0  # queries, clicks, purchases (SESSION_FEATURES)
        self.session[idx, 1:] += tallies[3:5].T
        self.active[idx] = continues
        staying = self._subset(idx, continues) if draw_queries else None
        if staying is not None:
            self.next_queries(staying)
        return Outcome(
            product_ids=product_ids,
            examined=cascade.examined,
            clicks=cascade.clicks,
            buys=buys,
            strategic=strategic,
            revenue=money[0],
            margin=money[1],
            satisfaction=cascade.satisfaction,
            continues=continues,
            components=components,
        )

    def _respond_of_one(self, i: int, idx: slice, product_ids: np.ndarray, draw_queries: bool) -> Outcome:
        """:meth:`respond` for slot ``i`` alone (``idx`` its slice): the same draws and the same IEEE
        operations in the same order, on Python floats where the batch uses (1, k) arrays."""
        b, k = self.config.behavior, product_ids.shape[1]
        noise, logits = draw_cascade_of_one(self.streams["behavior"][i], k)
        table = self._table.take(product_ids, axis=1)  # as respond (the money sums below)
        log_price, is_pl, _, _, strategic = table[:, 0].tolist()
        theta_cat = self.users.theta_cat[i].tolist()
        utility = utilities_of_one(
            b,
            self.cosines(idx, product_ids)[0].tolist(),
            log_price,
            is_pl,
            [theta_cat[c] for c in self.catalog.categories[product_ids[0]].tolist()],
            float(self.users.theta_price[i]),
            float(self.users.theta_pl[i]),
            noise,
        )
        pos_bias = self._pos_bias[self.queries.query_type[i], :k].tolist()
        flags, satisfaction = cascade_of_one(
            b, utility, log_price, pos_bias, logits[:k], logits[k : 2 * k], logits[2 * k : 3 * k]
        )
        cascade = np.array(flags, dtype=bool)[:, None, :]
        money = np.where(cascade[2], table[2:4], 0.0)  # revenue, margin
        clicks, purchases = sum(flags[1]), sum(flags[2])
        bought_strategic = [bought and s != 0.0 for bought, s in zip(flags[2], strategic, strict=True)]
        tallies = np.empty((4, 1))  # gmv, cm2, strategic purchases, clicks (the reward's components)
        np.add.reduce(money, axis=2, out=tallies[0:2])
        tallies[2:, 0] = sum(bought_strategic), clicks
        components = weighted_components(self._reward_weights, tallies)
        continues = logits[3 * k] < retention_logit(self.config.retention, float(clicks), satisfaction)
        self.session[i] += (1.0, clicks, purchases)  # queries, clicks, purchases (SESSION_FEATURES)
        self.active[i] = continues
        if continues and draw_queries:
            self._next_query_of_one(i)
        return Outcome(
            product_ids=product_ids,
            examined=cascade[0],
            clicks=cascade[1],
            buys=cascade[2],
            strategic=np.array([bought_strategic]),
            revenue=money[0],
            margin=money[1],
            satisfaction=np.array([satisfaction]),
            continues=np.array([continues]),
            components=components,
        )

    def _subset(self, idx: np.ndarray | slice, mask: np.ndarray) -> np.ndarray | slice | None:
        """The slots of ``idx`` where ``mask`` (aligned with them) holds; None if there are none."""
        if isinstance(idx, slice) and all(mask.tolist()):  # a slice is one shopper's: a list beats .all()
            return idx
        slots = self._slots[idx][mask]
        return slots if slots.size else None
