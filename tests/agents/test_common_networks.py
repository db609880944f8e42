"""Actor/critic networks: seeded initialisation that leaves the global RNG alone; output heads."""

from __future__ import annotations

import pytest
import torch

from recframe.agents.common.networks import Actor, Critic
from recframe.agents.common.seeding import spawn_seeds, torch_generator


def test_same_generator_seed_gives_identical_weights_without_touching_the_global_rng() -> None:
    before = torch.random.get_rng_state()
    a = Critic(4, 3, (8, 8), torch_generator(5))
    b = Critic(4, 3, (8, 8), torch_generator(5))
    c = Critic(4, 3, (8, 8), torch_generator(6))
    assert torch.equal(torch.random.get_rng_state(), before)
    for pa, pb, pc in zip(a.parameters(), b.parameters(), c.parameters()):
        assert torch.equal(pa, pb)
        assert not torch.equal(pa, pc)
    bound = 1 / 16**0.5  # fan_in 16
    weights = Actor(16, 3, (4,), torch_generator(0)).net[0].weight
    assert weights.abs().max() <= bound and weights.abs().max() > bound / 2


def test_actor_heads_and_critic_broadcast_over_candidates() -> None:
    states = torch.randn(5, 4, generator=torch_generator(1)) * 10
    assert Actor(4, 3, (8,), torch_generator(0), "tanh")(states).abs().max() < 1
    norms = Actor(4, 3, (8,), torch_generator(0), "normalize")(states).norm(dim=-1)
    torch.testing.assert_close(norms, torch.ones(5))
    critic = Critic(4, 3, (8,), torch_generator(0))
    candidates = torch.randn(5, 7, 3, generator=torch_generator(2))
    q = critic(states[:, None, :], candidates)
    assert q.shape == (5, 7, 1)
    torch.testing.assert_close(q[2, 4], critic(states[2], candidates[2, 4]))
    with pytest.raises(ValueError, match="actor output"):
        Actor(4, 3, (8,), torch_generator(0), "softmax")


def test_spawned_seeds_are_reproducible_distinct_and_validated() -> None:
    assert spawn_seeds(3, 4) == spawn_seeds(3, 4)
    assert len(set(spawn_seeds(3, 4))) == 4
    assert spawn_seeds(3, 2) != spawn_seeds(4, 2)
    with pytest.raises(TypeError, match="seed"):
        spawn_seeds(1.5, 2)  # type: ignore[arg-type]
