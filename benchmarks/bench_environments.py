"""Steps per second of RecSim's three reference environments as ported to recframe.

Runs a random agent (slates pre-drawn, so the agent costs nothing) through each environment with
``slate_size=2``, ``num_candidates=10``, ``resample_documents=True``, resetting when an episode
ends, and prints the median of several runs, through the Gymnasium adapter itself
(``gymnasium.make(...).unwrapped``) and through ``gymnasium.make`` with its default wrappers.
RecSim's own speed on the same loop is shown beside it, with the ratio.

Usage:
    python benchmarks/bench_environments.py [--steps 50000] [--repeats 3] [--markdown]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import gymnasium as gym
import numpy as np

import recframe

ENVIRONMENTS = ("InterestEvolution-v0", "InterestExploration-v0", "LongTermSatisfaction-v0")
CONFIG = {"slate_size": 2, "num_candidates": 10, "resample_documents": True}

#: RecSim 0.2.4's steps/s on the same loop (numpy 1.26.4, gym 0.26.2; median of 3 runs of 50,000
#: steps), measured on this machine on 2026-11-22 beside our runs, and the figures issue 2 quotes.
RECSIM_MEASURED = {
    "InterestEvolution-v0": 6_500.0,
    "InterestExploration-v0": 3_540.0,
    "LongTermSatisfaction-v0": 11_600.0,
}
RECSIM_ISSUE = {
    "InterestEvolution-v0": 16_000.0,
    "InterestExploration-v0": 10_000.0,
    "LongTermSatisfaction-v0": 44_000.0,
}


def steps_per_second(env: gym.Env, slates: np.ndarray) -> float:
    """Steps ``env`` through ``slates`` (resetting when an episode ends); returns steps per second."""
    env.reset(seed=0)
    step, reset = env.step, env.reset
    start = time.perf_counter()
    for slate in slates:
        if step(slate)[2]:
            reset()
    return len(slates) / (time.perf_counter() - start)


def measure(name: str, steps: int, repeats: int, wrapped: bool) -> float:
    """The median steps/s of ``repeats`` runs of ``steps`` random slates."""
    rng = np.random.default_rng(0)
    slates = rng.permuted(np.tile(np.arange(CONFIG["num_candidates"]), (steps, 1)), axis=1)
    slates = slates[:, : CONFIG["slate_size"]]
    runs = []
    for _ in range(repeats):
        env = gym.make(f"recframe/{name}", **CONFIG)
        runs.append(steps_per_second(env if wrapped else env.unwrapped, slates))
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50_000, help="steps per run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per environment (the median is shown)")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()

    header = (
        "environment",
        "adapter steps/s",
        "gymnasium.make steps/s",
        "RecSim measured",
        "ratio",
        "RecSim (issue)",
        "ratio",
    )
    rows = []
    for name in ENVIRONMENTS:
        adapter = measure(name, args.steps, args.repeats, wrapped=False)
        made = measure(name, args.steps, args.repeats, wrapped=True)
        measured, quoted = RECSIM_MEASURED[name], RECSIM_ISSUE[name]
        rows.append(
            (
                name,
                f"{adapter:,.0f}",
                f"{made:,.0f}",
                f"{measured:,.0f}",
                f"{adapter / measured:.1f}x",
                f"{quoted:,.0f}",
                f"{adapter / quoted:.1f}x",
            )
        )
    print(
        f"recframe {recframe.__version__}, Python {platform.python_version()}, numpy {np.__version__}, "
        f"gymnasium {gym.__version__}; {args.steps:,} steps, median of {args.repeats} runs"
    )
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("| --- |" + " ---: |" * (len(header) - 1))
        for row in rows:
            print("| " + " | ".join(row) + " |")
    else:
        widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
        for row in (header, *rows):
            print("  ".join(str(cell).rjust(width) for cell, width in zip(row, widths)))


if __name__ == "__main__":
    main()
