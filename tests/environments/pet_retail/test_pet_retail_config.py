"""Config defaults, validation messages, serialization and domain randomization."""

from __future__ import annotations

import dataclasses
import math
import sys

import numpy as np
import pytest

from recframe.environments.pet_retail.config import (
    BehaviorConfig,
    CatalogConfig,
    QueryConfig,
    RetentionConfig,
    SegmentParams,
    SimulatorConfig,
    UserConfig,
    randomize_config,
)


def test_defaults_are_the_textbooks():
    cfg = SimulatorConfig()
    assert cfg.seed == 2025_1108 and cfg.top_k == 20
    assert cfg.catalog.categories == ["dog_food", "cat_food", "litter", "toys"]
    assert cfg.catalog.category_mix == [0.35, 0.35, 0.15, 0.15]
    assert cfg.catalog.price_params["toys"] == {"mu": 1.8, "sigma": 0.6}
    assert cfg.catalog.margin_slope["litter"] == -0.03
    assert cfg.catalog.strategic_categories == ["litter"]
    assert cfg.users.segment_mix == [0.35, 0.25, 0.15, 0.25]
    assert cfg.users.segment_params["litter_heavy"].cat_conc == [0.05, 0.05, 0.85, 0.05]
    assert cfg.queries.query_type_mix == [0.6, 0.2, 0.2] and cfg.queries.token_vocab_size == 512
    assert (
        cfg.behavior.pos_bias["brand"][:5] == [1.5, 0.8, 0.5, 0.3, 0.2]
        and len(cfg.behavior.pos_bias["brand"]) == 20
    )
    assert (cfg.reward.alpha_gmv, cfg.reward.beta_cm2, cfg.reward.gamma_strat, cfg.reward.delta_clicks) == (
        1.0,
        0.4,
        2.0,
        0.1,
    )
    assert cfg.retention.base_rate == 0.35 and cfg.action.feature_dim == 10 and cfg.action.a_max == 5.0


def test_default_instances_do_not_share_mutable_state():
    a, b = SimulatorConfig(), SimulatorConfig()
    a.catalog.price_params["toys"]["mu"] = 9.0
    assert b.catalog.price_params["toys"]["mu"] == 1.8


def _segments(**overrides):
    params = UserConfig().segment_params
    params.update(overrides)
    return params


