"""Exploration noise for continuous (proto-)actions: Gaussian and Ornstein-Uhlenbeck.

Each noise process owns a ``numpy.random.Generator``; agents reseed it from their own seed with
:meth:`ActionNoise.seed`, so ``GaussNoise(sigma=0.05)`` can be built before the agent without a seed.
``state_dict`` / ``load_state_dict`` capture the generator and the process state for checkpoints.
"""

from __future__ import annotations

import abc
import math
from typing import Any

import numpy as np

from recframe.agents.common.seeding import check_seed

__all__ = ["ActionNoise", "GaussNoise", "OrnsteinUhlenbeckNoise"]


def _check_non_negative(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be finite and >= 0, got {value}")
    return float(value)


class ActionNoise(abc.ABC):
    """A seeded noise process added to actions while training.

    Args:
        seed: seed of the noise's own generator (agents usually reseed it).
    """

    def __init__(self, seed: int | None = None) -> None:
        self._rng = np.random.default_rng(check_seed(seed))

    def seed(self, seed: int | None) -> None:
        """Replaces the generator by one seeded with ``seed`` and resets the process."""
        self._rng = np.random.default_rng(check_seed(seed))
        self.reset()

    def reset(self) -> None:  # noqa: B027 - stateless processes need no reset
        """Resets the process state (called at the start of every episode)."""

    @abc.abstractmethod
    def __call__(self, shape: tuple[int, ...]) -> np.ndarray:
        """Draws noise of the given shape (float64)."""

    def state_dict(self) -> dict[str, Any]:
        """The generator state and the process state."""
        return {"rng": self._rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores what :meth:`state_dict` returned."""
        self._rng.bit_generator.state = state["rng"]


class GaussNoise(ActionNoise):
    """Independent zero-mean Gaussian noise, ``N(0, sigma^2)`` per coordinate.

    Args:
        sigma: standard deviation (>= 0).
        seed: seed of the noise's generator.
    """

    def __init__(self, sigma: float = 0.1, seed: int | None = None) -> None:
        super().__init__(seed)
        self.sigma = _check_non_negative("sigma", sigma)

    def __call__(self, shape: tuple[int, ...]) -> np.ndarray:
        return self._rng.normal(0.0, self.sigma, size=shape)

    def __repr__(self) -> str:
        return f"GaussNoise(sigma={self.sigma})"


class OrnsteinUhlenbeckNoise(ActionNoise):
    """Temporally correlated noise: ``x += theta (mu - x) dt + sigma sqrt(dt) N(0, 1)``.

    The process has one state per coordinate; it is (re)started at ``x0`` on :meth:`reset` and its
    shape is fixed by the first draw after a reset.

    Args:
        sigma: diffusion scale (>= 0).
        theta: mean-reversion rate (>= 0).
        mu: long-run mean.
        dt: time step (> 0).
        x0: initial value of every coordinate.
        seed: seed of the noise's generator.
    """

    def __init__(
        self,
        sigma: float = 0.2,
        theta: float = 0.15,
        mu: float = 0.0,
        dt: float = 1e-2,
        x0: float = 0.0,
        seed: int | None = None,
    ) -> None:
        super().__init__(seed)
        self.sigma = _check_non_negative("sigma", sigma)
        self.theta = _check_non_negative("theta", theta)
        self.dt = _check_non_negative("dt", dt)
        if self.dt == 0:
            raise ValueError("dt must be > 0, got 0")
        self.mu = float(mu)
        self.x0 = float(x0)
        self._x: np.ndarray | None = None

    def reset(self) -> None:
        self._x = None

    def __call__(self, shape: tuple[int, ...]) -> np.ndarray:
        if self._x is None or self._x.shape != tuple(shape):
            self._x = np.full(shape, self.x0)
        drift = self.theta * (self.mu - self._x) * self.dt
        self._x = self._x + drift + self.sigma * math.sqrt(self.dt) * self._rng.standard_normal(shape)
        return self._x.copy()

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "x": None if self._x is None else self._x.copy()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._x = None if state["x"] is None else np.array(state["x"], dtype=np.float64)

    def __repr__(self) -> str:
        return f"OrnsteinUhlenbeckNoise(sigma={self.sigma}, theta={self.theta}, mu={self.mu}, dt={self.dt})"
