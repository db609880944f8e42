"""Retrieval: the exact noisy top k (lazy noise) against brute force, and its batch invariance.

Brute force draws every product's noise; the lazy sampler must give the same distribution of
products and scores. Tolerances are 4.5 standard errors of the sample at hand; every sample comes
from a fixed seed, so the tests are deterministic. Small pads put most of the top k in the hits
(the middle tier and the rest); short blocks of uniforms make the Bernoulli processes outrun them.
Tests that take the ``path`` fixture run on the numpy path and on the compiled kernel (the ``fast``
extra; skipped without numba); test_pet_retail_retrieval_kernel compares the two bit for bit.
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
)
from recframe.environments.pet_retail.sessions import ShopperSessions, load_catalog

Z = 4.5


@pytest.fixture(params=["numpy", "compiled"])
def path(request, monkeypatch) -> str:
    """Runs the test on the numpy path, then on the compiled kernel."""
    if request.param == "numpy":
        monkeypatch.setattr(retrieval, "_compiled_kernel", lambda: None)
    elif retrieval._compiled_kernel() is None:
        pytest.skip("the compiled kernel needs numba (the fast extra)")
    return request.param


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


@pytest.mark.parametrize(("top_pad", "head_pad"), [(0, 0), (0, 5), (5, 200), (200, 200)])
def test_lazy_top_k_matches_noise_on_every_product(path, top_pad, head_pad):
    """Crowded scores (spread below sigma): with small tiers most of the top k comes from the hits."""
    scores = np.random.default_rng(4).normal(0.0, 0.03, 2_000)
    _compare_with_brute_force(
        scores, k=5, sigma=0.05, trials=6_000, seed=top_pad + head_pad, top_pad=top_pad, head_pad=head_pad
    )


def test_processes_that_outrun_their_blocks_stay_exact(short_blocks, path):
    scores = np.random.default_rng(5).normal(0.0, 0.03, 500)
    _compare_with_brute_force(scores, k=5, sigma=0.05, trials=2_000, seed=9, top_pad=0, head_pad=20)
    assert short_blocks[0] > 1_000 or path == "compiled"


def test_a_spread_out_top_takes_small_tiers_and_stays_exact(path):
    """Scores spread well beyond sigma (as under strong boosts): both tiers stop 5 sigma below rank 2k."""
    scores = np.random.default_rng(7).normal(0.0, 0.5, 4_000)
    rows = scores[None].astype(np.float32)
    k, pads = 5, (retrieval.TOP_PAD, retrieval.HEAD_PAD)
    (c_top,), (c_head,) = retrieval._thresholds(rows, k, *pads, 0.05)
    (crowded_top,), (crowded_head,) = retrieval._thresholds(rows, k, *pads, np.inf)
    tiers = [(rows >= cut).sum() for cut in (c_top, c_head, crowded_top, crowded_head)]
    assert 2 * k <= tiers[0] <= 0.6 * tiers[2] and tiers[1] <= 0.6 * tiers[3]  # well below the crowded rule's
    assert c_head == c_top  # no middle tier: every hit comes from the rest
    _compare_with_brute_force(scores, k=5, sigma=0.05, trials=6_000, seed=8, min_varied=8)


def test_ties_at_the_head_boundary_are_drawn_as_often_as_brute_force(path):
    scores, sigma, trials = np.array([0.0, 0.0, -0.05], dtype=np.float32), 0.05, 20_000
    rng = np.random.default_rng(2)
    lazy = np.bincount(
        [noisy_top_k_of_scores(scores, 1, sigma, rng, top_pad=0, head_pad=0)[0][0] for _ in range(trials)],
        minlength=3,
    )
    brute = np.bincount(np.argmax(scores + sigma * rng.standard_normal((trials, 3)), axis=1), minlength=3)
    p = brute / trials
    assert np.all(np.abs(lazy / trials - p) <= Z * np.sqrt(2 * p * (1 - p) / trials))


@pytest.mark.parametrize("outrun", [False, True])
def test_a_row_is_bit_identical_alone_or_in_any_batch(request, path, outrun):
    """Row r depends only on its scores and generator: batches of 1, 7 and 40 give the same numbers
    and leave the generators alike, also when rows fall back to the exact k-th best (pads of 0),
    draw many hits, or outrun their blocks of uniforms and continue one process at a time."""
    continuations = request.getfixturevalue("short_blocks") if outrun else [0]
    rng = np.random.default_rng(6)
    scores = rng.normal(0.0, 0.03, (40, 3_000)).astype(np.float32)
    scores[:5] += np.linspace(0.0, 0.2, 3_000, dtype=np.float32)  # differently shaped rows
    c_top, c_head = retrieval._thresholds(scores, 20, 0, 0, 0.05)
    assert ((scores >= c_top[:, None]).sum(axis=1) < 20).any()  # some rows take the exact fallback
    assert ((scores >= c_head[:, None]).sum(axis=1) < 20).any()
    for pads in ((0, 0), (0, 30), (retrieval.TOP_PAD, retrieval.HEAD_PAD)):
        results = {}
        for size in (1, 7, 40):
            positions, noisy, after = [], [], []
            for start in range(0, 40, size):
                rngs = [np.random.default_rng(1000 + r) for r in range(start, min(start + size, 40))]
                p, v = noisy_top_k_of_score_rows(scores[start : start + size], 20, 0.05, rngs, *pads)
                positions.append(p)
                noisy.append(v)
                after.extend(g.random() for g in rngs)
            results[size] = (np.concatenate(positions), np.concatenate(noisy), after)
        for size in (7, 40):
            np.testing.assert_array_equal(results[size][0], results[1][0])
            np.testing.assert_array_equal(results[size][1], results[1][1])
            assert results[size][2] == results[1][2]
    assert continuations[0] > 0 or not outrun or path == "compiled"


@pytest.mark.parametrize("outrun", [False, True])
def test_bernoulli_hits_mark_each_item_with_its_process_probability(request, outrun):
    """Hit frequencies per item and hit counts per process are Bernoulli(p)'s, two rows of five
    processes each (one empty, one with p = 0, one with p = 1), with the usual blocks or short ones."""
    continuations = request.getfixturevalue("short_blocks") if outrun else [0]
    lengths, probabilities, trials = [40, 25, 0, 60, 7], [0.1, 0.5, 0.3, 0.0, 1.0], 4_000
    rng = np.random.default_rng(12)
    frequency = [np.zeros(n) for n in lengths]
    for _ in range(trials // 2):
        rngs = [np.random.default_rng(s) for s in rng.integers(2**63, size=2)]
        process, position = retrieval.bernoulli_hits(lengths * 2, probabilities * 2, rngs, per_row=5)
        same = np.diff(process) == 0
        assert np.all(np.diff(process) >= 0) and np.all(np.diff(position)[same] > 0)
        for j, n in enumerate(lengths * 2):
            mine = position[process == j]
            assert np.all((0 <= mine) & (mine < n))
            frequency[j % 5][mine] += 1
    for n, p, seen in zip(lengths, probabilities, frequency, strict=True):
        assert np.all(np.abs(seen / trials - p) <= Z * math.sqrt(p * (1 - p) / trials)), (n, p)
        assert abs(seen.sum() / trials - n * p) <= Z * math.sqrt(n * p * (1 - p) / trials), (n, p)
    assert continuations[0] > 0 or not outrun


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
    for t in (-0.5, 0.3, 1.0, 3.0, 6.0, 12.0):
        q = 0.5 * math.erfc(t / math.sqrt(2))
        draws = np.array([truncated_normal_above(q, u) for u in rng.random(n).tolist()])
        assert draws.shape == (n,) and draws.min() >= t - 1e-9 * max(1.0, abs(t))
        mean = math.exp(-t * t / 2) / math.sqrt(2 * math.pi) / q  # E[Z | Z >= t]
        var = 1 + t * mean - mean**2
        assert abs(draws.mean() - mean) <= Z * math.sqrt(var / n), t


def test_batched_products_match_row_products_on_this_blas(path):
    """The BLAS check behind the batched score product (else rows are multiplied one by one)."""
    index = ShopperSessions(SimulatorConfig(), load_catalog(SimulatorConfig()), 1).index
    assert retrieval._batched_rows_match(*index.matrix.shape, index.matrix.dtype)
    vectors = np.random.default_rng(0).standard_normal((9, index.matrix.shape[0])).astype(np.float32)
    rngs = lambda: [np.random.default_rng(r) for r in range(9)]  # noqa: E731
    batch = noisy_top_k_rows(index.matrix, vectors, 10, 0.05, rngs())
    single = [noisy_top_k_rows(index.matrix, vectors[r : r + 1], 10, 0.05, [g]) for r, g in enumerate(rngs())]
    np.testing.assert_array_equal(batch[0], np.concatenate([s[0] for s in single]))
    np.testing.assert_array_equal(batch[1], np.concatenate([s[1] for s in single]))


def test_retrieval_ranks_by_the_textbook_relevance(path):
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


def test_a_sample_passed_in_gives_the_same_numbers(path):
    """The thresholds' strided sample from the caller (as noisy_top_k_rows takes it from its own
    small product, which this BLAS computes exactly as the columns of the whole one)."""
    index = ShopperSessions(SimulatorConfig(), load_catalog(SimulatorConfig()), 1).index
    stride = retrieval._sample_plan(index.matrix.shape[1], 50, retrieval.TOP_PAD, retrieval.HEAD_PAD)[0]
    assert retrieval._sample_columns_match(*index.matrix.shape, stride, index.matrix.dtype)
    scores = _crowded_like_rows(index)
    results = []
    for sample in (None, np.ascontiguousarray(scores[:, ::stride])):
        rngs = [np.random.default_rng(r) for r in range(len(scores))]
        results.append(noisy_top_k_of_score_rows(scores, 50, 0.05, rngs, sample=sample))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


def _crowded_like_rows(index) -> np.ndarray:
    vectors = np.random.default_rng(3).standard_normal((12, index.matrix.shape[0])).astype(np.float32)
    return vectors @ index.matrix
