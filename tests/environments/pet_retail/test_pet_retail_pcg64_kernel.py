"""numpy's PCG64 draws from compiled code (numba, the ``fast`` extra) against numpy, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

numba = pytest.importorskip("numba", reason="the compiled draws need numba (the fast extra)")

from recframe.environments.pet_retail import behavior, compiled, pcg64_kernel  # noqa: E402


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


def test_the_cascade_draws_the_same_with_or_without_the_kernel(monkeypatch):
    assert compiled.kernel("pcg64_kernel") is pcg64_kernel
    drawn = {}
    for kernel in (pcg64_kernel, None):
        monkeypatch.setattr(compiled, "kernel", lambda name, kernel=kernel: kernel)
        rngs = [np.random.default_rng([3, r]) for r in range(20)]
        draws = behavior.draw_cascade(rngs, 20)
        drawn[kernel] = (draws.noise, draws.exam, draws.retention, [rng.random() for rng in rngs])
    for compiled_part, numpy_part in zip(drawn[pcg64_kernel], drawn[None], strict=True):
        np.testing.assert_array_equal(compiled_part, numpy_part)
    assert not pcg64_kernel.supports([np.random.Generator(np.random.MT19937(0))])
