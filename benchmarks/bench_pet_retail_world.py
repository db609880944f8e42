"""Benchmark of the pet-retail world generator; prints a Markdown table of median wall times.

Run: ``python benchmarks/bench_pet_retail_world.py [--repeats N]``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from collections.abc import Callable

import numpy as np

from recframe.environments.pet_retail.catalog import generate_catalog
from recframe.environments.pet_retail.config import CatalogConfig, SimulatorConfig
from recframe.environments.pet_retail.queries import sample_queries
from recframe.environments.pet_retail.relevance import retrieve
from recframe.environments.pet_retail.users import sample_users
from recframe.environments.pet_retail.world import write_world_snapshot


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    """The median wall time of ``repeats`` calls (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per row (median reported)")
    args = parser.parse_args()
    cfg = SimulatorConfig()
    users = sample_users(cfg, np.random.default_rng(1), 10_000)
    catalog = generate_catalog(cfg.catalog, np.random.default_rng(0))
    query = sample_queries(users, cfg, np.random.default_rng(2))[0]
    out = tempfile.mkdtemp(prefix="recframe-world-")
    rows: list[tuple[str, Callable[[], object], int]] = [
        *(
            (
                f"generate_catalog, {n:,} products",
                lambda n=n: generate_catalog(CatalogConfig(n_products=n), np.random.default_rng(0)),
                repeats,
            )
            for n, repeats in (
                (10**4, args.repeats * 3),
                (10**5, args.repeats),
                (10**6, max(3, args.repeats // 2)),
            )
        ),
        (
            "sample_users, 10,000 shoppers",
            lambda: sample_users(cfg, np.random.default_rng(1), 10_000),
            args.repeats,
        ),
        (
            "sample_queries, 10,000 queries",
            lambda: sample_queries(users, cfg, np.random.default_rng(2)),
            args.repeats,
        ),
        (
            "retrieve top 50 of 10,000 for one query",
            lambda: retrieve(query, catalog, cfg, np.random.default_rng(3), 50),
            args.repeats * 3,
        ),
        (
            "write_world_snapshot (10,000 products and shoppers)",
            lambda: write_world_snapshot(out, cfg, verbose=False),
            args.repeats,
        ),
    ]
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}")
    print()
    print("| operation | median time |")
    print("| --- | ---: |")
    for name, fn, repeats in rows:
        seconds = median_seconds(fn, repeats)
        shown = f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"
        print(f"| {name} | {shown} |", flush=True)


if __name__ == "__main__":
    main()
