"""Pieces the baseline agents share: slate shapes, top-k slates, checked scores and candidate features.

* :func:`slate_shape` reads ``(num_candidates, slate_size)`` from a single-user slate action space.
* :func:`top_k_slate` turns per-candidate scores into the slate of the ``k`` best (ties: lower index).
* :func:`check_scores` validates what a user-supplied scorer returned.
* :class:`CandidateFeatures` turns the stacked candidate observation into a ``(num_candidates, d)``
  feature matrix (optionally joined with the user observation), vectorized over candidates.
* :func:`click_rewards` is the default per-slate-item reward: the click indicators of the responses.
* :class:`SeededAgentMixin` gives an agent its own seeded generator, saved in its checkpoints.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import tree
from gymnasium import spaces

from recframe.spaces import space_structure

__all__ = [
    "slate_shape",
    "top_k_slate",
    "check_scores",
    "check_positive",
    "check_seed",
    "CandidateFeatures",
    "USER_FEATURE_MODES",
    "click_rewards",
    "SeededAgentMixin",
]


def slate_shape(action_space: spaces.Space) -> tuple[int, int]:
    """Returns ``(num_candidates, slate_size)`` of a single-user slate space.

    Accepts a :class:`~recframe.spaces.SlateSpace` or any 1-D ``MultiDiscrete`` whose entries all
    index the same candidate set, starting at 0.
    """
    if not isinstance(action_space, spaces.MultiDiscrete) or len(action_space.nvec.shape) != 1:
        raise TypeError(
            f"expected a single-user slate action space (SlateSpace or 1-D MultiDiscrete), got {action_space!r}"
        )
    nvec, start = action_space.nvec, action_space.start
    if nvec.size == 0 or np.any(nvec != nvec[0]) or np.any(start != 0):
        raise TypeError(
            f"a slate space indexes one candidate set from 0: all nvec equal and start 0, got nvec={nvec.tolist()}, "
            f"start={start.tolist()}"
        )
    num_candidates, slate_size = int(nvec[0]), int(nvec.size)
    if slate_size > num_candidates:
        raise ValueError(
            f"slate_size {slate_size} is larger than num_candidates {num_candidates}: a slate holds distinct candidates"
        )
    return num_candidates, slate_size


def top_k_slate(scores: np.ndarray, k: int) -> np.ndarray:
    """The indices of the ``k`` highest scores, best first; equal scores keep index order."""
    return np.argsort(-scores, kind="stable")[:k].astype(np.int64)


def check_scores(scores: Any, num_candidates: int, source: str) -> np.ndarray:
    """Returns ``scores`` as a float64 vector of ``num_candidates`` finite values, else raises ValueError."""
    array = np.asarray(scores, dtype=np.float64)
    if array.shape != (num_candidates,):
        raise ValueError(
            f"{source} must return one score per candidate, shape ({num_candidates},), got shape {array.shape}"
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{source} returned non-finite scores (NaN or inf): {array}")
    return array


def check_positive(name: str, value: Any) -> float:
    """Returns ``value`` as a float if it is a finite real number > 0, else raises."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a real number > 0, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def check_seed(seed: Any) -> int:
    """Returns ``seed`` if it is a non-negative int, else raises (baselines always run seeded)."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"seed must be a non-negative int, got {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed}")
    return int(seed)


#: How :class:`CandidateFeatures` uses the user observation.
USER_FEATURE_MODES = ("ignore", "concat", "outer")


class CandidateFeatures:
    """Maps an observation ``Dict(user, doc, response)`` to one feature row per candidate.

    Each leaf of the stacked document observation is flattened with ``gymnasium.spaces.flatten``
    (Box leaves as their values, Discrete leaves one-hot) and split by candidate, which is the
    per-candidate ``flatten`` done once for all candidates. The rows are then, by ``user_features``:

    * ``"ignore"``: the document features ``x``;
    * ``"concat"``: ``[x, u]`` with ``u`` the flattened user observation;
    * ``"outer"``: ``vec(u x^T)``, for rewards bilinear in user and document.

    With ``bias`` a constant 1 is appended (after the outer product, so ``"outer"`` keeps a
    document-only intercept only if ``u`` has a constant entry).

    Args:
        observation_space: the environment's ``Dict(user=..., doc=..., response=...)`` space.
        num_candidates: the candidate axis length of every ``doc`` leaf.
        user_features: one of :data:`USER_FEATURE_MODES`.
        bias: append a constant feature.
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        num_candidates: int,
        user_features: str = "ignore",
        bias: bool = True,
    ) -> None:
        if not isinstance(observation_space, spaces.Dict) or not {"user", "doc"} <= set(
            observation_space.spaces
        ):
            raise TypeError(
                f"expected the adapter's observation space Dict(user=..., doc=..., response=...), got {observation_space!r}"
            )
        if user_features not in USER_FEATURE_MODES:
            raise ValueError(f"user_features must be one of {USER_FEATURE_MODES}, got {user_features!r}")
        self.num_candidates = int(num_candidates)
        self.user_features = user_features
        self.bias = bool(bias)
        self._user_space = observation_space["user"]
        self._doc_structure = space_structure(observation_space["doc"])
        self._doc_leaves: list[spaces.Space] = tree.flatten(self._doc_structure)
        for leaf in self._doc_leaves:
            if not leaf.shape or leaf.shape[0] != self.num_candidates:
                raise ValueError(
                    f"every doc leaf must be stacked by candidate (leading axis {self.num_candidates}), got {leaf!r}"
                )
        self.doc_dim = sum(spaces.flatdim(leaf) for leaf in self._doc_leaves) // self.num_candidates
        self.user_dim = spaces.flatdim(self._user_space)
        if user_features == "ignore":
            dim = self.doc_dim
        elif user_features == "concat":
            dim = self.doc_dim + self.user_dim
        else:
            dim = self.doc_dim * self.user_dim
        self.dim = dim + int(self.bias)

    def documents(self, doc_observation: Any) -> np.ndarray:
        """The ``(num_candidates, doc_dim)`` document features."""
        n = self.num_candidates
        values = tree.flatten_up_to(self._doc_structure, doc_observation)
        columns = [
            spaces.flatten(leaf, value).reshape(n, -1) for leaf, value in zip(self._doc_leaves, values)
        ]
        return np.concatenate(columns, axis=1, dtype=np.float64)

    def user(self, user_observation: Any) -> np.ndarray:
        """The flattened user observation (``user_dim``,)."""
        return np.asarray(spaces.flatten(self._user_space, user_observation), dtype=np.float64)

    def __call__(self, observation: Any) -> np.ndarray:
        """The ``(num_candidates, dim)`` feature matrix of the observation's candidates."""
        docs = self.documents(observation["doc"])
        if self.user_features == "concat":
            user = self.user(observation["user"])
            docs = np.concatenate([docs, np.broadcast_to(user, (self.num_candidates, self.user_dim))], axis=1)
        elif self.user_features == "outer":
            user = self.user(observation["user"])
            docs = (user[None, :, None] * docs[:, None, :]).reshape(self.num_candidates, -1)
        if self.bias:
            docs = np.concatenate([docs, np.ones((self.num_candidates, 1))], axis=1)
        return docs


