"""The pet-retail slate environments, built from the recframe components.

``recframe/PetRetail-v0`` (:func:`create_environment`): each step the shopper's current query
retrieves ``num_candidates`` products (:class:`~.documents.ProductRetriever`), the agent returns a
slate of ``slate_size`` distinct candidate positions (the ranked list shown), the shopper responds
through the position-biased cascade and then types another query or leaves (the episode's end).
Observation ``Dict(user, doc, response)``: the query and visit counts, the candidates' features
(``(num_candidates, n_features)``, names in ``env.unwrapped.doc_feature_names``) and the responses
by slate position.

``recframe/PetRetailCatalog-v0`` (:func:`create_catalog_environment`): the same shopper, but the
slate is chosen from the whole catalog: action entries are product ids (10,000 by default), the
large-discrete-action setting Wolpertinger is made for. The catalog's features never change, so
they are not part of the per-step observation (a 10,000-row copy every step): they are exposed once,
read-only, as ``env.unwrapped.catalog_features`` (names in ``doc_feature_names``), and the
observation is ``Dict(user, response)``.

Reward (both): 1.0 * GMV + 0.4 * CM2 + 2.0 * strategic purchases + 0.1 * clicks by default;
``info`` holds ``responses`` (the response objects, as for every RecSimGymEnv) and each component
(``gmv``, ``cm2``, ``strategic_purchases``, ``clicks``).

Observations come from the tested engine, so they are not checked against their space every step
by default (about 30 us of a step); ``check_observations=True`` turns RecSimGymEnv's check back on.
Gymnasium's ``make`` still checks the first reset and step (its PassiveEnvChecker).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces

from recframe.environments.pet_retail.config import SimulatorConfig
from recframe.environments.pet_retail.documents import (
    CatalogSampler,
    ProductRetriever,
    product_document_class,
)
from recframe.environments.pet_retail.features import product_feature_names, product_features
from recframe.environments.pet_retail.reward import COMPONENTS, ResponseReward
from recframe.environments.pet_retail.sessions import ShopperSessions, load_catalog
from recframe.environments.pet_retail.shopper import ShopperModel, ShopperSampler, shopper_state_class
from recframe.simulator.environment import SingleUserEnvironment
from recframe.simulator.recsim_gym import RecSimGymEnv
from recframe.spaces import compile_contains

__all__ = [
    "PetRetailCatalogEnv",
    "PetRetailSlateEnv",
    "create_catalog_environment",
    "create_environment",
    "resolve_config",
]

DEFAULTS: dict[str, Any] = {
    "config": None,
    "num_candidates": 50,
    "slate_size": 10,
    "seed": 0,
    "check_observations": False,
}
"""``create_environment``'s keys: ``config`` (a SimulatorConfig, its dict form, or None for the
textbook defaults), ``num_candidates``, ``slate_size``, ``seed`` (of the shopper streams until
``reset(seed=...)``), ``check_observations`` (RecSimGymEnv's check of every observation against
its space; off by default here, because these observations come from the tested engine, while
RecSimGymEnv keeps it on for user-defined components), plus ``render_mode``."""


def resolve_config(config: SimulatorConfig | Mapping[str, Any] | None) -> SimulatorConfig:
    """``config`` as a validated SimulatorConfig (None: the defaults; a mapping: ``from_dict``)."""
    if config is None:
        return SimulatorConfig()
    if isinstance(config, SimulatorConfig):
        config.validate()
        return config
    if isinstance(config, Mapping):
        return SimulatorConfig.from_dict(config)
    raise TypeError(
        f"config must be a SimulatorConfig, a mapping or None, got {type(config).__name__}: {config!r}"
    )


def positive_int(name: str, value: Any) -> int:
    """``value`` as an int, or ValueError unless it is a positive integer."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def merge_options(
    defaults: Mapping[str, Any], env_config: Mapping[str, Any] | None, overrides: Mapping[str, Any]
) -> dict[str, Any]:
    """Defaults updated by ``env_config`` then keyword overrides; ValueError on an unknown key."""
    options = {**defaults, "render_mode": None, **(env_config or {}), **overrides}
    unknown = sorted(set(options) - set(defaults) - {"render_mode"})
    if unknown:
        raise ValueError(
            f"unknown pet-retail option(s) {unknown}; expected some of {sorted(defaults)} or render_mode"
        )
    return options


