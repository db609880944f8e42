"""Configuration of the pet-retail world: catalog, shoppers, queries, relevance, behaviour, reward.

The defaults are those of the "RL Search From Scratch" textbook's ``zoosim`` simulator; every
statistic its exercises check follows from them. Each dataclass validates itself in
``__post_init__`` (and again through :meth:`validate` whenever a generator is handed a config that
may have been edited in place), so a bad value fails early with a message naming the field.

:class:`SimulatorConfig` round-trips through plain dicts, JSON and YAML (PyYAML is imported only
when a YAML file is read or written), and :func:`randomize_config` draws perturbed worlds for
domain randomization.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar, TypeVar

import numpy as np

__all__ = [
    "ActionConfig",
    "BehaviorConfig",
    "CatalogConfig",
    "QueryConfig",
    "RelevanceConfig",
    "RetentionConfig",
    "RewardConfig",
    "SegmentParams",
    "SimulatorConfig",
    "UserConfig",
    "load_default_config",
    "randomize_config",
]

MIX_TOLERANCE = 1e-6
"""How far a probability vector's sum may stray from 1."""


# --------------------------------------------------------------------------------------------------
# Validation helpers: each raises ValueError naming the field, the bad value and what was expected.
# --------------------------------------------------------------------------------------------------


def _check_finite(name: str, value: float) -> None:
    if not isinstance(value, int | float | np.integer | np.floating) or isinstance(value, bool):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")


def _check_positive(name: str, value: float) -> None:
    _check_finite(name, value)
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")


def _check_non_negative(name: str, value: float) -> None:
    _check_finite(name, value)
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")


