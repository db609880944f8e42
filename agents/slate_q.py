"""SlateQ (Ie et al. 2019, "SlateQ: A Tractable Decomposition for Reinforcement Learning with
Recommendation Sets"): slate values from item-wise Q-values and the user's choice model.

The user picks at most one item ``i`` of slate ``A`` (or nothing, the null item ``0``) with the
choice model's probability ``P(i | s, A) = v(s, i) / (sum_{j in A} v(s, j) + v(s, 0))``, and the
step's reward comes from that choice. Then the slate's value decomposes into item values:

    Q(s, A) = sum_{i in A + {0}} P(i | s, A) Q(s, i),

so only the item-wise ``Q(s, i)`` is learned: a small MLP of the user observation and the item's
document features (the null item is a zero document with a flag), trained on the consumed item
only, towards the SARSA or Q-learning target ``r + gamma Q(s', A')``. ``A'`` is the next slate
actually played (SARSA) or the best next slate under the target network (Q-learning).

The scores ``v`` are the choice model's: by default, as in RecSim's SlateQ baseline, the user's
affinity is the dot product of the observed user and document features, turned into ``v`` by the
multinomial proportional model (``v = score - min_normalizer``; null ``no_click_mass -
min_normalizer``), which is interest_evolution's choice model, or the conditional logit
(``v = exp(score)``; null ``exp(no_click_mass)``). Any ``choice_scores(observation)`` may replace
the affinity.

Slates are optimized, as in the paper, by *top-k* (rank items by ``v(s, i) Q(s, i)``) or *greedy*
(add the item that most increases ``Q(s, A)`` until the slate is full), both batched in torch. The
agent explores with a uniformly random slate with probability ``epsilon`` and during the first
``learning_starts`` steps. Every random number comes from generators seeded from ``seed``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from recframe.agent import AbstractEpisodicRecommenderAgent
from recframe.agents._baselines import (
    CandidateFeatures,
    SeededAgentMixin,
    check_positive,
    click_rewards,
    slate_shape,
)
from recframe.agents.common.networks import Critic
from recframe.agents.common.seeding import torch_generator

__all__ = ["SlateQAgent", "slate_values", "top_k_slates", "greedy_slates"]

CHOICE_MODELS = ("proportional", "logit")
SLATE_OPTIMIZERS = ("top_k", "greedy")
TD_TARGETS = ("sarsa", "q_learning")


def slate_values(slates: torch.Tensor, v: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """``Q(s, A)`` for a batch: ``slates`` ``(B, k)`` indices; ``v``, ``q`` ``(B, n + 1)``, null last."""
    v_slate, q_slate = v.gather(1, slates), q.gather(1, slates)
    numerator = (v_slate * q_slate).sum(1) + v[:, -1] * q[:, -1]
    return numerator / (v_slate.sum(1) + v[:, -1])


def top_k_slates(v: torch.Tensor, q: torch.Tensor, k: int) -> torch.Tensor:
    """The paper's top-k method: the ``k`` items of largest ``v(s, i) Q(s, i)``, ``(B, k)``."""
    return torch.topk(v[:, :-1] * q[:, :-1], k, dim=1).indices


def greedy_slates(v: torch.Tensor, q: torch.Tensor, k: int) -> torch.Tensor:
    """The paper's greedy method: ``k`` times, add the item that maximizes ``Q(s, A)``, ``(B, k)``."""
    batch, n = v.shape[0], v.shape[1] - 1
    numerator, denominator = v[:, -1] * q[:, -1], v[:, -1].clone()
    taken = torch.zeros(batch, n, dtype=torch.bool)
    chosen = []
    for _ in range(k):
        values = (numerator[:, None] + v[:, :-1] * q[:, :-1]) / (denominator[:, None] + v[:, :-1])
        best = values.masked_fill(taken, -torch.inf).argmax(1)
        chosen.append(best)
        taken[torch.arange(batch), best] = True
        numerator = numerator + (v[:, :-1] * q[:, :-1]).gather(1, best[:, None])[:, 0]
        denominator = denominator + v[:, :-1].gather(1, best[:, None])[:, 0]
    return torch.stack(chosen, 1)


