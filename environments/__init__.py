"""recframe's built-in environments (installed as ``recframe.environments``).

``import recframe`` calls :func:`register` through the ``recframe.plugins`` entry point, so every
environment below is available as ``gymnasium.make("recframe/<Name>-v0")``. Registration only
names the entry points; an environment's module is imported when it is first made.
"""

from __future__ import annotations

from recframe.registration import register_environment

_PACKAGE = "recframe.environments"

#: Gymnasium name -> module whose ``create_environment(**kwargs)`` builds it (or ``module:function``).
ENVIRONMENTS: dict[str, str] = {
    "LinearBandit-v0": "linear_bandit",
    "Tutorial-v0": "tutorial",
    "InterestEvolution-v0": "interest_evolution",
    "InterestExploration-v0": "interest_exploration",
    "LongTermSatisfaction-v0": "long_term_satisfaction",
    "PetRetail-v0": "pet_retail.envs",
    "PetRetailCatalog-v0": "pet_retail.envs:create_catalog_environment",
    "PetRetailBoost-v0": "pet_retail.boost:create_boost_environment",
}

#: Gymnasium name -> ``module:function`` building a native vector environment (``gymnasium.make_vec``).
VECTOR_ENTRY_POINTS: dict[str, str] = {
    "PetRetail-v0": "pet_retail.vector:create_vector_environment",
    "PetRetailCatalog-v0": "pet_retail.vector:create_catalog_vector_environment",
    "PetRetailBoost-v0": "pet_retail.vector:create_boost_vector_environment",
}


#: Gymnasium name -> default time limit added by ``gymnasium.make`` (for sessions that never end by
#: themselves: RecSim's interest exploration has no termination; 100 steps as in RecSim's runs).
MAX_EPISODE_STEPS: dict[str, int] = {
    "InterestExploration-v0": 100,
}


def register() -> None:
    """Registers every built-in environment with Gymnasium under the ``recframe/`` namespace."""
    for name, target in ENVIRONMENTS.items():
        entry_point = target if ":" in target else f"{target}:create_environment"
        vector = VECTOR_ENTRY_POINTS.get(name)
        register_environment(
            name,
            f"{_PACKAGE}.{entry_point}",
            max_episode_steps=MAX_EPISODE_STEPS.get(name),
            vector_entry_point=vector and f"{_PACKAGE}.{vector}",
        )
