"""The compiled twin of :mod:`.retrieval` (numba, the ``fast`` extra): the same numbers, in one call.

:func:`noisy_top_k` runs the three-tier retrieval of :mod:`.retrieval` (its module docstring has the
algorithm) for every row of a score matrix in one compiled loop, where the numpy path makes a few
dozen array passes and several generator calls per row. Its results are bit-identical to the numpy
path's, and it leaves every generator in the same state (the tests compare both), so installing
the extra changes speed, never trajectories:

- each row's draws come from its own PCG64 generator in the numpy path's order, through
  :mod:`.pcg64_kernel` (numpy's own streams from compiled code);
- the scalar functions are the numpy path's: ``log1p``, ``erfc``, ``sqrt`` and ``log`` of the C
  library, Wichura's AS241 evaluated in the standard library's order for the inverse normal CDF;
- everything else is comparisons, selections and integer counts, which have one correct result.

Only :class:`numpy.random.PCG64` generators are supported (the library's default); the caller
falls back to numpy for any other (see :mod:`.pcg64_kernel` on locks and threads).
"""

from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

from recframe.environments.pet_retail.pcg64_kernel import (
    ENTRY_POINTS,
    ZIGGURAT,
    normals_into,
    state_addresses,
    supports,
    uniform,
)

__all__ = ["noisy_top_k", "supports"]  # supports: :func:`.pcg64_kernel.supports`


