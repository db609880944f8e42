"""A pet-retail world (config, catalog, random streams) and its snapshot on disk.

:class:`World` derives independent generators for the catalog, the shoppers, their queries and
relevance noise from one seed with ``numpy.random.SeedSequence(seed).spawn``, so drawing more
shoppers never changes the catalog and the same seed always gives the same world.
:func:`write_world_snapshot` writes the statistics an analyst checks first (price and margin by
category, segment preferences, query intent) as JSON files plus a printed summary.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from recframe.environments.pet_retail.catalog import Catalog, generate_catalog
from recframe.environments.pet_retail.config import SimulatorConfig
from recframe.environments.pet_retail.queries import QueryBatch, sample_queries
from recframe.environments.pet_retail.users import UserBatch, sample_users
from recframe.seeding import child_seeds, make_rng

__all__ = ["STREAMS", "World", "format_summary", "world_statistics", "write_world_snapshot"]

STREAMS = ("catalog", "users", "queries", "relevance", "behavior")
"""The named random streams, in spawn order. New streams go at the end so existing ones keep their seeds."""

PERCENTILES = (5, 25, 50, 75, 95)


@dataclass
class World:
    """A generated world: the config, its catalog and one generator per stream.

    Build it with :meth:`create`; ``rngs[name]`` for ``name`` in :data:`STREAMS` are independent.
    """

    config: SimulatorConfig
    catalog: Catalog
    rngs: dict[str, np.random.Generator] = field(repr=False)

    @classmethod
    def create(cls, config: SimulatorConfig | None = None) -> World:
        """Generates the world of ``config`` (the defaults if None) from ``config.seed``."""
        config = SimulatorConfig() if config is None else config
        config.validate()
        children = child_seeds(config.seed, len(STREAMS))  # SeedSequence(seed).spawn(n), without mutation
        rngs = {name: make_rng(child) for name, child in zip(STREAMS, children, strict=True)}
        return cls(config=config, catalog=generate_catalog(config.catalog, rngs["catalog"]), rngs=rngs)

    def sample_users(self, n: int) -> UserBatch:
        """``n`` shoppers from the ``users`` stream."""
        return sample_users(self.config, self.rngs["users"], n)

    def sample_queries(self, users: UserBatch) -> QueryBatch:
        """One query per shopper from the ``queries`` stream."""
        return sample_queries(users, self.config, self.rngs["queries"])


def _summary(values: np.ndarray) -> dict[str, float]:
    """Count, mean, std and percentiles of a sample (NaN-free: an empty sample gives count 0 only)."""
    if values.size == 0:
        return {"count": 0}
    stats = {"count": int(values.size), "mean": float(values.mean()), "std": float(values.std())}
    stats.update(
        {f"p{q}": float(v) for q, v in zip(PERCENTILES, np.percentile(values, PERCENTILES), strict=True)}
    )
    return stats


def _slope_through_origin(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of y = slope * x (the margin model has no intercept)."""
    return float(x @ y / (x @ x)) if x.size else float("nan")


def _share(mask: np.ndarray) -> float:
    """The fraction of True entries (NaN for an empty mask)."""
    return float(mask.mean()) if mask.size else float("nan")


def _catalog_stats(catalog: Catalog) -> dict:
    cfg = catalog.config
    per_category = {}
    for code, name in enumerate(catalog.category_names):
        rows = catalog.categories == code
        prices, cm2, disc = catalog.prices[rows], catalog.cm2[rows], catalog.discounts[rows]
        mu, sigma = cfg.price_params[name]["mu"], cfg.price_params[name]["sigma"]
        per_category[name] = {
            "count": int(rows.sum()),
            "share": _share(rows),
            "expected_share": cfg.category_mix[code],
            "price": {**_summary(prices), "mu": mu, "sigma": sigma, "exp_mu": float(np.exp(mu))},
            "cm2": {
                **_summary(cm2),
                "slope": cfg.margin_slope[name],
                "fitted_slope": _slope_through_origin(prices, cm2),
                "negative_share": _share(cm2 < 0),
            },
            "pl_share": _share(catalog.is_pl[rows]),
            "expected_pl_share": cfg.pl_prob[name],
            "discount_zero_share": _share(disc == 0),
            "bestseller": _summary(catalog.bestseller[rows]),
            "strategic": name in cfg.strategic_categories,
        }
    return {
        "n_products": len(catalog),
        "categories": per_category,
        "overall": {
            "price": _summary(catalog.prices),
            "cm2": _summary(catalog.cm2),
            "pl_share": _share(catalog.is_pl),
            "discount_zero_share": _share(catalog.discounts == 0),
            "strategic_share": _share(catalog.strategic),
        },
    }


def _normal_stats(values: np.ndarray, mean: float, std: float) -> dict[str, float]:
    return {
        "mean": float(values.mean()) if values.size else float("nan"),
        "std": float(values.std()) if values.size else float("nan"),
        "expected_mean": mean,
        "expected_std": std,
    }


def _user_stats(users: UserBatch, config: SimulatorConfig) -> dict:
    cats = config.catalog.categories
    segments = {}
    for code, name in enumerate(users.segment_names):
        rows = users.segments == code
        params = config.users.segment_params[name]
        conc = np.asarray(params.cat_conc)
        theta_cat = users.theta_cat[rows].mean(axis=0) if rows.any() else np.full(len(cats), np.nan)
        segments[name] = {
            "count": int(rows.sum()),
            "share": _share(rows),
            "expected_share": config.users.segment_mix[code],
            "theta_price": _normal_stats(users.theta_price[rows], params.price_mean, params.price_std),
            "theta_pl": _normal_stats(users.theta_pl[rows], params.pl_mean, params.pl_std),
            "theta_cat_mean": dict(zip(cats, theta_cat.tolist(), strict=True)),
            "theta_cat_expected": dict(zip(cats, (conc / conc.sum()).tolist(), strict=True)),
        }
    return {"n_users": len(users), "segments": segments}


