"""numpy's PCG64 draws from compiled code (numba, the ``fast`` extra): the same numbers, no Python calls.

A :class:`numpy.random.Generator` call costs about a microsecond before it draws anything, which
is most of the cost when each shopper draws a handful of numbers from its own generator. The
functions here draw from a generator's PCG64 state through the bit generator's own C entry points
(``next_uint64``, ``next_double``, ``next_uint32``), so the generator's state advances exactly as
numpy would advance it, and reproduce numpy's algorithms on top, as numpy's C has them:
:func:`uniform` (``random()``), :func:`standard_normal` and :func:`normals_into` (the float64
ziggurat), :func:`float32_normals_into` (the float32 one), :func:`standard_exponential`,
:func:`standard_gamma` and :func:`bounded_integer` (``integers``, Lemire's method), with numpy's
tables as numba ports them. :func:`normals_then_uniforms`, :func:`query_draws` and
:func:`user_draws` fill a batch of rows, each from its own generator, in one call. The tests
compare every one of them with numpy, bit for bit.

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
    "ZIGGURAT_32",
    "ZIGGURAT_EXP",
    "bounded_integer",
    "float32_normals_into",
    "normals_into",
    "normals_then_uniforms",
    "query_draws",
    "standard_exponential",
    "standard_gamma",
    "standard_normal",
    "state_addresses",
    "supports",
    "uniform",
    "user_draws",
]

# numpy's ziggurats (256 layers each), as numba ports numpy's tables. They are passed to compiled
# code as arguments: global arrays would be frozen into it.
ZIGGURAT = (
    np.ascontiguousarray(ziggurat.wi_double, dtype=np.float64),
    np.ascontiguousarray(ziggurat.ki_double, dtype=np.uint64),
    np.ascontiguousarray(ziggurat.fi_double, dtype=np.float64),
)
"""The float64 normal ziggurat's tables (``standard_normal``)."""
ZIGGURAT_32 = (
    np.ascontiguousarray(ziggurat.wi_float, dtype=np.float32),
    np.ascontiguousarray(ziggurat.ki_float, dtype=np.uint32),
    np.ascontiguousarray(ziggurat.fi_float, dtype=np.float32),
)
"""The float32 normal ziggurat's tables (``standard_normal(dtype=np.float32)``)."""
ZIGGURAT_EXP = (
    np.ascontiguousarray(ziggurat.we_double, dtype=np.float64),
    np.ascontiguousarray(ziggurat.ke_double, dtype=np.uint64),
    np.ascontiguousarray(ziggurat.fe_double, dtype=np.float64),
)
"""The exponential ziggurat's tables (``standard_exponential``, and ``standard_gamma`` below 1)."""
_NOR_R, _NOR_INV_R = float(ziggurat.ziggurat_nor_r), float(ziggurat.ziggurat_nor_inv_r)
_NOR_R_32, _NOR_INV_R_32 = np.float32(ziggurat.ziggurat_nor_r_f), np.float32(ziggurat.ziggurat_nor_inv_r_f)
_EXP_R = float(ziggurat.ziggurat_exp_r)


def _entry_point(name: str) -> int:
    """The address of PCG64's C function ``name`` in this process (the same for every PCG64)."""
    return ctypes.cast(getattr(np.random.PCG64().ctypes, name), ctypes.c_void_p).value


ENTRY_POINTS = np.array(
    [_entry_point("next_uint64"), _entry_point("next_double"), _entry_point("next_uint32")], dtype=np.uint64
)
"""PCG64's ``next_uint64``, ``next_double`` and ``next_uint32``, passed to the compiled code at every
call, never compiled in: numba caches compiled code across processes, and the library's address
differs from one process to the next."""


def supports(rngs: list[np.random.Generator]) -> bool:
    """Whether every generator is a PCG64 one (what the compiled code can draw from)."""
    return all(type(rng.bit_generator) is np.random.PCG64 for rng in rngs)


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


