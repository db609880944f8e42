"""Query statistics: type mix, intent coupled to the shopper's affinities, embeddings, tokens, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from recframe.environments.pet_retail.config import QueryConfig, SimulatorConfig
from recframe.environments.pet_retail.queries import (
    PAD,
    Query,
    QueryBatch,
    build_vocabulary,
    sample_queries,
    sample_query,
)
from recframe.environments.pet_retail.users import sample_user, sample_users

ALPHA = 1e-3
N = 100_000
SEED = 2025_1108


@pytest.fixture(scope="module")
def cfg() -> SimulatorConfig:
    return SimulatorConfig()


@pytest.fixture(scope="module")
def world(cfg):
    rng = np.random.default_rng(SEED)
    users = sample_users(cfg, rng, N)
    return users, sample_queries(users, cfg, rng)


def test_query_type_mix_chi_square(world, cfg):
    _, queries = world
    counts = np.bincount(queries.query_type, minlength=3)
    assert stats.chisquare(counts, N * np.asarray(cfg.queries.query_type_mix)).pvalue > ALPHA


def test_specificity_follows_the_type(world, cfg):
    _, queries = world
    expected = np.array([cfg.queries.specificity[t] for t in cfg.queries.query_types])[queries.query_type]
    assert np.array_equal(queries.specificity, expected)


def test_intent_follows_each_shoppers_affinities(world):
    users, queries = world
    # Given the shoppers' theta_cat, the count of intents j is a sum of independent Bernoulli(theta_cat[:, j]).
    p = users.theta_cat
    counts = np.bincount(queries.intent, minlength=4)
    assert (np.abs(counts - p.sum(axis=0)) < 5 * np.sqrt((p * (1 - p)).sum(axis=0))).all()
    # Coupling, not just the marginals: shoppers draw intents where their own affinity is high.
    chosen = p[np.arange(N), queries.intent]
    assert abs(chosen.mean() - (p**2).sum(axis=1).mean()) < 5 * chosen.std() / np.sqrt(N)


@pytest.mark.parametrize("segment", ["price_hunter", "pl_lover", "premium", "litter_heavy"])
def test_intent_rate_per_segment_matches_the_dirichlet_mean(world, cfg, segment):
    users, queries = world
    rows = users.segments == users.segment_names.index(segment)
    alpha = np.asarray(cfg.users.segment_params[segment].cat_conc)
    top = int(alpha.argmax())
    rate = alpha[top] / alpha.sum()
    n = int(rows.sum())
    assert abs((queries.intent[rows] == top).mean() - rate) < 5 * np.sqrt(rate * (1 - rate) / n)


def test_litter_heavy_shoppers_mostly_search_for_litter(world):
    users, queries = world
    rows = users.segments == users.segment_names.index("litter_heavy")
    assert (queries.intent[rows] == 2).mean() > 0.8


def test_query_embedding_is_the_taste_plus_small_noise(world, cfg):
    users, queries = world
    noise = (queries.phi_emb - users.theta_emb).astype(np.float64).ravel()
    assert stats.kstest(noise[:200_000], "norm", args=(0.0, cfg.queries.phi_noise_std)).pvalue > ALPHA
    theta, phi = users.theta_emb.astype(np.float64), queries.phi_emb.astype(np.float64)
    cosine = (theta * phi).sum(axis=1) / np.linalg.norm(theta, axis=1) / np.linalg.norm(phi, axis=1)
    assert (cosine > 0.95).mean() > 0.999
    assert queries.phi_emb.dtype == np.float32


def test_tokens_are_category_words_type_and_fillers(world, cfg):
    _, queries = world
    q = queries[0]
    assert q.tokens[: len(q.intent_category.split("_"))] == tuple(q.intent_category.split("_"))
    assert q.query_type in q.tokens
    fillers = [t for t in q.tokens if t.startswith("tok_")]
    assert len(fillers) == 2 and all(0 <= int(t[4:]) < 512 for t in fillers)
    vocab = queries.vocabulary
    assert len(vocab) == 5 + 3 + 512  # dog, food, cat, litter, toys; 3 type names; 512 fillers
    filler_ids = queries.token_ids[:, -2:].ravel() - vocab.filler_offset
    assert filler_ids.min() >= 0 and filler_ids.max() < 512
    counts = np.bincount(filler_ids, minlength=512)
    assert stats.chisquare(counts).pvalue > ALPHA


def test_vocabulary_product_tokens():
    vocab = build_vocabulary(SimulatorConfig())
    assert [[vocab.words[i] for i in ids] for ids in vocab.category_token_ids] == [
        ["dog", "food"],
        ["cat", "food"],
        ["litter"],
        ["toys"],
    ]
    assert vocab.category_token_matrix[vocab.index["food"]].tolist() == [True, True, False, False]
    assert build_vocabulary(SimulatorConfig(queries=QueryConfig(token_vocab_size=8))).words[-1] == "tok_7"


def test_query_views_and_packing(world, cfg):
    _, queries = world
    q = queries[5]
    assert isinstance(q, Query)
    assert q.intent_category == cfg.catalog.categories[queries.intent[5]]
    assert q.phi_cat.tolist() == np.eye(4)[queries.intent[5]].tolist()
    assert q.phi_emb.dtype == torch.float32 and np.array_equal(q.phi_emb.numpy(), queries.phi_emb[5])
    assert np.array_equal(queries.phi_cat[5], q.phi_cat)
    packed = QueryBatch.from_queries([queries[3], queries[5]], cfg)
    for column in ("intent", "query_type", "phi_emb", "specificity"):
        assert np.array_equal(getattr(packed, column), getattr(queries, column)[[3, 5]])
    assert [packed[i].tokens for i in range(2)] == [queries[3].tokens, queries[5].tokens]
    with pytest.raises(IndexError, match="out of range"):
        queries[N]


def test_tokens_outside_the_vocabulary_are_padding(cfg):
    q = Query("toys", "generic", np.eye(4)[3], torch.zeros(16), ("toys", "squeaky"), 0.4)
    packed = QueryBatch.from_queries([q], cfg)
    assert packed.token_ids[0, 1] == PAD and packed[0].tokens == ("toys",)


def test_sample_query_for_one_shopper(cfg):
    rng = np.random.default_rng(3)
    user = sample_user(config=cfg, rng=rng)
    q = sample_query(user=user, config=cfg, rng=rng)
    assert q.intent_category in cfg.catalog.categories and q.query_type in cfg.queries.query_types
    assert torch.linalg.vector_norm(q.phi_emb - user.theta_emb) < 1.0


def test_same_seed_gives_bit_identical_queries(cfg):
    users = sample_users(cfg, np.random.default_rng(0), 1_000)
    a, b, c = (sample_queries(users, cfg, np.random.default_rng(s)) for s in (SEED, SEED, SEED + 1))
    for column in ("intent", "query_type", "phi_emb", "token_ids"):
        x, y, z = (getattr(q, column).tobytes() for q in (a, b, c))
        assert x == y and x != z
