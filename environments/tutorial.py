"""The classic tutorial environment: follow-the-favourite recommendations over a tiny catalog.

``num_items`` documents (10 by default). The user is "at" an item ``i``; recommending item ``j``
(slate size 1) is accepted with probability ``W[i, j]``. On an accept the user moves to ``j`` and
the session goes on with probability 0.9; on a reject the user jumps to a uniformly random item
and goes on with probability 0.8. The reward is 1 per accept.

``W`` is the one from the Wolpertinger paper's toy problem as the course code builds it: small
off-diagonal acceptance ``U(0, 0.2)``, a strong diagonal ``U(0.9, 1)``, then columns permuted,
so every item has one favourite successor. It is drawn from ``seed`` unless given.

:func:`solve` computes the optimal policy exactly by value iteration, and :func:`policy_value` the
exact expected return of any deterministic policy, so agents can be judged by exact values.

Example:
    >>> import gymnasium as gym, recframe
    >>> env = gym.make("recframe/Tutorial-v0")
    >>> obs, _ = env.reset(seed=0)
    >>> int(obs["user"]) in range(10)
    True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

from recframe.choice_model import AbstractChoiceModel
from recframe.document import AbstractDocument, AbstractDocumentSampler
from recframe.seeding import child_seeds, make_rng
from recframe.simulator.environment import SingleUserEnvironment
from recframe.simulator.recsim_gym import RecSimGymEnv
from recframe.user import AbstractResponse, AbstractUserModel, AbstractUserSampler, AbstractUserState

__all__ = [
    "DEFAULT_CONFIG",
    "make_transition_matrix",
    "solve",
    "policy_value",
    "create_environment",
    "accept_reward",
]

DEFAULT_CONFIG: dict[str, Any] = {
    "num_items": 10,
    "p_continue_accept": 0.9,
    "p_continue_reject": 0.8,
    "seed": 0,
    "transition_matrix": None,
}


def make_transition_matrix(num_items: int, rng: np.random.Generator) -> np.ndarray:
    """Draws the acceptance matrix ``W`` (rows: current item, columns: recommended item)."""
    off_diagonal = (1.0 - np.eye(num_items)) * rng.uniform(0.0, 0.2, size=(num_items, num_items))
    matrix = off_diagonal + np.diag(rng.uniform(0.9, 1.0, size=num_items))
    return matrix[:, rng.permutation(num_items)]


def _q_values(w: np.ndarray, values: np.ndarray, p_accept: float, p_reject: float) -> np.ndarray:
    """Q[i, j]: expected return of recommending j at item i, then following ``values``."""
    return w * (1.0 + p_accept * values[None, :]) + (1.0 - w) * p_reject * values.mean()


def solve(
    w: np.ndarray, p_continue_accept: float = 0.9, p_continue_reject: float = 0.8, tol: float = 1e-12
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Value iteration on the tutorial MDP (undiscounted; sessions end with probability >= 0.1).

    Returns:
        ``(values, policy, q)``: optimal expected return from each current item, the optimal
        recommendation for each item, and the optimal Q matrix. The expected return of an
        episode (uniform start) is ``values.mean()``.
    """
    values = np.zeros(w.shape[0])
    for _ in range(100_000):
        q = _q_values(w, values, p_continue_accept, p_continue_reject)
        updated = q.max(axis=1)
        if np.max(np.abs(updated - values)) < tol:
            values = updated
            break
        values = updated
    q = _q_values(w, values, p_continue_accept, p_continue_reject)
    return values, q.argmax(axis=1), q


def policy_value(
    w: np.ndarray,
    policy: Sequence[int] | np.ndarray,
    p_continue_accept: float = 0.9,
    p_continue_reject: float = 0.8,
) -> np.ndarray:
    """Exact expected return from each current item of the deterministic ``policy`` (item -> item).

    Solves the linear system ``V = r + P V`` of the policy's Markov chain.
    """
    policy = np.asarray(policy, dtype=np.int64)
    n = w.shape[0]
    if policy.shape != (n,) or policy.min() < 0 or policy.max() >= n:
        raise ValueError(
            f"policy must map each of the {n} items to an item in [0, {n}), got {policy.tolist()}"
        )
    accept = w[np.arange(n), policy]
    transition = np.zeros((n, n))
    transition[np.arange(n), policy] += accept * p_continue_accept
    transition += ((1.0 - accept) * p_continue_reject / n)[:, None]
    return np.linalg.solve(np.eye(n) - transition, accept)


class ItemDocument(AbstractDocument):
    """An item of the tutorial catalog; its observation is its id."""

    NUM_ITEMS = 10

    def create_observation(self) -> int:
        return self._doc_id

    @classmethod
    def observation_space(cls) -> spaces.Space:
        return spaces.Discrete(cls.NUM_ITEMS)


class ItemSampler(AbstractDocumentSampler):
    """Yields the catalog's items in id order (the candidate set is the whole catalog)."""

    def reset_sampler(self, seed: Any = None) -> None:
        super().reset_sampler(seed)
        self._next_id = 0

    def sample_document(self) -> ItemDocument:
        document = self._doc_ctor(self._next_id % self._doc_ctor.NUM_ITEMS)
        self._next_id += 1
        return document


