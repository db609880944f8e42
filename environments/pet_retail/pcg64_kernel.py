"""numpy's PCG64 draws from compiled code (numba, the ``fast`` extra): the same numbers, no Python calls.

A :class:`numpy.random.Generator` call costs about a microsecond before it draws anything, which
is most of the cost when each shopper draws a handful of numbers from its own generator. The
functions here draw from a generator's PCG64 state through the bit generator's own C entry points
(``next_uint64``, ``next_double``), so the generator's state advances exactly as numpy would
advance it, and reproduce numpy's algorithms on top: :func:`uniform` is ``Generator.random()``,
:func:`normals_into` is ``Generator.standard_normal(out=...)`` (numpy's ziggurat, with numpy's
tables as numba ports them). :func:`normals_then_uniforms` fills a batch of rows, each from its
own generator. The tests compare every one of them with numpy, bit for bit.

Only :class:`numpy.random.PCG64` generators are supported (:func:`supports`; the library's
default). Compiled code advances a generator's state without taking its lock: do not share a
generator with another thread while it runs.
"""

from __future__ import annotations

import ctypes
import math

import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic
from numba.np.random import _constants as ziggurat

__all__ = [
    "ENTRY_POINTS",
    "ZIGGURAT",
    "normals_into",
    "ZIGGURAT_32",
    "bounded_integer",
    "float32_normals_into",
    "normals_then_uniforms",
    "query_draws",
    "state_addresses",
    "supports",
    "uniform",
]

# numpy's ziggurat for standard normals (its 256 layers), as numba ports numpy's tables
ZIGGURAT_X = np.ascontiguousarray(ziggurat.wi_double, dtype=np.float64)
ZIGGURAT_K = np.ascontiguousarray(ziggurat.ki_double, dtype=np.uint64)
ZIGGURAT_F = np.ascontiguousarray(ziggurat.fi_double, dtype=np.float64)
_NOR_R = float(ziggurat.ziggurat_nor_r)
_NOR_INV_R = float(ziggurat.ziggurat_nor_inv_r)


def _entry_point(name: str) -> int:
    """The address of PCG64's C function ``name`` in this process (the same for every PCG64)."""
    return ctypes.cast(getattr(np.random.PCG64().ctypes, name), ctypes.c_void_p).value


ENTRY_POINTS = np.array(
    [_entry_point("next_uint64"), _entry_point("next_double"), _entry_point("next_uint32")], dtype=np.uint64
)
"""Passed to the compiled code at every call, never compiled in: numba caches compiled code across
processes, and the library's address differs from one process to the next."""


def supports(rngs: list[np.random.Generator]) -> bool:
    """Whether every generator is a PCG64 one (what the kernel can draw from)."""
    return all(type(rng.bit_generator) is np.random.PCG64 for rng in rngs)


ZIGGURAT = (ZIGGURAT_X, ZIGGURAT_K, ZIGGURAT_F)
"""The tables, passed to compiled code as arguments (global arrays would be frozen into it)."""

ZIGGURAT_32 = (
    np.ascontiguousarray(ziggurat.wi_float, dtype=np.float32),
    np.ascontiguousarray(ziggurat.ki_float, dtype=np.uint32),
    np.ascontiguousarray(ziggurat.fi_float, dtype=np.float32),
)
"""The float32 ziggurat's tables (``standard_normal(dtype=np.float32)``)."""
_NOR_R_32 = np.float32(ziggurat.ziggurat_nor_r_f)
_NOR_INV_R_32 = np.float32(ziggurat.ziggurat_nor_inv_r_f)


def state_addresses(rngs: list[np.random.Generator]) -> np.ndarray:
    """(n,) uint64: the addresses of the generators' PCG64 states."""
    return np.array([rng.bit_generator.ctypes.state_address for rng in rngs], dtype=np.uint64)


def _entry_call(result: types.Type, llvm_result: ir.Type):
    """An intrinsic ``call(function, state)``: calls the C function ``result (*)(void *)`` at address
    ``function`` on ``state`` (both uint64), as numpy calls a bit generator's entry points."""

    @intrinsic
    def call(typingctx, function, state):
        def codegen(context, builder, signature, args):
            pointer = ir.IntType(8).as_pointer()
            callee = builder.inttoptr(args[0], ir.FunctionType(llvm_result, [pointer]).as_pointer())
            return builder.call(callee, [builder.inttoptr(args[1], pointer)])

        return result(types.uint64, types.uint64), codegen

    return call


_next_uint64 = _entry_call(types.uint64, ir.IntType(64))
_next_double = _entry_call(types.float64, ir.DoubleType())
_next_uint32 = _entry_call(types.uint32, ir.IntType(32))


@numba.njit(cache=True)
def uniform(next_double: np.uint64, state: np.uint64) -> float:
    """One ``Generator.random()`` draw (``next_double``: PCG64's, from ``ENTRY_POINTS``)."""
    return _next_double(next_double, state)


@numba.njit(cache=True)
def normals_into(
    out: np.ndarray, entry: np.ndarray, state: np.uint64, zx: np.ndarray, zk: np.ndarray, zf: np.ndarray
) -> None:
    """``Generator.standard_normal(out=out)``: numpy's ziggurat (tables ``zx``, ``zk``, ``zf``)."""
    next_bits, next_double = entry[0], entry[1]
    for i in range(out.size):
        while True:
            bits = _next_uint64(next_bits, state)
            idx = bits & np.uint64(0xFF)
            bits >>= np.uint64(8)
            rabs = (bits >> np.uint64(1)) & np.uint64(0x000FFFFFFFFFFFFF)
            x = float(rabs) * zx[idx]
            if bits & np.uint64(1):
                x = -x
            if rabs < zk[idx]:
                break  # inside the ziggurat's rectangles: most draws
            if idx == 0:  # the tail beyond r
                while True:
                    xx = -_NOR_INV_R * math.log1p(-uniform(next_double, state))
                    yy = -math.log1p(-uniform(next_double, state))
                    if yy + yy > xx * xx:
                        break
                x = -(_NOR_R + xx) if (rabs >> np.uint64(8)) & np.uint64(1) else _NOR_R + xx
                break
            if (zf[idx - 1] - zf[idx]) * uniform(next_double, state) + zf[idx] < math.exp(-0.5 * x * x):
                break
        out[i] = x


