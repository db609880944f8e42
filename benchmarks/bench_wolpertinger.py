"""Benchmark of the Wolpertinger agent: k-NN retrieval, training updates, and the full agent loop.

Prints a markdown table of

* k-NN retrieval latency for a batch of 128 proto-actions over 10^4, 10^5 and 10^6 items with
  d = 16 (exact torch search; exact FAISS ``IndexFlatL2`` too when ``recframe[faiss]`` is installed);
* training updates per second at batch 128 (the tutorial's networks, hidden 256);
* environment steps per second of the whole agent + environment loop on ``recframe/Tutorial-v0``
  through Gymnasium: while warming up (random slates, no updates), while training (one update per
  step) and in evaluation mode (greedy, no learning).

Usage: ``python benchmarks/bench_wolpertinger.py [--repeats 7] [--threads N]``. Times are medians of
``--repeats`` runs after a warm-up run, in CPU time of the process, on one torch thread by default.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
import timeit
from collections.abc import Callable

import gymnasium as gym
import numpy as np
import torch

import recframe  # noqa: F401 - registers the environments
from recframe.agents.common.knn import make_nearest_neighbors
from recframe.agents.common.noise import GaussNoise
from recframe.agents.wolpertinger import (
    TUTORIAL_HYPERPARAMETERS,
    WolpertingerAgent,
    WolpertingerConfig,
    WolpertingerRecommender,
)


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    """Median CPU time of the process over ``repeats`` calls of ``fn``, after one warm-up call.

    CPU time rather than wall time: on a shared machine other jobs inflate wall time, not this one.
    With one torch thread (the default here) it is the single-core compute time.
    """
    fn()
    return statistics.median(timeit.repeat(fn, timer=time.process_time, number=1, repeat=repeats))


def knn_rows(repeats: int, k: int = 10) -> list[tuple[str, str]]:
    """Latency of one batched search of 128 queries, per backend and catalog size."""
    rng = np.random.default_rng(0)
    rows = []
    for n_items in (10**4, 10**5, 10**6):
        items = rng.normal(size=(n_items, 16)).astype(np.float32)
        queries = torch.from_numpy(rng.normal(size=(128, 16)).astype(np.float32))
        for backend in ("torch", "faiss"):
            try:
                index = make_nearest_neighbors(items, backend)
            except ImportError:
                rows.append((f"k-NN, 128 queries, {n_items:,} items, {backend}", "not installed"))
                continue
            seconds = median_seconds(lambda index=index, queries=queries: index.search(queries, k), repeats)
            rows.append(
                (f"k-NN (k={k}), 128 queries, {n_items:,} items x d=16, {backend}", f"{seconds * 1e3:.2f} ms")
            )
    return rows


def update_rows(repeats: int, n_updates: int = 200) -> list[tuple[str, str]]:
    """Gradient steps per second at batch 128 on a filled buffer."""
    rows = []
    for n_items, dim, k in ((10, 10, 3), (10**4, 16, 10)):
        embeddings = np.eye(10) if n_items == 10 else np.random.default_rng(0).normal(size=(n_items, dim))
        config = WolpertingerConfig(k=k, learning_starts=0, gamma=0.8, hidden_dim=256, batch_size=128)
        agent = WolpertingerAgent(10, embeddings, config, GaussNoise(0.05), seed=0)
        eye = np.eye(10, dtype=np.float32)
        for i in range(2_000):
            item = (7 * i) % n_items
            agent.buffer.add(eye[i % 10], agent.embeddings[item].numpy(), item, 1.0, eye[(i + 1) % 10], False)

        def run(agent: WolpertingerAgent = agent) -> None:
            for _ in range(n_updates):
                agent.update()

        seconds = median_seconds(run, repeats)
        label = "one-hot" if n_items == 10 else f"d={dim}"
        rows.append(
            (
                f"training updates/s, batch 128, hidden 256, {n_items:,} items ({label}), k={k}",
                f"{n_updates / seconds:,.0f}",
            )
        )
    return rows


def loop_rows(repeats: int, steps: int = 1_000) -> list[tuple[str, str]]:
    """Environment steps per second of the recommender + ``recframe/Tutorial-v0`` Gymnasium loop."""
    rows = []
    for phase in ("warm-up (random, no updates)", "training (1 update/step)", "evaluation (greedy)"):
        env = gym.make("recframe/Tutorial-v0", seed=0)
        rec = WolpertingerRecommender(
            env=env,
            seed=0,
            noise=GaussNoise(0.05),
            learning_starts=10**9 if phase.startswith("warm") else 0,
            **TUTORIAL_HYPERPARAMETERS,
        )
        rec.eval_mode = phase.startswith("eval")
        # Fill the buffer past one batch so that training steps update from the first timed step.
        state = {"obs": env.reset(seed=0)[0]}
        state["slate"] = rec.begin_episode(state["obs"])

        def run(env: gym.Env = env, rec: WolpertingerRecommender = rec, state: dict = state) -> None:
            slate = state["slate"]
            for _ in range(steps):
                obs, reward, terminated, truncated, _ = env.step(slate)
                if terminated or truncated:
                    rec.end_episode(reward, obs, terminated=terminated)
                    slate = rec.begin_episode(env.reset()[0])
                else:
                    slate = rec.step(reward, obs)
            state["slate"] = slate

        seconds = median_seconds(run, repeats)
        rows.append((f"agent + recframe/Tutorial-v0 env steps/s, {phase}", f"{steps / seconds:,.0f}"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per row (median reported)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (CPU time sums them)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    try:  # FAISS uses OpenMP threads; give it the same number so CPU times compare
        import faiss

        faiss.omp_set_num_threads(args.threads)
    except ImportError:
        pass
    print(
        f"Python {platform.python_version()}, torch {torch.__version__}, numpy {np.__version__}, "
        f"{torch.get_num_threads()} torch thread(s), median CPU time of {args.repeats} runs"
    )
    print()
    print("| measurement | result |")
    print("| --- | ---: |")
    for rows in (knn_rows, update_rows, loop_rows):
        for label, value in rows(args.repeats):
            print(f"| {label} | {value} |", flush=True)


if __name__ == "__main__":
    main()
