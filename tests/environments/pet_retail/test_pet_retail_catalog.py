"""Catalog statistics (fixed seed, tolerances from the sample size), product views and determinism.

Bounds: proportions and means within 5 standard errors; goodness-of-fit tests (chi-square, KS)
must not reject at ALPHA. With a fixed seed each check is deterministic; the bounds say how far
the generator may stray from the textbook's distributions before the test fails.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from scipy import stats

from recframe.environments.pet_retail.catalog import Catalog, Product, generate_catalog
from recframe.environments.pet_retail.config import CatalogConfig

ALPHA = 1e-3
N = 200_000
SEED = 2025_1108


@pytest.fixture(scope="module")
def cfg() -> CatalogConfig:
    return CatalogConfig(n_products=N)


@pytest.fixture(scope="module")
def catalog(cfg) -> Catalog:
    return generate_catalog(cfg, np.random.default_rng(SEED))


def _rows(catalog: Catalog, name: str) -> np.ndarray:
    return catalog.categories == catalog.category_names.index(name)


def _within_binomial(successes: int, n: int, p: float) -> bool:
    return abs(successes / n - p) <= 5 * np.sqrt(p * (1 - p) / n)


def test_columns_have_the_documented_shapes_and_types(catalog):
    assert len(catalog) == N
    assert catalog.embeddings.shape == (N, 16) and catalog.embeddings.dtype == np.float32
    assert catalog.embeddings_torch.dtype == torch.float32
    assert np.shares_memory(catalog.embeddings_torch.numpy(), catalog.embeddings)
    assert catalog.categories.dtype == np.int64 and catalog.is_pl.dtype == bool
    assert (catalog.prices > 0).all() and (catalog.bestseller >= 0).all()
    assert np.array_equal(catalog.product_ids, np.arange(N))


def test_category_mix_chi_square(catalog, cfg):
    counts = np.bincount(catalog.categories, minlength=4)
    assert stats.chisquare(counts, N * np.asarray(cfg.category_mix)).pvalue > ALPHA


@pytest.mark.parametrize("name", ["dog_food", "cat_food", "litter", "toys"])
def test_prices_are_lognormal_with_median_e_mu(catalog, cfg, name):
    prices = catalog.prices[_rows(catalog, name)]
    mu, sigma = cfg.price_params[name]["mu"], cfg.price_params[name]["sigma"]
    assert stats.kstest(np.log(prices), "norm", args=(mu, sigma)).pvalue > ALPHA
    for q in (0.05, 0.25, 0.5, 0.75, 0.95):
        threshold = np.exp(mu + sigma * stats.norm.ppf(q))  # the q-quantile; e^mu at q = 0.5
        assert _within_binomial(int((prices < threshold).sum()), prices.size, q)


@pytest.mark.parametrize("name", ["dog_food", "cat_food", "litter", "toys"])
def test_cm2_is_linear_in_price_with_the_configured_slope(catalog, cfg, name):
    rows = _rows(catalog, name)
    price, cm2 = catalog.prices[rows], catalog.cm2[rows]
    slope = cfg.margin_slope[name]
    fitted = price @ cm2 / (price @ price)
    standard_error = cfg.margin_noise / np.sqrt(price @ price)
    assert abs(fitted - slope) < 5 * standard_error
    residual = cm2 - slope * price
    assert stats.kstest(residual, "norm", args=(0.0, cfg.margin_noise)).pvalue > ALPHA


def test_litter_is_a_loss_leader(catalog):
    rows = _rows(catalog, "litter")
    price, cm2 = catalog.prices[rows], catalog.cm2[rows]
    assert np.polyfit(price, cm2, 1)[0] < 0
    assert cm2.mean() < 0
    assert catalog.strategic[rows].all() and not catalog.strategic[~rows].any()


@pytest.mark.parametrize("name", ["dog_food", "cat_food", "litter", "toys"])
def test_private_label_rate(catalog, cfg, name):
    pl = catalog.is_pl[_rows(catalog, name)]
    assert _within_binomial(int(pl.sum()), pl.size, cfg.pl_prob[name])


def test_discounts_zero_rate_and_uniform_range(catalog, cfg):
    disc = cfg.discount_params
    zero = catalog.discounts == 0
    assert _within_binomial(int(zero.sum()), N, disc["p_zero"])
    nonzero = catalog.discounts[~zero]
    assert nonzero.min() >= disc["low"] and nonzero.max() <= disc["high"]
    assert stats.kstest(nonzero, "uniform", args=(disc["low"], disc["high"] - disc["low"])).pvalue > ALPHA


@pytest.mark.parametrize("name", ["dog_food", "cat_food", "litter", "toys"])
def test_bestseller_is_a_normal_clipped_at_zero(catalog, cfg, name):
    score = catalog.bestseller[_rows(catalog, name)]
    m, s = cfg.bestseller_mean[name], cfg.bestseller_std[name]
    assert _within_binomial(int((score == 0).sum()), score.size, stats.norm.cdf(-m / s))
    positive = score[score > 0]
    truncated = stats.truncnorm(-m / s, np.inf, loc=m, scale=s)
    assert stats.kstest(positive, truncated.cdf).pvalue > ALPHA


@pytest.mark.parametrize("name", ["dog_food", "cat_food", "litter", "toys"])
def test_embeddings_cluster_around_their_category_centre(catalog, cfg, name):
    code = catalog.category_names.index(name)
    emb = catalog.embeddings[_rows(catalog, name)].astype(np.float64)
    s = cfg.emb_cluster_std[name]
    noise = emb - catalog.category_centers[code]
    n = noise.shape[0]
    assert np.abs(noise.mean(axis=0)).max() < 5 * s / np.sqrt(n)
    # Per-coordinate variance estimates have standard error s^2 * sqrt(2 / n).
    assert np.abs(noise.var(axis=0) - s**2).max() < 5 * s**2 * np.sqrt(2 / n)


def test_embeddings_are_closer_to_their_own_centre(catalog):
    distances = np.linalg.norm(catalog.embeddings[:, None, :] - catalog.category_centers[None], axis=2)
    accuracy = (distances.argmin(axis=1) == catalog.categories).mean()
    assert accuracy > 0.99, "categories should be recoverable from the embeddings (the cluster structure)"


def test_products_are_views_of_the_columns(catalog):
    i = 12_345
    p = catalog[i]
    assert isinstance(p, Product)
    assert p.product_id == i and p.category == catalog.category_names[catalog.categories[i]]
    assert (p.price, p.cm2, p.discount, p.bestseller) == (
        catalog.prices[i],
        catalog.cm2[i],
        catalog.discounts[i],
        catalog.bestseller[i],
    )
    assert p.is_pl is bool(catalog.is_pl[i]) and p.strategic_flag == (p.category == "litter")
    assert p.embedding.dtype == torch.float32
    assert np.shares_memory(p.embedding.numpy(), catalog.embeddings)
    assert catalog[-1].product_id == N - 1
    assert [q.product_id for q in catalog[10:13]] == [10, 11, 12]
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.price = 1.0  # type: ignore[misc]
    with pytest.raises(IndexError, match="out of range"):
        catalog[N]


def test_iteration_yields_every_product_in_order():
    small = generate_catalog(CatalogConfig(n_products=50), np.random.default_rng(0))
    assert [p.product_id for p in small] == list(range(50))
    assert sum(p.price for p in small) == pytest.approx(small.prices.sum())


def _columns(c: Catalog) -> tuple[np.ndarray, ...]:
    return (
        c.categories,
        c.prices,
        c.cm2,
        c.is_pl,
        c.discounts,
        c.bestseller,
        c.embeddings,
        c.category_centers,
    )


def test_same_seed_gives_a_bit_identical_catalog():
    cfg = CatalogConfig(n_products=5_000)
    a = generate_catalog(cfg, np.random.default_rng(SEED))
    b = generate_catalog(cfg, np.random.default_rng(SEED))
    c = generate_catalog(cfg, np.random.default_rng(SEED + 1))
    for x, y, z in zip(_columns(a), _columns(b), _columns(c), strict=True):
        assert x.tobytes() == y.tobytes()
        assert x.tobytes() != z.tobytes()


def test_generate_catalog_revalidates_an_edited_config():
    cfg = CatalogConfig(n_products=10)
    cfg.pl_prob["toys"] = 1.5
    with pytest.raises(
        ValueError, match=r"CatalogConfig\.pl_prob\['toys'\] must be a probability in \[0, 1\], got 1\.5"
    ):
        generate_catalog(cfg, np.random.default_rng(0))