class PetRetailSlateEnv(RecSimGymEnv):
    """A RecSimGymEnv whose ``info`` also carries the reward components and the products shown.

    Attributes:
        config: the simulator config.
        doc_feature_names: the names of a candidate's features.
        sessions: the one-shopper engine (state, latent preferences, streams).
    """

    def __init__(
        self,
        raw_environment: SingleUserEnvironment,
        reward: ResponseReward,
        config: SimulatorConfig,
        sessions: ShopperSessions,
        doc_feature_names: tuple[str, ...],
        **kwargs: Any,
    ) -> None:
        super().__init__(raw_environment, reward, **kwargs)
        self._reward = reward
        self.config = config
        self.sessions = sessions
        self.doc_feature_names = doc_feature_names

    def step(self, action: Any) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        observation, reward, terminated, truncated, info = super().step(action)
        info.update({name: self._reward.last_components[name] for name in COMPONENTS})
        info["product_ids"] = self._user_models[0].last_outcome.product_ids[0].copy()
        return observation, reward, terminated, truncated, info


class PetRetailCatalogEnv(PetRetailSlateEnv):
    """The whole-catalog variant: observation ``Dict(user, response)``; catalog features static.

    Attributes:
        catalog_features: (n_products, n_features) float32, read-only; row = product id = action index.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.catalog_features = self.environment.candidate_set.create_observation()
        self.observation_space = spaces.Dict(
            user=self.observation_space["user"], response=self.observation_space["response"]
        )
        self._contains = compile_contains(self.observation_space)
        self._copy_docs = None

    def _observation(self, user_obs: Any, doc_obs: Any, response_obs: Any) -> dict[str, Any]:
        observation = {"user": user_obs, "response": response_obs}
        if self._check_observations and not self._contains(observation):
            self._raise_bad_observation(user_obs, doc_obs, response_obs)
        return observation


def _build(
    env_cls: type[PetRetailSlateEnv], options: dict[str, Any], whole_catalog: bool
) -> PetRetailSlateEnv:
    config = resolve_config(options["config"])
    catalog = load_catalog(config)
    features = product_features(catalog)
    slate_size = positive_int("slate_size", options["slate_size"])
    num_candidates = (
        len(catalog) if whole_catalog else positive_int("num_candidates", options["num_candidates"])
    )
    if not slate_size <= num_candidates <= len(catalog):
        raise ValueError(
            f"need slate_size <= num_candidates <= catalog size, got slate_size={slate_size}, "
            f"num_candidates={num_candidates}, catalog size={len(catalog)}"
        )
    seed = options["seed"]
    sessions = ShopperSessions(config, catalog, 1)
    if whole_catalog:
        sampler = CatalogSampler(product_document_class(features.shape[1]), features, seed=seed)
    else:
        sampler = ProductRetriever(
            product_document_class(features.shape[1] + 1), sessions, features, seed=seed
        )
    shoppers = ShopperSampler(shopper_state_class(config), sessions, seed=seed)
    model = ShopperModel(shoppers, sessions, slate_size, seed=seed)
    raw = SingleUserEnvironment(
        model, sampler, num_candidates, slate_size, resample_documents=not whole_catalog
    )
    return env_cls(
        raw,
        ResponseReward(config.reward, model),
        config,
        sessions,
        product_feature_names(config, relevance=not whole_catalog),
        render_mode=options["render_mode"],
        check_observations=bool(options["check_observations"]),
    )


def create_environment(env_config: Mapping[str, Any] | None = None, **overrides: Any) -> PetRetailSlateEnv:
    """Builds ``recframe/PetRetail-v0`` (options: see :data:`DEFAULTS`)."""
    return _build(PetRetailSlateEnv, merge_options(DEFAULTS, env_config, overrides), whole_catalog=False)


def create_catalog_environment(
    env_config: Mapping[str, Any] | None = None, **overrides: Any
) -> PetRetailCatalogEnv:
    """Builds ``recframe/PetRetailCatalog-v0`` (options as :data:`DEFAULTS` except ``num_candidates``,
    which is always the catalog size)."""
    defaults = {key: value for key, value in DEFAULTS.items() if key != "num_candidates"}
    options = merge_options(defaults, env_config, overrides)
    return _build(PetRetailCatalogEnv, {**options, "num_candidates": None}, whole_catalog=True)  # type: ignore[return-value]