@numba.njit(cache=True, error_model="numpy")
def uniform(next_double: np.uint64, state: np.uint64) -> float:
    """One ``Generator.random()`` draw (``next_double``: PCG64's, from ``ENTRY_POINTS``)."""
    return _next_double(next_double, state)


@numba.njit(cache=True, error_model="numpy", inline="always")
def standard_normal(
    entry: np.ndarray, state: np.uint64, zx: np.ndarray, zk: np.ndarray, zf: np.ndarray
) -> float:
    """One ``Generator.standard_normal()`` draw: numpy's ziggurat (tables ``zx``, ``zk``, ``zf``).
    Inlined where it is called (a call with array arguments per draw would cost more than the draw)."""
    next_bits, next_double = entry[0], entry[1]
    while True:
        bits = _next_uint64(next_bits, state)
        idx = bits & np.uint64(0xFF)
        bits >>= np.uint64(8)
        rabs = (bits >> np.uint64(1)) & np.uint64(0x000FFFFFFFFFFFFF)
        x = float(rabs) * zx[idx]
        if bits & np.uint64(1):
            x = -x
        if rabs < zk[idx]:
            return x  # inside the ziggurat's rectangles: most draws
        if idx == 0:  # the tail beyond r
            while True:
                xx = -_NOR_INV_R * math.log1p(-uniform(next_double, state))
                yy = -math.log1p(-uniform(next_double, state))
                if yy + yy > xx * xx:
                    return -(_NOR_R + xx) if (rabs >> np.uint64(8)) & np.uint64(1) else _NOR_R + xx
        if (zf[idx - 1] - zf[idx]) * uniform(next_double, state) + zf[idx] < math.exp(-0.5 * x * x):
            return x


@numba.njit(cache=True, error_model="numpy")
def normals_into(
    out: np.ndarray, entry: np.ndarray, state: np.uint64, zx: np.ndarray, zk: np.ndarray, zf: np.ndarray
) -> None:
    """``Generator.standard_normal(out=out)``."""
    for i in range(out.size):
        out[i] = standard_normal(entry, state, zx, zk, zf)


@numba.njit(cache=True, error_model="numpy", inline="always")
def standard_exponential(
    entry: np.ndarray, state: np.uint64, we: np.ndarray, ke: np.ndarray, fe: np.ndarray
) -> float:
    """One ``Generator.standard_exponential()`` draw: numpy's ziggurat (tables ``ZIGGURAT_EXP``)."""
    while True:
        bits = _next_uint64(entry[0], state) >> np.uint64(3)
        idx = bits & np.uint64(0xFF)
        bits >>= np.uint64(8)
        x = float(bits) * we[idx]
        if bits < ke[idx]:
            return x
        if idx == 0:
            return _EXP_R - math.log1p(-uniform(entry[1], state))
        if (fe[idx - 1] - fe[idx]) * uniform(entry[1], state) + fe[idx] < math.exp(-x):
            return x


@numba.njit(cache=True, error_model="numpy")
def standard_gamma(entry: np.ndarray, state: np.uint64, shape: float, tables: tuple) -> float:
    """One ``Generator.standard_gamma(shape)`` draw (numpy's: Marsaglia and Tsang's method for shape
    above 1, rejection from the exponential below); ``tables``: ``ZIGGURAT + ZIGGURAT_EXP``."""
    zx, zk, zf, we, ke, fe = tables
    if shape == 1.0:
        return standard_exponential(entry, state, we, ke, fe)
    if shape == 0.0:
        return 0.0
    if shape < 1.0:
        while True:
            u = uniform(entry[1], state)
            v = standard_exponential(entry, state, we, ke, fe)
            if u <= 1.0 - shape:
                x = math.pow(u, 1.0 / shape)
                if x <= v:
                    return x
            else:
                y = -math.log((1 - u) / shape)
                x = math.pow(1.0 - shape + shape * y, 1.0 / shape)
                if x <= v + y:
                    return x
    b = shape - 1.0 / 3.0
    c = 1.0 / math.sqrt(9 * b)
    while True:
        while True:
            x = standard_normal(entry, state, zx, zk, zf)
            v = 1.0 + c * x
            if v > 0.0:
                break
        v = v * v * v
        u = uniform(entry[1], state)
        if u < 1.0 - 0.0331 * (x * x) * (x * x):
            return b * v
        if math.log(u) < 0.5 * x * x + b * (1.0 - v + math.log(v)):
            return b * v


