"""recframe agents (installed as ``recframe.agents``)."""
