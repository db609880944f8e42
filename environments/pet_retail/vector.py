"""Many shoppers at once: a native ``gymnasium.vector.VectorEnv`` for the three pet-retail environments.

``PetRetailVectorEnv(num_envs, variant)`` steps ``num_envs`` independent shopper visits with one
batched engine (:class:`~.sessions.ShopperSessions`): retrieval, cascade, reward and retention run
vectorized over the shoppers. ``variant`` is ``"slate"`` (PetRetail-v0), ``"catalog"``
(PetRetailCatalog-v0) or ``"boost"`` (PetRetailBoost-v0); spaces are the single environment's,
batched. ``gymnasium.make_vec("recframe/PetRetail-v0", num_envs=N)`` builds it.

Seeding and equivalence: ``reset(seed=s)`` seeds shopper i with ``s + i`` (a list seeds each one),
as Gymnasium's synchronous vector env seeds its copies. Every shopper has its own streams and the
engine's work is per shopper, so env i's trajectory is bit for bit that of the single environment
reset with seed ``s + i`` and given the same actions (and reset without a seed after each visit).

Autoreset follows Gymnasium 1.x's default (``AutoresetMode.NEXT_STEP``): the step after a visit
ends starts a new one, ignoring that env's action and returning its first observation with reward
0 and ``terminated = truncated = False``. ``info`` holds the reward components as (num_envs,)
arrays (0 for envs that were reset) and ``product_ids`` (num_envs, k) (-1 for envs that were reset).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv

from recframe.environments.pet_retail.boost import (
    BoostRanker,
    action_bound,
    boost_spaces,
    check_boost_weights,
)
from recframe.environments.pet_retail.config import SimulatorConfig
from recframe.environments.pet_retail.envs import positive_int, resolve_config
from recframe.environments.pet_retail.features import (
    BIG,
    RESPONSE_FIELDS,
    product_feature_names,
    product_features,
    response_space,
    shopper_space,
)
from recframe.environments.pet_retail.reward import COMPONENTS
from recframe.environments.pet_retail.sessions import Outcome, ShopperSessions, load_catalog
from recframe.simulator.sharded import ShardedVectorEnv, even_shard_sizes
from recframe.spaces import SlateSpace, batch_space, null_value

__all__ = [
    "VARIANTS",
    "PetRetailVectorEnv",
    "SlateBatchSpace",
    "create_boost_vector_environment",
    "create_catalog_vector_environment",
    "create_vector_environment",
]

VARIANTS = ("slate", "catalog", "boost")


def check_slates(slates: Any, num_candidates: int, slate_size: int, envs: np.ndarray) -> np.ndarray:
    """``slates`` (rows ``envs`` of a (num_envs, slate_size) integer array) validated; errors name env and value."""
    array = np.asarray(slates)
    if array.dtype.kind not in "iu":
        raise TypeError(f"slates must hold integer indices, got dtype {array.dtype}")
    if array.ndim != 2 or array.shape[1] != slate_size:
        raise ValueError(f"slates must have shape (num_envs, {slate_size}), got shape {array.shape}")
    rows = array[envs].astype(np.int64)
    bad = (rows < 0) | (rows >= num_candidates)
    if bad.any():
        env, pos = np.argwhere(bad)[0]
        raise ValueError(
            f"slate index {rows[env, pos]} of env {envs[env]} is out of range: candidate indices run from 0 to "
            f"{num_candidates - 1} (slate {rows[env].tolist()})"
        )
    ordered = np.sort(rows, axis=1)
    repeated = (ordered[:, 1:] == ordered[:, :-1]).any(axis=1)
    if repeated.any():
        env = int(np.flatnonzero(repeated)[0])
        raise ValueError(f"the slate of env {envs[env]} repeats a candidate: {rows[env].tolist()}")
    return rows


class SlateBatchSpace(spaces.MultiDiscrete):
    """``num_envs`` slates of distinct indices: samples and contains respect distinctness per row."""

    def __init__(self, num_envs: int, num_candidates: int, slate_size: int) -> None:
        super().__init__(np.full((num_envs, slate_size), num_candidates), dtype=np.int64)
        self.num_candidates = num_candidates

    def sample(self, mask: Any = None, probability: Any = None) -> np.ndarray:
        """One uniformly drawn slate of distinct indices per env."""
        if mask is not None or probability is not None:
            raise ValueError("SlateBatchSpace.sample takes no mask or probability")
        rows, size = self.shape
        return np.stack(
            [self.np_random.choice(self.num_candidates, size=size, replace=False) for _ in range(rows)]
        )

    def contains(self, x: Any) -> bool:
        if not super().contains(x):
            return False
        ordered = np.sort(np.asarray(x), axis=1)
        return not (ordered[:, 1:] == ordered[:, :-1]).any()


class PetRetailVectorEnv(VectorEnv):
    """``num_envs`` pet-retail shoppers stepped together (see the module docstring).

    Args:
        num_envs: the number of shoppers (environments).
        variant: ``"slate"``, ``"catalog"`` or ``"boost"``.
        config: a SimulatorConfig, its dict form, or None for the defaults.
        num_candidates: candidates per step (``"slate"`` only).
        slate_size: products per slate (``"slate"`` and ``"catalog"``).
        seed: shopper i's streams start from ``seed + i`` until ``reset(seed=...)``.
        render_mode: must be None (no rendering).
        normalize_action: ``"boost"`` only: actions in [-1, 1] scaled by ``a_max`` (see :mod:`.boost`).
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}

    def __init__(
        self,
        num_envs: int,
        variant: str = "slate",
        config: SimulatorConfig | dict | None = None,
        num_candidates: int = 50,
        slate_size: int = 10,
        seed: int = 0,
        render_mode: str | None = None,
        normalize_action: bool = True,
    ) -> None:
        if render_mode is not None:
            raise ValueError(
                f"PetRetailVectorEnv does not render; render_mode must be None, got {render_mode!r}"
            )
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        self.num_envs = positive_int("num_envs", num_envs)
        self.variant = variant
        self.config = resolve_config(config)
        catalog = load_catalog(self.config)
        self.sessions = ShopperSessions(self.config, catalog, self.num_envs)
        for i in range(self.num_envs):
            self.sessions.reseed(i, seed + i)
        self._all = np.arange(self.num_envs)
        self._features = product_features(catalog)
        if variant == "boost":
            self.ranker = BoostRanker(catalog, self.config)
            self.single_observation_space, self.single_action_space = boost_spaces(
                self.config, normalize_action
            )
            self._bound = action_bound(self.config, normalize_action)
            self.k = self.config.top_k
        else:
            self.k = positive_int("slate_size", slate_size)
            self.num_candidates = (
                len(catalog) if variant == "catalog" else positive_int("num_candidates", num_candidates)
            )
            if not self.k <= self.num_candidates <= len(catalog):
                raise ValueError(
                    f"need slate_size <= num_candidates <= catalog size, got slate_size={self.k}, "
                    f"num_candidates={self.num_candidates}, catalog size={len(catalog)}"
                )
            self.single_action_space = SlateSpace(self.num_candidates, self.k)
            items = {"user": shopper_space(self.config)}
            if variant == "slate":
                n_features = self._features.shape[1] + 1
                items["doc"] = spaces.Box(-BIG, BIG, (self.num_candidates, n_features), np.float32)
                self.candidates = np.zeros((self.num_envs, self.num_candidates), dtype=np.int64)
                self.relevance = np.zeros((self.num_envs, self.num_candidates), dtype=np.float32)
                # A product's doc row with a free last column: the observation is one gather of the
                # candidates' rows, then their relevance written into that column.
                self._doc_rows = np.zeros((len(catalog), n_features), dtype=np.float32)
                self._doc_rows[:, :-1] = self._features
            else:
                self.catalog_features = self._features
            items["response"] = batch_space(response_space(), self.k)
            self.single_observation_space = spaces.Dict(items)
        self.doc_feature_names = product_feature_names(self.config, relevance=variant == "slate")
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = (
            batch_space(self.single_action_space, self.num_envs)
            if variant == "boost"
            else SlateBatchSpace(self.num_envs, self.num_candidates, self.k)
        )
        null = null_value(batch_space(response_space(), self.k))
        self._responses = {
            name: np.repeat(null[name][None], self.num_envs, axis=0) for name in RESPONSE_FIELDS
        }
        self._null_responses = {name: value.copy() for name, value in self._responses.items()}
        self._needs_reset = np.ones(self.num_envs, dtype=bool)

    def _retrieve(self, idx: np.ndarray) -> None:
        if self.variant != "slate" or idx.size == 0:
            return
        self.candidates[idx], self.relevance[idx] = self.sessions.top_products(idx, self.num_candidates)

    def _start(self, idx: np.ndarray) -> None:
        """New shoppers arrive in envs ``idx`` (their first queries are left to :meth:`_search`)."""
        self.sessions.start(idx, draw_queries=False)
        for name in RESPONSE_FIELDS:
            self._responses[name][idx] = self._null_responses[name][idx]

    def _search(self, idx: np.ndarray) -> None:
        """The shoppers of envs ``idx`` type their next query (new arrivals their first), retrieved for
        in one batch: each shopper draws from its own streams, so one batch only saves calls."""
        if idx.size:
            self.sessions.next_queries(idx)
            self._retrieve(idx)

    def _observation(self) -> dict[str, Any]:
        observation = {"user": self.sessions.observe(self._all)}
        if self.variant == "slate":
            observation["doc"] = doc = self._doc_rows.take(self.candidates, axis=0)
            doc[:, :, -1] = self.relevance
        observation["response"] = {name: value.copy() for name, value in self._responses.items()}
        return observation

    def reset(
        self, *, seed: int | Sequence[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Starts a visit in every env; ``seed`` (int: env i gets ``seed + i``; or one per env) re-seeds."""
        if options:
            raise ValueError(f"PetRetailVectorEnv.reset takes no options, got {options!r}")
        if seed is not None:
            seeds = (
                [seed + i for i in range(self.num_envs)] if isinstance(seed, int | np.integer) else list(seed)
            )
            if len(seeds) != self.num_envs:
                raise ValueError(f"need one seed per env ({self.num_envs}), got {len(seeds)}: {seed!r}")
            for i, s in enumerate(seeds):
                self.sessions.reseed(i, s)
        self._start(self._all)
        self._search(self._all)
        self._needs_reset[:] = False
        return self._observation(), {}

    def _shown(self, actions: Any, idx: np.ndarray) -> np.ndarray:
        """The (len(idx), k) products shown to shoppers ``idx`` (only their actions are validated)."""
        if self.variant == "boost":
            array = np.asarray(actions)
            if array.shape != self.action_space.shape:
                raise ValueError(
                    f"boost weights must have shape {self.action_space.shape}, got {array.shape}"
                )
            if array.dtype.kind not in "iuf":
                raise TypeError(f"boost weights must be numbers, got dtype {array.dtype}")
            used = np.zeros(array.shape, dtype=np.float64)
            used[idx] = array[idx]  # rows of envs being reset are ignored; error indices stay env indices
            weights = check_boost_weights(used, self._bound) * (self.config.action.a_max / self._bound)
            return self.ranker.rank(self.sessions, idx, weights[idx])
        slates = check_slates(actions, self.num_candidates, self.k, idx)
        return slates if self.variant == "catalog" else self.candidates[idx[:, None], slates]

    def step(self, actions: Any) -> tuple[dict[str, Any], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Steps every env (envs whose visit ended last step are reset instead; see the module docstring)."""
        resetting = np.flatnonzero(self._needs_reset)
        idx = np.flatnonzero(~self._needs_reset)
        rewards = np.zeros(self.num_envs)
        terminated = np.zeros(self.num_envs, dtype=bool)
        info: dict[str, Any] = {name: np.zeros(self.num_envs) for name in COMPONENTS}
        info["product_ids"] = np.full((self.num_envs, self.k), -1, dtype=np.int64)
        if idx.size:
            shown = self._shown(actions, idx)
            outcome = self.sessions.respond(idx, shown, draw_queries=False)
            self._record(idx, outcome)
            rewards[idx] = outcome.components["reward"]
            for name in COMPONENTS:
                info[name][idx] = outcome.components[name]
            info["product_ids"][idx] = shown
            terminated[idx] = ~outcome.continues
        if resetting.size:
            self._start(resetting)
        self._search(np.flatnonzero(~terminated))  # the shoppers who stay and those who arrived
        self._needs_reset = terminated.copy()
        return self._observation(), rewards, terminated, np.zeros(self.num_envs, dtype=bool), info

    def _record(self, idx: np.ndarray, outcome: Outcome) -> None:
        values = outcome.responses()
        for name in RESPONSE_FIELDS:
            self._responses[name][idx] = values[name]


def _batch_space(space: spaces.Space, num_envs: int) -> spaces.Space:
    """The batched space of ``num_envs`` envs, as :class:`PetRetailVectorEnv` builds it (slates distinct per row)."""
    if isinstance(space, SlateSpace):
        return SlateBatchSpace(num_envs, space.num_candidates, space.slate_size)
    return batch_space(space, num_envs)


def _create(
    variant: str, num_envs: int, num_workers: int = 1, start_method: str | None = None, **kwargs: Any
) -> VectorEnv:
    """:class:`PetRetailVectorEnv`, or with ``num_workers`` > 1 one of them per worker process, as one env.

    The sharded env is bit for bit the single-process one: the shard starting at env ``start`` is
    built with ``seed + start`` (see :mod:`recframe.simulator.sharded`).
    """
    sizes = even_shard_sizes(num_envs, num_workers)
    if num_workers == 1:
        return PetRetailVectorEnv(num_envs, variant, **kwargs)
    seed = kwargs.pop("seed", 0)
    starts = np.cumsum([0, *sizes[:-1]]).tolist()
    return ShardedVectorEnv(
        partial(PetRetailVectorEnv, variant=variant, **kwargs),
        sizes,
        shard_kwargs=[{"seed": seed + start} for start in starts],
        batch_space=_batch_space,
        start_method=start_method,
    )


def create_vector_environment(num_envs: int = 1, **kwargs: Any) -> VectorEnv:
    """``make_vec`` entry point of ``recframe/PetRetail-v0`` (keywords as :class:`PetRetailVectorEnv`).

    ``num_workers`` > 1 spreads the envs over that many processes (``start_method`` picks how
    they start); the results are the same as in one process.
    """
    return _create("slate", num_envs, **kwargs)


def create_catalog_vector_environment(num_envs: int = 1, **kwargs: Any) -> VectorEnv:
    """``make_vec`` entry point of ``recframe/PetRetailCatalog-v0`` (``num_workers`` as above)."""
    return _create("catalog", num_envs, **kwargs)


def create_boost_vector_environment(num_envs: int = 1, **kwargs: Any) -> VectorEnv:
    """``make_vec`` entry point of ``recframe/PetRetailBoost-v0`` (``num_workers`` as above)."""
    return _create("boost", num_envs, **kwargs)
