"""Shopper statistics per segment (fixed seed, 5-standard-error bounds, KS / chi-square at ALPHA) and views."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from recframe.environments.pet_retail.config import SimulatorConfig
from recframe.environments.pet_retail.users import User, UserBatch, sample_user, sample_users

ALPHA = 1e-3
N = 200_000
SEED = 2025_1108
SEGMENTS = ["price_hunter", "pl_lover", "premium", "litter_heavy"]


@pytest.fixture(scope="module")
def cfg() -> SimulatorConfig:
    return SimulatorConfig()


@pytest.fixture(scope="module")
def users(cfg) -> UserBatch:
    return sample_users(cfg, np.random.default_rng(SEED), N)


def test_columns(users):
    assert len(users) == N and users.segment_names == tuple(SEGMENTS)
    assert users.theta_cat.shape == (N, 4) and users.theta_emb.shape == (N, 16)
    assert users.theta_emb.dtype == np.float32 and users.theta_cat.dtype == np.float64


def test_segment_mix_chi_square(users, cfg):
    counts = np.bincount(users.segments, minlength=4)
    assert stats.chisquare(counts, N * np.asarray(cfg.users.segment_mix)).pvalue > ALPHA


@pytest.mark.parametrize("segment", SEGMENTS)
@pytest.mark.parametrize("theta", ["price", "pl"])
def test_thetas_are_the_segments_normals(users, cfg, segment, theta):
    params = cfg.users.segment_params[segment]
    values = getattr(users, f"theta_{theta}")[users.segments == SEGMENTS.index(segment)]
    mean, std = getattr(params, f"{theta}_mean"), getattr(params, f"{theta}_std")
    n = values.size
    assert abs(values.mean() - mean) < 5 * std / np.sqrt(n)
    assert abs(values.std() - std) < 5 * std / np.sqrt(2 * n)
    assert stats.kstest(values, "norm", args=(mean, std)).pvalue > ALPHA


@pytest.mark.parametrize("segment", SEGMENTS)
def test_category_affinities_are_dirichlet(users, cfg, segment):
    alpha = np.asarray(cfg.users.segment_params[segment].cat_conc)
    theta = users.theta_cat[users.segments == SEGMENTS.index(segment)]
    assert (theta >= 0).all() and np.allclose(theta.sum(axis=1), 1.0)
    a0 = alpha.sum()
    mean = alpha / a0
    var = alpha * (a0 - alpha) / (a0**2 * (a0 + 1))
    assert (np.abs(theta.mean(axis=0) - mean) < 5 * np.sqrt(var / theta.shape[0])).all()
    # Each marginal of a Dirichlet is Beta(alpha_i, a0 - alpha_i).
    for i, a in enumerate(alpha):
        assert stats.kstest(theta[:, i], "beta", args=(a, a0 - a)).pvalue > ALPHA


def test_litter_heavy_shoppers_favour_litter(users):
    rows = users.segments == SEGMENTS.index("litter_heavy")
    assert users.theta_cat[rows, 2].mean() > 0.8


def test_embedding_taste_is_standard_normal(users):
    flat = users.theta_emb.astype(np.float64).ravel()
    assert abs(flat.mean()) < 5 / np.sqrt(flat.size)
    assert stats.kstest(flat[:200_000], "norm").pvalue > ALPHA
    corr = np.corrcoef(users.theta_emb[:, :4].T.astype(np.float64))
    assert np.abs(corr - np.eye(4)).max() < 5 / np.sqrt(N)


def test_user_views(users, cfg):
    u = users[7]
    assert isinstance(u, User)
    assert u.segment == SEGMENTS[users.segments[7]]
    assert u.theta_price == users.theta_price[7] and u.theta_pl == users.theta_pl[7]
    assert np.array_equal(u.theta_cat, users.theta_cat[7])
    assert u.theta_emb.dtype == torch.float32 and np.array_equal(u.theta_emb.numpy(), users.theta_emb[7])
    assert users[-1].theta_price == users.theta_price[-1]
    with pytest.raises(IndexError, match="out of range"):
        users[N]
    packed = UserBatch.from_users([users[3], users[5]], cfg)
    for column in ("segments", "theta_price", "theta_pl", "theta_cat", "theta_emb"):
        assert np.array_equal(getattr(packed, column), getattr(users, column)[[3, 5]])


def test_from_users_rejects_unknown_segments(cfg):
    bad = User("vip", 0.0, 0.0, np.full(4, 0.25), torch.zeros(16))
    with pytest.raises(ValueError, match=r"unknown segment\(s\) \['vip'\]"):
        UserBatch.from_users([bad], cfg)


def test_sample_user_draws_one_shopper(cfg):
    u = sample_user(config=cfg, rng=np.random.default_rng(1))
    assert u.segment in SEGMENTS and u.theta_emb.shape == (16,) and u.theta_cat.shape == (4,)
    same = sample_users(cfg, np.random.default_rng(1), 1)[0]
    assert u.theta_price == same.theta_price


def _columns(b: UserBatch) -> tuple[np.ndarray, ...]:
    return (b.segments, b.theta_price, b.theta_pl, b.theta_cat, b.theta_emb)


def test_same_seed_gives_bit_identical_users(cfg):
    a, b, c = (sample_users(cfg, np.random.default_rng(s), 2_000) for s in (SEED, SEED, SEED + 1))
    for x, y, z in zip(_columns(a), _columns(b), _columns(c), strict=True):
        assert x.tobytes() == y.tobytes() and x.tobytes() != z.tobytes()


def test_negative_count_is_rejected(cfg):
    with pytest.raises(ValueError, match="n must be >= 0, got -1"):
        sample_users(cfg, np.random.default_rng(0), -1)


def test_empty_batches_keep_their_shapes(cfg):
    empty = sample_users(cfg, np.random.default_rng(0), 0)
    assert len(empty) == 0 and empty.theta_cat.shape == (0, 4) and empty.theta_emb.shape == (0, 16)
    assert UserBatch.from_users([], cfg).theta_cat.shape == (0, 4)
