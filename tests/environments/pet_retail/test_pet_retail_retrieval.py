"""Retrieval: the exact noisy top k (lazy noise) against brute force, and its batch invariance.

Brute force draws every product's noise; the lazy sampler must give the same distribution of
products and scores. Tolerances are 4.5 standard errors of the sample at hand; every sample comes
from a fixed seed, so the tests are deterministic.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from recframe.environments.pet_retail import retrieval
from recframe.environments.pet_retail.config import SimulatorConfig
from recframe.environments.pet_retail.relevance import relevance_scores
from recframe.environments.pet_retail.retrieval import (
    noisy_top_k_of_score_rows,
    noisy_top_k_of_scores,
    noisy_top_k_rows,
    truncated_normal_above,
    uniform_subset,
)
from recframe.environments.pet_retail.sessions import ShopperSessions, load_catalog

Z = 4.5


def _compare_with_brute_force(scores, k, sigma, trials, seed, batch=50, min_varied=30, **pads):
    """Inclusion frequencies and k-th best noisy score: lazy sampler (batches of rows) vs brute force."""
    rng = np.random.default_rng(seed)
    m = scores.size
    hits = {"brute": np.zeros(m), "lazy": np.zeros(m)}
    kth = {"brute": [], "lazy": []}
    rows = np.repeat(scores[None].astype(np.float32), batch, axis=0)
    for _ in range(trials // batch):
        noisy = scores + sigma * rng.standard_normal((batch, m))
        top = np.argsort(-noisy, axis=1)[:, :k]
        np.add.at(hits["brute"], top.ravel(), 1)
        kth["brute"].extend(np.take_along_axis(noisy, top, axis=1)[:, -1])
        rngs = [np.random.default_rng(s) for s in rng.integers(2**63, size=batch)]
        positions, lazy = noisy_top_k_of_score_rows(rows, k, sigma, rngs, **pads)
        assert np.all(np.diff(lazy, axis=1) <= 0)
        assert all(len(set(row)) == k for row in positions.tolist())
        assert np.abs(lazy - rows[0][positions]).max() < 8 * sigma
        np.add.at(hits["lazy"], positions.ravel(), 1)
        kth["lazy"].extend(lazy[:, -1])
    n = trials // batch * batch
    p = hits["brute"] / n
    varied = (p > 0.01) & (p < 0.99)
    assert varied.sum() > min_varied  # many products compete for the k places
    tolerance = Z * np.sqrt(2 * p * (1 - p) / n)
    assert np.all(np.abs(hits["lazy"] / n - p)[varied] <= tolerance[varied])
    brute, lazy = np.array(kth["brute"]), np.array(kth["lazy"])
    assert abs(lazy.mean() - brute.mean()) <= Z * math.sqrt(2 * brute.var() / n)


@pytest.mark.parametrize("head_pad", [0, 5, 200])
def test_lazy_top_k_matches_noise_on_every_product(head_pad):
    """Crowded scores (spread below sigma): with a small head most of the top k comes from late draws."""
    scores = np.random.default_rng(4).normal(0.0, 0.03, 2_000)
    _compare_with_brute_force(scores, k=5, sigma=0.05, trials=6_000, seed=head_pad, head_pad=head_pad)


def test_a_spread_out_top_takes_a_small_head_and_stays_exact():
    """Scores spread well beyond sigma (as under strong boosts): the head stops 5 sigma below rank 2k."""
    scores = np.random.default_rng(7).normal(0.0, 0.5, 4_000)
    rows = scores[None].astype(np.float32)
    head = rows >= retrieval._head_threshold(rows, 5, retrieval.HEAD_PAD, 5 * 0.05)[:, None]
    k_plus_pad_head = (rows >= retrieval._head_threshold(rows, 5, retrieval.HEAD_PAD, np.inf)[:, None]).sum()
    assert k_plus_pad_head >= 2 * head.sum() >= 2 * 5  # half the crowded rule's head, or less
    _compare_with_brute_force(scores, k=5, sigma=0.05, trials=6_000, seed=8, min_varied=8)


def test_ties_at_the_head_boundary_are_drawn_as_often_as_brute_force():
    scores, sigma, trials = np.array([0.0, 0.0, -0.05], dtype=np.float32), 0.05, 20_000
    rng = np.random.default_rng(2)
    lazy = np.bincount(
        [noisy_top_k_of_scores(scores, 1, sigma, rng, head_pad=0)[0][0] for _ in range(trials)], minlength=3
    )
    brute = np.bincount(np.argmax(scores + sigma * rng.standard_normal((trials, 3)), axis=1), minlength=3)
    p = brute / trials
    assert np.all(np.abs(lazy / trials - p) <= Z * np.sqrt(2 * p * (1 - p) / trials))


def test_a_row_is_bit_identical_alone_or_in_any_batch():
    """Row r depends only on its scores and generator: batches of 1, 7 and 40 give the same numbers,
    also when rows fall back to the exact k-th best or draw many late products (a head pad of 0)."""
    rng = np.random.default_rng(6)
    scores = rng.normal(0.0, 0.03, (40, 3_000)).astype(np.float32)
    scores[:5] += np.linspace(0.0, 0.2, 3_000, dtype=np.float32)  # differently shaped rows
    head = scores >= retrieval._head_threshold(scores, 20, 0, 5 * 0.05)[:, None]
    assert (head.sum(axis=1) < 20).any()  # with a head pad of 0 some rows take the exact fallback
    for head_pad in (0, retrieval.HEAD_PAD):
        results = {}
        for size in (1, 7, 40):
            positions, noisy = [], []
            for start in range(0, 40, size):
                rngs = [np.random.default_rng(1000 + r) for r in range(start, min(start + size, 40))]
                p, v = noisy_top_k_of_score_rows(scores[start : start + size], 20, 0.05, rngs, head_pad)
                positions.append(p)
                noisy.append(v)
            results[size] = (np.concatenate(positions), np.concatenate(noisy))
        for size in (7, 40):
            np.testing.assert_array_equal(results[size][0], results[1][0])
            np.testing.assert_array_equal(results[size][1], results[1][1])


def test_batched_late_draws_equal_one_row_late_draws(monkeypatch):
    """The batch's late draws (all rows at once) give each row exactly what a lone row draws, on
    every path: rng.choice subsets, redrawn subsets with repeats, plain rejection, and Robert's
    sampler including rows whose first round accepts too few."""
    m, n_rows, sigma = 400, 3_000, 0.05
    rng = np.random.default_rng(11)
    scores = rng.normal(0.0, 0.03, (n_rows, m)).astype(np.float32)
    heads = [np.sort(rng.choice(m, size=int(rng.integers(20, 200)), replace=False)) for _ in range(n_rows)]
    bounds = np.cumsum([0] + [h.size for h in heads]).tolist()
    head = np.concatenate([h + r * m for r, h in enumerate(heads)])
    late = [
        retrieval._Late(r, int(rng.integers(1, 60)), float(rng.choice([0.1, 0.46, 1.5, 3.0])), 0.02)
        for r in range(n_rows)
        if r % 3  # every third row has no late draws
    ]
    expected_flat, expected_noisy = [], []
    for row in late:
        positions, noisy = retrieval._rest_draws(
            scores[row.row], heads[row.row], row.count, row.t, sigma, row.tau, np.random.default_rng(row.row)
        )
        expected_flat.append(positions + row.row * m)
        expected_noisy.append(noisy)

    paths = {"redraws": 0, "plain": 0, "robert rounds after the first": 0}

    def counting_subset(n, size, generator):
        paths["redraws"] += 1
        return uniform_subset(n, size, generator)

    def counting_normals(t, n, generator):
        paths["plain" if t < retrieval._ROBERT_THRESHOLD else "robert rounds after the first"] += 1
        return truncated_normal_above(t, n, generator)

    monkeypatch.setattr(retrieval, "uniform_subset", counting_subset)
    monkeypatch.setattr(retrieval, "truncated_normal_above", counting_normals)
    rngs = [np.random.default_rng(r) for r in range(n_rows)]
    flat, noisy = retrieval._late_draws(scores.reshape(-1), head, bounds, m, sigma, late, rngs)
    np.testing.assert_array_equal(flat, np.concatenate(expected_flat))
    np.testing.assert_array_equal(noisy, np.concatenate(expected_noisy))
    assert all(count > 0 for count in paths.values()), paths
    assert any(row.count**2 > m - heads[row.row].size for row in late)  # some rows take rng.choice


def test_noiseless_retrieval_is_the_exact_top_k_and_bad_arguments_are_named():
    scores = np.array([[0.3, 0.9, 0.1, 0.9]], dtype=np.float32)
    positions, noisy = noisy_top_k_of_score_rows(scores, 3, 0.0, [np.random.default_rng(0)])
    assert positions.tolist() == [[1, 3, 0]] and noisy.tolist() == [
        [0.8999999761581421] * 2 + [0.30000001192092896]
    ]
    with pytest.raises(ValueError, match="one generator per row"):
        noisy_top_k_of_score_rows(scores, 1, 0.1, [])
    with pytest.raises(ValueError, match="k must be between 1 and the number of products 4, got 5"):
        noisy_top_k_of_score_rows(scores, 5, 0.1, [np.random.default_rng(0)])
    with pytest.raises(ValueError, match="sigma must be >= 0, got -0.1"):
        noisy_top_k_of_score_rows(scores, 1, -0.1, [np.random.default_rng(0)])


def test_truncated_normals_lie_above_the_cut_with_the_right_mean():
    rng = np.random.default_rng(0)
    n = 20_000
    for t in (-0.5, 0.3, 1.0, 3.0, 6.0):  # plain rejection, then Robert's exponential proposals
        draws = truncated_normal_above(t, n, rng)
        assert draws.shape == (n,) and draws.min() >= t
        q = 0.5 * math.erfc(t / math.sqrt(2))
        mean = math.exp(-t * t / 2) / math.sqrt(2 * math.pi) / q  # E[Z | Z >= t]
        var = 1 + t * mean - mean**2
        assert abs(draws.mean() - mean) <= Z * math.sqrt(var / n), t


def test_uniform_subsets_are_uniform_sorted_and_distinct():
    rng = np.random.default_rng(3)
    for n, size in ((50, 3), (6, 4)):  # the rejection path and the rng.choice path
        trials = 20_000
        counts = np.zeros(n)
        for _ in range(trials):
            subset = uniform_subset(n, size, rng)
            assert subset.size == size and np.all(np.diff(subset) > 0) and 0 <= subset[0] and subset[-1] < n
            counts[subset] += 1
        p = size / n
        assert np.all(np.abs(counts / trials - p) <= Z * math.sqrt(p * (1 - p) / trials)), (n, size)


def test_batched_products_match_row_products_on_this_blas():
    """The BLAS check behind the batched score product (else rows are multiplied one by one)."""
    index = ShopperSessions(SimulatorConfig(), load_catalog(SimulatorConfig()), 1).index
    assert retrieval._batched_rows_match(*index.matrix.shape, index.matrix.dtype)
    vectors = np.random.default_rng(0).standard_normal((9, index.matrix.shape[0])).astype(np.float32)
    rngs = lambda: [np.random.default_rng(r) for r in range(9)]  # noqa: E731
    batch = noisy_top_k_rows(index.matrix, vectors, 10, 0.05, rngs())
    single = [noisy_top_k_rows(index.matrix, vectors[r : r + 1], 10, 0.05, [g]) for r, g in enumerate(rngs())]
    np.testing.assert_array_equal(batch[0], np.concatenate([s[0] for s in single]))
    np.testing.assert_array_equal(batch[1], np.concatenate([s[1] for s in single]))


def test_retrieval_ranks_by_the_textbook_relevance():
    config = SimulatorConfig()
    noiseless = SimulatorConfig.from_dict({"relevance": {"noise_sigma": 0.0}})
    catalog = load_catalog(config)
    for cfg in (config, noiseless):
        sessions = ShopperSessions(cfg, catalog, 3)
        idx = np.arange(3)
        sessions.start(idx)
        ids, relevance = sessions.top_products(idx, 50)
        base = relevance_scores(sessions.query_rows(idx), catalog, noiseless, [np.random.default_rng(0)] * 3)
        assert np.all(np.diff(relevance, axis=1) <= 0)
        noise = relevance - np.take_along_axis(base, ids, axis=1)
        if cfg is noiseless:  # no noise: exactly the 50 best by relevance
            np.testing.assert_array_equal(ids, np.argsort(-base, axis=1, kind="stable")[:, :50])
            np.testing.assert_allclose(noise, 0.0, atol=1e-6)
        else:
            assert np.abs(noise).max() < 6 * config.relevance.noise_sigma
            assert np.abs(noise).max() > 0
