"""Actor and critic MLPs, initialised from a seeded ``torch.Generator``.

Layers are created uninitialised (``torch.nn.utils.skip_init``) and then filled with PyTorch's
default ``nn.Linear`` distribution, ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, drawn from the given
generator, so building a network never reads or advances the global torch RNG.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["mlp", "Actor", "Critic"]

ACTOR_OUTPUTS = ("linear", "tanh", "normalize")


def _linear(in_dim: int, out_dim: int, generator: torch.Generator) -> nn.Linear:
    layer = nn.utils.skip_init(nn.Linear, in_dim, out_dim)
    bound = 1.0 / math.sqrt(in_dim)
    with torch.no_grad():
        layer.weight.uniform_(-bound, bound, generator=generator)
        layer.bias.uniform_(-bound, bound, generator=generator)
    return layer


def mlp(in_dim: int, hidden_dims: tuple[int, ...], out_dim: int, generator: torch.Generator) -> nn.Sequential:
    """A ReLU MLP ``in_dim -> hidden_dims... -> out_dim`` with a linear output layer."""
    dims = (in_dim, *hidden_dims)
    layers: list[nn.Module] = []
    for a, b in zip(dims[:-1], dims[1:]):
        layers += [_linear(a, b, generator), nn.ReLU()]
    layers.append(_linear(dims[-1], out_dim, generator))
    return nn.Sequential(*layers)


class Actor(nn.Module):
    """Maps a state to a proto-action in the item-embedding space.

    Args:
        state_dim: state vector length.
        action_dim: embedding dimension.
        hidden_dims: hidden layer widths.
        generator: seeded generator for the initial weights.
        output: ``"linear"`` (unbounded), ``"tanh"`` (each coordinate in (-1, 1)) or
            ``"normalize"`` (unit L2 norm, for embeddings compared by direction).
    """

    def __init__(
        self,
        state_dim: int,
        action_dim: int,
        hidden_dims: tuple[int, ...],
        generator: torch.Generator,
        output: str = "linear",
    ) -> None:
        super().__init__()
        if output not in ACTOR_OUTPUTS:
            raise ValueError(f"actor output must be one of {ACTOR_OUTPUTS}, got {output!r}")
        self.output = output
        self.net = mlp(state_dim, hidden_dims, action_dim, generator)

    def forward(self, state: torch.Tensor) -> torch.Tensor:
        x = self.net(state)
        if self.output == "tanh":
            return torch.tanh(x)
        if self.output == "normalize":
            return nn.functional.normalize(x, dim=-1)
        return x


class Critic(nn.Module):
    """Maps ``(state, action embedding)`` pairs to a scalar value ``Q(s, a)``.

    Args:
        state_dim: state vector length.
        action_dim: embedding dimension.
        hidden_dims: hidden layer widths.
        generator: seeded generator for the initial weights.
    """

    def __init__(
        self, state_dim: int, action_dim: int, hidden_dims: tuple[int, ...], generator: torch.Generator
    ) -> None:
        super().__init__()
        self.net = mlp(state_dim + action_dim, hidden_dims, 1, generator)

    def forward(self, state: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """``state`` ``(..., state_dim)`` and ``action`` ``(..., action_dim)`` give ``(..., 1)``."""
        state = state.expand(*action.shape[:-1], state.shape[-1])
        return self.net(torch.cat([state, action], dim=-1))
