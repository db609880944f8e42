"""A ring replay buffer in preallocated numpy arrays, with its own seeded sampler."""

from __future__ import annotations

from typing import Any

import numpy as np

from recframe.agents.common.seeding import check_seed

__all__ = ["ReplayBuffer"]

_FIELDS = ("states", "actions", "action_indices", "rewards", "next_states", "terminated")


class ReplayBuffer:
    """Stores ``(state, action, action_index, reward, next_state, terminated)`` transitions.

    Arrays are allocated once at ``capacity``; when full, the oldest transition is overwritten.
    Sampling is uniform with replacement from the filled part, drawn from the buffer's own
    ``numpy.random.Generator`` so that it is reproducible and checkpointable.

    Args:
        capacity: maximum number of transitions kept (> 0).
        state_dim: length of a (flattened) state vector.
        action_dim: length of an action embedding.
        seed: seed of the sampling generator.
    """

    def __init__(self, capacity: int, state_dim: int, action_dim: int, seed: int | None = None) -> None:
        for name, value in (("capacity", capacity), ("state_dim", state_dim), ("action_dim", action_dim)):
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.capacity = int(capacity)
        self.states = np.zeros((capacity, state_dim), dtype=np.float32)
        self.actions = np.zeros((capacity, action_dim), dtype=np.float32)
        self.action_indices = np.zeros(capacity, dtype=np.int64)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.next_states = np.zeros((capacity, state_dim), dtype=np.float32)
        self.terminated = np.zeros(capacity, dtype=np.float32)
        self._pos = 0
        self._size = 0
        self._rng = np.random.default_rng(check_seed(seed))

    def __len__(self) -> int:
        return self._size

    def add(
        self,
        state: np.ndarray,
        action: np.ndarray,
        action_index: int,
        reward: float,
        next_state: np.ndarray,
        terminated: bool,
    ) -> None:
        """Appends one transition (overwriting the oldest once full)."""
        reward = float(reward)
        if not np.isfinite(reward):
            raise ValueError(f"reward must be finite, got {reward}")
        i = self._pos
        self.states[i] = state
        self.actions[i] = action
        self.action_indices[i] = action_index
        self.rewards[i] = reward
        self.next_states[i] = next_state
        self.terminated[i] = float(bool(terminated))
        self._pos = (i + 1) % self.capacity
        self._size = min(self._size + 1, self.capacity)

    def sample(self, batch_size: int) -> dict[str, np.ndarray]:
        """Draws ``batch_size`` transitions uniformly with replacement."""
        if self._size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        idx = self._rng.integers(0, self._size, size=batch_size)
        return {name: getattr(self, name)[idx] for name in _FIELDS}

    def state_dict(self) -> dict[str, Any]:
        """Copies of the filled arrays, the write position and the sampler's state."""
        return {
            **{name: getattr(self, name)[: self._size].copy() for name in _FIELDS},
            "pos": self._pos,
            "size": self._size,
            "rng": self._rng.bit_generator.state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores what :meth:`state_dict` returned (into a buffer of the same shapes)."""
        size = int(state["size"])
        if size > self.capacity:
            raise ValueError(f"checkpoint holds {size} transitions, more than capacity {self.capacity}")
        for name in _FIELDS:
            array = getattr(self, name)
            if state[name].shape[1:] != array.shape[1:]:
                raise ValueError(
                    f"checkpoint field {name!r} has shape {state[name].shape[1:]}, expected {array.shape[1:]}"
                )
            array[:size] = state[name]
        self._pos = int(state["pos"])
        self._size = size
        self._rng.bit_generator.state = state["rng"]