class _Replay:
    """Preallocated transitions ``(s, consumed item, r, s', next slate, terminal)`` in numpy arrays.

    ``s`` is kept only as the consumed item's network input; ``s'`` as every next candidate's
    input and choice score (null last), which the target needs.
    """

    def __init__(self, capacity: int, num_items: int, user_dim: int, item_dim: int, slate_size: int) -> None:
        self.capacity, self.size, self._next = capacity, 0, 0
        self.arrays = {
            "user": np.zeros((capacity, user_dim), np.float32),
            "item": np.zeros((capacity, item_dim), np.float32),
            "reward": np.zeros(capacity, np.float32),
            "next_user": np.zeros((capacity, user_dim), np.float32),
            "next_items": np.zeros((capacity, num_items, item_dim), np.float32),
            "next_v": np.ones((capacity, num_items), np.float32),
            "next_slate": np.zeros((capacity, slate_size), np.int64),
            "terminal": np.zeros(capacity, np.float32),
        }

    def add(self, **transition: Any) -> None:
        for key, value in transition.items():
            self.arrays[key][self._next] = value
        self._next = (self._next + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, rng: np.random.Generator, batch_size: int) -> dict[str, torch.Tensor]:
        index = rng.integers(0, self.size, batch_size)
        return {key: torch.from_numpy(array[index]) for key, array in self.arrays.items()}

    def state(self) -> dict[str, Any]:
        return {"size": self.size, "next": self._next, **{k: a.copy() for k, a in self.arrays.items()}}

    def load(self, state: dict[str, Any]) -> None:
        self.size, self._next = int(state["size"]), int(state["next"])
        for key in self.arrays:
            self.arrays[key][...] = state[key]