@numba.njit(cache=True, error_model="numpy")
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


@numba.njit(cache=True, error_model="numpy")
def _float32_uniform(next_uint32: np.uint64, state: np.uint64) -> np.float32:
    """numpy's ``next_float``: the top 24 of 32 random bits over 2**24."""
    return np.float32(_next_uint32(next_uint32, state) >> np.uint32(8)) / np.float32(16777216.0)


@numba.njit(cache=True, error_model="numpy")
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


@numba.njit(cache=True, error_model="numpy")
def bounded_integer(next_uint32: np.uint64, state: np.uint64, span: int, threshold: int) -> int:
    """``Generator.integers(0, span)`` for 1 < span < 2**32: numpy's Lemire draw from 32-bit words
    (``threshold`` = ``2**32 % span``)."""
    m = np.uint64(_next_uint32(next_uint32, state)) * np.uint64(span)
    while m & np.uint64(0xFFFFFFFF) < threshold:
        m = np.uint64(_next_uint32(next_uint32, state)) * np.uint64(span)
    return int(m >> np.uint64(32))


@numba.njit(cache=True, error_model="numpy")
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


@numba.njit(cache=True, error_model="numpy")
def _user_draws(
    states: np.ndarray,
    entry: np.ndarray,
    tables: tuple,
    tables_32: tuple,
    segment_cdf: np.ndarray,
    concentrations: np.ndarray,
    segments: np.ndarray,
    normals: np.ndarray,
    gammas: np.ndarray,
    theta_emb: np.ndarray,
) -> None:
    last = segment_cdf.size - 1
    for r in range(states.size):
        state = states[r]
        u = uniform(entry[1], state)
        segment = 0
        for bound in segment_cdf:  # bisect_right: the entries <= u, at most the last index
            segment += 1 if bound <= u else 0
        segments[r] = min(segment, last)
        normals_into(normals[r], entry, state, tables[0], tables[1], tables[2])
        for j in range(gammas.shape[1]):
            gammas[r, j] = standard_gamma(entry, state, concentrations[segments[r], j], tables)
        float32_normals_into(theta_emb[r], entry, state, *tables_32)


def user_draws(
    rngs: list[np.random.Generator], segment_cdf: np.ndarray, concentrations: np.ndarray, dim: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per row r, from ``rngs[r]``: a segment (``min(bisect_right(segment_cdf, rng.random()), last)``),
    ``rng.standard_normal(2)``, ``rng.standard_gamma(a)`` for each of the segment's
    ``concentrations`` and ``rng.standard_normal(dim, dtype=np.float32)``. Returns ``(segments,
    normals, gammas, theta_emb)``: (n,) int64, (n, 2), (n, n_categories) and (n, dim) float32."""
    n = len(rngs)
    segments, normals = np.empty(n, dtype=np.int64), np.empty((n, 2))
    gammas = np.empty((n, concentrations.shape[1]))
    theta_emb = np.empty((n, dim), dtype=np.float32)
    _user_draws(
        state_addresses(rngs),
        ENTRY_POINTS,
        ZIGGURAT + ZIGGURAT_EXP,
        ZIGGURAT_32,
        np.ascontiguousarray(segment_cdf, dtype=np.float64),
        np.ascontiguousarray(concentrations, dtype=np.float64),
        segments,
        normals,
        gammas,
        theta_emb,
    )
    return segments, normals, gammas, theta_emb
