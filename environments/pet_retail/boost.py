"""``recframe/PetRetailBoost-v0``: the agent sets boost weights, the engine ranks the whole catalog.

The textbook's Gymnasium environment (``zoosim.envs.gym_env``): the action is a weight vector
``w`` in [-a_max, a_max]^10 over ten product features, each standardized over the catalog for the
current shopper and query:

    cm2, discount, is_pl, theta_emb . embedding, bestseller, price, cm2 if strategic (litter) else 0,
    discount * theta_price, is_pl * theta_pl, specificity * bestseller

and every product scores ``relevance + features @ w``; the top ``top_k`` (20) are shown to the
cascade. Standardizing a column scaled by a shopper constant only flips its sign (z(a x) =
sign(a) z(x)), and the personalization column's mean and spread follow from the catalog's
embedding mean and covariance, so the ten standardized columns are combined from six static
columns and the raw embeddings with per-shopper weights: one matrix-vector product per step
instead of a 10,000 x 10 feature matrix. The scores differ from the textbook's by a per-query
constant, which leaves the ranking unchanged.

Action scale: by default the action is normalized, ``a`` in [-1, 1]^10 with weights ``w = a_max *
a`` (the textbook's weights in [-5, 5]^10, in the range Gymnasium's ``check_env`` asks of Box actions);
``normalize_action=False`` takes the weights themselves, Box(-a_max, a_max, (10,)) as in the textbook.
Actions that are not finite or lie outside the action space raise ValueError naming them (the
textbook clipped them silently; wrap the environment in ``gymnasium.wrappers.ClipAction`` to clip).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from recframe.environments.pet_retail.catalog import Catalog
from recframe.environments.pet_retail.config import SimulatorConfig
from recframe.environments.pet_retail.envs import merge_options, resolve_config
from recframe.environments.pet_retail.features import response_space, shopper_space
from recframe.environments.pet_retail.retrieval import CategoryIndex
from recframe.environments.pet_retail.reward import COMPONENTS
from recframe.environments.pet_retail.sessions import Outcome, ShopperSessions, load_catalog
from recframe.environments.pet_retail.shopper import stacked_responses
from recframe.spaces import batch_space, compile_contains, null_value

__all__ = [
    "BOOST_FEATURES",
    "BoostRanker",
    "PetRetailBoostEnv",
    "check_boost_weights",
    "create_boost_environment",
]

BOOST_FEATURES = (
    "cm2",
    "discount",
    "is_pl",
    "personalization",
    "bestseller",
    "price",
    "cm2_strategic",
    "discount_x_price_sensitivity",
    "pl_x_pl_affinity",
    "specificity_x_bestseller",
)
"""The ten boost features, in the order of the action's weights."""


def _standardize(x: np.ndarray) -> np.ndarray:
    """Z-scores over the catalog (population std; a constant column becomes 0, as in the textbook)."""
    std = x.std()
    return (x - x.mean()) / (std if std > 0 else 1.0)


def check_boost_weights(action: Any, a_max: float, n_features: int = len(BOOST_FEATURES)) -> np.ndarray:
    """``action`` as float64 weights of shape (..., n_features), or an error naming the bad entries.

    Raises:
        TypeError: non-numeric action.
        ValueError: wrong shape, non-finite weights, or weights outside [-a_max, a_max].
    """
    array = np.asarray(action)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"boost weights must be numbers, got dtype {array.dtype}: {action!r}")
    if array.ndim == 0 or array.shape[-1] != n_features:
        raise ValueError(
            f"boost weights must have shape (..., {n_features}), got shape {array.shape}: {action!r}"
        )
    weights = array.astype(np.float64)
    if (np.abs(weights) <= a_max).all():  # the usual case, one test: NaN and inf fail it (finite a_max)
        return weights
    bad = ~np.isfinite(weights)
    if bad.any():
        raise ValueError(
            f"boost weights must be finite, got {weights[bad].tolist()} at index(es) {np.argwhere(bad).tolist()}"
        )
    bad = np.abs(weights) > a_max
    if bad.any():
        raise ValueError(
            f"boost weights must lie in [-{a_max}, {a_max}], got {weights[bad].tolist()} at index(es) "
            f"{np.argwhere(bad).tolist()}; wrap the environment in gymnasium.wrappers.ClipAction to clip"
        )
    return weights


