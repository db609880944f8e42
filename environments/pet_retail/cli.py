"""The ``world`` subcommand: ``recframe world --out DIR`` writes a pet-retail world snapshot."""

from __future__ import annotations

import argparse
import dataclasses
import sys

from recframe.environments.pet_retail.config import SimulatorConfig
from recframe.environments.pet_retail.world import write_world_snapshot

__all__ = ["register", "run_world"]


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Adds the ``world`` subcommand to ``subparsers``; its handler is ``args.func`` (returns an exit code)."""
    parser = subparsers.add_parser(
        "world",
        help="write a pet-retail world snapshot (catalog, shopper and query statistics)",
        description="Generates the pet-retail world and writes catalog_stats.json, users.json and "
        "queries.json to --out, then prints a summary table.",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="folder to write the JSON files to")
    parser.add_argument("--seed", type=int, default=None, help="world seed (default: the config's, 20251108)")
    parser.add_argument(
        "--config", default=None, metavar="PATH", help="a SimulatorConfig as .json, .yaml or .yml"
    )
    parser.add_argument(
        "--users",
        type=int,
        default=10_000,
        metavar="N",
        help="shoppers (one query each) to sample (default 10000)",
    )
    parser.set_defaults(func=run_world)
    return parser


def run_world(args: argparse.Namespace) -> int:
    """Handles ``world``: 0 on success, 2 on a bad config or argument (with the reason on stderr)."""
    try:
        config = SimulatorConfig.load(args.config) if args.config else SimulatorConfig()
        if args.seed is not None:
            config = dataclasses.replace(config, seed=args.seed)
        write_world_snapshot(args.out, config, n_users=args.users)
    except (ValueError, OSError, ImportError) as exc:
        print(f"recframe world: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote catalog_stats.json, users.json and queries.json to {args.out}")
    return 0
