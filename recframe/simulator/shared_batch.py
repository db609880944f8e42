"""A batch of observations in one shared-memory block: worker processes write rows, the parent reads.

:class:`~recframe.simulator.sharded.ShardedVectorEnv` passes observations, most of a step's bytes,
this way: each shard writes its rows in place and the parent copies the whole batch out once,
instead of pickling every shard's arrays through a pipe and concatenating them. Every leaf of the
batched space needs a fixed shape and dtype (Box, Discrete, MultiDiscrete, MultiBinary, nested in
Dict and Tuple); :func:`shareable` says whether a space qualifies.
"""

from __future__ import annotations

from dataclasses import dataclass
from multiprocessing.shared_memory import SharedMemory
from typing import Any

import numpy as np
import tree
from gymnasium import Space, spaces

__all__ = ["SharedBatch", "shareable"]

#: Leaves start at multiples of this many bytes (a cache line).
ALIGN = 64


@dataclass(frozen=True)
class _Slot:
    offset: int
    shape: tuple[int, ...]
    dtype: np.dtype


def _layout(space: Space, offset: int = 0) -> tuple[Any, int] | None:
    """The slots of ``space``'s leaves (nested like the space) and the end offset, or None if a leaf
    has no fixed shape and dtype."""
    if isinstance(space, spaces.Dict | spaces.Tuple):
        keys = list(space.spaces) if isinstance(space, spaces.Dict) else range(len(space.spaces))
        slots = []
        for key in keys:
            laid = _layout(space[key], offset)
            if laid is None:
                return None
            slot, offset = laid
            slots.append(slot)
        return (dict(zip(keys, slots)) if isinstance(space, spaces.Dict) else tuple(slots)), offset
    if space.shape is None or space.dtype is None or np.dtype(space.dtype).hasobject:
        return None
    start = -(-offset // ALIGN) * ALIGN
    slot = _Slot(start, tuple(space.shape), np.dtype(space.dtype))
    return slot, start + int(np.prod(slot.shape, dtype=np.int64)) * slot.dtype.itemsize


def shareable(space: Space) -> bool:
    """Whether values of ``space`` fit a :class:`SharedBatch`."""
    return _layout(space) is not None


class SharedBatch:
    """Values of a batched ``space`` (leading axis: envs) in shared memory.

    Args:
        space: the batched space (see :func:`shareable`).
        name: None creates the block (this object then owns it and unlinks it on close); the
            ``name`` of an existing block attaches to it.
    """

    def __init__(self, space: Space, name: str | None = None) -> None:
        layout = _layout(space)
        if layout is None:
            raise ValueError(f"{space} has a leaf without a fixed shape and dtype")
        slots, size = layout
        self._owner = name is None
        self._memory = SharedMemory(name=name, create=self._owner, size=max(size, 1))
        self.name = self._memory.name
        self._arrays = tree.map_structure(
            lambda slot: np.ndarray(slot.shape, slot.dtype, buffer=self._memory.buf, offset=slot.offset),
            slots,
        )

    def write(self, start: int, stop: int, rows: Any) -> None:
        """Writes ``rows`` (nested like the space, leading axis ``stop - start``) as rows ``start:stop``."""

        def assign(array: np.ndarray, value: Any) -> None:
            array[start:stop] = value

        tree.map_structure(assign, self._arrays, rows)

    def read(self) -> Any:
        """A copy of the whole batch."""
        return tree.map_structure(np.array, self._arrays)

    def close(self) -> None:
        """Detaches (and unlinks the block if this object created it); idempotent."""
        if self._arrays is None:
            return
        self._arrays = None  # the views must go before the buffer can be released
        self._memory.close()
        if self._owner:
            self._memory.unlink()