class BoostRanker:
    """Ranks the whole catalog by relevance + standardized boost features @ weights.

    Args:
        catalog: the catalog.
        config: the simulator config (``top_k`` products are shown).
    """

    def __init__(self, catalog: Catalog, config: SimulatorConfig) -> None:
        if config.top_k > len(catalog):
            raise ValueError(
                f"SimulatorConfig.top_k ({config.top_k}) must not exceed the catalog size ({len(catalog)})"
            )
        self.top_k = config.top_k
        strategic_cm2 = np.where(catalog.strategic, catalog.cm2, 0.0)
        columns = (
            catalog.cm2,
            catalog.discounts,
            catalog.is_pl,
            catalog.bestseller,
            catalog.prices,
            strategic_cm2,
        )
        embeddings = catalog.embeddings.astype(np.float64)
        matrix = np.concatenate(
            [np.stack([_standardize(c.astype(np.float64)) for c in columns], axis=1), embeddings], axis=1
        )
        # The relevance rows over the boost columns, in the retrieval's grouped order: one
        # (d',) @ (d', m) float32 product per shopper gives relevance + boosts for the catalog.
        index = CategoryIndex.of(catalog)
        self._matrix = np.concatenate([index.matrix, matrix[index.ids].T], axis=0, dtype=np.float32)
        centred = embeddings - embeddings.mean(axis=0)
        self._cov = centred.T @ centred / len(catalog)

    def weights(
        self, sessions: ShopperSessions, idx: np.ndarray, w: np.ndarray, out: np.ndarray | None = None
    ) -> np.ndarray:
        """(n, 6 + d) per-shopper weights of the static columns and the raw embeddings (into ``out``).

        Written column block by column block into one array: for the one-shopper environment the
        number of numpy calls, not their size, is the cost.
        """
        u, q = sessions.users, sessions.queries
        theta = u.theta_emb[idx].astype(np.float64)
        # Elementwise products and a per-row reduction: the same numbers whatever the batch.
        std = np.sqrt(np.sum(theta[:, :, None] * self._cov * theta[:, None, :], axis=(1, 2)))
        positive = std > 0
        pers = np.where(positive, w[:, 3] / np.where(positive, std, 1.0), 0.0)
        if out is None:
            out = np.empty((len(idx), 6 + theta.shape[1]))
        out[:, _PLAIN] = w[:, _PLAIN_WEIGHTS]
        signs = np.stack([u.theta_price[idx], u.theta_pl[idx], q.specificity[idx]], axis=1)
        out[:, _SIGNED] = w[:, _SIGNED_WEIGHTS] + np.sign(signs) * w[:, _SIGN_WEIGHTS]
        np.multiply(pers[:, None], theta, out=out[:, 6:])
        return out

    def rank(self, sessions: ShopperSessions, idx: np.ndarray, w: np.ndarray) -> np.ndarray:
        """(n, top_k) product ids, best first, for shoppers ``idx`` and weights ``w`` (n, 10)."""
        vectors = np.empty((len(idx), self._matrix.shape[0]), dtype=np.float32)
        relevance = sessions.query_vectors.shape[1]
        vectors[:, :relevance] = sessions.query_vectors[idx]
        vectors[:, relevance:] = self.weights(sessions, idx, w)
        return sessions.top_products(idx, self.top_k, (self._matrix, vectors))[0]


# The static columns are cm2, discount, is_pl, bestseller, price, cm2_strategic: three take their
# weight as is; discount, is_pl and bestseller also take the weight of their cross feature
# (discount * theta_price, is_pl * theta_pl, specificity * bestseller), which standardizes to
# the column times the sign of the shopper's (or query's) factor.
# (Index arrays rather than lists: a list index is converted to an array on every use.)
_PLAIN, _PLAIN_WEIGHTS = np.array([0, 4, 5]), np.array([0, 5, 6])
_SIGNED, _SIGNED_WEIGHTS, _SIGN_WEIGHTS = np.array([1, 2, 3]), np.array([1, 2, 4]), np.array([7, 8, 9])


DEFAULTS: dict[str, Any] = {"config": None, "seed": 0, "normalize_action": True, "check_observations": False}
"""``create_boost_environment``'s keys: ``config``, ``seed`` and ``check_observations`` as for PetRetail-v0,
``normalize_action`` (see the module docstring), plus ``render_mode``."""


def action_bound(config: SimulatorConfig, normalize_action: bool) -> float:
    """The action space's bound: 1 for normalized actions, else ``a_max``."""
    if not isinstance(normalize_action, bool):
        raise ValueError(f"normalize_action must be a bool, got {normalize_action!r}")
    return 1.0 if normalize_action else float(config.action.a_max)


def boost_spaces(config: SimulatorConfig, normalize_action: bool) -> tuple[spaces.Dict, spaces.Box]:
    """The observation and action spaces of the boost environment."""
    observation = spaces.Dict(
        user=shopper_space(config), response=batch_space(response_space(), config.top_k)
    )
    bound = action_bound(config, normalize_action)
    return observation, spaces.Box(-bound, bound, (len(BOOST_FEATURES),), np.float32)


