"""What exact retrieval cannot go below: the cost per query of each pass it must make, timed alone.

Vectorized PetRetail-v0 spends most of a shopper-step in retrieval (the noisy top 50 of the 10^4
products, :func:`recframe.environments.pet_retail.retrieval.noisy_top_k_rows`). Any exact method has
to score every product (one float32 matrix product), find the products near the top (one pass
over the scores), draw the noise of those near the top (numpy's normals from each query's own
generator; here the top tier of :mod:`~recframe.environments.pet_retail.retrieval`, about 650 per
query, which trades normals against hits) and select the k best. This script times each of
those passes on its own, on the same batch of default-world queries, next to the whole retrieval
on the numpy path (the gap between the sum of the passes and the whole is what that implementation
adds) and, with the ``fast`` extra installed, compiled (:mod:`.retrieval_kernel`).

The head pass is timed twice: on the whole batch (10 MB of scores: read from memory) and on a
16-query block that stays in cache, to show how much of it is memory traffic.

Run: ``OPENBLAS_NUM_THREADS=1 python benchmarks/bench_retrieval_floor.py [--repeats N] [--num-queries N]``.
Prints a Markdown table of medians, in CPU microseconds per query.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
from bench_pet_retail_envs import retrieval_inputs

from recframe.environments.pet_retail import retrieval
from recframe.environments.pet_retail.retrieval import (
    HEAD_PAD,
    TOP_PAD,
    _at_least,
    _thresholds,
    noisy_top_k_rows,
)

K = 50
BLOCK = 16
"""Queries in the block that stays in cache."""


def passes(num_queries: int) -> dict[str, Callable[[], int]]:
    """Each timed pass: a function that runs it once and returns how many queries it covered."""
    matrix, vectors, sigma, rngs = retrieval_inputs(num_queries)
    scores = vectors @ matrix
    c_top, c_head = _thresholds(scores, K, TOP_PAD, HEAD_PAD, sigma)
    top_sizes = (scores >= c_top[:, None]).sum(axis=1)
    bounds = np.concatenate([[0], np.cumsum(top_sizes)]).tolist()
    noise = np.empty(bounds[-1])
    block, block_cut = scores[:BLOCK].copy(), c_head[:BLOCK]

    def score_product() -> int:
        vectors @ matrix
        return num_queries

    def head_pass_memory() -> int:
        _at_least(scores, c_head)
        return num_queries

    def head_pass_cache() -> int:
        for _ in range(num_queries // BLOCK):
            _at_least(block, block_cut)
        return num_queries // BLOCK * BLOCK

    def top_tier_normals() -> int:
        for r, rng in enumerate(rngs):
            rng.standard_normal(out=noise[bounds[r] : bounds[r + 1]])
        return num_queries

    def k_best_of_top_tier() -> int:
        for a, b in zip(bounds, bounds[1:]):
            noise[a:b].argpartition(b - a - K)
        return num_queries

    def whole_retrieval() -> int:
        noisy_top_k_rows(matrix, vectors, K, sigma, rngs)
        return num_queries

    compiled_kernel = retrieval._compiled_kernel

    def whole_retrieval_numpy() -> int:
        retrieval._compiled_kernel = lambda: None
        try:
            noisy_top_k_rows(matrix, vectors, K, sigma, rngs)
        finally:
            retrieval._compiled_kernel = compiled_kernel
        return num_queries

    return {
        "score product (`vectors @ matrix`, BLAS)": score_product,
        "head pass: compare and `nonzero`, scores from memory": head_pass_memory,
        f"head pass, scores in cache ({BLOCK}-query blocks)": head_pass_cache,
        f"top-tier normals ({int(np.median(top_sizes))} per query, median), a generator call each": top_tier_normals,
        "k best of the top tier (`argpartition`)": k_best_of_top_tier,
        "whole retrieval (`noisy_top_k_rows`), numpy path": whole_retrieval_numpy,
        "whole retrieval, compiled (the `fast` extra)": whole_retrieval,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=9, help="timed runs per pass (median reported)")
    parser.add_argument("--num-queries", type=int, default=256, help="queries in the batch")
    args = parser.parse_args()
    timed = passes(args.num_queries)
    for run in timed.values():  # warm-up
        run()
    times: dict[str, list[float]] = {name: [] for name in timed}
    for _ in range(args.repeats):  # the passes alternate, so that all see the same load
        for name, run in timed.items():
            start = time.process_time()
            count = run()
            times[name].append((time.process_time() - start) / count * 1e6)
    medians = {name: statistics.median(values) for name, values in times.items()}
    wholes = {name: medians.pop(name) for name in list(medians) if name.startswith("whole")}
    floor = sum(value for name, value in medians.items() if "in cache" not in name)
    print(f"| pass, batch of {args.num_queries} queries | CPU us per query |\n| --- | ---: |")
    for name, value in medians.items():
        print(f"| {name} | {value:.1f} |")
    print(f"| sum of the passes (scores from memory) | {floor:.1f} |")
    for name, value in wholes.items():
        if "compiled" not in name or retrieval._compiled_kernel() is not None:
            print(f"| {name} | {value:.1f} |")


if __name__ == "__main__":
    main()
