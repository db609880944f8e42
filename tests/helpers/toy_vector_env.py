"""A tiny native vector environment for the core's sharding tests (no built-in environment needed).

Env i counts its steps and draws rewards and episode lengths from its own generator seeded
``seed + i`` (at construction and by ``reset``), so its trajectory depends only on its seed and
actions, as a native batched env's should. It autoresets on the next step (Gymnasium's default),
puts a nested dict and a key that only some envs report in ``info``, and rejects negative actions
naming the env.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space


class ToyVectorEnv(VectorEnv):
    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, num_envs: int, seed: int = 0) -> None:
        self.num_envs = num_envs
        self.single_observation_space = spaces.Dict(
            {"t": spaces.Discrete(100), "x": spaces.Box(-10.0, 10.0, (2,), np.float32)}
        )
        self.single_action_space = spaces.Box(0.0, 1.0, (3,), np.float32)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._rngs = [np.random.default_rng(seed + i) for i in range(num_envs)]
        self._t = np.zeros(num_envs, dtype=np.int64)
        self._x = np.zeros((num_envs, 2), dtype=np.float32)
        self._length = np.zeros(num_envs, dtype=np.int64)
        self._needs_reset = np.zeros(num_envs, dtype=bool)

    def _start(self, i: int) -> None:
        self._t[i] = 0
        self._x[i] = self._rngs[i].uniform(-1.0, 1.0, 2)
        self._length[i] = self._rngs[i].integers(2, 5)

    def _observation(self) -> dict[str, np.ndarray]:
        return {"t": self._t.copy(), "x": self._x.copy()}

    def reset(
        self, *, seed: int | Sequence[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        if seed is not None:
            seeds = [seed + i for i in range(self.num_envs)] if isinstance(seed, int) else list(seed)
            self._rngs = [np.random.default_rng(s) for s in seeds]
        for i in range(self.num_envs):
            self._start(i)
        self._needs_reset[:] = False
        return self._observation(), {"seeded": np.full(self.num_envs, seed is not None)}

    def step(self, actions: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        actions = np.asarray(actions)
        if (actions < 0).any():
            raise ValueError(f"negative action in env {int(np.argwhere(actions < 0)[0, 0])}")
        rewards = np.zeros(self.num_envs)
        terminated = np.zeros(self.num_envs, dtype=bool)
        info: dict[str, Any] = {"noise": {"value": np.zeros(self.num_envs)}}
        for i in range(self.num_envs):
            if self._needs_reset[i]:
                self._start(i)
                continue
            self._t[i] += 1
            self._x[i] += actions[i, :2] - 0.5
            rewards[i] = float(actions[i].sum()) + self._rngs[i].normal()
            info["noise"]["value"][i] = rewards[i]
            terminated[i] = self._t[i] >= self._length[i]
            if terminated[i]:  # a key that only envs ending this step report, with its mask
                info.setdefault("length", np.zeros(self.num_envs, dtype=np.int64))[i] = self._t[i]
                info.setdefault("_length", np.zeros(self.num_envs, dtype=bool))[i] = True
        self._needs_reset = terminated.copy()
        return self._observation(), rewards, terminated, np.zeros(self.num_envs, dtype=bool), info


def broken_factory(num_envs: int) -> VectorEnv:
    """A factory whose shard cannot be built."""
    raise KeyError(f"no shard of {num_envs} envs today")
