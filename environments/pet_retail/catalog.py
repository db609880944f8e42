"""The product catalog: drawn column by column with numpy, viewed as a sequence of products.

:func:`generate_catalog` draws every product attribute for the whole catalog at once (one numpy
call per attribute), so 10^6 products take about a second. The resulting :class:`Catalog` keeps the
columns (what vectorized code should use) and hands out :class:`Product` views on demand (what
people exploring the world, and per-item APIs, want).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, overload

import numpy as np

from recframe.environments.pet_retail.config import CatalogConfig

if TYPE_CHECKING:  # torch is imported on first use: vectorized work never needs it
    import torch

__all__ = ["Catalog", "Product", "generate_catalog"]


@dataclass(frozen=True, eq=False)
class Product:
    """One product (a read-only view of a catalog row; views compare by identity, columns by value).

    Attributes:
        product_id: the row in the catalog.
        category: the category's name.
        price: the shelf price (> 0).
        cm2: the contribution margin 2 (may be negative: litter is a loss leader).
        is_pl: whether it is a private-label product.
        discount: the fractional discount (0 for most products).
        bestseller: a non-negative popularity score.
        embedding: a float32 tensor sharing memory with the catalog's embedding matrix.
        strategic_flag: whether its category is strategic for the business.
    """

    product_id: int
    category: str
    price: float
    cm2: float
    is_pl: bool
    discount: float
    bestseller: float
    embedding: torch.Tensor
    strategic_flag: bool


class Catalog(Sequence[Product]):
    """A catalog as columns (numpy arrays, one row per product) that also behaves as ``Sequence[Product]``.

    Attributes:
        config: the config it was drawn from.
        category_names: category names; ``categories`` holds indices into it.
        categories: int64 category code per product.
        prices, cm2, discounts, bestseller: float64 columns.
        is_pl, strategic: bool columns.
        embeddings: the (n, d) float32 embedding matrix; ``embeddings_torch`` shares its memory.
        category_centers: the (n_categories, d) float32 cluster centres the embeddings were drawn around.
    """

    def __init__(
        self,
        *,
        config: CatalogConfig,
        categories: np.ndarray,
        prices: np.ndarray,
        cm2: np.ndarray,
        is_pl: np.ndarray,
        discounts: np.ndarray,
        bestseller: np.ndarray,
        embeddings: np.ndarray,
        category_centers: np.ndarray,
    ) -> None:
        self.config = config
        self.category_names: tuple[str, ...] = tuple(config.categories)
        self.categories = categories
        self.prices = prices
        self.cm2 = cm2
        self.is_pl = is_pl
        self.discounts = discounts
        self.bestseller = bestseller
        self.embeddings = embeddings
        self.category_centers = category_centers
        strategic_codes = [self.category_names.index(c) for c in config.strategic_categories]
        self.strategic = np.isin(categories, strategic_codes)

    def __len__(self) -> int:
        return self.prices.shape[0]

    @cached_property
    def embeddings_torch(self) -> torch.Tensor:
        """The embedding matrix as a torch tensor sharing its memory (imports torch on first use)."""
        import torch

        return torch.from_numpy(self.embeddings)

    @property
    def product_ids(self) -> np.ndarray:
        """The product ids (0 .. n - 1)."""
        return np.arange(len(self), dtype=np.int64)

    @cached_property
    def unit_embeddings(self) -> np.ndarray:
        """The embeddings scaled to unit length (float32), for cosine similarities."""
        norms = np.linalg.norm(self.embeddings, axis=1, keepdims=True)
        return self.embeddings / np.maximum(norms, np.finfo(np.float32).tiny)

    @overload
    def __getitem__(self, index: int) -> Product: ...

    @overload
    def __getitem__(self, index: slice) -> list[Product]: ...

    def __getitem__(self, index: int | slice) -> Product | list[Product]:
        if isinstance(index, slice):
            return [self._product(i) for i in range(*index.indices(len(self)))]
        i = int(index)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"product index {index} out of range for a catalog of {len(self)}")
        return self._product(i)

    def __iter__(self) -> Iterator[Product]:
        for i in range(len(self)):
            yield self._product(i)

    def _product(self, i: int) -> Product:
        """The one place a Product view is built from row ``i``."""
        return Product(
            product_id=i,
            category=self.category_names[self.categories[i]],
            price=float(self.prices[i]),
            cm2=float(self.cm2[i]),
            is_pl=bool(self.is_pl[i]),
            discount=float(self.discounts[i]),
            bestseller=float(self.bestseller[i]),
            embedding=self.embeddings_torch[i],
            strategic_flag=bool(self.strategic[i]),
        )

    def __repr__(self) -> str:
        return f"Catalog(n_products={len(self)}, categories={list(self.category_names)})"


def _per_category(values: dict[str, float], names: Sequence[str]) -> np.ndarray:
    return np.array([values[name] for name in names], dtype=np.float64)


def generate_catalog(cfg: CatalogConfig, rng: np.random.Generator) -> Catalog:
    """Draws a catalog of ``cfg.n_products`` products.

    Same distributions as the textbook simulator (see :class:`CatalogConfig`), drawn one attribute
    at a time for all products, in a fixed order: category centres, categories, prices, margins,
    private label, discounts, bestseller scores, embedding noise. The same generator state gives a
    bit-identical catalog.

    Args:
        cfg: the catalog config (validated again here, in case it was edited in place).
        rng: the generator to draw from (advanced by the call).

    Returns:
        The catalog.
    """
    cfg.validate()
    n, dim, names = cfg.n_products, cfg.embedding_dim, cfg.categories
    centers = rng.standard_normal((len(names), dim), dtype=np.float32)
    cats = rng.choice(len(names), size=n, p=cfg.category_mix)
    mu = np.array([cfg.price_params[c]["mu"] for c in names])
    sigma = np.array([cfg.price_params[c]["sigma"] for c in names])
    prices = rng.lognormal(mu[cats], sigma[cats])
    cm2 = _per_category(cfg.margin_slope, names)[cats] * prices + rng.normal(0.0, cfg.margin_noise, size=n)
    is_pl = rng.random(n) < _per_category(cfg.pl_prob, names)[cats]
    disc = cfg.discount_params
    discounts = rng.uniform(disc["low"], disc["high"], size=n)
    discounts[rng.random(n) < disc["p_zero"]] = 0.0
    bestseller = rng.normal(
        _per_category(cfg.bestseller_mean, names)[cats], _per_category(cfg.bestseller_std, names)[cats]
    )
    np.maximum(bestseller, 0.0, out=bestseller)
    embeddings = rng.standard_normal((n, dim), dtype=np.float32)
    embeddings *= _per_category(cfg.emb_cluster_std, names).astype(np.float32)[cats, None]
    embeddings += centers[cats]
    return Catalog(
        config=cfg,
        categories=cats.astype(np.int64, copy=False),
        prices=prices,
        cm2=cm2,
        is_pl=is_pl,
        discounts=discounts,
        bestseller=bestseller,
        embeddings=embeddings,
        category_centers=centers,
    )
