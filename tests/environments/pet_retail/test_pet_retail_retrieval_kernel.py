"""The compiled retrieval (numba, the ``fast`` extra) against the numpy path: the same numbers, bit for bit.

Installing the extra must change speed, never trajectories: every case runs both paths from
generators with the same seeds and compares the positions, the noisy scores and the generators'
states afterwards. The cases reach every branch of the algorithm: the exact k-th best fallback,
many hits, tiers that outrun their first block of uniforms, spread-out tops, k = 1 and k = m, and
the default world's queries. The kernel's own numbers (numpy's ziggurat normals, the standard
library's inverse normal CDF) are compared with their originals on a million values
(test_pet_retail_pcg64_kernel has the draws).
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pytest

numba = pytest.importorskip("numba", reason="the compiled retrieval needs numba (the fast extra)")

from recframe.environments.pet_retail import compiled, retrieval, retrieval_kernel  # noqa: E402
from recframe.environments.pet_retail.config import SimulatorConfig  # noqa: E402
from recframe.environments.pet_retail.sessions import ShopperSessions, load_catalog  # noqa: E402


@numba.njit
def _quantiles(p: np.ndarray) -> np.ndarray:
    out = np.empty_like(p)
    for i in range(p.size):
        out[i] = retrieval_kernel._normal_quantile(p[i])
    return out


def test_kernel_normal_quantile_is_the_standard_librarys():
    rng = np.random.default_rng(3)
    p = np.concatenate(
        [rng.random(400_000), rng.random(200_000) * 1e-3, 10.0 ** -rng.uniform(3, 300, 200_000)]
    )
    p = np.concatenate([p, 1.0 - p[:200_000] * 1e-4])
    p = p[(p > 0.0) & (p < 1.0)]
    expected = np.array([NormalDist().inv_cdf(x) for x in p.tolist()])
    np.testing.assert_array_equal(_quantiles(p), expected)


def _both_paths(monkeypatch, scores, k, sigma, seed, **pads):
    """``noisy_top_k_of_score_rows`` on each path from generators seeded alike; also each generator's
    next uniform afterwards (equal only if both left it in the same state)."""
    results = {}
    for path in ("numpy", "compiled"):
        kernel = None if path == "numpy" else retrieval_kernel
        monkeypatch.setattr(retrieval, "_compiled_kernel", lambda kernel=kernel: kernel)
        rngs = [np.random.default_rng([seed, r]) for r in range(len(scores))]
        positions, noisy = retrieval.noisy_top_k_of_score_rows(scores, k, sigma, rngs, **pads)
        results[path] = positions, noisy, [rng.random() for rng in rngs]
    return results


def _assert_same(results):
    np.testing.assert_array_equal(results["compiled"][0], results["numpy"][0])
    np.testing.assert_array_equal(results["compiled"][1], results["numpy"][1])
    assert results["compiled"][2] == results["numpy"][2]


def _crowded_rows(rows: int, m: int, seed: int) -> np.ndarray:
    """Scores spread below sigma = 0.05, with a few rows of other shapes (a tilted row, a flat block)."""
    scores = np.random.default_rng(seed).normal(0.0, 0.03, (rows, m)).astype(np.float32)
    scores[:3] += np.linspace(0.0, 0.2, m, dtype=np.float32)
    scores[3, : m // 2] = 0.01  # many equal scores: the strided sample aims too high
    return scores


@pytest.mark.parametrize(("top_pad", "head_pad"), [(0, 0), (0, 30), (5, 200), (600, 1450)])
@pytest.mark.parametrize("rows", [1, 40])
def test_kernel_matches_numpy_on_crowded_scores(monkeypatch, top_pad, head_pad, rows):
    """Small pads: exact fallbacks, many middle-tier and rest hits; one row takes the lone-row path."""
    scores = _crowded_rows(40, 3_000, seed=6)[:rows]
    c_top, c_head = retrieval._thresholds(scores, 20, top_pad, head_pad, 0.05)
    results = _both_paths(
        monkeypatch, scores, 20, 0.05, seed=top_pad + head_pad, top_pad=top_pad, head_pad=head_pad
    )
    _assert_same(results)
    if rows > 1 and top_pad == 0:  # the cases really reach the fallbacks
        assert ((scores >= c_top[:, None]).sum(axis=1) < 20).any()


def test_kernel_matches_numpy_when_tiers_outrun_their_first_blocks(monkeypatch, short_blocks):
    """First blocks of uniforms short of the mean number of hits, so that processes draw further
    blocks (counted on the numpy path)."""
    scores = _crowded_rows(40, 3_000, seed=12)
    for pads in ((0, 0), (0, 30), (5, 200)):
        _assert_same(_both_paths(monkeypatch, scores, 20, 0.05, seed=5, top_pad=pads[0], head_pad=pads[1]))
    assert short_blocks[0] >= 40


@pytest.mark.parametrize("k", [1, 7, 64])
def test_kernel_matches_numpy_on_spread_out_and_tiny_rows(monkeypatch, k):
    """Tops spread far beyond sigma (strong boosts: no middle tier) and rows of exactly k products."""
    spread = np.random.default_rng(8).normal(0.0, 0.5, (9, 4_000)).astype(np.float32)
    _assert_same(_both_paths(monkeypatch, spread, k, 0.05, seed=k))
    tiny = np.random.default_rng(9).normal(0.0, 0.03, (9, k)).astype(np.float32)
    _assert_same(_both_paths(monkeypatch, tiny, k, 0.05, seed=k))


def test_kernel_matches_numpy_on_the_default_worlds_queries(monkeypatch):
    config = SimulatorConfig()
    sessions = ShopperSessions(config, load_catalog(config), 64)
    for i in range(64):
        sessions.reseed(i, i)
    sessions.start(np.arange(64))
    scores = sessions.query_vectors @ sessions.index.matrix
    for rows in (scores, scores[:1]):
        _assert_same(_both_paths(monkeypatch, rows, 50, config.relevance.noise_sigma, seed=1))


def test_other_bit_generators_take_the_numpy_path(monkeypatch):
    scores = _crowded_rows(4, 500, seed=2)
    pcg = [np.random.default_rng(r) for r in range(4)]
    mersenne = [np.random.Generator(np.random.MT19937(r)) for r in range(4)]
    assert retrieval_kernel.supports(pcg) and not retrieval_kernel.supports(mersenne)
    monkeypatch.setattr(retrieval, "_compiled_kernel", lambda: retrieval_kernel)
    compiled = retrieval.noisy_top_k_of_score_rows(scores, 5, 0.05, mersenne)
    monkeypatch.setattr(retrieval, "_compiled_kernel", lambda: None)
    mersenne = [np.random.Generator(np.random.MT19937(r)) for r in range(4)]
    numpy_path = retrieval.noisy_top_k_of_score_rows(scores, 5, 0.05, mersenne)
    np.testing.assert_array_equal(compiled[1], numpy_path[1])


def test_recframe_numba_0_turns_the_kernels_off(monkeypatch):
    compiled.kernel.cache_clear()
    try:
        monkeypatch.setenv("RECFRAME_NUMBA", "0")
        assert retrieval._compiled_kernel() is None and compiled.kernel("pcg64_kernel") is None
        compiled.kernel.cache_clear()
        monkeypatch.setenv("RECFRAME_NUMBA", "1")
        assert retrieval._compiled_kernel() is retrieval_kernel
    finally:
        compiled.kernel.cache_clear()


@pytest.mark.parametrize("m", [1, 15, 16, 17, 10_007])
def test_the_head_pass_finds_every_position_reaching_the_cut_in_order(m):
    row = np.random.default_rng(m).standard_normal(m).astype(np.float32)
    row[::7] = np.float32(0.5)  # values equal to a cut are in
    out = np.empty(m, dtype=np.int64)
    for cut in (-np.inf, 0.5, 1.0, np.inf):
        count = retrieval_kernel._at_least(row, np.float32(cut), out)
        np.testing.assert_array_equal(out[:count], np.flatnonzero(row >= np.float32(cut)))