def click_rewards(observation: Any, slate: np.ndarray) -> np.ndarray:
    """Per-slate-item rewards from click responses: 1.0 for a clicked item, else 0.0.

    Reads ``observation["response"]["click"]`` when the response is a Dict with a ``"click"`` entry,
    else the response itself (an int or 0/1 array stacked by slate position, e.g. accept/reject).
    """
    response = observation["response"]
    if isinstance(response, dict):
        if "click" not in response:
            raise ValueError(
                f"click_rewards needs a 'click' entry in the response, got keys {sorted(response)}; "
                f"pass item_rewards=... for other responses"
            )
        response = response["click"]
    rewards = np.asarray(response, dtype=np.float64).reshape(-1)
    if rewards.shape != (len(slate),):
        raise ValueError(
            f"click_rewards expected one response per slate item ({len(slate)}), got shape {rewards.shape}"
        )
    return rewards


class SeededAgentMixin:
    """An agent's own ``numpy.random.Generator`` (``self._rng``), saved by ``bundle_and_checkpoint``.

    Mix in before the agent base class and call :meth:`_init_rng` in ``__init__``.
    """

    _rng: np.random.Generator

    def _init_rng(self, seed: Any) -> None:
        self._rng = np.random.default_rng(check_seed(seed))

    def bundle_and_checkpoint(self, checkpoint_dir: str, iteration_number: int) -> dict[str, Any] | None:
        bundle = super().bundle_and_checkpoint(checkpoint_dir, iteration_number)  # type: ignore[misc]
        return {**bundle, "rng": self._rng.bit_generator.state}

    def unbundle(self, checkpoint_dir: str, iteration_number: int, bundle_dict: dict[str, Any]) -> bool:
        if not super().unbundle(checkpoint_dir, iteration_number, bundle_dict) or "rng" not in bundle_dict:  # type: ignore[misc]
            return False
        self._rng.bit_generator.state = bundle_dict["rng"]
        return True
