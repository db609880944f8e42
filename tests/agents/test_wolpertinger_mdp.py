"""An exact numpy model of the 10-item tutorial MDP, used to judge Wolpertinger by policy value.

The user's state is the item they are at; recommending item j from state i is accepted with
probability ``W[i, j]`` (reward 1; the user moves to j and stays with probability 0.9), otherwise
the user moves to a uniformly random item and stays with probability 0.8. Values are *undiscounted*
expected episode returns from a uniformly random start (episodes end with probability >= 0.1 per
step, so they are finite): the evaluation measure, whatever discount the agent trains with.
"""

from __future__ import annotations

import numpy as np
import pytest

ACCEPT_CONTINUE = 0.9
REJECT_CONTINUE = 0.8


class TutorialMDP:
    """The tutorial environment with its transition matrix ``W`` drawn from ``seed``."""

    def __init__(self, seed: int, n_items: int = 10) -> None:
        rng = np.random.default_rng(seed)
        off = (1.0 - np.eye(n_items)) * rng.uniform(0.0, 0.2, (n_items, n_items))
        w = off + np.diag(rng.uniform(0.9, 1.0, n_items))
        self.W = w[:, rng.permutation(n_items)]
        self.n = n_items

    def reset(self, rng: np.random.Generator) -> int:
        """A uniformly random starting item."""
        return int(rng.integers(self.n))

    def step(self, state: int, item: int, rng: np.random.Generator) -> tuple[int, float, bool]:
        """``(next_state, reward, terminated)`` after recommending ``item`` in ``state``."""
        if rng.random() < self.W[state, item]:
            return item, 1.0, bool(rng.random() >= ACCEPT_CONTINUE)
        return int(rng.integers(self.n)), 0.0, bool(rng.random() >= REJECT_CONTINUE)

    def _backup(self, values: np.ndarray) -> np.ndarray:
        """``Q[i, j]``: expected return of recommending j in i, then following ``values``."""
        accept = self.W * (1.0 + ACCEPT_CONTINUE * values[None, :])
        return accept + (1.0 - self.W) * REJECT_CONTINUE * values.mean()

    def policy_values(self, policy: np.ndarray) -> np.ndarray:
        """Exact state values of a deterministic policy (item per state), by a linear solve."""
        policy = np.asarray(policy, dtype=np.int64)
        rows = np.arange(self.n)
        accept = self.W[rows, policy]
        transition = np.zeros((self.n, self.n))
        transition[rows, policy] += ACCEPT_CONTINUE * accept
        transition += (REJECT_CONTINUE * (1.0 - accept) / self.n)[:, None]
        return np.linalg.solve(np.eye(self.n) - transition, accept)

    def policy_return(self, policy: np.ndarray) -> float:
        """Expected episode return of a deterministic policy from a uniform start."""
        return float(self.policy_values(policy).mean())

    def optimal_values(self, tol: float = 1e-12) -> np.ndarray:
        """Optimal state values by value iteration (a contraction with modulus <= 0.9)."""
        values = np.zeros(self.n)
        while True:
            new = self._backup(values).max(axis=1)
            if np.abs(new - values).max() < tol:
                return new
            values = new

    def optimal_policy(self) -> np.ndarray:
        """The greedy policy of the optimal values."""
        return self._backup(self.optimal_values()).argmax(axis=1)

    def random_return(self) -> float:
        """Expected return of the uniformly random policy (exact linear solve)."""
        accept = self.W.mean(axis=1)
        transition = ACCEPT_CONTINUE * self.W / self.n + (REJECT_CONTINUE * (1.0 - accept) / self.n)[:, None]
        return float(np.linalg.solve(np.eye(self.n) - transition, accept).mean())


def train(
    recommender, mdp: TutorialMDP, steps: int, rng: np.random.Generator, carry: tuple[int, int] | None = None
) -> tuple[int, int]:
    """Runs ``steps`` environment steps of the RecSim-style loop, with int observations.

    ``rng`` drives the environment. Returns the ``(state, recommended item)`` of the episode in
    progress; passing it back as ``carry`` continues that episode, so a run split in two calls is
    the same run as one call.
    """
    if carry is None:
        state = mdp.reset(rng)
        carry = (state, int(recommender.begin_episode(state)[0]))
    state, item = carry
    for _ in range(steps):
        state, reward, terminated = mdp.step(state, item, rng)
        if terminated:
            recommender.end_episode(reward, state)
            state = mdp.reset(rng)
            item = int(recommender.begin_episode(state)[0])
        else:
            item = int(recommender.step(reward, state)[0])
    return state, item


def greedy_policy(recommender, n_states: int) -> np.ndarray:
    """The item the recommender's core recommends, without noise, in each one-hot state."""
    eye = np.eye(n_states, dtype=np.float32)
    return np.array([int(recommender.agent.select_slate(eye[i])[0]) for i in range(n_states)])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_value_iteration_matches_policy_evaluation_and_beats_every_other_policy(seed: int) -> None:
    mdp = TutorialMDP(seed)
    best = mdp.optimal_policy()
    np.testing.assert_allclose(mdp.policy_values(best), mdp.optimal_values(), rtol=1e-9)
    rng = np.random.default_rng(seed)
    for _ in range(200):
        assert mdp.policy_return(rng.integers(mdp.n, size=mdp.n)) <= mdp.policy_return(best) + 1e-12


def test_optimal_policy_recommends_each_state_its_favourite_item() -> None:
    mdp = TutorialMDP(3)
    np.testing.assert_array_equal(mdp.optimal_policy(), mdp.W.argmax(axis=1))


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_random_policy_gets_about_a_tenth_of_the_optimum(seed: int) -> None:
    mdp = TutorialMDP(seed)
    ratio = mdp.random_return() / mdp.policy_return(mdp.optimal_policy())
    assert 0.05 < ratio < 0.2


def test_simulated_returns_match_the_exact_policy_value() -> None:
    mdp = TutorialMDP(5)
    policy = mdp.optimal_policy()
    rng = np.random.default_rng(0)
    returns = []
    for _ in range(4000):
        state, total, done = mdp.reset(rng), 0.0, False
        while not done:
            state_before = state
            state, reward, done = mdp.step(state_before, int(policy[state_before]), rng)
            total += reward
        returns.append(total)
    returns = np.asarray(returns)
    # Five standard errors of the mean: a false failure has probability < 1e-6.
    assert abs(returns.mean() - mdp.policy_return(policy)) < 5 * returns.std() / np.sqrt(len(returns))
