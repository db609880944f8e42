"""Registration of environments under Gymnasium's ``recframe/`` namespace.

Gymnasium 1.x does not load entry points by itself, so ``import recframe`` calls every function
published in the ``recframe.plugins`` entry-point group (the built-in environments publish one).
A third-party package registers its environments the same way, or calls
:func:`register_environment` directly.
"""

from __future__ import annotations

import importlib.metadata
import warnings
from typing import Any

import gymnasium as gym

__all__ = ["NAMESPACE", "register_environment", "load_plugins", "registered_environments"]

NAMESPACE = "recframe"
PLUGIN_GROUP = "recframe.plugins"


def register_environment(
    name: str,
    entry_point: str,
    max_episode_steps: int | None = None,
    vector_entry_point: str | None = None,
    **kwargs: Any,
) -> str:
    """Registers ``recframe/<name>`` with Gymnasium (once; later calls are no-ops) and returns the id.

    Args:
        name: versioned name, e.g. ``"InterestEvolution-v0"``.
        entry_point: ``"module:callable"`` building the environment from keyword arguments.
        max_episode_steps: optional time limit added by ``gymnasium.make``.
        vector_entry_point: optional ``"module:callable"`` building a native batched environment,
            used by ``gymnasium.make_vec(..., vectorization_mode="vector_entry_point")``.
        **kwargs: default keyword arguments for the entry point.
    """
    env_id = f"{NAMESPACE}/{name}"
    if env_id not in gym.registry:
        gym.register(
            id=env_id,
            entry_point=entry_point,
            vector_entry_point=vector_entry_point,
            max_episode_steps=max_episode_steps,
            kwargs=kwargs,
        )
    return env_id


def registered_environments() -> list[str]:
    """The ids of every environment registered under the ``recframe/`` namespace."""
    return sorted(env_id for env_id in gym.registry if env_id.startswith(f"{NAMESPACE}/"))


def load_plugins() -> None:
    """Calls each ``recframe.plugins`` entry point; a failing plugin is reported as a warning."""
    for entry_point in importlib.metadata.entry_points(group=PLUGIN_GROUP):
        try:
            entry_point.load()()
        except Exception as error:  # a broken plugin must not break `import recframe`
            warnings.warn(f"recframe plugin {entry_point.value!r} failed to load: {error!r}", stacklevel=2)
