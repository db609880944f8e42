"""The replay buffer: preallocated ring storage, seeded sampling, state round trip."""

from __future__ import annotations

import numpy as np
import pytest

from recframe.agents.common.buffer import ReplayBuffer


def _fill(buffer: ReplayBuffer, n: int) -> None:
    for i in range(n):
        buffer.add(np.full(2, i), np.full(3, -i), i, float(i), np.full(2, i + 1), i % 2 == 1)


def test_ring_overwrites_the_oldest_transitions_without_reallocating() -> None:
    buffer = ReplayBuffer(4, state_dim=2, action_dim=3, seed=0)
    arrays = buffer.states, buffer.actions
    _fill(buffer, 6)
    assert len(buffer) == 4
    assert buffer.states is arrays[0] and buffer.actions is arrays[1]
    assert sorted(buffer.action_indices.tolist()) == [2, 3, 4, 5]
    batch = buffer.sample(500)
    assert set(batch["action_indices"].tolist()) == {2, 3, 4, 5}
    np.testing.assert_array_equal(batch["next_states"][:, 0], batch["states"][:, 0] + 1)
    np.testing.assert_array_equal(batch["terminated"], batch["action_indices"] % 2)


def test_same_seed_samples_the_same_batches_and_state_dict_resumes_them() -> None:
    a, b = ReplayBuffer(8, 2, 3, seed=7), ReplayBuffer(8, 2, 3, seed=7)
    _fill(a, 5)
    _fill(b, 5)
    np.testing.assert_array_equal(a.sample(16)["action_indices"], b.sample(16)["action_indices"])
    saved = a.state_dict()
    expected = a.sample(16)["action_indices"]
    restored = ReplayBuffer(8, 2, 3, seed=123)
    restored.load_state_dict(saved)
    np.testing.assert_array_equal(restored.sample(16)["action_indices"], expected)
    _fill(restored, 1)
    assert len(restored) == 6


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"capacity": 0}, "capacity"), ({"state_dim": -1}, "state_dim"), ({"action_dim": 1.5}, "action_dim")],
)
def test_bad_sizes_are_rejected(kwargs: dict, match: str) -> None:
    args = {"capacity": 4, "state_dim": 2, "action_dim": 3, **kwargs}
    with pytest.raises(ValueError, match=match):
        ReplayBuffer(**args)


def test_nan_reward_empty_sample_and_mismatched_checkpoint_are_rejected() -> None:
    buffer = ReplayBuffer(4, 2, 3, seed=0)
    with pytest.raises(ValueError, match="empty"):
        buffer.sample(1)
    with pytest.raises(ValueError, match="reward must be finite"):
        buffer.add(np.zeros(2), np.zeros(3), 0, float("nan"), np.zeros(2), False)
    _fill(buffer, 2)
    with pytest.raises(ValueError, match="states"):
        ReplayBuffer(4, 5, 3).load_state_dict(buffer.state_dict())
