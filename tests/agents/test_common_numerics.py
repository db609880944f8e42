"""flush_denormals: subnormals are zero inside the block, and the previous mode comes back after."""

from __future__ import annotations

import torch

from recframe.agents.common.numerics import denormals_flushed, flush_denormals


def test_subnormals_flush_inside_the_block_only() -> None:
    tiny = torch.tensor([1e-40], dtype=torch.float32)
    assert not denormals_flushed()
    assert (tiny * 1.0).item() > 0
    with flush_denormals():
        assert denormals_flushed()
        assert (tiny * 1.0).item() == 0.0
        with flush_denormals():  # nested: leaves the outer block's mode alone
            pass
        assert denormals_flushed()
    assert not denormals_flushed()
    with flush_denormals(enabled=False):
        assert not denormals_flushed()


def test_a_mode_set_outside_is_left_on() -> None:
    assert torch.set_flush_denormal(True)
    try:
        with flush_denormals():
            pass
        assert denormals_flushed()
    finally:
        torch.set_flush_denormal(False)
