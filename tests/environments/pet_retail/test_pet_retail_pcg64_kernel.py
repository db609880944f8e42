"""numpy's PCG64 draws from compiled code (numba, the ``fast`` extra) against numpy, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

numba = pytest.importorskip("numba", reason="the compiled draws need numba (the fast extra)")

from recframe.environments.pet_retail import behavior, compiled, pcg64_kernel  # noqa: E402
from recframe.environments.pet_retail.config import SimulatorConfig  # noqa: E402
from recframe.environments.pet_retail.population import Population  # noqa: E402


@numba.njit
def _normals(state: np.uint64, count: int, entry, zx, zk, zf) -> np.ndarray:
    out = np.empty(count)
    pcg64_kernel.normals_into(out, entry, state, zx, zk, zf)
    return out


def test_normals_are_numpys_standard_normals():
    """A million draws, the ziggurat's rare tail and wedge branches included, and the same state after."""
    for seed in (0, 1):
        numpy_rng, kernel_rng = np.random.default_rng(seed), np.random.default_rng(seed)
        state = np.uint64(kernel_rng.bit_generator.ctypes.state_address)
        drawn = _normals(state, 1_000_000, pcg64_kernel.ENTRY_POINTS, *pcg64_kernel.ZIGGURAT)
        expected = numpy_rng.standard_normal(1_000_000)
        np.testing.assert_array_equal(drawn, expected)
        assert np.abs(expected).max() > 3.6541528853610088  # beyond the ziggurat's base: the tail branch ran
        assert kernel_rng.bit_generator.state == numpy_rng.bit_generator.state


def test_normals_then_uniforms_draws_each_row_from_its_generator():
    rows, k = 50, 10
    numpy_rngs = [np.random.default_rng([7, r]) for r in range(rows)]
    kernel_rngs = [np.random.default_rng([7, r]) for r in range(rows)]
    normals, uniforms = np.empty((rows, k)), np.empty((rows, 3 * k + 1))
    pcg64_kernel.normals_then_uniforms(kernel_rngs, normals, uniforms)
    for r, rng in enumerate(numpy_rngs):
        np.testing.assert_array_equal(normals[r], rng.standard_normal(k))
        np.testing.assert_array_equal(uniforms[r], rng.random(3 * k + 1))
        assert kernel_rngs[r].bit_generator.state == rng.bit_generator.state


def _alike_with_and_without_the_kernel(monkeypatch, draw, rows: int, seed: int) -> tuple:
    """``draw(rngs)`` (a tuple of arrays) with the compiled draws and with numpy's, from generators
    seeded alike: asserts equal results and equal generator states after; returns numpy's."""
    assert compiled.kernel("pcg64_kernel") is pcg64_kernel
    drawn = {}
    for kernel in (pcg64_kernel, None):
        monkeypatch.setattr(compiled, "kernel", lambda name, kernel=kernel: kernel)
        rngs = [np.random.default_rng([seed, r]) for r in range(rows)]
        drawn[kernel] = (*draw(rngs), [rng.random() for rng in rngs])
    for compiled_part, numpy_part in zip(drawn[pcg64_kernel], drawn[None], strict=True):
        np.testing.assert_array_equal(compiled_part, numpy_part)
    return drawn[None]


def test_the_cascade_draws_the_same_with_or_without_the_kernel(monkeypatch):
    def draw(rngs):
        draws = behavior.draw_cascade(rngs, 20)
        return draws.noise, draws.exam, draws.retention

    _alike_with_and_without_the_kernel(monkeypatch, draw, rows=20, seed=3)
    assert not pcg64_kernel.supports([np.random.Generator(np.random.MT19937(0))])


@numba.njit
def _float32_normals(state: np.uint64, count: int, entry, zx, zk, zf) -> np.ndarray:
    out = np.empty(count, np.float32)
    pcg64_kernel.float32_normals_into(out, entry, state, zx, zk, zf)
    return out


