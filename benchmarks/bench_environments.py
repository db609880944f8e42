"""Steps per second of RecSim's three reference environments as ported to recframe.

Runs a random agent (slates pre-drawn, so the agent costs nothing) through each environment with
``slate_size=2``, ``num_candidates=10``, ``resample_documents=True``, resetting when an episode
ends, and prints the median of several runs, through the Gymnasium adapter itself
(``gymnasium.make(...).unwrapped``) and through ``gymnasium.make`` with its default wrappers.
RecSim's own speed on the same loop is shown beside it, with the ratio.

Steps per second are counted per second of this process's CPU time (``time.process_time``),
which other jobs on a shared machine disturb much less than wall time; the wall-clock rate of
the adapter runs is shown too.

With ``--recsim-python PATH`` (a Python that has ``recsim`` 0.2.4 installed, e.g. a throwaway
virtualenv with ``pip install recsim "gym==0.26.2" "numpy<2" gin-config absl-py scipy six``),
RecSim is measured live, interleaved with our runs, instead of quoting the stored figures.

Usage:
    python benchmarks/bench_environments.py [--steps 50000] [--repeats 3] [--markdown]
        [--recsim-python PATH]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import time

import gymnasium as gym
import numpy as np

import recframe

ENVIRONMENTS = ("InterestEvolution-v0", "InterestExploration-v0", "LongTermSatisfaction-v0")
CONFIG = {"slate_size": 2, "num_candidates": 10, "resample_documents": True}

#: RecSim 0.2.4's steps per CPU-second on the same loop (numpy 1.26.4, gym 0.26.2; median of 3
#: runs of 50,000 steps), measured on this machine on 2026-11-22 beside our runs, and the
#: figures issue 2 quotes (measured when the machine was quieter).
RECSIM_MEASURED = {
    "InterestEvolution-v0": 9_130.0,
    "InterestExploration-v0": 5_510.0,
    "LongTermSatisfaction-v0": 25_400.0,
}
RECSIM_ISSUE = {
    "InterestEvolution-v0": 16_000.0,
    "InterestExploration-v0": 10_000.0,
    "LongTermSatisfaction-v0": 44_000.0,
}


#: Runs RecSim's environment through the same loop (in RecSim's own interpreter). RecSim's
#: environments import gin.tf and its runner (TensorFlow, Dopamine), which stepping never uses.
_RECSIM_LOOP = """
import json, sys, time, types
sys.modules["gin.tf"] = types.ModuleType("gin.tf")
sys.modules["recsim.simulator.runner_lib"] = types.ModuleType("runner_lib")
import numpy as np
from recsim.environments import interest_evolution, interest_exploration, long_term_satisfaction
module = {"InterestEvolution-v0": interest_evolution, "InterestExploration-v0": interest_exploration,
          "LongTermSatisfaction-v0": long_term_satisfaction}[sys.argv[1]]
steps = int(sys.argv[2])
np.random.seed(0)
slates = np.random.default_rng(0).permuted(np.tile(np.arange(10), (steps, 1)), axis=1)[:, :2]
env = module.create_environment(dict(num_candidates=10, slate_size=2, resample_documents=True, seed=0))
env.reset()
wall, cpu = time.perf_counter(), time.process_time()
for slate in slates:
    if env.step(slate)[2]:
        env.reset()
print(json.dumps([steps / (time.process_time() - cpu), steps / (time.perf_counter() - wall)]))
"""


def recsim_steps_per_second(python: str, name: str, steps: int, repeats: int) -> float:
    """RecSim's median steps per CPU-second on the same loop, run with the interpreter ``python``."""
    runs = []
    for _ in range(repeats):
        command = [python, "-W", "ignore", "-c", _RECSIM_LOOP, name, str(steps)]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        runs.append(json.loads(output.strip().splitlines()[-1])[0])
    return statistics.median(runs)


def steps_per_second(env: gym.Env, slates: np.ndarray) -> tuple[float, float]:
    """Steps ``env`` through ``slates`` (resetting when an episode ends).

    Returns:
        ``(steps per CPU-second, steps per wall-clock second)``.
    """
    env.reset(seed=0)
    step, reset = env.step, env.reset
    wall, cpu = time.perf_counter(), time.process_time()
    for slate in slates:
        if step(slate)[2]:
            reset()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return len(slates) / cpu, len(slates) / wall


def measure(name: str, steps: int, repeats: int, wrapped: bool) -> tuple[float, float]:
    """The medians of ``(CPU, wall)`` steps/s over ``repeats`` runs of ``steps`` random slates."""
    rng = np.random.default_rng(0)
    slates = rng.permuted(np.tile(np.arange(CONFIG["num_candidates"]), (steps, 1)), axis=1)
    slates = slates[:, : CONFIG["slate_size"]]
    runs = []
    for _ in range(repeats):
        env = gym.make(f"recframe/{name}", **CONFIG)
        runs.append(steps_per_second(env if wrapped else env.unwrapped, slates))
    return statistics.median(cpu for cpu, _ in runs), statistics.median(wall for _, wall in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50_000, help="steps per run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per environment (the median is shown)")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--recsim-python", help="a Python with recsim installed, to measure RecSim live")
    args = parser.parse_args()

    header = (
        "environment",
        "adapter",
        "gymnasium.make",
        "adapter (wall)",
        "RecSim here",
        "ratio",
        "RecSim (issue)",
        "ratio",
    )
    rows = []
    for name in ENVIRONMENTS:
        adapter, adapter_wall = measure(name, args.steps, args.repeats, wrapped=False)
        made, _ = measure(name, args.steps, args.repeats, wrapped=True)
        if args.recsim_python:
            measured = recsim_steps_per_second(args.recsim_python, name, args.steps, args.repeats)
        else:
            measured = RECSIM_MEASURED[name]
        quoted = RECSIM_ISSUE[name]
        rows.append(
            (
                name,
                f"{adapter:,.0f}",
                f"{made:,.0f}",
                f"{adapter_wall:,.0f}",
                f"{measured:,.0f}",
                f"{adapter / measured:.1f}x",
                f"{quoted:,.0f}",
                f"{adapter / quoted:.1f}x",
            )
        )
    print(
        f"recframe {recframe.__version__}, Python {platform.python_version()}, numpy {np.__version__}, "
        f"gymnasium {gym.__version__}; steps per CPU-second, {args.steps:,} steps, median of {args.repeats} runs; "
        f"RecSim {'measured live' if args.recsim_python else 'figures stored in this script'}"
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