def _query_stats(users: UserBatch, queries: QueryBatch, config: SimulatorConfig) -> dict:
    cats, types = config.catalog.categories, config.queries.query_types
    n_cats = len(cats)
    types_stats = {
        name: {
            "share": _share(queries.query_type == code),
            "expected_share": config.queries.query_type_mix[code],
            "specificity": config.queries.specificity[name],
        }
        for code, name in enumerate(types)
    }
    segments = {}
    for code, name in enumerate(users.segment_names):
        rows = users.segments == code
        conc = np.asarray(config.users.segment_params[name].cat_conc)
        top = int(np.argmax(conc))
        intents = np.bincount(queries.intent[rows], minlength=n_cats) / max(int(rows.sum()), 1)
        segments[name] = {
            "count": int(rows.sum()),
            "top_category": cats[top],
            "intent_rate": float(intents[top]),
            "expected_intent_rate": float(conc[top] / conc.sum()),
            "intent_shares": dict(zip(cats, intents.tolist(), strict=True)),
        }
    theta = users.theta_emb.astype(np.float64)
    phi = queries.phi_emb.astype(np.float64)
    cosine = (theta * phi).sum(axis=1) / (np.linalg.norm(theta, axis=1) * np.linalg.norm(phi, axis=1))
    return {
        "n_queries": len(queries),
        "query_types": types_stats,
        "intent_mix": dict(
            zip(cats, (np.bincount(queries.intent, minlength=n_cats) / len(queries)).tolist(), strict=True)
        ),
        "segments": segments,
        "theta_phi_cosine": {**_summary(cosine), "share_above_0.95": _share(cosine > 0.95)},
    }


def world_statistics(config: SimulatorConfig | None = None, n_users: int = 10_000) -> dict[str, dict]:
    """The snapshot's statistics without writing anything: ``{"catalog_stats", "users", "queries"}``.

    Builds :meth:`World.create` for ``config`` and draws ``n_users`` shoppers with one query each.
    """
    if n_users < 1:
        raise ValueError(f"n_users must be >= 1, got {n_users!r}")
    world = World.create(config)
    users = world.sample_users(n_users)
    queries = world.sample_queries(users)
    meta = {"seed": world.config.seed}
    return {
        "catalog_stats": {**meta, **_catalog_stats(world.catalog)},
        "users": {**meta, **_user_stats(users, world.config)},
        "queries": {**meta, **_query_stats(users, queries, world.config)},
    }


def format_summary(stats: dict[str, dict]) -> str:
    """A plain-text table of the headline numbers of :func:`world_statistics`."""
    catalog, users, queries = stats["catalog_stats"], stats["users"], stats["queries"]
    lines = [
        f"pet-retail world, seed {catalog['seed']}: {catalog['n_products']} products, {users['n_users']} shoppers",
        "",
        f"{'category':<14}{'count':>7}{'share':>8}{'p50 price':>11}{'e^mu':>8}{'cm2 mean':>10}{'cm2 slope':>11}"
        f"{'PL share':>10}",
    ]
    for name, c in catalog["categories"].items():
        lines.append(
            f"{name:<14}{c['count']:>7}{c['share']:>8.3f}{c['price'].get('p50', float('nan')):>11.2f}"
            f"{c['price']['exp_mu']:>8.2f}{c['cm2'].get('mean', float('nan')):>10.3f}"
            f"{c['cm2']['fitted_slope']:>11.3f}{c['pl_share']:>10.3f}"
        )
    lines += [
        "",
        f"{'segment':<14}{'count':>7}{'share':>8}{'theta_price':>13}{'theta_pl':>10}{'top category':>14}"
        f"{'intent rate':>13}",
    ]
    for name, s in users["segments"].items():
        q = queries["segments"][name]
        lines.append(
            f"{name:<14}{s['count']:>7}{s['share']:>8.3f}{s['theta_price']['mean']:>13.2f}{s['theta_pl']['mean']:>10.2f}"
            f"{q['top_category']:>14}{q['intent_rate']:>13.3f}"
        )
    mix = ", ".join(f"{name} {t['share']:.3f}" for name, t in queries["query_types"].items())
    cos = queries["theta_phi_cosine"]
    lines += [
        "",
        f"query types: {mix}",
        f"cos(theta_emb, phi_emb) > 0.95 for {cos['share_above_0.95']:.3f} of queries",
    ]
    return "\n".join(lines)


def write_world_snapshot(
    out_dir: str | Path, config: SimulatorConfig | None = None, n_users: int = 10_000, *, verbose: bool = True
) -> dict[str, dict]:
    """Writes ``catalog_stats.json``, ``users.json`` and ``queries.json`` to ``out_dir`` (created if absent).

    Args:
        out_dir: the folder to write to.
        config: the world's config (the defaults if None).
        n_users: how many shoppers (each with one query) the user and query statistics use.
        verbose: whether to print :func:`format_summary`'s table.

    Returns:
        The statistics written, keyed by file stem.
    """
    stats = world_statistics(config, n_users)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for stem, content in stats.items():
        (out / f"{stem}.json").write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
    if verbose:
        print(format_summary(stats))
    return stats
