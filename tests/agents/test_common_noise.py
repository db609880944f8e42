"""Exploration noise: seeded, resettable, checkpointable, with the right moments."""

from __future__ import annotations

import numpy as np
import pytest

from recframe.agents.common.noise import GaussNoise, OrnsteinUhlenbeckNoise


def test_gauss_noise_has_zero_mean_and_the_given_sigma() -> None:
    n = 200_000
    x = GaussNoise(sigma=0.05, seed=0)((n,))
    # Five standard errors: mean SE = sigma/sqrt(n); std SE ~ sigma/sqrt(2n).
    assert abs(x.mean()) < 5 * 0.05 / np.sqrt(n)
    assert abs(x.std() - 0.05) < 5 * 0.05 / np.sqrt(2 * n)


@pytest.mark.parametrize("make", [lambda: GaussNoise(0.3), lambda: OrnsteinUhlenbeckNoise(sigma=0.3)])
def test_seed_reproduces_and_state_dict_resumes_the_sequence(make) -> None:
    a, b = make(), make()
    a.seed(3)
    b.seed(3)
    np.testing.assert_array_equal(a((4,)), b((4,)))
    saved = a.state_dict()
    expected = [a((4,)) for _ in range(3)]
    c = make()
    c.seed(99)
    c.load_state_dict(saved)
    np.testing.assert_array_equal(np.stack([c((4,)) for _ in range(3)]), np.stack(expected))


def test_ou_noise_is_correlated_mean_reverting_and_reset_restarts_it() -> None:
    noise = OrnsteinUhlenbeckNoise(sigma=0.2, theta=0.15, dt=1e-2, mu=1.0, x0=1.0, seed=0)
    first = noise((1000,))
    second = noise((1000,))
    # One step moves each coordinate by ~sigma*sqrt(dt) = 0.02; independent draws would differ by ~0.03.
    assert np.abs(second - first).max() < 0.02 * 6
    assert abs(first.mean() - 1.0) < 0.02 * 5 / np.sqrt(1000) * 3
    noise.reset()
    after_reset = noise((1000,))
    assert np.abs(after_reset - 1.0).max() < 0.02 * 6


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: GaussNoise(sigma=-1.0), "sigma"),
        (lambda: GaussNoise(sigma=float("nan")), "sigma"),
        (lambda: OrnsteinUhlenbeckNoise(dt=0.0), "dt"),
        (lambda: GaussNoise(0.1, seed=-2), "seed"),
    ],
)
def test_bad_parameters_are_rejected(make, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()