class PetRetailBoostEnv(gym.Env[dict[str, Any], np.ndarray]):
    """One shopper visit per episode; each step one query ranked by the agent's boost weights.

    Observation ``Dict(user, response)``: the query and visit counts, and the responses to the
    ``top_k`` products shown last (by rank). ``info``: the reward components and ``product_ids``
    (the ranking shown).
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(
        self,
        config: SimulatorConfig | Mapping[str, Any] | None = None,
        seed: int = 0,
        render_mode: str | None = None,
        normalize_action: bool = True,
        check_observations: bool = False,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}"
            )
        self.config = resolve_config(config)
        if self.config.action.feature_dim != len(BOOST_FEATURES):
            raise ValueError(
                f"ActionConfig.feature_dim must be {len(BOOST_FEATURES)} for the boost features {BOOST_FEATURES}, "
                f"got {self.config.action.feature_dim}"
            )
        if not isinstance(check_observations, bool):
            raise ValueError(f"check_observations must be a bool, got {check_observations!r}")
        self.render_mode = render_mode
        self._check_observations = check_observations
        catalog = load_catalog(self.config)
        self.sessions = ShopperSessions(self.config, catalog, 1)
        self.sessions.reseed(0, seed)
        self.ranker = BoostRanker(catalog, self.config)
        self.observation_space, self.action_space = boost_spaces(self.config, normalize_action)
        self._bound = action_bound(self.config, normalize_action)
        self._contains = compile_contains(self.observation_space)
        self._null_response = null_value(self.observation_space["response"])
        self._idx = np.zeros(1, dtype=np.int64)  # the shopper, for the ranker
        self._slot = slice(0, 1)  # the shopper, for the engine (views rather than gathers)
        self._last: Outcome | None = None
        self._ended = True

    def _observation(self, response: dict[str, np.ndarray]) -> dict[str, Any]:
        user = self.sessions.observe_one(0)
        observation = {"user": user, "response": response}
        if self._check_observations and not self._contains(observation):
            raise ValueError(f"PetRetailBoostEnv built an observation outside its space: {observation!r}")
        return observation

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict]:
        """Starts a visit with a new shopper; ``seed`` re-seeds the shopper's streams."""
        if options:
            raise ValueError(f"PetRetailBoostEnv.reset takes no options, got {options!r}")
        super().reset(seed=seed)
        if seed is not None:
            self.sessions.reseed(0, seed)
        self.sessions.start(self._slot)
        self._last, self._ended = None, False
        return self._observation({k: v.copy() for k, v in self._null_response.items()}), {}

    def step(self, action: Any) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        """Ranks the catalog with the boost weights ``action`` and shows the top ``top_k`` to the shopper."""
        if self._ended:
            raise RuntimeError("the episode has ended (or never started): call reset() before step()")
        weights = check_boost_weights(action, self._bound)[None, :] * (self.config.action.a_max / self._bound)
        ids = self.ranker.rank(self.sessions, self._idx, weights)
        outcome = self._last = self.sessions.respond(self._slot, ids)
        self._ended = not bool(outcome.continues[0])
        info: dict[str, Any] = {name: float(outcome.components[name][0]) for name in COMPONENTS}
        info["product_ids"] = ids[0].copy()
        reward = float(outcome.components["reward"][0])
        return self._observation(stacked_responses(outcome, 0)), reward, self._ended, False, info

    def render(self) -> str | None:
        """With ``render_mode="ansi"``, a text summary of the last step."""
        if self.render_mode != "ansi":
            return None
        if self._last is None:
            return "PetRetailBoostEnv: no step yet\n"
        out = self._last
        return (
            f"shown {out.product_ids[0, :5].tolist()}...; clicks {int(out.clicks[0].sum())}, "
            f"purchases {int(out.buys[0].sum())}, reward {float(out.components['reward'][0]):.4g}"
            f"{' (visit over)' if self._ended else ''}\n"
        )


def create_boost_environment(
    env_config: Mapping[str, Any] | None = None, **overrides: Any
) -> PetRetailBoostEnv:
    """Builds ``recframe/PetRetailBoost-v0`` (options: see :data:`DEFAULTS`)."""
    options = merge_options(DEFAULTS, env_config, overrides)
    return PetRetailBoostEnv(
        options["config"],
        seed=options["seed"],
        render_mode=options["render_mode"],
        normalize_action=options["normalize_action"],
        check_observations=options["check_observations"],
    )
