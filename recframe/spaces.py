"""Space helpers: the slate action space, stacking per-item observations, and clear mismatch errors.

Observations of several items (the candidates of a step, the responses to a slate) are *stacked*:
one observation whose leaves have a leading item axis, in the space that
``gymnasium.vector.utils.batch_space`` gives. The space then never changes between steps, the
observation flattens with ``gymnasium.spaces.flatten``, and vectorized components can produce it
directly without building one object per item. Nested structures are handled with dm-tree.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import tree
from gymnasium import spaces
from gymnasium.vector.utils import batch_space

__all__ = [
    "SlateSpace",
    "batch_space",
    "space_structure",
    "ObservationStacker",
    "null_value",
    "explain_mismatch",
    "check_in_space",
    "as_slate",
    "compile_contains",
    "compile_copy",
]


class SlateSpace(spaces.MultiDiscrete):
    """Ordered slates of ``slate_size`` *distinct* indices into ``num_candidates`` candidates.

    A ``MultiDiscrete([num_candidates] * slate_size)`` whose ``contains`` also requires the indices
    to be distinct and whose ``sample`` draws without replacement, so every sampled action is a
    valid slate. Agents that understand ``MultiDiscrete`` work with it unchanged.

    Example:
        >>> space = SlateSpace(num_candidates=10, slate_size=3, seed=0)
        >>> slate = space.sample()
        >>> len(set(slate.tolist())) == 3 and space.contains(slate)
        True
    """

    def __init__(self, num_candidates: int, slate_size: int, seed: int | np.random.Generator | None = None):
        if int(slate_size) < 1 or int(num_candidates) < int(slate_size):
            raise ValueError(
                f"a slate needs 1 <= slate_size <= num_candidates, got slate_size={slate_size}, "
                f"num_candidates={num_candidates}"
            )
        self.num_candidates = int(num_candidates)
        self.slate_size = int(slate_size)
        super().__init__([self.num_candidates] * self.slate_size, dtype=np.int64, seed=seed)

    def sample(self, mask: Any = None, probability: Any = None) -> np.ndarray:
        """Draws a slate of distinct indices (uniformly when no mask or probability is given)."""
        if mask is None and probability is None:
            return self.np_random.choice(self.num_candidates, size=self.slate_size, replace=False)
        for _ in range(1000):
            slate = super().sample(mask=mask, probability=probability)
            if len(np.unique(slate)) == self.slate_size:
                return slate
        raise ValueError(
            f"could not draw a slate of {self.slate_size} distinct indices under {mask or probability}"
        )

    def contains(self, x: Any) -> bool:
        if not super().contains(x):
            return False
        return len(np.unique(np.asarray(x))) == self.slate_size

    def __repr__(self) -> str:
        return f"SlateSpace(num_candidates={self.num_candidates}, slate_size={self.slate_size})"


def space_structure(space: spaces.Space) -> Any:
    """Returns the space's nesting as plain dicts/tuples of leaf spaces (for dm-tree)."""
    if isinstance(space, spaces.Dict):
        return {key: space_structure(sub) for key, sub in space.spaces.items()}
    if isinstance(space, spaces.Tuple):
        return tuple(space_structure(sub) for sub in space.spaces)
    return space


def _leaf_dtype(space: spaces.Space) -> np.dtype | None:
    dtype = getattr(space, "dtype", None)
    return None if dtype is None else np.dtype(dtype)


