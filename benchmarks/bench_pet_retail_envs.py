"""Benchmark of the pet-retail environments; prints a Markdown table of median throughputs.

Single: ``gymnasium.make(id)`` stepped with valid random actions, reset whenever a visit ends
(resets are part of the timed loop); steps per second. Vectorized: the native vector env
(``gymnasium.make_vec``) with ``--num-envs`` shoppers; shopper-steps per second counts only the
shoppers that were shown a list (not the rows being autoreset), over the whole loop's time.

Run: ``python benchmarks/bench_pet_retail_envs.py [--repeats N] [--steps N] [--num-envs N]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import gymnasium as gym
import numpy as np

import recframe  # noqa: F401  (registers the environments)

IDS = ("recframe/PetRetail-v0", "recframe/PetRetailCatalog-v0", "recframe/PetRetailBoost-v0")


def _actions(space: gym.Space, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``n`` valid actions drawn up front (so the timed loop measures the environment only)."""
    space.seed(int(rng.integers(2**31)))
    return [space.sample() for _ in range(n)]


def single_rate(env_id: str, steps: int, seed: int) -> float:
    """Steps per second of one environment (resets included in the time)."""
    env = gym.make(env_id)
    actions = _actions(env.action_space, steps, np.random.default_rng(seed))
    env.reset(seed=seed)
    start = time.perf_counter()
    for action in actions:
        if env.step(action)[2]:
            env.reset()
    return steps / (time.perf_counter() - start)


def vector_rate(env_id: str, steps: int, num_envs: int, seed: int) -> float:
    """Shopper-steps per second of the native vector env (autoreset rows not counted as steps)."""
    envs = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point")
    actions = _actions(envs.action_space, steps, np.random.default_rng(seed))
    envs.reset(seed=seed)
    shopper_steps = 0
    start = time.perf_counter()
    for action in actions:
        info = envs.step(action)[4]
        shopper_steps += int((info["product_ids"][:, 0] >= 0).sum())
    return shopper_steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per cell (median reported)")
    parser.add_argument("--steps", type=int, default=2_000, help="single-env steps per run")
    parser.add_argument("--num-envs", type=int, default=256, help="shoppers in the vectorized env")
    args = parser.parse_args()
    vector_steps = max(20, args.steps // 20)
    print(
        f"| environment | single env, steps/s | vectorized ({args.num_envs} shoppers), shopper-steps/s |\n"
        "| --- | ---: | ---: |"
    )
    for env_id in IDS:
        single_rate(env_id, 50, seed=0)  # warm-up: builds and caches the catalog
        single = statistics.median(single_rate(env_id, args.steps, seed=r) for r in range(args.repeats))
        vector = statistics.median(
            vector_rate(env_id, vector_steps, args.num_envs, seed=r) for r in range(args.repeats)
        )
        print(f"| {env_id} | {single:,.0f} | {vector:,.0f} |")


if __name__ == "__main__":
    main()
