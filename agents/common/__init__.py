"""Pieces the agents share: replay buffers, exploration noise, nearest-neighbour search, networks."""

from __future__ import annotations

from recframe.agents.common.buffer import ReplayBuffer
from recframe.agents.common.knn import (
    FaissNearestNeighbors,
    NearestNeighbors,
    TorchNearestNeighbors,
    make_nearest_neighbors,
)
from recframe.agents.common.networks import Actor, Critic, mlp
from recframe.agents.common.noise import ActionNoise, GaussNoise, OrnsteinUhlenbeckNoise
from recframe.agents.common.numerics import flush_denormals
from recframe.agents.common.seeding import spawn_seeds, torch_generator

__all__ = [
    "ReplayBuffer",
    "NearestNeighbors",
    "TorchNearestNeighbors",
    "FaissNearestNeighbors",
    "make_nearest_neighbors",
    "Actor",
    "Critic",
    "mlp",
    "ActionNoise",
    "GaussNoise",
    "OrnsteinUhlenbeckNoise",
    "flush_denormals",
    "spawn_seeds",
    "torch_generator",
]