class ObservationStacker:
    """Stacks a list of per-item observations of ``item_space`` into one batched observation.

    The result lies in ``batch_space(item_space, n)``, each leaf cast to its space's dtype.
    Precomputes the nesting once so the per-step cost is a flatten per item and one array per leaf.
    """

    def __init__(self, item_space: spaces.Space) -> None:
        self.item_space = item_space
        self._structure = space_structure(item_space)
        leaves = tree.flatten(self._structure)
        self._dtypes = [_leaf_dtype(leaf) for leaf in leaves]
        self._single_leaf = not isinstance(self._structure, dict | tuple)

    def batched_space(self, n: int) -> spaces.Space:
        """The space of a stack of ``n`` observations."""
        return batch_space(self.item_space, n)

    def stack(self, observations: Sequence[Any]) -> Any:
        """Stacks ``observations`` (one per item) along a new leading axis."""
        if self._single_leaf:
            return np.asarray(observations, dtype=self._dtypes[0])
        columns = zip(*[tree.flatten(obs) for obs in observations])
        arrays = [np.asarray(column, dtype=dtype) for column, dtype in zip(columns, self._dtypes)]
        return tree.unflatten_as(self._structure, arrays)

    def unstack(self, stacked: Any, n: int) -> list[Any]:
        """Splits a stacked observation back into ``n`` per-item observations."""
        if self._single_leaf:
            return list(np.asarray(stacked)[:n])
        leaves = tree.flatten(stacked)
        return [tree.unflatten_as(self._structure, [leaf[i] for leaf in leaves]) for i in range(n)]


def null_value(space: spaces.Space) -> Any:
    """A fixed, valid value of ``space``: zeros moved into bounds (the observation of "nothing yet")."""
    if isinstance(space, spaces.Dict):
        return {key: null_value(sub) for key, sub in space.spaces.items()}
    if isinstance(space, spaces.Tuple):
        return tuple(null_value(sub) for sub in space.spaces)
    if isinstance(space, spaces.Box):
        zeros = np.zeros(space.shape, dtype=space.dtype)
        return np.array(np.clip(zeros, space.low, space.high), dtype=space.dtype)
    if isinstance(space, spaces.Discrete):
        return np.int64(space.start)
    if isinstance(space, spaces.MultiDiscrete):
        return np.array(space.start, dtype=space.dtype)
    if isinstance(space, spaces.MultiBinary):
        return np.zeros(space.shape, dtype=space.dtype)
    if isinstance(space, spaces.Text):
        return "" if space.min_length == 0 else space.characters[0] * space.min_length
    raise TypeError(f"no null value defined for {space!r}; override null_observation() to provide one")


def explain_mismatch(space: spaces.Space, value: Any, path: str = "") -> str:
    """Says where and why ``value`` is not in ``space`` (the first offending leaf)."""
    where = f" at {path}" if path else ""
    if isinstance(space, spaces.Dict):
        if not isinstance(value, dict):
            return f"expected a dict with keys {list(space.spaces)}{where}, got {type(value).__name__}"
        if set(value) != set(space.spaces):
            return f"expected keys {sorted(space.spaces)}{where}, got {sorted(value)}"
        for key, sub in space.spaces.items():
            if not sub.contains(value[key]):
                return explain_mismatch(sub, value[key], f"{path}[{key!r}]")
    elif isinstance(space, spaces.Tuple):
        if not isinstance(value, tuple) or len(value) != len(space.spaces):
            return f"expected a tuple of {len(space.spaces)} items{where}, got {value!r}"
        for i, sub in enumerate(space.spaces):
            if not sub.contains(value[i]):
                return explain_mismatch(sub, value[i], f"{path}[{i}]")
    elif isinstance(space, spaces.Box | spaces.MultiDiscrete | spaces.MultiBinary):
        array = np.asarray(value)
        if array.shape != space.shape:
            return f"expected shape {space.shape}{where}, got shape {array.shape}"
        if not np.can_cast(array.dtype, space.dtype):
            return f"expected dtype castable to {space.dtype}{where}, got {array.dtype}"
    elif isinstance(space, spaces.Discrete):
        if not isinstance(value, int | np.integer) and not (
            isinstance(value, np.ndarray) and value.shape == () and np.issubdtype(value.dtype, np.integer)
        ):
            return f"expected an integer{where}, got {type(value).__name__} {value!r}"
    return f"value{where} {value!r} is outside {space}"


def check_in_space(space: spaces.Space, value: Any, component: str) -> None:
    """Raises ValueError naming ``component``, the value and the space if ``value`` is not in ``space``."""
    if not space.contains(value):
        raise ValueError(
            f"{component} returned a value outside its declared space: {explain_mismatch(space, value)}. "
            f"Value: {value!r}; space: {space}"
        )