BAD_CONFIGS = [
    (
        lambda: CatalogConfig(category_mix=[0.5, 0.3, 0.1, 0.05]),
        r"CatalogConfig\.category_mix must sum to 1 within 1e-06, got sum 0\.95",
    ),
    (
        lambda: CatalogConfig(category_mix=[0.5, 0.25, 0.25]),
        r"CatalogConfig\.category_mix has length 3, expected 4",
    ),
    (
        lambda: CatalogConfig(category_mix=[1.2, -0.2, 0.0, 0.0]),
        r"CatalogConfig\.category_mix\[0\] must be a probability",
    ),
    (
        lambda: CatalogConfig(
            price_params={**CatalogConfig().price_params, "toys": {"mu": 1.8, "sigma": -0.6}}
        ),
        r"CatalogConfig\.price_params\['toys'\]\['sigma'\] must be > 0, got -0\.6",
    ),
    (
        lambda: CatalogConfig(price_params={**CatalogConfig().price_params, "toys": {"mu": 1.8}}),
        r"CatalogConfig\.price_params\['toys'\] is missing entries for \['sigma'\]",
    ),
    (
        lambda: CatalogConfig(bestseller_std={**CatalogConfig().bestseller_std, "litter": 0.0}),
        r"CatalogConfig\.bestseller_std\['litter'\] must be > 0, got 0\.0",
    ),
    (
        lambda: CatalogConfig(emb_cluster_std={**CatalogConfig().emb_cluster_std, "dog_food": float("nan")}),
        r"CatalogConfig\.emb_cluster_std\['dog_food'\] must be a finite number, got nan",
    ),
    (
        lambda: CatalogConfig(margin_slope={**CatalogConfig().margin_slope, "fish": 0.1}),
        r"CatalogConfig\.margin_slope has entries for unknown category \['fish'\]",
    ),
    (
        lambda: CatalogConfig(pl_prob={"dog_food": 0.3, "cat_food": 0.3, "litter": 0.3}),
        r"CatalogConfig\.pl_prob is missing entries for \['toys'\]",
    ),
    (
        lambda: CatalogConfig(strategic_categories=["fish"]),
        r"CatalogConfig\.strategic_categories names unknown category 'fish'",
    ),
    (
        lambda: CatalogConfig(discount_params={"p_zero": 0.7, "low": 0.3, "high": 0.05}),
        r"CatalogConfig\.discount_params needs low <= high, got low=0\.3 high=0\.05",
    ),
    (lambda: CatalogConfig(n_products=0), r"CatalogConfig\.n_products must be an integer >= 1, got 0"),
    (lambda: CatalogConfig(categories=["toys", "toys"]), r"CatalogConfig\.categories must not repeat a name"),
    (
        lambda: UserConfig(segment_mix=[0.4, 0.25, 0.15, 0.25]),
        r"UserConfig\.segment_mix must sum to 1 within 1e-06, got sum 1\.05",
    ),
    (
        lambda: UserConfig(
            segment_params={k: v for k, v in UserConfig().segment_params.items() if k != "premium"}
        ),
        r"UserConfig\.segment_params is missing entries for \['premium'\] \(expected one per segment",
    ),
    (
        lambda: UserConfig(segment_params=_segments(vip=SegmentParams(0.0, 1.0, 0.0, 1.0, [1.0] * 4))),
        r"UserConfig\.segment_params has entries for unknown segment \['vip'\]",
    ),
    (
        lambda: UserConfig(segment_params=_segments(premium=SegmentParams(1.2, -0.25, -2.0, 0.2, [1.0] * 4))),
        r"SegmentParams\.price_std must be > 0, got -0\.25",
    ),
    (
        lambda: UserConfig(
            segment_params=_segments(premium=SegmentParams(1.2, 0.25, -2.0, 0.2, [0.5, 0.0, 0.3, 0.2]))
        ),
        r"SegmentParams\.cat_conc\[1\] must be > 0, got 0\.0",
    ),
    (
        lambda: SimulatorConfig(
            users=UserConfig(segment_params=_segments(premium=SegmentParams(1, 1, 1, 1, [1.0] * 3)))
        ),
        r"UserConfig\.segment_params\['premium'\]\.cat_conc has length 3, expected 4 \(one per catalog category",
    ),
    (lambda: QueryConfig(query_type_mix=[0.6, 0.2, 0.3]), r"QueryConfig\.query_type_mix must sum to 1"),
    (
        lambda: QueryConfig(specificity={"brand": 1.0, "category": 0.7}),
        r"QueryConfig\.specificity is missing entries for \['generic'\]",
    ),
    (
        lambda: SimulatorConfig(behavior=BehaviorConfig(pos_bias={"category": [1.0], "brand": [1.0]})),
        r"BehaviorConfig\.pos_bias is missing entries for \['generic'\]",
    ),
    (
        lambda: BehaviorConfig(pos_bias={"category": []}),
        r"BehaviorConfig\.pos_bias\['category'\] must not be empty",
    ),
    (
        lambda: BehaviorConfig(max_purchases=0),
        r"BehaviorConfig\.max_purchases must be an integer >= 1, got 0",
    ),
    (lambda: RetentionConfig(base_rate=1.0), r"RetentionConfig\.base_rate must be in \(0, 1\), got 1\.0"),
    (lambda: SimulatorConfig(seed=-1), r"SimulatorConfig\.seed must be an integer >= 0, got -1"),
    (lambda: SimulatorConfig(top_k=0), r"SimulatorConfig\.top_k must be an integer >= 1, got 0"),
    (
        lambda: SimulatorConfig(catalog={"n_products": 5}),
        r"SimulatorConfig\.catalog must be a CatalogConfig, got dict",
    ),
]