def test_float32_normals_are_numpys():
    """Four million draws (about a thousand from the tail; the wedge's test is in double precision,
    as numpy's C has it: computing it in float32 differed from seed 5's 1,321,334th draw)."""
    numpy_rng, kernel_rng = np.random.default_rng(5), np.random.default_rng(5)
    state = np.uint64(kernel_rng.bit_generator.ctypes.state_address)
    drawn = _float32_normals(state, 4_000_000, pcg64_kernel.ENTRY_POINTS, *pcg64_kernel.ZIGGURAT_32)
    expected = numpy_rng.standard_normal(4_000_000, dtype=np.float32)
    np.testing.assert_array_equal(drawn, expected)
    assert np.abs(expected).max() > 3.6541529  # the tail branch ran
    assert kernel_rng.bit_generator.state == numpy_rng.bit_generator.state


def test_query_draws_are_numpys_and_the_range_is_checked():
    rows = 40
    numpy_rngs = [np.random.default_rng([4, r]) for r in range(rows)]
    kernel_rngs = [np.random.default_rng([4, r]) for r in range(rows)]
    uniforms, noise = np.empty((rows, 2)), np.empty((rows, 16), dtype=np.float32)
    fillers = np.empty((rows, 3), dtype=np.int64)
    pcg64_kernel.query_draws(kernel_rngs, uniforms, noise, fillers, 10, 522)
    for r, rng in enumerate(numpy_rngs):
        np.testing.assert_array_equal(uniforms[r], rng.random(2))
        np.testing.assert_array_equal(noise[r], rng.standard_normal(16, dtype=np.float32))
        assert fillers[r].tolist() == [int(rng.integers(10, 522)) for _ in range(3)]
        assert kernel_rngs[r].bit_generator.state == rng.bit_generator.state
    with pytest.raises(ValueError, match="range must hold 2 to 2\\*\\*32 - 1 numbers, got 1"):
        pcg64_kernel.query_draws(kernel_rngs, uniforms, noise, fillers, 5, 6)


def test_queries_are_drawn_the_same_with_or_without_the_kernel(monkeypatch):
    population = Population(SimulatorConfig())

    def draw(rngs):
        queries = population.queries(population.users(rngs), rngs)
        return queries.phi_emb, queries.token_ids, queries.intent

    _alike_with_and_without_the_kernel(monkeypatch, draw, rows=30, seed=6)


@numba.njit
def _gammas(state: np.uint64, shape: float, count: int, entry, tables) -> np.ndarray:
    out = np.empty(count)
    for i in range(count):
        out[i] = pcg64_kernel.standard_gamma(entry, state, shape, tables)
    return out


@pytest.mark.parametrize("shape", [0.05, 0.45, 0.85, 1.0, 2.5])
def test_standard_gammas_are_numpys(shape):
    """Both of numpy's methods (below 1: rejection from the exponential, whose ziggurat this runs;
    above: Marsaglia and Tsang from normals) and the exponential itself at shape 1."""
    numpy_rng, kernel_rng = np.random.default_rng(2), np.random.default_rng(2)
    state = np.uint64(kernel_rng.bit_generator.ctypes.state_address)
    tables = pcg64_kernel.ZIGGURAT + pcg64_kernel.ZIGGURAT_EXP
    np.testing.assert_array_equal(
        _gammas(state, shape, 200_000, pcg64_kernel.ENTRY_POINTS, tables),
        numpy_rng.standard_gamma(shape, 200_000),
    )
    assert kernel_rng.bit_generator.state == numpy_rng.bit_generator.state


def test_users_are_drawn_the_same_with_or_without_the_kernel(monkeypatch):
    population = Population(SimulatorConfig())

    def draw(rngs):
        users = population.users(rngs)
        return users.segments, users.theta_price, users.theta_cat, users.theta_emb

    segments = _alike_with_and_without_the_kernel(monkeypatch, draw, rows=200, seed=8)[0]
    assert set(segments.tolist()) == {0, 1, 2, 3}  # every segment drawn
