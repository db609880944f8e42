"""Benchmark of the pet-retail environments; prints a Markdown table of median throughputs.

Single: ``gymnasium.make(id)`` stepped with valid random actions, reset whenever a visit ends
(resets are part of the timed loop); steps per second. Vectorized: the native vector env
(``gymnasium.make_vec``) with ``--num-envs`` shoppers; shopper-steps per second counts only the
shoppers that were shown a list (not the rows being autoreset), over the whole loop's time.
Sharded: the same ``--num-envs`` shoppers split over ``--num-workers`` worker processes
(``make_vec(..., num_workers=W)``, :class:`recframe.simulator.sharded.ShardedVectorEnv`). Both
vector envs are built once per environment (the workers start before any timed loop), warmed up
by one untimed run, and their runs alternate, so both see the same load.

Each rate is given per wall-clock second and per CPU second of this process (``time.process_time``);
the second is steadier on a shared machine, where waiting for a core inflates wall time. The
sharded env is given per wall-clock second only: its work runs in the workers, so this process's
CPU time (waiting on pipes, copying results out) says nothing about its throughput.

A second table times retrieval alone (:func:`recframe.environments.pet_retail.retrieval.noisy_top_k_rows`,
the noisy top 50 of the default 10^4-product catalog) per query: a batch of ``--num-envs`` queries,
and one query at a time.

With numba installed (the ``fast`` extra) the compiled kernels run; ``RECFRAME_NUMBA=0`` measures
the numpy path (the same numbers). The first line printed says which.

Run: ``python benchmarks/bench_pet_retail_envs.py [--repeats N] [--steps N] [--num-envs N]
[--num-workers W]``.
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


def _clocks() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _rates(count: int, start: tuple[float, float]) -> tuple[float, float]:
    """``count`` per wall second and per CPU second since ``start``."""
    wall, cpu = _clocks()
    return count / (wall - start[0]), count / max(cpu - start[1], 1e-9)


def single_rate(env_id: str, steps: int, seed: int) -> tuple[float, float]:
    """Steps per (wall, CPU) second of one environment (resets included in the time)."""
    env = gym.make(env_id)
    actions = _actions(env.action_space, steps, np.random.default_rng(seed))
    env.reset(seed=seed)
    start = _clocks()
    for action in actions:
        if env.step(action)[2]:
            env.reset()
    return _rates(steps, start)


def make_vector(env_id: str, num_envs: int, num_workers: int = 1) -> gym.vector.VectorEnv:
    """The native vector env, sharded over ``num_workers`` processes when more than one."""
    return gym.make_vec(
        env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", num_workers=num_workers
    )


def vector_rate(envs: gym.vector.VectorEnv, steps: int, seed: int) -> tuple[float, float]:
    """Shopper-steps per (wall, CPU) second of a vector env (autoreset rows not counted)."""
    actions = _actions(envs.action_space, steps, np.random.default_rng(seed))
    envs.reset(seed=seed)
    shopper_steps = 0
    start = _clocks()
    for action in actions:
        info = envs.step(action)[4]
        shopper_steps += int((info["product_ids"][:, 0] >= 0).sum())
    return _rates(shopper_steps, start)


def retrieval_inputs(num_queries: int) -> tuple[np.ndarray, np.ndarray, float, list[np.random.Generator]]:
    """``(matrix, vectors, sigma, rngs)``: the default world's retrieval matrix, the first queries of
    ``num_queries`` shoppers (seeds 0, 1, ...) and a generator per query."""
    from recframe.environments.pet_retail.config import SimulatorConfig
    from recframe.environments.pet_retail.sessions import ShopperSessions, load_catalog

    config = SimulatorConfig()
    sessions = ShopperSessions(config, load_catalog(config), num_queries)
    for i in range(num_queries):
        sessions.reseed(i, i)
    sessions.start(np.arange(num_queries))
    rngs = [np.random.default_rng(i) for i in range(num_queries)]
    return sessions.index.matrix, sessions.query_vectors, config.relevance.noise_sigma, rngs


def retrieval_times(num_queries: int, repeats: int) -> tuple[float, float, float]:
    """Median us per query (CPU batched, wall batched, CPU one at a time)."""
    from recframe.environments.pet_retail.retrieval import noisy_top_k_rows

    matrix, vectors, sigma, rngs = retrieval_inputs(num_queries)

    def batch() -> tuple[float, float]:
        start = _clocks()
        noisy_top_k_rows(matrix, vectors, 50, sigma, rngs)
        wall, cpu = _clocks()
        return (wall - start[0]) / num_queries * 1e6, (cpu - start[1]) / num_queries * 1e6

    def one_at_a_time() -> float:
        start = _clocks()[1]
        for i in range(num_queries):
            noisy_top_k_rows(matrix, vectors[i : i + 1], 50, sigma, rngs[i : i + 1])
        return (_clocks()[1] - start) / num_queries * 1e6

    batch()  # warm-up: the BLAS check
    batched = [batch() for _ in range(repeats)]
    single = [one_at_a_time() for _ in range(repeats)]
    return (
        statistics.median(r[1] for r in batched),
        statistics.median(r[0] for r in batched),
        statistics.median(single),
    )


def _medians(runs: list[tuple[float, float]], cpu: bool = True) -> str:
    wall, process = (statistics.median(r[i] for r in runs) for i in (0, 1))
    return f"{wall:,.0f} | {process:,.0f}" if cpu else f"{wall:,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per cell (median reported)")
    parser.add_argument("--steps", type=int, default=2_000, help="single-env steps per run")
    parser.add_argument("--num-envs", type=int, default=256, help="shoppers in the vectorized env")
    parser.add_argument("--num-workers", type=int, default=2, help="worker processes of the sharded env")
    args = parser.parse_args()
    vector_steps = max(20, args.steps // 20)
    from recframe.environments.pet_retail import compiled

    on = compiled.kernel("retrieval_kernel") is not None
    print(
        f"Compiled kernels (the fast extra): {'on' if on else 'off (numba missing, or RECFRAME_NUMBA=0)'}\n"
    )
    print(
        "| environment | single env, steps/s (wall) | (CPU) | "
        f"vectorized, {args.num_envs} shoppers, shopper-steps/s (wall) | (CPU) | "
        f"sharded over {args.num_workers} processes (wall) |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: |"
    )
    for env_id in IDS:
        single_rate(env_id, 50, seed=0)  # warm-up: builds and caches the catalog
        single = [single_rate(env_id, args.steps, seed=r) for r in range(args.repeats)]
        vector, sharded = [], []
        with make_vector(env_id, args.num_envs, args.num_workers) as sharded_envs:
            envs = make_vector(env_id, args.num_envs)
            for r in range(args.repeats + 1):  # run 0 warms both up
                vector.append(vector_rate(envs, vector_steps, seed=r))
                sharded.append(vector_rate(sharded_envs, vector_steps, seed=r))
        print(
            f"| {env_id} | {_medians(single)} | {_medians(vector[1:])} | {_medians(sharded[1:], cpu=False)} |"
        )
    cpu, wall, one = retrieval_times(args.num_envs, args.repeats)
    print(
        f"\n| retrieval, us per query | batch of {args.num_envs} (CPU) | (wall) | one at a time (CPU) |\n"
        f"| --- | ---: | ---: | ---: |\n| noisy top 50 of 10,000 | {cpu:.1f} | {wall:.1f} | {one:.1f} |"
    )


if __name__ == "__main__":
    main()
