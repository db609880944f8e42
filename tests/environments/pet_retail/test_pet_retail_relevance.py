"""Relevance against a per-product reference implementation, noise, subsets and top-n retrieval."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from scipy import stats

from recframe.environments.pet_retail.catalog import generate_catalog
from recframe.environments.pet_retail.config import CatalogConfig, RelevanceConfig, SimulatorConfig
from recframe.environments.pet_retail.queries import Query, QueryBatch, sample_queries
from recframe.environments.pet_retail.relevance import category_overlap, relevance_scores, retrieve
from recframe.environments.pet_retail.users import sample_users

ALPHA = 1e-3


@pytest.fixture(scope="module")
def cfg() -> SimulatorConfig:
    return SimulatorConfig(catalog=CatalogConfig(n_products=300))


@pytest.fixture(scope="module")
def noiseless(cfg) -> SimulatorConfig:
    return dataclasses.replace(cfg, relevance=RelevanceConfig(noise_sigma=0.0))


@pytest.fixture(scope="module")
def catalog(cfg):
    return generate_catalog(cfg.catalog, np.random.default_rng(0))


@pytest.fixture(scope="module")
def queries(cfg):
    rng = np.random.default_rng(1)
    return sample_queries(sample_users(cfg, rng, 8), cfg, rng)


def _reference(query: Query, catalog, rel: RelevanceConfig) -> np.ndarray:
    """The textbook's per-product definition, one product at a time (noise left out)."""
    out = []
    for product in catalog:
        cosine = float(torch.nn.functional.cosine_similarity(query.phi_emb, product.embedding, dim=0))
        overlap = len(set(query.tokens) & set(product.category.split("_")))
        out.append(rel.w_sem * cosine + rel.w_lex * math.log1p(overlap))
    return np.array(out)


def test_matches_the_per_product_definition(queries, catalog, noiseless):
    scores = relevance_scores(queries, catalog, noiseless, np.random.default_rng(0))
    assert scores.shape == (len(queries), len(catalog))
    for i in range(len(queries)):
        np.testing.assert_allclose(scores[i], _reference(queries[i], catalog, noiseless.relevance), atol=1e-6)


def test_one_query_at_a_time_is_bit_identical_to_the_batch(queries, catalog, noiseless):
    scores = relevance_scores(queries, catalog, noiseless, np.random.default_rng(0))
    for i in range(len(queries)):
        single = relevance_scores(queries[i], catalog, noiseless, np.random.default_rng(0))
        assert single.shape == (len(catalog),)
        assert single.tobytes() == scores[i].tobytes()


def test_noise_is_gaussian_with_the_configured_sigma(queries, catalog, cfg, noiseless):
    noisy = relevance_scores(queries, catalog, cfg, np.random.default_rng(5))
    clean = relevance_scores(queries, catalog, noiseless, np.random.default_rng(5))
    residual = (noisy - clean).ravel()
    assert stats.kstest(residual, "norm", args=(0.0, cfg.relevance.noise_sigma)).pvalue > ALPHA


def test_subsets_score_like_the_full_catalog(queries, catalog, noiseless):
    # The cosines are float32 matrix-vector products, whose rounding may depend on the matrix's
    # size; scores of a subset agree with the whole catalog's to float32 precision.
    full = relevance_scores(queries, catalog, noiseless, np.random.default_rng(0))
    float32_tolerance = 4 * np.finfo(np.float32).eps
    subset = np.array([5, 17, 299, 0])
    np.testing.assert_allclose(
        relevance_scores(queries, catalog, noiseless, np.random.default_rng(0), subset),
        full[:, subset],
        rtol=0,
        atol=float32_tolerance,
    )
    per_query = np.random.default_rng(2).integers(0, len(catalog), size=(len(queries), 6))
    np.testing.assert_allclose(
        relevance_scores(queries, catalog, noiseless, np.random.default_rng(0), per_query),
        np.take_along_axis(full, per_query, axis=1),
        rtol=0,
        atol=float32_tolerance,
    )
    with pytest.raises(ValueError, match=r"products must be None, 1-D or shaped \(n_queries=8, m\)"):
        relevance_scores(queries, catalog, noiseless, np.random.default_rng(0), np.zeros((3, 2), dtype=int))


def test_overlap_counts_distinct_shared_tokens(cfg):
    q = Query(
        "dog_food",
        "category",
        np.eye(4)[0],
        torch.ones(16),
        ("dog", "food", "food", "category", "tok_3"),
        0.7,
    )
    batch = QueryBatch.from_queries([q], cfg)
    assert category_overlap(batch).tolist() == [[2, 1, 0, 0]]


def test_retrieve_returns_the_top_n_best_first(queries, catalog, noiseless):
    full = relevance_scores(queries, catalog, noiseless, np.random.default_rng(0))
    ids, scores = retrieve(queries, catalog, noiseless, np.random.default_rng(0), n_candidates=10)
    assert ids.shape == scores.shape == (len(queries), 10)
    expected = np.argsort(-full, axis=1, kind="stable")[:, :10]
    assert np.array_equal(ids, expected)
    assert np.array_equal(scores, np.take_along_axis(full, ids, axis=1))
    assert (np.diff(scores, axis=1) <= 0).all()


def test_retrieve_from_a_subset_and_for_one_query(queries, catalog, noiseless):
    subset = np.arange(100, 140)
    ids, _ = retrieve(
        queries[0], catalog, noiseless, np.random.default_rng(0), n_candidates=5, products=subset
    )
    full = relevance_scores(queries[0], catalog, noiseless, np.random.default_rng(0))
    assert ids.shape == (5,)
    assert ids.tolist() == (subset[np.argsort(-full[subset], kind="stable")[:5]]).tolist()
    everything, _ = retrieve(queries, catalog, noiseless, np.random.default_rng(0), n_candidates=10_000)
    assert everything.shape == (len(queries), len(catalog))
    with pytest.raises(ValueError, match="n_candidates must be >= 1, got 0"):
        retrieve(queries, catalog, noiseless, np.random.default_rng(0), n_candidates=0)


def test_intent_category_products_rank_higher_on_average(cfg):
    catalog = generate_catalog(CatalogConfig(n_products=2_000), np.random.default_rng(4))
    rng = np.random.default_rng(5)
    queries = sample_queries(sample_users(cfg, rng, 200), cfg, rng)
    scores = relevance_scores(queries, catalog, cfg, rng)
    same = queries.intent[:, None] == catalog.categories[None, :]
    assert scores[same].mean() > scores[~same].mean() + 0.1
