"""Shoppers: a segment and latent preferences, drawn in batches.

:func:`sample_users` draws ``n`` shoppers as columns (a :class:`UserBatch`); :func:`sample_user`
draws one and returns a :class:`User` object. The preferences never reach the agent: they drive
the shopper's behaviour and the queries it issues.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from recframe.environments.pet_retail.config import SimulatorConfig

if TYPE_CHECKING:
    import torch

__all__ = ["User", "UserBatch", "sample_user", "sample_users"]


@dataclass(frozen=True, eq=False)
class User:
    """One shopper.

    Attributes:
        segment: the segment's name.
        theta_price: price sensitivity (negative: dislikes high prices).
        theta_pl: private-label preference (positive: prefers the house brand).
        theta_cat: category affinities, a point of the simplex (float64, one per catalog category).
        theta_emb: taste in embedding space (float32 tensor).
    """

    segment: str
    theta_price: float
    theta_pl: float
    theta_cat: np.ndarray
    theta_emb: torch.Tensor


class UserBatch(Sequence[User]):
    """``n`` shoppers as columns; indexing gives :class:`User` views.

    Attributes:
        segment_names: segment names; ``segments`` holds indices into it.
        segments: (n,) int64 segment codes.
        theta_price, theta_pl: (n,) float64.
        theta_cat: (n, n_categories) float64, rows on the simplex.
        theta_emb: (n, d) float32.
    """

    def __init__(
        self,
        *,
        segment_names: Sequence[str],
        segments: np.ndarray,
        theta_price: np.ndarray,
        theta_pl: np.ndarray,
        theta_cat: np.ndarray,
        theta_emb: np.ndarray,
    ) -> None:
        self.segment_names = tuple(segment_names)
        self.segments = segments
        self.theta_price = theta_price
        self.theta_pl = theta_pl
        self.theta_cat = theta_cat
        self.theta_emb = theta_emb

    @classmethod
    def from_users(cls, users: Sequence[User], config: SimulatorConfig) -> UserBatch:
        """Packs :class:`User` objects (for instance hand-made ones) into columns."""
        names = tuple(config.users.segments)
        unknown = sorted({u.segment for u in users} - set(names))
        if unknown:
            raise ValueError(f"users have unknown segment(s) {unknown}; expected some of {list(names)}")
        dim = config.catalog.embedding_dim
        return cls(
            segment_names=names,
            segments=np.array([names.index(u.segment) for u in users], dtype=np.int64),
            theta_price=np.array([u.theta_price for u in users], dtype=np.float64),
            theta_pl=np.array([u.theta_pl for u in users], dtype=np.float64),
            theta_cat=np.array([u.theta_cat for u in users], dtype=np.float64).reshape(
                len(users), len(config.catalog.categories)
            ),
            theta_emb=np.array([np.asarray(u.theta_emb) for u in users], dtype=np.float32).reshape(
                len(users), dim
            ),
        )

    def __len__(self) -> int:
        return self.segments.shape[0]

    def __getitem__(self, index: int) -> User:  # type: ignore[override]
        i = int(index)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"user index {index} out of range for a batch of {len(self)}")
        import torch  # on first use: vectorized work never needs it

        return User(
            segment=self.segment_names[self.segments[i]],
            theta_price=float(self.theta_price[i]),
            theta_pl=float(self.theta_pl[i]),
            theta_cat=self.theta_cat[i],
            theta_emb=torch.from_numpy(self.theta_emb[i]),
        )

    def __repr__(self) -> str:
        return f"UserBatch(n={len(self)}, segments={list(self.segment_names)})"


def sample_users(config: SimulatorConfig, rng: np.random.Generator, n: int) -> UserBatch:
    """Draws ``n`` shoppers.

    Segment ~ Categorical(segment_mix); theta_price and theta_pl ~ the segment's normals;
    theta_cat ~ Dirichlet(the segment's cat_conc) (numpy's Dirichlet, one call per segment, which
    stays exact for small concentrations); theta_emb ~ N(0, I). Draws happen in that order, so the
    same generator state gives bit-identical users.

    Args:
        config: the simulator config (users and the catalog's categories and embedding dimension).
        rng: the generator to draw from (advanced by the call).
        n: how many shoppers (>= 0).
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n!r}")
    ucfg = config.users
    params = [ucfg.segment_params[s] for s in ucfg.segments]
    segments = rng.choice(len(params), size=n, p=ucfg.segment_mix).astype(np.int64, copy=False)
    price_mean, price_std, pl_mean, pl_std = (
        np.array([getattr(p, name) for p in params])
        for name in ("price_mean", "price_std", "pl_mean", "pl_std")
    )
    theta_price = rng.normal(price_mean[segments], price_std[segments])
    theta_pl = rng.normal(pl_mean[segments], pl_std[segments])
    theta_cat = np.empty((n, len(config.catalog.categories)), dtype=np.float64)
    for code, p in enumerate(params):
        rows = np.flatnonzero(segments == code)
        theta_cat[rows] = rng.dirichlet(p.cat_conc, size=rows.size)
    theta_emb = rng.standard_normal((n, config.catalog.embedding_dim), dtype=np.float32)
    return UserBatch(
        segment_names=ucfg.segments,
        segments=segments,
        theta_price=theta_price,
        theta_pl=theta_pl,
        theta_cat=theta_cat,
        theta_emb=theta_emb,
    )


def sample_user(*, config: SimulatorConfig, rng: np.random.Generator) -> User:
    """Draws one shopper (see :func:`sample_users`)."""
    return sample_users(config, rng, 1)[0]