@numba.njit(cache=True)
def _normals_then_uniforms(
    states: np.ndarray,
    entry: np.ndarray,
    zx: np.ndarray,
    zk: np.ndarray,
    zf: np.ndarray,
    normals: np.ndarray,
    uniforms: np.ndarray,
) -> None:
    for r in range(states.size):
        normals_into(normals[r], entry, states[r], zx, zk, zf)
        for j in range(uniforms.shape[1]):
            uniforms[r, j] = uniform(entry[1], states[r])


def normals_then_uniforms(rngs: list[np.random.Generator], normals: np.ndarray, uniforms: np.ndarray) -> None:
    """Row r of ``normals`` then row r of ``uniforms`` from ``rngs[r]``: what
    ``rng.standard_normal(out=normals[r]); rng.random(out=uniforms[r])`` draws, for every row in
    one compiled call. Both arrays are (n, .) float64 and C-contiguous."""
    _normals_then_uniforms(state_addresses(rngs), ENTRY_POINTS, *ZIGGURAT, normals, uniforms)


@numba.njit(cache=True)
def _float32_uniform(next_uint32: np.uint64, state: np.uint64) -> np.float32:
    """numpy's ``next_float``: the top 24 of 32 random bits over 2**24."""
    return np.float32(_next_uint32(next_uint32, state) >> np.uint32(8)) / np.float32(16777216.0)


@numba.njit(cache=True)
def float32_normals_into(
    out: np.ndarray, entry: np.ndarray, state: np.uint64, zx: np.ndarray, zk: np.ndarray, zf: np.ndarray
) -> None:
    """``Generator.standard_normal(out=out, dtype=np.float32)``: numpy's float32 ziggurat, from 32-bit
    draws (tables ``ZIGGURAT_32``), float32 arithmetic where numpy's is float32."""
    next_uint32 = entry[2]
    for i in range(out.size):
        while True:
            bits = _next_uint32(next_uint32, state)
            idx = bits & np.uint32(0xFF)
            rabs = (bits >> np.uint32(9)) & np.uint32(0x0007FFFFF)
            x = np.float32(rabs) * zx[idx]
            if (bits >> np.uint32(8)) & np.uint32(1):
                x = -x
            if rabs < zk[idx]:
                break  # inside the rectangles
            if idx == 0:  # the tail beyond r
                while True:
                    xx = -_NOR_INV_R_32 * np.log1p(-_float32_uniform(next_uint32, state))
                    yy = -np.log1p(-_float32_uniform(next_uint32, state))
                    if yy + yy > xx * xx:
                        break
                x = -(_NOR_R_32 + xx) if (rabs >> np.uint32(8)) & np.uint32(1) else _NOR_R_32 + xx
                break
            wedge = (zf[idx - 1] - zf[idx]) * _float32_uniform(next_uint32, state) + zf[idx]
            if wedge < math.exp(-0.5 * np.float64(x) * np.float64(x)):  # in double, as numpy's C
                break
        out[i] = x


@numba.njit(cache=True)
def bounded_integer(next_uint32: np.uint64, state: np.uint64, span: int, threshold: int) -> int:
    """``Generator.integers(0, span)`` for 1 < span < 2**32: numpy's Lemire draw from 32-bit words
    (``threshold`` = ``2**32 % span``)."""
    m = np.uint64(_next_uint32(next_uint32, state)) * np.uint64(span)
    while m & np.uint64(0xFFFFFFFF) < threshold:
        m = np.uint64(_next_uint32(next_uint32, state)) * np.uint64(span)
    return int(m >> np.uint64(32))


@numba.njit(cache=True)
def _query_draws(
    states: np.ndarray,
    entry: np.ndarray,
    zx: np.ndarray,
    zk: np.ndarray,
    zf: np.ndarray,
    uniforms: np.ndarray,
    noise: np.ndarray,
    fillers: np.ndarray,
    low: int,
    span: int,
) -> None:
    threshold = (1 << 32) % span
    for r in range(states.size):
        state = states[r]
        for j in range(uniforms.shape[1]):
            uniforms[r, j] = uniform(entry[1], state)
        float32_normals_into(noise[r], entry, state, zx, zk, zf)
        for j in range(fillers.shape[1]):
            fillers[r, j] = low + bounded_integer(entry[2], state, span, threshold)


def query_draws(
    rngs: list[np.random.Generator],
    uniforms: np.ndarray,
    noise: np.ndarray,
    fillers: np.ndarray,
    low: int,
    high: int,
) -> None:
    """Per row r, from ``rngs[r]``: ``rng.random(out=uniforms[r])``, then
    ``rng.standard_normal(out=noise[r], dtype=np.float32)``, then ``fillers[r]`` as
    ``rng.integers(low, high)`` one at a time, for 1 < high - low < 2**32. Arrays: (n, .)
    C-contiguous float64, float32 and int64."""
    span = high - low
    if not 1 < span < 2**32:
        raise ValueError(f"the integers' range must hold 2 to 2**32 - 1 numbers, got {span}")
    _query_draws(state_addresses(rngs), ENTRY_POINTS, *ZIGGURAT_32, uniforms, noise, fillers, low, span)
