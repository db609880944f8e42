"""Command line: ``recframe <command>`` (or ``python -m recframe <command>``).

Commands:
    demo    simulate a uniformly random recommender on registered environments and print a table
    list    list the registered ``recframe/`` environments

Plugins add commands through the ``recframe.commands`` entry-point group: each entry point is a
function ``register(subparsers)`` that adds a sub-parser and sets ``func(args) -> int`` on it.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import math
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from recframe.registration import registered_environments

COMMAND_GROUP = "recframe.commands"


@dataclass(frozen=True)
class EpisodeStats:
    """What a random recommender earned on one environment."""

    env_id: str
    episodes: int
    steps: int
    mean_return: float
    se_return: float
    reward_per_step: float
    steps_per_second: float


def simulate_random_policy(env_id: str, episodes: int, max_steps: int, seed: int) -> EpisodeStats:
    """Plays uniformly random slates on ``env_id`` for ``episodes`` episodes (at most ``max_steps`` steps)."""
    env = gym.make(env_id)
    env.action_space.seed(seed)
    returns: list[float] = []
    steps = 0
    total_reward = 0.0
    start = time.perf_counter()
    env.reset(seed=seed)
    episode_return = 0.0
    while len(returns) < episodes and steps < max_steps:
        _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        steps += 1
        episode_return += reward
        total_reward += reward
        if terminated or truncated:
            returns.append(episode_return)
            episode_return = 0.0
            env.reset()
    elapsed = time.perf_counter() - start
    env.close()
    finished = np.asarray(returns) if returns else np.asarray([episode_return])
    se = float(finished.std(ddof=1) / math.sqrt(len(finished))) if len(finished) > 1 else float("nan")
    return EpisodeStats(
        env_id, len(returns), steps, float(finished.mean()), se, total_reward / steps, steps / elapsed
    )


def format_table(rows: Sequence[EpisodeStats]) -> str:
    """Renders the demo results as a fixed-width table."""
    header = (
        f"{'environment':<34} {'episodes':>8} {'steps':>7} {'return':>16} {'reward/step':>11} {'steps/s':>9}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        mean = f"{row.mean_return:.3f} ± {row.se_return:.3f}"
        lines.append(
            f"{row.env_id:<34} {row.episodes:>8d} {row.steps:>7d} {mean:>16} {row.reward_per_step:>11.4f} "
            f"{row.steps_per_second:>9.0f}"
        )
    return "\n".join(lines)


def _demo(args: argparse.Namespace) -> int:
    env_ids = args.env or registered_environments()
    unknown = sorted(set(env_ids) - set(registered_environments()))
    if unknown:
        print(f"unknown environment(s) {unknown}; registered: {registered_environments()}", file=sys.stderr)
        return 2
    rows = [simulate_random_policy(env_id, args.episodes, args.max_steps, args.seed) for env_id in env_ids]
    print(
        f"Uniformly random slates, seed {args.seed}, up to {args.episodes} episodes / {args.max_steps} steps each"
    )
    print(format_table(rows))
    return 0


def _list(args: argparse.Namespace) -> int:
    del args
    for env_id in registered_environments():
        print(env_id)
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The ``recframe`` argument parser, with plugin commands added."""
    parser = argparse.ArgumentParser(prog="recframe", description="Simulate recommender and search systems.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    demo = subparsers.add_parser("demo", help="random recommender on registered environments, as a table")
    demo.add_argument("--env", action="append", help="environment id (repeatable; default: all registered)")
    demo.add_argument(
        "--episodes", type=_positive_int, default=50, help="episodes per environment (default 50)"
    )
    demo.add_argument(
        "--max-steps", type=_positive_int, default=5000, help="step cap per environment (default 5000)"
    )
    demo.add_argument("--seed", type=int, default=0, help="seed of the environments and the policy")
    demo.set_defaults(func=_demo)
    subparsers.add_parser("list", help="list registered environments").set_defaults(func=_list)
    for entry_point in importlib.metadata.entry_points(group=COMMAND_GROUP):
        try:
            entry_point.load()(subparsers)
        except Exception as error:  # a broken plugin must not break the other commands
            warnings.warn(f"recframe command plugin {entry_point.value!r} failed: {error!r}", stacklevel=1)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit code."""
    import recframe  # noqa: F401  (registers the environments)

    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