@pytest.mark.parametrize(("build", "message"), BAD_CONFIGS, ids=[m.split(" ")[0] for _, m in BAD_CONFIGS])
def test_invalid_config_names_field_and_value(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_validate_catches_in_place_edits():
    cfg = SimulatorConfig()
    cfg.catalog.category_mix = [0.25, 0.25, 0.25, 0.2]
    with pytest.raises(ValueError, match=r"CatalogConfig\.category_mix must sum to 1"):
        cfg.validate()


def test_validate_names_the_segment_of_an_edited_segment():
    cfg = SimulatorConfig()
    cfg.users.segment_params["premium"].pl_std = 0.0
    with pytest.raises(
        ValueError, match=r"UserConfig\.segment_params\['premium'\]\.pl_std must be > 0, got 0\.0"
    ):
        cfg.validate()


def test_dict_round_trip_is_exact_and_plain():
    cfg = randomize_config(SimulatorConfig(seed=3), np.random.default_rng(0))
    data = cfg.to_dict()
    assert isinstance(data["users"]["segment_params"]["premium"], dict)
    assert SimulatorConfig.from_dict(data) == cfg


def test_from_dict_takes_defaults_and_rejects_unknown_keys():
    assert SimulatorConfig.from_dict({"seed": 5, "catalog": {"n_products": 100}}) == SimulatorConfig(
        seed=5, catalog=CatalogConfig(n_products=100)
    )
    with pytest.raises(ValueError, match=r"CatalogConfig got unknown field\(s\) \['n_items'\]"):
        SimulatorConfig.from_dict({"catalog": {"n_items": 100}})
    with pytest.raises(ValueError, match=r"SegmentParams data is missing required field\(s\) \['cat_conc'\]"):
        SimulatorConfig.from_dict(
            {
                "users": {
                    "segment_params": {
                        **UserConfig().to_dict()["segment_params"],
                        "premium": {"price_mean": 1.0, "price_std": 0.2, "pl_mean": 0.0, "pl_std": 0.2},
                    }
                }
            }
        )


@pytest.mark.parametrize("suffix", [".json", ".yaml", ".yml"])
def test_save_load_round_trip(tmp_path, suffix):
    cfg = randomize_config(SimulatorConfig(seed=11), np.random.default_rng(1), perturbation=0.2)
    path = cfg.save(tmp_path / f"world{suffix}")
    assert SimulatorConfig.load(path) == cfg


def test_save_rejects_unknown_suffix(tmp_path):
    with pytest.raises(ValueError, match=r"must end in \.json, \.yaml or \.yml, got suffix '\.toml'"):
        SimulatorConfig().save(tmp_path / "world.toml")


def test_yaml_without_pyyaml_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "yaml", None)
    with pytest.raises(ImportError, match=r"pip install 'recframe\[yaml\]'"):
        SimulatorConfig().save(tmp_path / "world.yaml")


def test_randomize_config_perturbs_within_bounds_and_keeps_signs():
    base = SimulatorConfig()
    before = base.to_dict()
    out = randomize_config(base, np.random.default_rng(7), perturbation=0.1)
    assert base.to_dict() == before, "base must be left unchanged"
    assert out != base
    for cat in base.catalog.categories:
        for key in ("mu", "sigma"):
            ratio = out.catalog.price_params[cat][key] / base.catalog.price_params[cat][key]
            assert 0.9 <= ratio <= 1.1 and ratio != 1.0
        slope_ratio = out.catalog.margin_slope[cat] / base.catalog.margin_slope[cat]
        assert 0.9 <= slope_ratio <= 1.1
    assert out.catalog.margin_slope["litter"] < 0
    assert math.isclose(math.fsum(out.users.segment_mix), 1.0, abs_tol=1e-12)
    assert out.users.segment_mix != base.users.segment_mix
    # Renormalization keeps each share within the ratio of its own and the total's extreme factors.
    for new, old in zip(out.users.segment_mix, base.users.segment_mix, strict=True):
        assert 0.9 / 1.1 <= new / old <= 1.1 / 0.9
    unchanged = dataclasses.replace(out, catalog=base.catalog, users=base.users)
    assert unchanged == base, "only the catalog prices/margins and the segment mix may change"


def test_randomize_config_is_deterministic():
    base = SimulatorConfig()
    a = randomize_config(base, np.random.default_rng(42))
    b = randomize_config(base, np.random.default_rng(42))
    c = randomize_config(base, np.random.default_rng(43))
    assert a == b and a != c
    assert randomize_config(base, np.random.default_rng(0), perturbation=0.0) == base


@pytest.mark.parametrize("perturbation", [-0.1, 1.0, float("inf")])
def test_randomize_config_rejects_bad_perturbation(perturbation):
    with pytest.raises(ValueError, match="perturbation must"):
        randomize_config(SimulatorConfig(), np.random.default_rng(0), perturbation=perturbation)