class SlateQAgent(SeededAgentMixin, AbstractEpisodicRecommenderAgent):
    """SlateQ: item-wise Q-learning (or SARSA) with choice-model slate values.

    Args:
        observation_space: the environment's ``Dict(user, doc, response)`` observation space.
        action_space: the environment's slate space.
        gamma: discount of the TD target, in ``[0, 1)``.
        td_target: ``"sarsa"`` (the next slate played) or ``"q_learning"`` (the best next slate).
        slate_optimizer: ``"top_k"`` or ``"greedy"``.
        choice_model: ``"proportional"`` or ``"logit"``, over ``choice_scores``.
        no_click_mass: the null item's score.
        min_normalizer: subtracted from every score by the proportional model.
        choice_scores: ``observation -> (num_candidates,)`` user affinities; default the dot product
            of the flattened user observation and each candidate's flattened features.
        hidden_dims: hidden layer widths of the Q-network.
        learning_rate: Adam learning rate.
        batch_size: transitions per gradient step.
        buffer_size: replay capacity.
        learning_starts: steps of uniformly random slates before training starts.
        train_every: environment steps per gradient step.
        target_update_period: gradient steps between copies of the online network to the target.
        epsilon: probability of a uniformly random slate while training.
        click_fn: ``(observation, previous slate) -> per-item click indicators``; the step's reward
            is credited to the clicked item (default: the response's ``"click"`` entry).
        seed: seeds the network initialization, the exploration and the replay sampling.
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        *,
        gamma: float = 0.9,
        td_target: str = "sarsa",
        slate_optimizer: str = "greedy",
        choice_model: str = "proportional",
        no_click_mass: float = 1.0,
        min_normalizer: float = -1.0,
        choice_scores: Callable[[Any], np.ndarray] | None = None,
        hidden_dims: tuple[int, ...] = (64,),
        learning_rate: float = 1e-3,
        batch_size: int = 32,
        buffer_size: int = 10_000,
        learning_starts: int = 200,
        train_every: int = 1,
        target_update_period: int = 100,
        epsilon: float = 0.05,
        click_fn: Callable[[Any, np.ndarray], np.ndarray] = click_rewards,
        seed: int = 0,
    ) -> None:
        super().__init__(action_space)
        self._init_rng(seed)
        self._num_candidates, self._slate_size = slate_shape(action_space)
        for name, value, allowed in (
            ("td_target", td_target, TD_TARGETS),
            ("slate_optimizer", slate_optimizer, SLATE_OPTIMIZERS),
            ("choice_model", choice_model, CHOICE_MODELS),
        ):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        if not 0.0 <= gamma < 1.0:
            raise ValueError(f"gamma must be in [0, 1), got {gamma!r}")
        if not 0.0 <= epsilon <= 1.0:
            raise ValueError(f"epsilon must be in [0, 1], got {epsilon!r}")
        for name, value in (
            ("batch_size", batch_size),
            ("buffer_size", buffer_size),
            ("train_every", train_every),
            ("target_update_period", target_update_period),
        ):
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if isinstance(learning_starts, bool) or not isinstance(learning_starts, int) or learning_starts < 0:
            raise ValueError(f"learning_starts must be a non-negative integer, got {learning_starts!r}")
        if choice_model == "proportional" and not no_click_mass > min_normalizer:
            raise ValueError(
                f"the proportional model needs no_click_mass > min_normalizer (a positive null score), got "
                f"no_click_mass={no_click_mass!r}, min_normalizer={min_normalizer!r}"
            )
        self.gamma, self.td_target, self.epsilon = float(gamma), td_target, float(epsilon)
        self.choice_model, self.no_click_mass = choice_model, float(no_click_mass)
        self.min_normalizer = float(min_normalizer)
        self._optimize = top_k_slates if slate_optimizer == "top_k" else greedy_slates
        self.batch_size, self.learning_starts = int(batch_size), learning_starts
        self.train_every, self.target_update_period = int(train_every), int(target_update_period)
        self._click_fn = click_fn

        # Network input per item: [document features, null flag]; the user observation is the state.
        self.features = CandidateFeatures(observation_space, self._num_candidates, bias=False)
        doc_dim, user_dim = self.features.doc_dim, self.features.user_dim
        if choice_scores is None and doc_dim != user_dim:
            raise ValueError(
                f"the default choice scores are user . document, but the user observation flattens to {user_dim} "
                f"values and a document to {doc_dim}; pass choice_scores=..."
            )
        self._choice_scores = choice_scores
        self.q_network = Critic(user_dim, doc_dim + 1, tuple(hidden_dims), torch_generator(int(seed)))
        self.target_network = copy.deepcopy(self.q_network).requires_grad_(False)
        self.optimizer = torch.optim.Adam(
            self.q_network.parameters(), lr=check_positive("learning_rate", learning_rate)
        )
        self._replay = _Replay(buffer_size, self._num_candidates + 1, user_dim, doc_dim + 1, self._slate_size)
        self._null_item = np.concatenate([np.zeros(doc_dim, np.float32), [1.0]]).astype(np.float32)
        self.eval_mode = False
        self.training_steps = 0
        self.gradient_steps = 0
        self._last: dict[str, Any] | None = None  # the previous step's state, slate and choice scores

    # -- the choice model -------------------------------------------------------------------
    def _choice_v(self, observation: Any, docs: np.ndarray, user: np.ndarray) -> np.ndarray:
        """``v(s, i)`` for every candidate, then the null item, ``(n + 1,)``."""
        if self._choice_scores is None:
            scores = docs @ user
        else:
            scores = np.asarray(self._choice_scores(observation), dtype=np.float64)
            if scores.shape != (self._num_candidates,) or not np.all(np.isfinite(scores)):
                raise ValueError(
                    f"choice_scores must return {self._num_candidates} finite scores, got {scores!r}"
                )
        all_scores = np.append(scores, self.no_click_mass)
        if self.choice_model == "logit":
            return np.exp(all_scores - all_scores.max())
        v = all_scores - self.min_normalizer
        if np.any(v < 0):
            raise ValueError(
                f"proportional choice scores minus min_normalizer={self.min_normalizer} must be >= 0, got {v}"
            )
        return v

    def _state(self, observation: Any) -> dict[str, np.ndarray]:
        """The user vector, every item's network input (null last) and choice scores."""
        docs, user = self.features.documents(observation["doc"]), self.features.user(observation["user"])
        items = np.concatenate([docs, np.zeros((self._num_candidates, 1))], axis=1).astype(np.float32)
        return {
            "user": user.astype(np.float32),
            "items": np.vstack([items, self._null_item]),
            "v": self._choice_v(observation, docs, user).astype(np.float32),
        }

    # -- acting -------------------------------------------------------------------------------
    def q_values(self, observation: Any) -> np.ndarray:
        """The online network's ``Q(s, i)`` of every candidate, then the null item, ``(n + 1,)``."""
        state = self._state(observation)
        with torch.no_grad():
            return self._q(
                self.q_network, torch.from_numpy(state["user"])[None], torch.from_numpy(state["items"])[None]
            )[0].numpy()

    @staticmethod
    def _q(network: Critic, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """``Q`` of ``items`` ``(B, m, item_dim)`` for ``users`` ``(B, user_dim)``, ``(B, m)``."""
        return network(users[:, None, :], items)[..., 0]

    def _select_slate(self, state: dict[str, np.ndarray]) -> np.ndarray:
        exploring = not self.eval_mode and (
            self.training_steps < self.learning_starts or self._rng.random() < self.epsilon
        )
        if exploring:
            return self._rng.choice(self._num_candidates, size=self._slate_size, replace=False)
        with torch.no_grad():
            user, items = torch.from_numpy(state["user"])[None], torch.from_numpy(state["items"])[None]
            q = self._q(self.q_network, user, items)
            return self._optimize(torch.from_numpy(state["v"])[None], q, self._slate_size)[0].numpy()

    # -- learning ------------------------------------------------------------------------------
    def _store(
        self,
        observation: Any,
        reward: float,
        next_state: dict[str, np.ndarray] | None,
        next_slate: np.ndarray | None,
    ) -> None:
        """Stores the transition from the previous step; the consumed item is the clicked one or null."""
        last = self._last
        clicks = np.asarray(self._click_fn(observation, last["slate"]), dtype=np.float64).reshape(-1)
        if clicks.shape != (self._slate_size,):
            raise ValueError(f"click_fn must return {self._slate_size} click indicators, got {clicks!r}")
        clicked = np.flatnonzero(clicks)
        consumed = int(last["slate"][clicked[0]]) if len(clicked) else self._num_candidates
        transition = {
            "user": last["state"]["user"],
            "item": last["state"]["items"][consumed],
            "reward": reward,
        }
        if next_state is None:
            transition["terminal"] = 1.0
        else:
            transition.update(
                next_user=next_state["user"],
                next_items=next_state["items"],
                next_v=next_state["v"],
                next_slate=next_slate,
                terminal=0.0,
            )
        self._replay.add(**transition)

    def _train_step(self) -> None:
        batch = self._replay.sample(self._rng, self.batch_size)
        with torch.no_grad():
            next_q = self._q(self.target_network, batch["next_user"], batch["next_items"])
            if self.td_target == "sarsa":
                next_slates = batch["next_slate"]
            else:
                next_slates = self._optimize(batch["next_v"], next_q, self._slate_size)
            next_value = slate_values(next_slates, batch["next_v"], next_q)
            target = batch["reward"] + self.gamma * (1.0 - batch["terminal"]) * next_value
        q = self._q(self.q_network, batch["user"], batch["item"][:, None, :])[:, 0]
        loss = torch.nn.functional.smooth_l1_loss(q, target)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.gradient_steps += 1
        if self.gradient_steps % self.target_update_period == 0:
            self.target_network.load_state_dict(self.q_network.state_dict())

    def _learn(self) -> None:
        self.training_steps += 1
        ready = self.training_steps > self.learning_starts and self._replay.size >= self.batch_size
        if ready and self.training_steps % self.train_every == 0:
            self._train_step()

    # -- the RecSim-style episode --------------------------------------------------------------
    def begin_episode(self, observation: Any = None) -> np.ndarray:
        self._last = None
        return super().begin_episode(observation)

    def step(self, reward: float, observation: Any) -> np.ndarray:
        """Stores the last transition, trains, and returns the next slate."""
        state = self._state(observation)
        slate = self._select_slate(state)
        if self._last is not None and not self.eval_mode:
            self._store(observation, reward, state, slate)
            self._learn()
        self._last = {"state": state, "slate": slate}
        return slate

    def end_episode(self, reward: float, observation: Any = None) -> None:
        if self._last is not None and not self.eval_mode:
            self._store(observation, reward, None, None)
            self._learn()
        self._last = None

    # -- checkpoints ---------------------------------------------------------------------------
    def bundle_and_checkpoint(self, checkpoint_dir: str, iteration_number: int) -> dict[str, Any] | None:
        """Networks, optimizer, replay buffer, counters and the generator: resuming continues exactly."""
        bundle = super().bundle_and_checkpoint(checkpoint_dir, iteration_number)
        return {
            **bundle,
            "q_network": copy.deepcopy(self.q_network.state_dict()),
            "target_network": copy.deepcopy(self.target_network.state_dict()),
            "optimizer": copy.deepcopy(self.optimizer.state_dict()),
            "replay": self._replay.state(),
            "training_steps": self.training_steps,
            "gradient_steps": self.gradient_steps,
        }

    def unbundle(self, checkpoint_dir: str, iteration_number: int, bundle_dict: dict[str, Any]) -> bool:
        keys = ("q_network", "target_network", "optimizer", "replay", "training_steps", "gradient_steps")
        if not all(key in (bundle_dict or {}) for key in keys):
            return False
        if not super().unbundle(checkpoint_dir, iteration_number, bundle_dict):
            return False
        self.q_network.load_state_dict(bundle_dict["q_network"])
        self.target_network.load_state_dict(bundle_dict["target_network"])
        self.optimizer.load_state_dict(bundle_dict["optimizer"])
        self._replay.load(bundle_dict["replay"])
        self.training_steps = int(bundle_dict["training_steps"])
        self.gradient_steps = int(bundle_dict["gradient_steps"])
        self._last = None
        return True