def _check_probability(name: str, value: float) -> None:
    _check_finite(name, value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")


def _check_int(name: str, value: int, minimum: int) -> None:
    if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _check_names(name: str, names: Sequence[str]) -> None:
    if len(names) == 0:
        raise ValueError(f"{name} must not be empty")
    if not all(isinstance(n, str) and n for n in names):
        raise ValueError(f"{name} must hold non-empty strings, got {list(names)!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"{name} must not repeat a name, got {list(names)!r}")


def _check_length(name: str, values: Sequence[Any], expected: int, what: str) -> None:
    if len(values) != expected:
        raise ValueError(f"{name} has length {len(values)}, expected {expected} ({what})")


def _check_mix(name: str, values: Sequence[float], expected_len: int, what: str) -> None:
    """A probability vector: right length, entries in [0, 1], sum 1 within :data:`MIX_TOLERANCE`."""
    _check_length(name, values, expected_len, what)
    for i, v in enumerate(values):
        _check_probability(f"{name}[{i}]", v)
    total = math.fsum(values)
    if abs(total - 1.0) > MIX_TOLERANCE:
        raise ValueError(
            f"{name} must sum to 1 within {MIX_TOLERANCE:g}, got sum {total!r} for {list(values)!r}"
        )


def _check_keys(name: str, mapping: Mapping[str, Any], expected: Sequence[str], what: str) -> None:
    """A mapping with exactly one entry per expected name."""
    if not isinstance(mapping, Mapping):
        raise ValueError(f"{name} must be a mapping keyed by {what}, got {type(mapping).__name__}")
    missing = [k for k in expected if k not in mapping]
    extra = sorted(str(k) for k in mapping if k not in expected)
    if missing:
        raise ValueError(
            f"{name} is missing entries for {missing} (expected one per {what}: {list(expected)})"
        )
    if extra:
        raise ValueError(f"{name} has entries for unknown {what} {extra} (expected {list(expected)})")


def _check_per_key(
    name: str, mapping: Mapping[str, Any], keys: Sequence[str], what: str, check: Callable[[str, Any], None]
) -> None:
    _check_keys(name, mapping, keys, what)
    for key in keys:
        check(f"{name}[{key!r}]", mapping[key])


ConfigT = TypeVar("ConfigT", bound="_Config")


class _Config:
    """Shared validation hook and dict conversion for the config dataclasses."""

    _NESTED: ClassVar[dict[str, type[_Config]]] = {}

    def validate(self) -> None:
        """Checks every field; raises ValueError naming the first bad one."""

    def __post_init__(self) -> None:
        self.validate()

    def to_dict(self) -> dict[str, Any]:
        """A deep copy of the config as plain dicts, lists and numbers (JSON/YAML ready)."""
        return _plain(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls: type[ConfigT], data: Mapping[str, Any]) -> ConfigT:
        """Builds (and validates) the config from :meth:`to_dict`'s output; missing keys take defaults.

        Raises:
            ValueError: on an unknown key or an invalid value.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"{cls.__name__} data must be a mapping, got {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(
                f"{cls.__name__} got unknown field(s) {unknown}; expected some of {sorted(names)}"
            )
        required = [
            f.name
            for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ]
        missing = [name for name in required if name not in data]
        if missing:
            raise ValueError(f"{cls.__name__} data is missing required field(s) {missing}")
        kwargs = {key: cls._convert(key, copy.deepcopy(value)) for key, value in data.items()}
        return cls(**kwargs)

    @classmethod
    def _convert(cls, key: str, value: Any) -> Any:
        nested = cls._NESTED.get(key)
        if nested is None or isinstance(value, nested):
            return value
        return nested.from_dict(value)


def _plain(value: Any) -> Any:
    """Tuples and numpy scalars to lists and Python numbers, recursively."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    return value


# --------------------------------------------------------------------------------------------------
# World
# --------------------------------------------------------------------------------------------------


def _default_price_params() -> dict[str, dict[str, float]]:
    return {
        "dog_food": {"mu": 2.6, "sigma": 0.4},
        "cat_food": {"mu": 2.5, "sigma": 0.4},
        "litter": {"mu": 2.2, "sigma": 0.35},
        "toys": {"mu": 1.8, "sigma": 0.6},
    }


def _per_category(dog_food: float, cat_food: float, litter: float, toys: float) -> dict[str, float]:
    return {"dog_food": dog_food, "cat_food": cat_food, "litter": litter, "toys": toys}


@dataclass
class CatalogConfig(_Config):
    """How products are drawn.

    Per category: price ~ LogNormal(mu, sigma); cm2 = margin_slope * price + N(0, margin_noise^2);
    private label with probability ``pl_prob``; discount 0 with probability ``p_zero`` else
    U(low, high); bestseller score max(0, N(mean, std^2)); embedding = a N(0, I) centre per category
    plus N(0, emb_cluster_std^2 I). Products of ``strategic_categories`` carry ``strategic_flag``.
    """

    n_products: int = 10_000
    categories: list[str] = field(default_factory=lambda: ["dog_food", "cat_food", "litter", "toys"])
    category_mix: list[float] = field(default_factory=lambda: [0.35, 0.35, 0.15, 0.15])
    embedding_dim: int = 16
    price_params: dict[str, dict[str, float]] = field(default_factory=_default_price_params)
    margin_slope: dict[str, float] = field(default_factory=lambda: _per_category(0.12, 0.11, -0.03, 0.20))
    margin_noise: float = 0.3
    pl_prob: dict[str, float] = field(default_factory=lambda: _per_category(0.35, 0.40, 0.50, 0.15))
    discount_params: dict[str, float] = field(
        default_factory=lambda: {"p_zero": 0.7, "low": 0.05, "high": 0.3}
    )
    bestseller_mean: dict[str, float] = field(default_factory=lambda: _per_category(2.0, 2.2, 1.2, 0.8))
    bestseller_std: dict[str, float] = field(default_factory=lambda: _per_category(0.7, 0.7, 0.5, 0.6))
    emb_cluster_std: dict[str, float] = field(default_factory=lambda: _per_category(0.7, 0.7, 0.5, 0.9))
    strategic_categories: list[str] = field(default_factory=lambda: ["litter"])

    def validate(self) -> None:
        """Checks every field; raises ValueError naming the first bad one."""
        _check_int("CatalogConfig.n_products", self.n_products, 1)
        _check_int("CatalogConfig.embedding_dim", self.embedding_dim, 1)
        cats = self.categories
        _check_names("CatalogConfig.categories", cats)
        _check_mix("CatalogConfig.category_mix", self.category_mix, len(cats), "one per category")
        _check_keys("CatalogConfig.price_params", self.price_params, cats, "category")
        for cat in cats:
            _check_keys(
                f"CatalogConfig.price_params[{cat!r}]", self.price_params[cat], ("mu", "sigma"), "parameter"
            )
            _check_finite(f"CatalogConfig.price_params[{cat!r}]['mu']", self.price_params[cat]["mu"])
            _check_positive(f"CatalogConfig.price_params[{cat!r}]['sigma']", self.price_params[cat]["sigma"])
        _check_per_key("CatalogConfig.margin_slope", self.margin_slope, cats, "category", _check_finite)
        _check_non_negative("CatalogConfig.margin_noise", self.margin_noise)
        _check_per_key("CatalogConfig.pl_prob", self.pl_prob, cats, "category", _check_probability)
        disc = self.discount_params
        _check_keys("CatalogConfig.discount_params", disc, ("p_zero", "low", "high"), "parameter")
        _check_probability("CatalogConfig.discount_params['p_zero']", disc["p_zero"])
        _check_probability("CatalogConfig.discount_params['low']", disc["low"])
        _check_probability("CatalogConfig.discount_params['high']", disc["high"])
        if disc["low"] > disc["high"]:
            raise ValueError(
                f"CatalogConfig.discount_params needs low <= high, got low={disc['low']!r} high={disc['high']!r}"
            )
        _check_per_key("CatalogConfig.bestseller_mean", self.bestseller_mean, cats, "category", _check_finite)
        _check_per_key("CatalogConfig.bestseller_std", self.bestseller_std, cats, "category", _check_positive)
        _check_per_key(
            "CatalogConfig.emb_cluster_std", self.emb_cluster_std, cats, "category", _check_positive
        )
        for cat in self.strategic_categories:
            if cat not in cats:
                raise ValueError(
                    f"CatalogConfig.strategic_categories names unknown category {cat!r}; expected some of {list(cats)}"
                )


@dataclass
class SegmentParams(_Config):
    """One shopper segment: theta_price ~ N(price_mean, price_std^2), theta_pl ~ N(pl_mean, pl_std^2),
    theta_cat ~ Dirichlet(cat_conc) (one concentration per catalog category)."""

    price_mean: float
    price_std: float
    pl_mean: float
    pl_std: float
    cat_conc: list[float]

    def validate(self, name: str = "SegmentParams") -> None:
        """Checks every field; ``name`` prefixes the messages (e.g. the segment's path in UserConfig)."""
        _check_finite(f"{name}.price_mean", self.price_mean)
        _check_positive(f"{name}.price_std", self.price_std)
        _check_finite(f"{name}.pl_mean", self.pl_mean)
        _check_positive(f"{name}.pl_std", self.pl_std)
        if len(self.cat_conc) == 0:
            raise ValueError(f"{name}.cat_conc must not be empty")
        for i, alpha in enumerate(self.cat_conc):
            _check_positive(f"{name}.cat_conc[{i}]", alpha)


def _default_segment_params() -> dict[str, SegmentParams]:
    return {
        "price_hunter": SegmentParams(-3.5, 0.3, -1.0, 0.2, [0.30, 0.30, 0.20, 0.20]),
        "pl_lover": SegmentParams(-1.8, 0.2, 3.2, 0.3, [0.20, 0.45, 0.20, 0.15]),
        "premium": SegmentParams(1.2, 0.25, -2.0, 0.2, [0.50, 0.25, 0.05, 0.20]),
        "litter_heavy": SegmentParams(-1.0, 0.2, 1.0, 0.2, [0.05, 0.05, 0.85, 0.05]),
    }


@dataclass
class UserConfig(_Config):
    """Shopper segments, their mix and one :class:`SegmentParams` per segment.

    Every shopper also draws theta_emb ~ N(0, I) of the catalog's embedding dimension.
    """

    segments: list[str] = field(
        default_factory=lambda: ["price_hunter", "pl_lover", "premium", "litter_heavy"]
    )
    segment_mix: list[float] = field(default_factory=lambda: [0.35, 0.25, 0.15, 0.25])
    segment_params: dict[str, SegmentParams] = field(default_factory=_default_segment_params)

    def validate(self) -> None:
        """Checks every field; raises ValueError naming the first bad one."""
        _check_names("UserConfig.segments", self.segments)
        _check_mix("UserConfig.segment_mix", self.segment_mix, len(self.segments), "one per segment")
        _check_keys("UserConfig.segment_params", self.segment_params, self.segments, "segment")
        for seg in self.segments:
            params = self.segment_params[seg]
            if not isinstance(params, SegmentParams):
                raise ValueError(
                    f"UserConfig.segment_params[{seg!r}] must be a SegmentParams, got {type(params).__name__}"
                )
            params.validate(f"UserConfig.segment_params[{seg!r}]")

    @classmethod
    def _convert(cls, key: str, value: Any) -> Any:
        if key == "segment_params" and isinstance(value, Mapping):
            return {
                seg: p if isinstance(p, SegmentParams) else SegmentParams.from_dict(p)
                for seg, p in value.items()
            }
        return value


@dataclass
class QueryConfig(_Config):
    """How a shopper's query is drawn.

    The intent category follows the shopper's theta_cat; the type follows ``query_type_mix``;
    phi_emb = theta_emb + N(0, phi_noise_std^2 I); the tokens are the intent category's words, the
    type and ``n_random_tokens`` draws from a vocabulary of ``token_vocab_size`` filler tokens.
    ``specificity`` (per type) is a feature of the boost action.
    """

    query_types: list[str] = field(default_factory=lambda: ["category", "brand", "generic"])
    query_type_mix: list[float] = field(default_factory=lambda: [0.6, 0.2, 0.2])
    token_vocab_size: int = 512
    specificity: dict[str, float] = field(
        default_factory=lambda: {"brand": 1.0, "category": 0.7, "generic": 0.4}
    )
    phi_noise_std: float = 0.05
    n_random_tokens: int = 2

    def validate(self) -> None:
        """Checks every field; raises ValueError naming the first bad one."""
        _check_names("QueryConfig.query_types", self.query_types)
        _check_mix(
            "QueryConfig.query_type_mix", self.query_type_mix, len(self.query_types), "one per query type"
        )
        _check_int("QueryConfig.token_vocab_size", self.token_vocab_size, 1)
        _check_per_key(
            "QueryConfig.specificity", self.specificity, self.query_types, "query type", _check_finite
        )
        _check_non_negative("QueryConfig.phi_noise_std", self.phi_noise_std)
        _check_int("QueryConfig.n_random_tokens", self.n_random_tokens, 0)


@dataclass
class RelevanceConfig(_Config):
    """Base relevance: w_sem * cosine(phi_emb, embedding) + w_lex * log1p(token overlap) + N(0, noise_sigma^2)."""

    w_sem: float = 0.7
    w_lex: float = 0.3
    noise_sigma: float = 0.05

    def validate(self) -> None:
        """Checks every field; raises ValueError naming the first bad one."""
        _check_finite("RelevanceConfig.w_sem", self.w_sem)
        _check_finite("RelevanceConfig.w_lex", self.w_lex)
        _check_non_negative("RelevanceConfig.noise_sigma", self.noise_sigma)


# --------------------------------------------------------------------------------------------------
# Shopper behaviour, reward, retention, action
# --------------------------------------------------------------------------------------------------


def _default_pos_bias() -> dict[str, list[float]]:
    return {
        "category": [1.2, 0.9, 0.7, 0.5, 0.3] + [0.2] * 15,
        "brand": [1.5, 0.8, 0.5, 0.3, 0.2] + [0.1] * 15,
        "generic": [1.0, 0.8, 0.6, 0.4, 0.2] + [0.1] * 15,
    }


@dataclass
class BehaviorConfig(_Config):
    """The shopper's cascade over the ranked list.

    Position k is examined with probability sigmoid(pos_bias[type][k] + exam_sensitivity *
    satisfaction) (positions past the vector's end use its last value); utility = alpha_rel *
    cosine + alpha_price * theta_price * log1p(price) + alpha_pl * theta_pl * is_pl + alpha_cat *
    theta_cat[category] + N(0, sigma_u^2); click with sigmoid(utility), which adds
    satisfaction_gain * utility to satisfaction (no click subtracts satisfaction_decay); buy after a
    click with sigmoid(beta_buy * utility + beta0 - w_price_penalty * log1p(price)), which subtracts
    post_purchase_fatigue; stop after max_purchases or when satisfaction < abandonment_threshold.
    """

    alpha_rel: float = 1.0
    alpha_price: float = 0.8
    alpha_pl: float = 1.2
    alpha_cat: float = 0.6
    sigma_u: float = 0.8
    beta_buy: float = 1.2
    beta0: float = 0.3
    w_price_penalty: float = 0.01
    exam_sensitivity: float = 0.2
    satisfaction_decay: float = 0.2
    satisfaction_gain: float = 0.5
    abandonment_threshold: float = -2.0
    max_purchases: int = 3
    post_purchase_fatigue: float = 1.2
    pos_bias: dict[str, list[float]] = field(default_factory=_default_pos_bias)

    def validate(self) -> None:
        """Checks every field; raises ValueError naming the first bad one."""
        for f in dataclasses.fields(self):
            if f.name not in ("pos_bias", "max_purchases"):
                _check_finite(f"BehaviorConfig.{f.name}", getattr(self, f.name))
        _check_non_negative("BehaviorConfig.sigma_u", self.sigma_u)
        _check_int("BehaviorConfig.max_purchases", self.max_purchases, 1)
        if not isinstance(self.pos_bias, Mapping) or not self.pos_bias:
            raise ValueError(f"BehaviorConfig.pos_bias must be a non-empty mapping, got {self.pos_bias!r}")
        for qtype, biases in self.pos_bias.items():
            if len(biases) == 0:
                raise ValueError(f"BehaviorConfig.pos_bias[{qtype!r}] must not be empty")
            for k, b in enumerate(biases):
                _check_finite(f"BehaviorConfig.pos_bias[{qtype!r}][{k}]", b)


@dataclass
class RewardConfig(_Config):
    """Reward = alpha_gmv * GMV + beta_cm2 * CM2 + gamma_strat * strategic purchases + delta_clicks * clicks."""

    alpha_gmv: float = 1.0
    beta_cm2: float = 0.4
    gamma_strat: float = 2.0
    delta_clicks: float = 0.1

    def validate(self) -> None:
        """Checks every field; raises ValueError naming the first bad one."""
        for f in dataclasses.fields(self):
            _check_finite(f"RewardConfig.{f.name}", getattr(self, f.name))


@dataclass
class RetentionConfig(_Config):
    """Another query in the same visit with probability sigmoid(logit(base_rate) + click_weight *
    clicks + satisfaction_weight * satisfaction)."""

    base_rate: float = 0.35
    click_weight: float = 0.20
    satisfaction_weight: float = 0.15

    def validate(self) -> None:
        """Checks every field; raises ValueError naming the first bad one."""
        _check_finite("RetentionConfig.base_rate", self.base_rate)
        if not 0.0 < self.base_rate < 1.0:
            raise ValueError(f"RetentionConfig.base_rate must be in (0, 1), got {self.base_rate!r}")
        _check_finite("RetentionConfig.click_weight", self.click_weight)
        _check_finite("RetentionConfig.satisfaction_weight", self.satisfaction_weight)


@dataclass
class ActionConfig(_Config):
    """The boost action: ``feature_dim`` standardized product features, weights in [-a_max, a_max].

    ``lambda_rank``, ``cm2_floor``, ``exposure_floors`` and ``logging_epsilon`` are the textbook's
    constraint and logging knobs (off by default).
    """

    feature_dim: int = 10
    a_max: float = 5.0
    standardize_features: bool = True
    lambda_rank: float = 0.0
    cm2_floor: float | None = None
    exposure_floors: dict[str, float] = field(default_factory=dict)
    logging_epsilon: float = 0.05

    def validate(self) -> None:
        """Checks every field; raises ValueError naming the first bad one."""
        _check_int("ActionConfig.feature_dim", self.feature_dim, 1)
        _check_positive("ActionConfig.a_max", self.a_max)
        if not isinstance(self.standardize_features, bool):
            raise ValueError(
                f"ActionConfig.standardize_features must be a bool, got {self.standardize_features!r}"
            )
        _check_non_negative("ActionConfig.lambda_rank", self.lambda_rank)
        if self.cm2_floor is not None:
            _check_finite("ActionConfig.cm2_floor", self.cm2_floor)
        for key, floor in self.exposure_floors.items():
            _check_probability(f"ActionConfig.exposure_floors[{key!r}]", floor)
        _check_probability("ActionConfig.logging_epsilon", self.logging_epsilon)


# --------------------------------------------------------------------------------------------------
# The whole simulator
# --------------------------------------------------------------------------------------------------


@dataclass
class SimulatorConfig(_Config):
    """Everything that defines a pet-retail world and its shoppers; ``seed`` fixes the world."""

    seed: int = 2025_1108
    catalog: CatalogConfig = field(default_factory=CatalogConfig)
    users: UserConfig = field(default_factory=UserConfig)
    queries: QueryConfig = field(default_factory=QueryConfig)
    relevance: RelevanceConfig = field(default_factory=RelevanceConfig)
    behavior: BehaviorConfig = field(default_factory=BehaviorConfig)
    reward: RewardConfig = field(default_factory=RewardConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    action: ActionConfig = field(default_factory=ActionConfig)
    top_k: int = 20

    _NESTED: ClassVar[dict[str, type[_Config]]] = {
        "catalog": CatalogConfig,
        "users": UserConfig,
        "queries": QueryConfig,
        "relevance": RelevanceConfig,
        "behavior": BehaviorConfig,
        "reward": RewardConfig,
        "retention": RetentionConfig,
        "action": ActionConfig,
    }

    def validate(self) -> None:
        """Validates every section, then the links between them (one Dirichlet weight per category, ...)."""
        _check_int("SimulatorConfig.seed", self.seed, 0)
        _check_int("SimulatorConfig.top_k", self.top_k, 1)
        for key, section_type in self._NESTED.items():
            section = getattr(self, key)
            if not isinstance(section, section_type):
                raise ValueError(
                    f"SimulatorConfig.{key} must be a {section_type.__name__}, got {type(section).__name__}"
                )
            section.validate()
        n_cats = len(self.catalog.categories)
        for seg in self.users.segments:
            _check_length(
                f"UserConfig.segment_params[{seg!r}].cat_conc",
                self.users.segment_params[seg].cat_conc,
                n_cats,
                f"one per catalog category {list(self.catalog.categories)}",
            )
        _check_keys("BehaviorConfig.pos_bias", self.behavior.pos_bias, self.queries.query_types, "query type")
        for key in self.action.exposure_floors:
            if key not in self.catalog.categories:
                raise ValueError(
                    f"ActionConfig.exposure_floors names unknown category {key!r}; "
                    f"expected some of {list(self.catalog.categories)}"
                )

    def save(self, path: str | Path) -> Path:
        """Writes the config as JSON (``.json``) or YAML (``.yaml``/``.yml``); returns the path."""
        path = Path(path)
        fmt = _format_of(path)
        data = self.to_dict()
        if fmt == "json":
            text = json.dumps(data, indent=2) + "\n"
        else:
            text = _yaml().safe_dump(data, sort_keys=False)
        path.write_text(text, encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> SimulatorConfig:
        """Reads a config written by :meth:`save` (or by hand; missing keys take the defaults)."""
        path = Path(path)
        fmt = _format_of(path)
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if fmt == "json" else _yaml().safe_load(text)
        return cls.from_dict(data or {})


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "json"
    if suffix in (".yaml", ".yml"):
        return "yaml"
    raise ValueError(f"config path {str(path)!r} must end in .json, .yaml or .yml, got suffix {suffix!r}")


def _yaml() -> ModuleType:
    """PyYAML, imported on first use so that it stays an optional extra."""
    try:
        import yaml
    except ImportError as exc:  # pragma: no cover - exercised only without PyYAML
        raise ImportError(
            "reading or writing YAML configs needs PyYAML: pip install 'recframe[yaml]'"
        ) from exc
    return yaml


def load_default_config() -> SimulatorConfig:
    """The textbook's default configuration (a fresh copy)."""
    return SimulatorConfig()


def randomize_config(
    base: SimulatorConfig, rng: np.random.Generator, perturbation: float = 0.1
) -> SimulatorConfig:
    """A perturbed copy of ``base`` for domain randomization.

    Each category's price mu and sigma and margin slope are scaled by an independent factor
    U(1 - perturbation, 1 + perturbation) (so signs are kept: litter stays a loss leader); the segment
    mix is scaled the same way and renormalized. Draws happen in a fixed order, so the same rng state
    gives the same config.

    Args:
        base: the config to perturb (left unchanged).
        rng: the generator that draws the factors.
        perturbation: the relative half-width of the factors, in [0, 1).

    Returns:
        A new, validated config.
    """
    _check_finite("perturbation", perturbation)
    if not 0.0 <= perturbation < 1.0:
        raise ValueError(f"perturbation must be in [0, 1), got {perturbation!r}")
    data = base.to_dict()
    catalog = data["catalog"]
    n_cats = len(catalog["categories"])
    factors = rng.uniform(1.0 - perturbation, 1.0 + perturbation, size=(n_cats, 3))
    for (mu_f, sigma_f, slope_f), cat in zip(factors, catalog["categories"], strict=True):
        catalog["price_params"][cat]["mu"] *= float(mu_f)
        catalog["price_params"][cat]["sigma"] *= float(sigma_f)
        catalog["margin_slope"][cat] *= float(slope_f)
    mix = np.asarray(data["users"]["segment_mix"], dtype=np.float64)
    mix = mix * rng.uniform(1.0 - perturbation, 1.0 + perturbation, size=mix.shape)
    data["users"]["segment_mix"] = (mix / mix.sum()).tolist()
    return SimulatorConfig.from_dict(data)