def noisy_top_k(
    scores: np.ndarray,
    k: int,
    sigma: float,
    rngs: list[np.random.Generator],
    stride: int,
    sample_positions: tuple[int, int, int],
    spread: np.float32,
    margin: float,
    block_spread: float,
    levels: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``retrieval.noisy_top_k_of_score_rows`` for ``sigma > 0`` and PCG64 generators (see
    :func:`supports`): ``(positions, noisy)``, each (n, k), best first.

    ``stride`` and ``sample_positions`` are ``retrieval._sample_plan``'s, ``spread`` is float32
    ``5 sigma``, and ``margin`` and ``block_spread`` are ``retrieval._MARGIN`` and
    ``retrieval._BLOCK_SPREAD``: the numpy path's constants, passed in so that the two cannot drift
    apart. ``levels``: each row's (top, head, spread) sample values, (n, 3), when the caller has
    them (numpy sorts a batch's samples at once); None reads them here.
    """
    return _noisy_top_k(
        np.ascontiguousarray(scores, dtype=np.float32),
        k,
        float(sigma),
        ENTRY_POINTS,
        state_addresses(rngs),
        stride,
        *sample_positions,
        np.empty((0, 3), np.float32) if levels is None else np.ascontiguousarray(levels, dtype=np.float32),
        spread,
        margin,
        block_spread,
        *ZIGGURAT,
    )


# Wichura's AS241 coefficients, highest power first: numerators and denominators of the central
# region (|p - 1/2| <= 0.425), the intermediate tail (r <= 5) and the far tail.
_CENTRAL_NUM = (2.5090809287301226727e3, 3.3430575583588128105e4, 6.7265770927008700853e4,
                4.5921953931549871457e4, 1.3731693765509461125e4, 1.9715909503065514427e3,
                1.3314166789178437745e2, 3.3871328727963666080e0)  # fmt: skip
_CENTRAL_DEN = (5.2264952788528545610e3, 2.8729085735721942674e4, 3.9307895800092710610e4,
                2.1213794301586595867e4, 5.3941960214247511077e3, 6.8718700749205790830e2,
                4.2313330701600911252e1, 1.0)  # fmt: skip
_TAIL_NUM = (7.74545014278341407640e-4, 2.27238449892691845833e-2, 2.41780725177450611770e-1,
             1.27045825245236838258e0, 3.64784832476320460504e0, 5.76949722146069140550e0,
             4.63033784615654529590e0, 1.42343711074968357734e0)  # fmt: skip
_TAIL_DEN = (1.05075007164441684324e-9, 5.47593808499534494600e-4, 1.51986665636164571966e-2,
             1.48103976427480074590e-1, 6.89767334985100004550e-1, 1.67638483018380384940e0,
             2.05319162663775882187e0, 1.0)  # fmt: skip
_FAR_NUM = (2.01033439929228813265e-7, 2.71155556874348757815e-5, 1.24266094738807843860e-3,
            2.65321895265761230930e-2, 2.96560571828504891230e-1, 1.78482653991729133580e0,
            5.46378491116411436990e0, 6.65790464350110377720e0)  # fmt: skip
_FAR_DEN = (2.04426310338993978564e-15, 1.42151175831644588870e-7, 1.84631831751005468180e-5,
            7.86869131145613259100e-4, 1.48753612908506148525e-2, 1.36929880922735805310e-1,
            5.99832206555887937690e-1, 1.0)  # fmt: skip


@numba.njit(cache=True, error_model="numpy")
def _horner(coefficients: tuple[float, ...], r: float) -> float:
    """``(((c0 r + c1) r + c2) ...) r + c7``: the polynomial, in that order of operations."""
    value = coefficients[0]
    for i in range(1, 8):
        value = value * r + coefficients[i]
    return value


@numba.njit(cache=True, error_model="numpy")
def _normal_quantile(p: float) -> float:
    """``statistics.NormalDist().inv_cdf(p)``, bit for bit: AS241 in the standard library's order."""
    q = p - 0.5
    if math.fabs(q) <= 0.425:
        r = 0.180625 - q * q
        return _horner(_CENTRAL_NUM, r) * q / _horner(_CENTRAL_DEN, r)
    r = math.sqrt(-math.log(p if q <= 0.0 else 1.0 - p))
    if r <= 5.0:
        x = _horner(_TAIL_NUM, r - 1.6) / _horner(_TAIL_DEN, r - 1.6)
    else:
        x = _horner(_FAR_NUM, r - 5.0) / _horner(_FAR_DEN, r - 5.0)
    return -x if q < 0.0 else x


@numba.njit(cache=True, error_model="numpy")
def _upper_tail(t: float) -> float:
    """Q(t) = P(Z >= t) for a standard normal Z (as ``retrieval._upper_tail``)."""
    return 0.5 * math.erfc(t / math.sqrt(2.0))


@numba.njit(cache=True, error_model="numpy")
def _block_size(length: int, p: float, block_spread: float) -> int:
    """As ``retrieval._block_size``: the uniforms drawn up front for a Bernoulli(p) process."""
    if not p > 0.0:
        return 0
    mean = length * p
    return max(1, int(mean + block_spread * math.sqrt(mean) + 3.0))


@numba.njit(cache=True, error_model="numpy")
def _log_miss(p: float) -> float:
    """As ``retrieval._log_miss``: log(1 - p), at most -1e-300; -inf for p = 1."""
    return min(math.log1p(-p), -1e-300) if p < 1.0 else -math.inf


@numba.njit(cache=True, error_model="numpy")
def _select(values: np.ndarray, count: int, rank: int) -> float:
    """The ``rank``-th smallest (from 0) of ``values[:count]``, which it reorders (quickselect)."""
    lo, hi = 0, count - 1
    while lo < hi:
        mid = (lo + hi) >> 1
        if values[mid] < values[lo]:
            values[mid], values[lo] = values[lo], values[mid]
        if values[hi] < values[lo]:
            values[hi], values[lo] = values[lo], values[hi]
        if values[hi] < values[mid]:
            values[hi], values[mid] = values[mid], values[hi]
        pivot = values[mid]
        i, j = lo, hi
        while i <= j:
            while values[i] < pivot:
                i += 1
            while values[j] > pivot:
                j -= 1
            if i <= j:
                values[i], values[j] = values[j], values[i]
                i += 1
                j -= 1
        if rank <= j:
            hi = j
        elif rank >= i:
            lo = i
        else:
            break
    return values[rank]


@numba.njit(cache=True, error_model="numpy")
def _kth_best(row: np.ndarray, k: int, scratch: np.ndarray) -> np.float32:
    """The k-th best value of ``row`` (as ``np.partition(row, m - k)[m - k]``)."""
    scratch[: row.size] = row
    return _select(scratch, row.size, row.size - k)


@numba.njit(cache=True, error_model="numpy")
def _largest_descending(row: np.ndarray, stride: int, out: np.ndarray) -> None:
    """The ``out.size`` largest of ``row[::stride]``, in descending order, into ``out``."""
    count, filled = out.size, 0
    for i in range(0, row.size, stride):
        value = row[i]
        if filled < count:
            j = filled
            filled += 1
        elif value > out[count - 1]:
            j = count - 1
        else:
            continue
        while j > 0 and out[j - 1] < value:
            out[j] = out[j - 1]
            j -= 1
        out[j] = value


@intrinsic
def _compress_16(typingctx, row, start, cut, out, count):
    """Appends to ``out[count:]`` the positions among ``row[start : start + 16]`` whose values reach
    ``cut``, in order, with one vector compare and one compressing store (``vpcompressq`` where
    AVX-512 has it; LLVM lowers it to plain stores elsewhere); returns the new count."""

    def codegen(context, builder, signature, args):
        values_of, positions_of = (
            context.make_array(signature.args[i])(context, builder, args[i]) for i in (0, 3)
        )
        lanes, int32 = 16, ir.IntType(32)
        floats, int64s = ir.VectorType(ir.FloatType(), lanes), ir.VectorType(ir.IntType(64), lanes)
        every_lane = ir.Constant(ir.VectorType(int32, lanes), [0] * lanes)

        def splat(value, vector):
            one = builder.insert_element(ir.Constant(vector, None), value, int32(0))
            return builder.shuffle_vector(one, ir.Constant(vector, None), every_lane)

        source = builder.bitcast(cgutils.gep(builder, values_of.data, args[1]), floats.as_pointer())
        reaching = builder.fcmp_ordered(">=", builder.load(source, align=4), splat(args[2], floats))
        positions = builder.add(splat(args[1], int64s), ir.Constant(int64s, list(range(lanes))))
        target = cgutils.gep(builder, positions_of.data, args[4])
        store_type = ir.FunctionType(ir.VoidType(), [int64s, target.type, reaching.type])
        store = cgutils.get_or_insert_function(builder.module, store_type, "llvm.masked.compressstore.v16i64")
        builder.call(store, [positions, target, reaching])
        popcount = builder.module.declare_intrinsic("llvm.ctpop", [ir.IntType(lanes)])
        written = builder.call(popcount, [builder.bitcast(reaching, ir.IntType(lanes))])
        return builder.add(args[4], builder.zext(written, ir.IntType(64)))

    return types.int64(row, types.int64, types.float32, out, types.int64), codegen


@numba.njit(cache=True, error_model="numpy")
def _at_least(row: np.ndarray, cut: np.float32, out: np.ndarray) -> int:
    """The positions of ``row`` reaching ``cut`` into ``out``, in order; returns how many."""
    count, start = 0, 0
    while start + 16 <= row.size:
        count = _compress_16(row, start, cut, out, count)
        start += 16
    for j in range(start, row.size):  # the last few, without branches
        out[count] = j
        count += 1 if row[j] >= cut else 0
    return count


@numba.njit(cache=True, error_model="numpy")
def _tier_hits(
    logs: np.ndarray,
    length: int,
    p: float,
    cap: float,
    block_spread: float,
    entry: np.ndarray,
    state: np.uint64,
    out: np.ndarray,
) -> int:
    """A Bernoulli(p) process over ``length`` items from its first block's ``log(1 - u)``, then (as
    ``retrieval._more_hits``) further blocks drawn from ``state`` while it has not reached the end.
    Writes the hits' positions into ``out``; returns how many."""
    if logs.size == 0:
        return 0
    log_miss = _log_miss(p)
    count, position = 0, -1
    for i in range(logs.size):
        position += int(math.floor(min(logs[i] / log_miss, cap))) + 1
        if position >= length:
            return count
        out[count] = position
        count += 1
    start = position + 1
    while start < length:  # the block ran out before the end: a whole block at a time
        position = start - 1
        for _ in range(_block_size(length - start, p, block_spread)):
            position += (
                int(math.floor(min(math.log1p(-uniform(entry[1], state)) / log_miss, float(length)))) + 1
            )
            if position < length:
                out[count] = position
                count += 1
        start = position + 1
    return count


@numba.njit(cache=True, error_model="numpy")
def _noisy_top_k(
    scores: np.ndarray,
    k: int,
    sigma: float,
    entry: np.ndarray,
    states: np.ndarray,
    stride: int,
    top_position: int,
    head_position: int,
    spread_position: int,
    levels: np.ndarray,
    spread: np.float32,
    margin: float,
    block_spread: float,
    zx: np.ndarray,
    zk: np.ndarray,
    zf: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`noisy_top_k`, row by row in one compiled loop.

    Args:
        scores: (n, m) float32 noiseless scores, C-contiguous.
        k: how many to keep per row (1 <= k <= m).
        sigma: the noise scale (> 0).
        entry: PCG64's C entry points in this process (:data:`.pcg64_kernel.ENTRY_POINTS`).
        states: (n,) uint64 addresses of the rows' PCG64 states.
        stride, top_position, head_position, spread_position: the thresholds' strided sample and
            the ascending positions it reads (``retrieval._sample_plan``).
        levels: (n, 3) float32, each row's sample values at those positions (top, head, spread),
            or (0, 3) to read them from ``scores`` here.
        spread, margin, block_spread: as :func:`noisy_top_k`.
        zx, zk, zf: the ziggurat's tables.

    Returns:
        ``(positions, noisy)``: (n, k) int64 and (n, k) float64, best first.
    """
    n, m = scores.shape
    size = (m + stride - 1) // stride
    largest = np.empty(size - min(top_position, head_position, spread_position), np.float32)
    head = np.empty(m, np.int64)  # this row's head, in position order
    in_top = np.empty(m, np.bool_)
    top = np.empty(m, np.int64)
    near = np.empty(m, np.int64)  # the top tier members reaching the bound
    noisy = np.empty(m)
    scratch = np.empty(m)
    scratch32 = np.empty(m, np.float32)
    middle_hits = np.empty(m, np.int64)
    rest_hits = np.empty(m, np.int64)
    kept = np.empty(m, np.int64)
    logs = np.empty(m + 5 * int(math.sqrt(m)) + 16)
    candidates = np.empty(m + k, np.int64)  # the top tier's k best, then the hits reaching tau
    values = np.empty(m + k)
    positions = np.empty((n, k), np.int64)
    best = np.empty((n, k))
    for r in range(n):
        row, state = scores[r], states[r]

        # 1. the thresholds, the head and its top tier
        if levels.shape[0]:  # the sample's order statistics, read by the caller
            top_level, head_level, spread_level = levels[r, 0], levels[r, 1], levels[r, 2]
        else:
            _largest_descending(row, stride, largest)
            top_level = largest[size - 1 - top_position]
            head_level = largest[size - 1 - head_position]
            spread_level = largest[size - 1 - spread_position]
        floor = spread_level - spread
        top_cut = max(top_level, floor)
        head_cut = min(top_cut, max(head_level, floor))
        h = _at_least(row, head_cut, head)
        if h < k:  # a sample that aimed too high: the exact k-th best score
            head_cut = _kth_best(row, k, scratch32)
            h = _at_least(row, head_cut, head)
        t = 0
        for i in range(h):
            in_top[i] = row[head[i]] >= top_cut
            t += in_top[i]
        if t < k:
            top_cut = _kth_best(row, k, scratch32)
            t = 0
            for i in range(h):
                in_top[i] = row[head[i]] >= top_cut
                t += in_top[i]

        # 2. the top tier's noise (in head order), its k best and tau
        t = 0
        for i in range(h):
            top[t] = head[i]
            t += 1 if in_top[i] else 0
        normals_into(noisy[:t], entry, state, zx, zk, zf)
        for i in range(t):
            noisy[i] = np.float64(row[top[i]]) + sigma * noisy[i]
        # tau among those reaching a bound that about 2k noiseless scores reach (the sample's): the
        # same k-th best whenever at least k reach it, a few times fewer values to select from
        bound = np.float64(spread_level)
        reaching = 0
        for i in range(t):
            near[reaching] = i
            reaching += 1 if noisy[i] >= bound else 0
        if reaching < k:
            reaching = t
            near[:t] = np.arange(t)
        for i in range(reaching):
            scratch[i] = noisy[near[i]]
        tau = _select(scratch, reaching, reaching - k)
        above, ties = 0, k - 1  # the k best: those above tau from the front, ties from the back
        for i in near[:reaching]:
            if noisy[i] > tau:
                candidates[above], values[above] = top[i], noisy[i]
                above += 1
            elif noisy[i] == tau and ties >= above:
                candidates[ties], values[ties] = top[i], noisy[i]
                ties -= 1

        # 3. the hits: the middle tier (the head, its top tier skipped), then the rest
        tails = (
            _upper_tail((tau - top_cut) / sigma - margin),
            _upper_tail((tau - head_cut) / sigma - margin),
        )
        sizes = (_block_size(h, tails[0], block_spread), _block_size(m - h, tails[1], block_spread))
        if sizes[0] + sizes[1] > logs.size:
            logs = np.empty(sizes[0] + sizes[1])
        for i in range(sizes[0] + sizes[1]):  # both tiers' first blocks, drawn together
            logs[i] = math.log1p(-uniform(entry[1], state))
        middle = _tier_hits(logs[: sizes[0]], h, tails[0], float(m), block_spread, entry, state, middle_hits)
        rest = _tier_hits(
            logs[sizes[0] : sizes[0] + sizes[1]],
            m - h,
            tails[1],
            float(m),
            block_spread,
            entry,
            state,
            rest_hits,
        )
        count = 0
        for i in range(middle):
            if not in_top[middle_hits[i]]:
                kept[count] = head[middle_hits[i]]
                count += 1
        skipped = 0  # the j-th product outside the head is j plus the head positions at or before it
        for i in range(rest):
            while skipped < h and head[skipped] - skipped <= rest_hits[i]:
                skipped += 1
            kept[count] = rest_hits[i] + skipped
            count += 1
        found = k
        for i in range(count):  # each hit's noise, truncated to reach at least its tier's t
            tail = tails[0] if i < count - rest else tails[1]
            z = -_normal_quantile(min(tail * (1.0 - uniform(entry[1], state)), 1.0 - 2.0**-53))
            value = np.float64(row[kept[i]]) + sigma * z
            if value >= tau:
                candidates[found], values[found] = kept[i], value
                found += 1

        # 4. the k best, best first (a stable insertion sort of the top tier's k and the hits)
        for i in range(1, found):
            value, candidate = values[i], candidates[i]
            j = i
            while j > 0 and values[j - 1] < value:
                values[j], candidates[j] = values[j - 1], candidates[j - 1]
                j -= 1
            values[j], candidates[j] = value, candidate
        positions[r] = candidates[:k]
        best[r] = values[:k]
    return positions, best
