"""Shopper behaviour statistics: cascade, purchase cap, abandonment, retention, population, retrieval.

Tolerances are 4.5 binomial standard errors of the sample at hand (a false alarm about once in
150,000 runs per check); every sample is drawn from a fixed seed, so the tests are deterministic.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from recframe.environments.pet_retail.behavior import (
    CascadeDraws,
    draw_cascade,
    position_bias_table,
    retention_continues,
    simulate_cascade,
    utilities,
    utilities_of_one,
)
from recframe.environments.pet_retail.config import BehaviorConfig, RetentionConfig, SimulatorConfig
from recframe.environments.pet_retail.population import (
    Population,
    capped_cdf,
    dirichlet_by_gammas,
    uniform_integers,
)
from recframe.environments.pet_retail.queries import QueryBatch
from recframe.environments.pet_retail.relevance import category_overlap, relevance_scores
from recframe.environments.pet_retail.sessions import ShopperSessions, lexical_shifts, load_catalog

Z = 4.5


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _within(successes: int, trials: int, p: float) -> bool:
    return abs(successes / trials - p) <= Z * np.sqrt(p * (1 - p) / trials)


def _draws(n: int, k: int, seed: int) -> CascadeDraws:
    rng = np.random.default_rng(seed)
    u = rng.random((n, 3 * k + 1))
    logits = np.log(u) - np.log1p(-u)
    return CascadeDraws(
        rng.standard_normal((n, k)),
        logits[:, :k],
        logits[:, k : 2 * k],
        logits[:, 2 * k : 3 * k],
        logits[:, 3 * k],
    )


def _run(
    behavior: BehaviorConfig,
    utility: float,
    n: int = 20_000,
    k: int = 10,
    qtype: str = "category",
    seed: int = 0,
):
    pos_bias = np.broadcast_to(position_bias_table(behavior, [qtype], k), (n, k))
    util = np.full((n, k), utility)
    log_price = np.full((n, k), np.log1p(12.0))
    return simulate_cascade(behavior, util, log_price, pos_bias, _draws(n, k, seed)), pos_bias[0]


def test_examination_by_position_follows_the_position_bias_at_satisfaction_zero():
    flat = BehaviorConfig(
        satisfaction_gain=0.0, satisfaction_decay=0.0, post_purchase_fatigue=0.0, max_purchases=100
    )
    for qtype in ("category", "brand", "generic"):
        cascade, bias = _run(flat, utility=0.0, qtype=qtype, seed=1)
        examined = cascade.examined
        reached = np.concatenate([np.ones((len(examined), 1), dtype=bool), examined[:, :-1]], axis=1)
        for k in range(6):
            trials = int(reached[:, k].sum())
            assert _within(int(examined[:, k].sum()), trials, _sigmoid(bias[k])), (qtype, k)


def test_clicks_and_purchases_given_examination_follow_the_utility():
    flat = BehaviorConfig(
        satisfaction_gain=0.0, satisfaction_decay=0.0, post_purchase_fatigue=0.0, max_purchases=100
    )
    utility = 0.4
    cascade, _ = _run(flat, utility=utility, seed=2)
    examined, clicks, buys = cascade.examined, cascade.clicks, cascade.buys
    assert not (clicks & ~examined).any() and not (buys & ~clicks).any()
    assert _within(int(clicks.sum()), int(examined.sum()), _sigmoid(utility))
    buy_logit = flat.beta_buy * utility + flat.beta0 - flat.w_price_penalty * np.log1p(12.0)
    assert _within(int(buys.sum()), int(clicks.sum()), _sigmoid(buy_logit))


def test_purchases_are_capped_and_the_cascade_stops_at_the_cap():
    eager = BehaviorConfig(
        post_purchase_fatigue=0.0, pos_bias={t: [50.0] for t in ("category", "brand", "generic")}
    )
    cascade, _ = _run(eager, utility=60.0, n=500)
    assert np.all(cascade.buys.sum(axis=1) == 3)
    assert np.all(cascade.examined.sum(axis=1) == 3)
    default, _ = _run(BehaviorConfig(), utility=3.0, n=5_000, k=20, seed=3)
    assert default.buys.sum(axis=1).max() <= 3


def test_dissatisfied_shoppers_abandon():
    grumpy = BehaviorConfig(
        satisfaction_decay=1.5, pos_bias={t: [50.0] for t in ("category", "brand", "generic")}
    )
    cascade, _ = _run(grumpy, utility=-60.0, n=500)
    # -1.5 after one product, -3.0 < -2 after the second: nobody looks at a third.
    assert np.all(cascade.examined.sum(axis=1) == 2)
    assert np.all(cascade.satisfaction == -3.0)


def test_satisfaction_sums_the_examined_positions():
    cascade, _ = _run(BehaviorConfig(), utility=0.5, n=2_000, seed=4)
    b = BehaviorConfig()
    delta = np.where(cascade.clicks, b.satisfaction_gain * 0.5, 0.0) - np.where(
        cascade.examined & ~cascade.clicks, b.satisfaction_decay, 0.0
    )
    delta -= np.where(cascade.buys, b.post_purchase_fatigue, 0.0)
    np.testing.assert_allclose(cascade.satisfaction, delta.sum(axis=1), atol=1e-12)


def test_a_shoppers_cascade_is_the_same_alone_and_in_a_batch():
    # The engine's utilities are float32; the one-shopper path works in float64, and so must the
    # batched one (float32 satisfaction would differ in the last bits and, rarely, in decisions).
    behavior, n, k = BehaviorConfig(), 400, 10
    rng = np.random.default_rng(6)
    utility = rng.normal(0.5, 1.5, size=(n, k)).astype(np.float32)
    log_price = np.log1p(rng.uniform(1.0, 40.0, size=(n, k)))
    pos_bias = np.broadcast_to(position_bias_table(behavior, ["category"], k), (n, k))
    draws = _draws(n, k, 7)
    batch = simulate_cascade(behavior, utility, log_price, pos_bias, draws)
    for i in range(n):
        row = CascadeDraws(*(getattr(draws, f.name)[i : i + 1] for f in dataclasses.fields(CascadeDraws)))
        alone = simulate_cascade(behavior, utility[i : i + 1], log_price[i : i + 1], pos_bias[i : i + 1], row)
        np.testing.assert_array_equal(alone.flags[:, 0], batch.flags[:, i])
        assert alone.satisfaction[0] == batch.satisfaction[i], i


def test_one_shoppers_utilities_on_floats_are_the_float32_batch_ones():
    behavior, n, k = BehaviorConfig(), 300, 10
    rng = np.random.default_rng(8)
    cosine = rng.uniform(-1.0, 1.0, size=(n, k)).astype(np.float32)
    log_price = np.log1p(rng.uniform(1.0, 40.0, size=(n, k)))
    is_pl = (rng.random((n, k)) < 0.3).astype(np.float64)
    affinity, noise = rng.dirichlet(np.ones(k), size=n), rng.standard_normal((n, k))
    theta_price, theta_pl = rng.normal(-1.0, 2.0, size=n), rng.normal(0.0, 2.0, size=n)
    batch = utilities(behavior, cosine, log_price, is_pl, affinity, theta_price, theta_pl, noise)
    assert batch.dtype == np.float32
    for i in range(n):
        rows = (x[i].tolist() for x in (cosine, log_price, is_pl, affinity, noise))
        c, lp, pl, a, z = rows
        one = utilities_of_one(behavior, c, lp, pl, a, float(theta_price[i]), float(theta_pl[i]), z)
        assert one == batch[i].tolist(), i


def test_a_shopper_responds_alone_as_in_a_batch():
    """The one-slot path of ShopperSessions (start, respond, next query on Python floats) leaves a
    shopper in the state, with the outcomes, that the batched arrays give it among others."""
    config = SimulatorConfig()
    catalog = load_catalog(config)
    alone, batch = ShopperSessions(config, catalog, 1), ShopperSessions(config, catalog, 3)
    alone.reseed(0, 11)
    for i, seed in enumerate((10, 11, 12)):
        batch.reseed(i, seed)
    alone.start(slice(0, 1))
    batch.start(np.arange(3))
    rng = np.random.default_rng(9)
    for step in range(300):
        ids = np.stack([rng.choice(len(catalog), size=10, replace=False) for _ in range(3)])
        one = alone.respond(slice(0, 1), ids[1:2])
        many = batch.respond(np.arange(3), ids)
        for field in ("examined", "clicks", "buys", "strategic", "revenue", "margin", "satisfaction"):
            np.testing.assert_array_equal(getattr(one, field)[0], getattr(many, field)[1], err_msg=field)
        assert one.continues[0] == many.continues[1]
        for name, values in one.components.items():
            assert values[0] == many.components[name][1], (step, name)
        for name in ("session", "active", "phi_unit", "query_vectors"):
            np.testing.assert_array_equal(getattr(alone, name)[0], getattr(batch, name)[1], err_msg=name)
        if not alone.active[0]:
            alone.start(slice(0, 1))
            batch.start(np.array([1]))
        for name in ("intent", "query_type", "phi_emb", "token_ids"):
            np.testing.assert_array_equal(getattr(alone.queries, name)[0], getattr(batch.queries, name)[1])
        batch.active[:] = True  # the other two shoppers go on regardless


@pytest.mark.parametrize("n", [1, 3])
def test_queries_left_to_next_queries_are_the_ones_drawn_at_once(n):
    """start and respond with draw_queries=False, then next_queries (the vectorized env's order),
    leave shoppers (a one-slot slice, or a batch) as start and respond that draw the queries."""
    config = SimulatorConfig()
    catalog = load_catalog(config)
    idx = slice(0, 1) if n == 1 else np.arange(n)
    now, later = ShopperSessions(config, catalog, n), ShopperSessions(config, catalog, n)

    def slots(mask: np.ndarray) -> np.ndarray | slice | None:
        if n == 1:
            return idx if mask[0] else None
        return np.flatnonzero(mask) if mask.any() else None

    now.start(idx)
    later.start(idx, draw_queries=False)
    later.next_queries(idx)
    rng = np.random.default_rng(3)
    for _ in range(100):
        ids = np.stack([rng.choice(len(catalog), size=10, replace=False) for _ in range(n)])
        now.respond(idx, ids)
        staying = slots(later.respond(idx, ids, draw_queries=False).continues)
        if staying is not None:
            later.next_queries(staying)
        for name in ("session", "active", "phi_unit", "query_vectors"):
            np.testing.assert_array_equal(getattr(now, name), getattr(later, name), err_msg=name)
        for name in ("intent", "query_type", "phi_emb", "token_ids"):
            np.testing.assert_array_equal(getattr(now.queries, name), getattr(later.queries, name))
        arriving = slots(~now.active)
        if arriving is not None:
            now.start(arriving)
            later.start(arriving, draw_queries=False)
            later.next_queries(arriving)


def test_retention_rate_follows_the_logistic_model():
    n = 20_000
    retention = RetentionConfig()
    for clicks, satisfaction in ((0.0, 0.0), (3.0, -1.0)):
        stays = retention_continues(retention, np.full(n, clicks), np.full(n, satisfaction), _draws(n, 1, 5))
        logit = np.log(0.35 / 0.65) + 0.2 * clicks + 0.15 * satisfaction
        assert _within(int(stays.sum()), n, _sigmoid(logit))


def test_drawn_shoppers_follow_the_segment_mix_and_intent_follows_affinity():
    config = SimulatorConfig()
    n = 4_000
    rngs = [np.random.default_rng(i) for i in range(n)]
    population = Population(config)
    users = population.users(rngs)
    for code, share in enumerate(config.users.segment_mix):
        assert _within(int((users.segments == code).sum()), n, share)
    litter = list(config.users.segments).index("litter_heavy")
    assert users.theta_price[users.segments == litter].mean() == pytest.approx(-1.0, abs=0.05)
    queries = population.queries(users, rngs)
    heavy = users.segments == litter
    litter_code = list(config.catalog.categories).index("litter")
    assert (queries.intent[heavy] == litter_code).mean() > 0.7
    assert _within(int((queries.query_type == 0).sum()), n, 0.6)
    cos = np.sum(users.theta_emb * queries.phi_emb, axis=1) / (
        np.linalg.norm(users.theta_emb, axis=1) * np.linalg.norm(queries.phi_emb, axis=1)
    )
    assert np.mean(cos > 0.95) > 0.95


def test_dirichlet_by_gammas_is_numpys_dirichlet():
    for alpha in ([0.3, 0.3, 0.2, 0.2], [0.05, 0.05, 0.85, 0.05], [2.0, 0.1, 7.5]):
        for seed in range(300):
            mine, numpys = np.random.default_rng(seed), np.random.default_rng(seed)
            assert dirichlet_by_gammas(mine, alpha) == numpys.dirichlet(alpha).tolist(), (alpha, seed)
            assert mine.random() == numpys.random()  # the stream moved on by as much


@pytest.mark.parametrize("span", [1, 2, 1000, 3 * 2**30, 2**31 + 1, 2**32 - 1, 2**32, 2**40])
def test_uniform_integers_are_numpys_integers(span):
    """The same numbers and stream as one-at-a-time ``integers``, also where Lemire's method redraws
    often (spans just above 2**31 and at 3 * 2**30) and after float32 normals, which take 32-bit
    halves of the generator's 64-bit output (so a draw may start on a buffered half)."""
    for seed in range(100):
        mine, numpys = np.random.default_rng(seed), np.random.default_rng(seed)
        for n in (1, 2, 3):
            low = -7 * n
            expected = [numpys.integers(low, low + span) for _ in range(n)]
            assert uniform_integers(mine, low, low + span, n) == expected, (span, seed)
            for rng in (mine, numpys):
                rng.standard_normal(n, dtype=np.float32)
        assert mine.integers(1000) == numpys.integers(1000)  # the stream moved on by as much
        assert mine.random() == numpys.random()


def test_draws_depend_only_on_each_shoppers_own_generator():
    config = SimulatorConfig()
    population = Population(config)
    alone = population.users([np.random.default_rng(7)])
    batch = population.users([np.random.default_rng(s) for s in (3, 7, 9)])
    for name in ("segments", "theta_price", "theta_pl", "theta_cat", "theta_emb"):
        np.testing.assert_array_equal(getattr(alone, name)[0], getattr(batch, name)[1])
    alone_draws = draw_cascade([np.random.default_rng(5)], 4)
    batch_draws = draw_cascade([np.random.default_rng(s) for s in (5, 6)], 4)
    for field in dataclasses.fields(CascadeDraws):
        np.testing.assert_array_equal(
            getattr(alone_draws, field.name)[0], getattr(batch_draws, field.name)[0]
        )


@pytest.mark.parametrize("stick_breaking", [False, True])
def test_one_shoppers_scalar_draws_are_the_batch_of_ones(stick_breaking):
    """user_into and query_into (the single environments' path) write what users and draw_queries
    give for a batch of one, and move the generator on by as much; a batch of all the shoppers
    (with stick breaking, both Dirichlet methods mixed) has each one's row."""
    config = SimulatorConfig()
    if stick_breaking:  # concentrations below 0.1: numpy's dirichlet, not dirichlet_by_gammas
        params = config.users.segment_params
        params["price_hunter"] = dataclasses.replace(params["price_hunter"], cat_conc=[0.05] * 4)
    population = Population(config)
    users = population.users([np.random.default_rng(0)])  # rows to draw into
    queries = population.queries(users, [np.random.default_rng(0)])
    all_users = population.users([np.random.default_rng(seed) for seed in range(300)])
    for seed in range(300):
        batch_rng, one_rng = np.random.default_rng(seed), np.random.default_rng(seed)
        batch_users = population.users([batch_rng])
        intent_cdf = population.user_into(users, 0, one_rng)
        for name in ("segments", "theta_price", "theta_pl", "theta_cat", "theta_emb"):
            np.testing.assert_array_equal(getattr(users, name), getattr(batch_users, name), err_msg=name)
            np.testing.assert_array_equal(getattr(all_users, name)[seed], getattr(users, name)[0])
        assert intent_cdf == capped_cdf(batch_users.theta_cat)[0].tolist()
        batch_queries = population.draw_queries(
            batch_users.theta_emb, capped_cdf(batch_users.theta_cat), [batch_rng]
        )
        codes = population.query_into(queries, 0, users.theta_emb[0], intent_cdf, one_rng)
        for name in ("intent", "query_type", "phi_emb", "token_ids", "specificity"):
            np.testing.assert_array_equal(getattr(queries, name), getattr(batch_queries, name), err_msg=name)
        assert codes == (batch_queries.intent[0], batch_queries.query_type[0])
        assert one_rng.random() == batch_rng.random()


def test_per_query_generators_score_like_one_query_at_a_time():
    config = SimulatorConfig()
    catalog = load_catalog(config)
    rngs = [np.random.default_rng(s) for s in (1, 2, 3)]
    population = Population(config)
    queries = population.queries(population.users(rngs), rngs)
    batch = relevance_scores(queries, catalog, config, [np.random.default_rng(s) for s in (10, 11, 12)])
    for row, s in enumerate((10, 11, 12)):
        one = QueryBatch(
            category_names=queries.category_names,
            query_type_names=queries.query_type_names,
            intent=queries.intent[row : row + 1],
            query_type=queries.query_type[row : row + 1],
            phi_emb=queries.phi_emb[row : row + 1],
            token_ids=queries.token_ids[row : row + 1],
            specificity=queries.specificity[row : row + 1],
            vocabulary=queries.vocabulary,
        )
        np.testing.assert_array_equal(
            relevance_scores(one, catalog, config, np.random.default_rng(s))[0], batch[row]
        )
    with pytest.raises(TypeError, match="one Generator per query"):
        relevance_scores(queries, catalog, config, rngs[:2])


def test_lexical_shift_table_matches_the_token_overlap_of_drawn_queries():
    config = SimulatorConfig()
    sessions = ShopperSessions(config, load_catalog(config), 400)
    for i in range(400):
        sessions.reseed(i, i)
    sessions.start(np.arange(400))
    q = sessions.queries
    expected = config.relevance.w_lex * np.log1p(category_overlap(q).astype(np.float64))
    np.testing.assert_array_equal(lexical_shifts(config)[q.intent, q.query_type], expected)