def as_slate(action: Any, num_candidates: int, slate_size: int) -> list[int]:
    """Validates a slate action and returns it as a list of Python ints.

    Raises TypeError for non-integer actions and ValueError, naming the bad value, for the wrong
    length, an index outside ``[0, num_candidates)`` or a repeated index. Nothing is clipped.
    """
    if isinstance(action, np.ndarray):
        if action.dtype.kind not in "iu":
            raise TypeError(
                f"a slate must hold integer candidate indices, got dtype {action.dtype}: {action!r}"
            )
        if action.ndim != 1:
            raise ValueError(
                f"a slate must be 1-D with {slate_size} indices, got shape {action.shape}: {action!r}"
            )
        items = action.tolist()
    elif isinstance(action, list | tuple):
        items = list(action)
        for item in items:
            if isinstance(item, bool) or not isinstance(item, int | np.integer):
                raise TypeError(f"a slate must hold integer candidate indices, got {item!r} in {action!r}")
        items = [int(item) for item in items]
    elif isinstance(action, int | np.integer) and not isinstance(action, bool) and slate_size == 1:
        items = [int(action)]
    else:
        raise TypeError(
            f"a slate must be a sequence or 1-D array of {slate_size} integer indices, got {type(action).__name__}: "
            f"{action!r}"
        )
    if len(items) != slate_size:
        noun = "index" if slate_size == 1 else "indices"
        raise ValueError(f"a slate must have exactly {slate_size} {noun}, got {len(items)}: {items}")
    for item in items:
        if not 0 <= item < num_candidates:
            raise ValueError(
                f"slate index {item} is out of range: candidate indices run from 0 to {num_candidates - 1} "
                f"(slate {items})"
            )
    if len(set(items)) != slate_size:
        repeated = sorted({item for item in items if items.count(item) > 1})
        raise ValueError(f"a slate must not repeat a candidate; index(es) {repeated} repeat in {items}")
    return items


def compile_contains(space: spaces.Space) -> Callable[[Any], bool]:
    """Returns a function equivalent to ``space.contains`` but much cheaper per call.

    Gymnasium's ``contains`` re-derives everything on every call (several ``np.all`` over
    comparisons per leaf). The compiled check precomputes shapes, dtypes and scalar bounds, and
    tests arrays with one or two reductions. Unsupported spaces fall back to ``space.contains``.
    """
    if isinstance(space, spaces.Dict):
        items = [(key, compile_contains(sub)) for key, sub in space.spaces.items()]
        keys = set(space.spaces)

        def contains_dict(x: Any) -> bool:
            if not isinstance(x, dict) or x.keys() != keys:
                return False
            for key, check in items:  # a loop, not all(generator): no generator frame per call
                if not check(x[key]):
                    return False
            return True

        return contains_dict
    if isinstance(space, spaces.Tuple):
        checks = [compile_contains(sub) for sub in space.spaces]
        n = len(checks)

        def contains_tuple(x: Any) -> bool:
            return isinstance(x, tuple) and len(x) == n and all(check(v) for check, v in zip(checks, x))

        return contains_tuple
    if type(space) is spaces.Discrete:
        low, high = int(space.start), int(space.start + space.n)

        def contains_discrete(x: Any) -> bool:
            if type(x) is int or (
                isinstance(x, np.integer | np.ndarray) and x.dtype.kind in "iu" and x.shape == ()
            ):
                return bool(low <= x < high)
            return space.contains(x)

        return contains_discrete
    if type(space) is spaces.Box:
        return _compile_box(space)
    if type(space) is spaces.MultiDiscrete:
        return _compile_multi_discrete(space)
    return space.contains


_SMALL = 48
"""Up to this many entries a bounds check in Python (tolist, sorted, sum) beats two numpy reductions
(~2 us); they break even at about 64."""


def compile_copy(space: spaces.Space) -> Callable[[Any], Any]:
    """Returns a function that deep-copies values of ``space`` (arrays copied, structure rebuilt)."""
    if isinstance(space, spaces.Dict):
        items = [(key, compile_copy(sub)) for key, sub in space.spaces.items()]
        return lambda x: {key: copy(x[key]) for key, copy in items}
    if isinstance(space, spaces.Tuple):
        copies = [compile_copy(sub) for sub in space.spaces]
        return lambda x: tuple(copy(v) for copy, v in zip(copies, x))
    return lambda x: x.copy() if isinstance(x, np.ndarray) else x