class ItemUserState(AbstractUserState):
    """The item the user is at, and whether the session goes on."""

    NUM_ITEMS = 10

    def __init__(self, current: int, transition_matrix: np.ndarray) -> None:
        self.current = int(current)
        self.active = True
        self._w = transition_matrix

    def create_observation(self) -> int:
        return self.current

    @classmethod
    def observation_space(cls) -> spaces.Space:
        return spaces.Discrete(cls.NUM_ITEMS)

    def score_documents(self, doc_obs: np.ndarray) -> np.ndarray:
        """Acceptance probability of each recommended item."""
        return self._w[self.current, doc_obs]

    def __repr__(self) -> str:
        return f"ItemUserState(current={self.current}, active={self.active})"


class UniformUserSampler(AbstractUserSampler):
    """Starts users at a uniformly random item."""

    def __init__(self, user_ctor: Any, transition_matrix: np.ndarray, seed: Any = 0) -> None:
        self._w = transition_matrix
        super().__init__(user_ctor, seed)

    def sample_user(self) -> ItemUserState:
        return self._user_ctor(self._rng.integers(self._w.shape[0]), self._w)


class AcceptResponse(AbstractResponse):
    """Whether the user accepted the recommendation."""

    def __init__(self, accept: bool = False) -> None:
        self.accept = accept

    def create_observation(self) -> int:
        return int(self.accept)

    @classmethod
    def response_space(cls) -> spaces.Space:
        return spaces.Discrete(2)


class AcceptChoiceModel(AbstractChoiceModel):
    """Accepts the single recommended item with probability equal to its score."""

    def score_documents(self, user_state: ItemUserState, doc_obs: np.ndarray) -> None:
        self._scores = user_state.score_documents(doc_obs)
        self._score_no_click = 1.0 - float(self._scores[0])

    def choose_item(self) -> int | None:
        return 0 if self.rng.random() < self._scores[0] else None


class ItemUserModel(AbstractUserModel):
    """Accept/reject a single recommendation; move to it or jump at random; maybe leave."""

    def __init__(
        self,
        transition_matrix: np.ndarray,
        p_continue_accept: float,
        p_continue_reject: float,
        seed: Any,
        user_ctor: type[ItemUserState] = ItemUserState,
    ) -> None:
        sampler_seed, model_seed = child_seeds(seed, 2)  # as reset_sampler(seed) derives them
        sampler = UniformUserSampler(user_ctor, transition_matrix, seed=sampler_seed)
        super().__init__(AcceptResponse, sampler, 1, seed=model_seed)
        self.transition_matrix = transition_matrix
        self._p_accept, self._p_reject = p_continue_accept, p_continue_reject
        self.choice_model = AcceptChoiceModel(rng=self._rng)

    def simulate_response(self, documents: Sequence[ItemDocument]) -> list[AcceptResponse]:
        doc_obs = np.fromiter(
            (doc.create_observation() for doc in documents), dtype=np.int64, count=len(documents)
        )
        self.choice_model.score_documents(self._user_state, doc_obs)
        chosen = self.choice_model.choose_item()
        return [AcceptResponse(accept=i == chosen) for i in range(len(documents))]

    def update_state(
        self, slate_documents: Sequence[ItemDocument], responses: Sequence[AcceptResponse]
    ) -> None:
        state = self._user_state
        if responses[0].accept:
            state.current = slate_documents[0].doc_id()
            state.active = bool(self._rng.random() < self._p_accept)
        else:
            state.current = int(self._rng.integers(self.transition_matrix.shape[0]))
            state.active = bool(self._rng.random() < self._p_reject)

    def is_terminal(self) -> bool:
        return not self._user_state.active


def accept_reward(responses: Sequence[AcceptResponse]) -> float:
    """One per accepted recommendation."""
    return float(sum(response.accept for response in responses))


def create_environment(env_config: Mapping[str, Any] | None = None, **overrides: Any) -> RecSimGymEnv:
    """Builds the tutorial environment (RecSim's ``create_environment`` convention).

    Keys (``env_config`` or keywords): ``num_items``, ``p_continue_accept``, ``p_continue_reject``,
    ``seed`` (draws ``W`` and seeds the streams), ``transition_matrix`` (use this ``W`` instead),
    ``render_mode``.
    """
    config = {**DEFAULT_CONFIG, **(env_config or {}), **overrides}
    render_mode = config.pop("render_mode", None)
    unknown = sorted(set(config) - set(DEFAULT_CONFIG))
    if unknown:
        raise ValueError(
            f"unknown tutorial config key(s) {unknown}; expected some of {sorted(DEFAULT_CONFIG)}"
        )
    num_items, seed = int(config["num_items"]), config["seed"]
    w = config["transition_matrix"]
    if w is None:
        w = make_transition_matrix(num_items, make_rng(seed))
    w = np.asarray(w, dtype=np.float64)
    if w.shape != (num_items, num_items) or np.any((w < 0) | (w > 1)):
        raise ValueError(
            f"transition_matrix must be a {num_items}x{num_items} matrix of probabilities, got {w}"
        )
    # Spaces are class-level (RecSim's convention), so the catalog size lives in subclasses.
    document = type("ItemDocument", (ItemDocument,), {"NUM_ITEMS": num_items})
    user_state = type("ItemUserState", (ItemUserState,), {"NUM_ITEMS": num_items})
    user_model = ItemUserModel(w, config["p_continue_accept"], config["p_continue_reject"], seed, user_state)
    raw = SingleUserEnvironment(
        user_model, ItemSampler(document, seed=seed), num_items, 1, resample_documents=False
    )
    return RecSimGymEnv(raw, accept_reward, render_mode=render_mode)
