"""recframe agents (installed as ``recframe.agents``).

Baselines (numpy only, imported eagerly): :class:`RandomAgent`, :class:`GreedyAgent` (an oracle
when given the environment's true scores), :class:`EpsilonGreedyAgent`, :class:`LinUCB` and
:class:`LinearThompsonSampling`. The PyTorch agents are imported on first use, so
``import recframe.agents`` stays light: :class:`SlateQAgent` (``recframe.agents.slate_q``) and
:class:`WolpertingerRecommender`, :class:`GaussNoise`, :class:`OrnsteinUhlenbeckNoise`
(``recframe.agents.wolpertinger``; the noises live in ``recframe.agents.common.noise``).
"""

from __future__ import annotations

import importlib
from typing import Any

from recframe.agents.greedy import EpsilonGreedyAgent, GreedyAgent
from recframe.agents.linear_bandits import LinearThompsonSampling, LinUCB
from recframe.agents.random_agent import RandomAgent

__all__ = [
    "RandomAgent",
    "GreedyAgent",
    "EpsilonGreedyAgent",
    "LinUCB",
    "LinearThompsonSampling",
    "SlateQAgent",
    "WolpertingerRecommender",
    "GaussNoise",
    "OrnsteinUhlenbeckNoise",
]

#: Public name -> module that defines it, imported on first access (these need torch).
_LAZY = {
    "SlateQAgent": "recframe.agents.slate_q",
    "WolpertingerRecommender": "recframe.agents.wolpertinger",
    "GaussNoise": "recframe.agents.common.noise",
    "OrnsteinUhlenbeckNoise": "recframe.agents.common.noise",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
