"""recframe's built-in environments (installed as ``recframe.environments``).

``import recframe`` calls :func:`register` through the ``recframe.plugins`` entry point, so every
environment below is available as ``gymnasium.make("recframe/<Name>-v0")``. Registration only
names the entry points; an environment's module is imported when it is first made.
"""

from __future__ import annotations

from recframe.registration import register_environment

_PACKAGE = "recframe.environments"

#: Gymnasium name -> module whose ``create_environment(**kwargs)`` builds it.
ENVIRONMENTS: dict[str, str] = {
    "LinearBandit-v0": "linear_bandit",
    "Tutorial-v0": "tutorial",
    "InterestEvolution-v0": "interest_evolution",
    "InterestExploration-v0": "interest_exploration",
    "LongTermSatisfaction-v0": "long_term_satisfaction",
}


def register() -> None:
    """Registers every built-in environment with Gymnasium under the ``recframe/`` namespace."""
    for name, module in ENVIRONMENTS.items():
        register_environment(name, f"{_PACKAGE}.{module}:create_environment")