def _uniform(values: np.ndarray) -> float | None:
    flat = np.asarray(values).ravel()
    return flat[0].item() if flat.size and np.all(flat == flat[0]) else None


def _castable(dtype: np.dtype) -> Callable[[np.dtype], bool]:
    """``can_cast(x, dtype)`` remembered per input dtype; the space's own dtype (the usual case) is
    an identity test (numpy's built-in dtypes are singletons)."""
    known: dict[np.dtype, bool] = {dtype: True}

    def castable(x_dtype: np.dtype) -> bool:
        if x_dtype is dtype:
            return True
        ok = known.get(x_dtype)
        if ok is None:
            ok = known[x_dtype] = bool(np.can_cast(x_dtype, dtype))
        return ok

    return castable


def _sorted_values(shape: tuple[int, ...]) -> Callable[[np.ndarray], list[Any]]:
    """The entries of a small array of ``shape`` as sorted Python numbers (``sorted`` gives the
    minimum and maximum in one C call, cheaper than ``min`` and ``max`` over a list)."""
    if len(shape) == 1:
        return lambda x: sorted(x.tolist())
    return lambda x: sorted(x.ravel().tolist())


def _compile_box(space: spaces.Box) -> Callable[[Any], bool]:
    shape, dtype = space.shape, space.dtype
    castable = _castable(dtype)
    if math.prod(shape) == 0:  # an empty box (an unobservable user): only shape and dtype can differ

        def contains_empty(x: Any) -> bool:
            if type(x) is not np.ndarray:
                return space.contains(x)
            return x.shape == shape and castable(x.dtype)

        return contains_empty
    low, high = _uniform(space.low), _uniform(space.high)
    if low is None or high is None:
        return space.contains
    if math.isfinite(low) and math.isfinite(high):
        if math.prod(shape) <= _SMALL:  # Python comparisons beat two numpy reductions on tiny arrays
            values_of = _sorted_values(shape)

            def in_bounds(x: np.ndarray) -> bool:
                values = values_of(x)
                total = sum(values)  # NaN (whose place in a sort is arbitrary) makes it NaN
                return total == total and low <= values[0] and values[-1] <= high

        else:

            def in_bounds(x: np.ndarray) -> bool:  # the ufunc reductions propagate NaN
                return bool(
                    low <= np.minimum.reduce(x, axis=None) and np.maximum.reduce(x, axis=None) <= high
                )

    elif np.isneginf(low) and np.isposinf(high):

        def in_bounds(x: np.ndarray) -> bool:  # any number but NaN
            return x.dtype.kind in "iub" or not np.isnan(np.minimum.reduce(x, axis=None))

    else:

        def in_bounds(x: np.ndarray) -> bool:
            return all(low <= v <= high for v in x.ravel().tolist())

    def contains_box(x: Any) -> bool:
        if type(x) is not np.ndarray:
            return space.contains(x)
        return x.shape == shape and castable(x.dtype) and in_bounds(x)

    return contains_box


def _compile_multi_discrete(space: spaces.MultiDiscrete) -> Callable[[Any], bool]:
    shape = space.shape
    start, nvec = _uniform(space.start), _uniform(space.nvec)
    if start is None or nvec is None:
        return space.contains
    end = start + nvec
    if math.prod(shape) == 0:

        def in_range(x: np.ndarray) -> bool:
            return True

    elif math.prod(shape) <= _SMALL:
        values_of = _sorted_values(shape)

        def in_range(x: np.ndarray) -> bool:
            values = values_of(x)
            return start <= values[0] and values[-1] < end

    else:

        def in_range(x: np.ndarray) -> bool:
            return bool(start <= np.minimum.reduce(x, axis=None) and np.maximum.reduce(x, axis=None) < end)

    def contains_multi_discrete(x: Any) -> bool:
        if type(x) is not np.ndarray or x.dtype.kind not in "iu":
            return space.contains(x)
        return x.shape == shape and in_range(x)

    return contains_multi_discrete
