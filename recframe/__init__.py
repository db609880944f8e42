"""recframe: simulate recommender and search systems as Gymnasium environments.

The core (this package) holds the components you subclass (:mod:`recframe.document`,
:mod:`recframe.user`, :mod:`recframe.choice_model`), the simulation loop and Gymnasium adapter
(:mod:`recframe.simulator`) and the agent base classes (:mod:`recframe.agent`). Importing it
registers the built-in environments (and any plugin's) under Gymnasium's ``recframe/`` namespace.
"""

from __future__ import annotations

from recframe.registration import load_plugins, register_environment, registered_environments

__version__ = "0.1.0"
__all__ = ["__version__", "register_environment", "registered_environments"]

load_plugins()
