"""World streams and determinism, the snapshot files, and the ``world`` CLI handler."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from recframe.environments.pet_retail import cli
from recframe.environments.pet_retail.catalog import generate_catalog
from recframe.environments.pet_retail.config import CatalogConfig, SimulatorConfig
from recframe.environments.pet_retail.world import STREAMS, World, write_world_snapshot

SMALL = SimulatorConfig(catalog=CatalogConfig(n_products=2_000))


def _catalog_bytes(world: World) -> bytes:
    c = world.catalog
    return b"".join(
        a.tobytes() for a in (c.categories, c.prices, c.cm2, c.is_pl, c.discounts, c.bestseller, c.embeddings)
    )


def test_same_seed_same_world_and_different_seed_different_world():
    a, b = World.create(SMALL), World.create(SMALL)
    c = World.create(SimulatorConfig(seed=SMALL.seed + 1, catalog=SMALL.catalog))
    assert _catalog_bytes(a) == _catalog_bytes(b) != _catalog_bytes(c)
    ua, ub, uc = a.sample_users(300), b.sample_users(300), c.sample_users(300)
    assert ua.theta_emb.tobytes() == ub.theta_emb.tobytes() != uc.theta_emb.tobytes()
    qa, qb = a.sample_queries(ua), b.sample_queries(ub)
    assert qa.token_ids.tobytes() == qb.token_ids.tobytes() and qa.phi_emb.tobytes() == qb.phi_emb.tobytes()


def test_streams_are_spawned_from_the_seed():
    world = World.create(SMALL)
    children = np.random.SeedSequence(SMALL.seed).spawn(len(STREAMS))
    expected = generate_catalog(SMALL.catalog, np.random.default_rng(children[0]))
    assert world.catalog.prices.tobytes() == expected.prices.tobytes()
    assert set(world.rngs) == set(STREAMS)


def test_streams_are_independent():
    a, b = World.create(SMALL), World.create(SMALL)
    a.rngs["relevance"].random(1_000)  # drawing from some streams...
    a.rngs["behavior"].random(10)
    ua, ub = a.sample_users(200), b.sample_users(200)
    assert ua.theta_price.tobytes() == ub.theta_price.tobytes()  # ...leaves the others unchanged
    a.sample_users(5)  # and more shoppers do not change the queries of the same shoppers
    assert a.sample_queries(ua).phi_emb.tobytes() == b.sample_queries(ub).phi_emb.tobytes()


def test_create_validates_the_config():
    cfg = SimulatorConfig()
    cfg.users.segment_mix = [0.5, 0.5, 0.5, 0.5]
    with pytest.raises(ValueError, match=r"UserConfig\.segment_mix must sum to 1"):
        World.create(cfg)


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory):
    out = tmp_path_factory.mktemp("snapshot")
    stats = write_world_snapshot(out, n_users=20_000, verbose=False)
    return out, stats


def test_snapshot_writes_the_three_files(snapshot):
    out, stats = snapshot
    assert sorted(p.name for p in out.iterdir()) == ["catalog_stats.json", "queries.json", "users.json"]
    for stem, content in stats.items():
        assert json.loads((out / f"{stem}.json").read_text()) == content


def test_catalog_stats_content(snapshot):
    catalog = snapshot[1]["catalog_stats"]
    assert catalog["seed"] == 2025_1108 and catalog["n_products"] == 10_000
    cats = catalog["categories"]
    assert sum(c["count"] for c in cats.values()) == 10_000
    for name, c in cats.items():
        p = c["price"]
        assert p["p5"] < p["p25"] < p["p50"] < p["p75"] < p["p95"]
        n = c["count"]
        # The median of a lognormal is e^mu; the sample median's standard error is about
        # sqrt(pi / 2) * sigma * e^mu / sqrt(n) (delta method).
        assert abs(p["p50"] - p["exp_mu"]) < 5 * np.sqrt(np.pi / 2) * p["sigma"] * p["exp_mu"] / np.sqrt(n)
        assert abs(c["share"] - c["expected_share"]) < 5 * np.sqrt(c["expected_share"] / 10_000)
        assert abs(c["pl_share"] - c["expected_pl_share"]) < 5 * np.sqrt(0.25 / n)
        assert set(c["cm2"]) >= {"mean", "std", "slope", "fitted_slope", "negative_share"}
        assert c["strategic"] == (name == "litter")
    assert cats["litter"]["cm2"]["fitted_slope"] < 0 < cats["toys"]["cm2"]["fitted_slope"]
    assert abs(catalog["overall"]["discount_zero_share"] - 0.7) < 5 * np.sqrt(0.21 / 10_000)


def test_users_and_queries_content(snapshot):
    users, queries = snapshot[1]["users"], snapshot[1]["queries"]
    assert users["n_users"] == queries["n_queries"] == 20_000
    segs = users["segments"]
    assert sum(s["count"] for s in segs.values()) == 20_000
    for s in segs.values():
        assert abs(s["theta_price"]["mean"] - s["theta_price"]["expected_mean"]) < 5 * s["theta_price"][
            "expected_std"
        ] / np.sqrt(s["count"])
        assert sum(s["theta_cat_mean"].values()) == pytest.approx(1.0)
    assert sum(t["share"] for t in queries["query_types"].values()) == pytest.approx(1.0)
    for name, q in queries["segments"].items():
        rate, n = q["expected_intent_rate"], segs[name]["count"]
        assert abs(q["intent_rate"] - rate) < 5 * np.sqrt(rate * (1 - rate) / n)
    assert queries["segments"]["litter_heavy"]["top_category"] == "litter"
    assert queries["theta_phi_cosine"]["share_above_0.95"] > 0.99


def test_snapshot_prints_a_summary(tmp_path, capsys):
    write_world_snapshot(tmp_path, SMALL, n_users=500)
    printed = capsys.readouterr().out
    assert "litter_heavy" in printed and "e^mu" in printed and "2000 products" in printed


def test_snapshot_rejects_no_users(tmp_path):
    with pytest.raises(ValueError, match="n_users must be >= 1, got 0"):
        write_world_snapshot(tmp_path, SMALL, n_users=0)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="recframe")
    cli.register(parser.add_subparsers(dest="command"))
    return parser


def test_cli_world_writes_a_snapshot(tmp_path, capsys):
    config_path = SMALL.save(tmp_path / "small.yaml")
    args = _parser().parse_args(
        ["world", "--out", str(tmp_path / "w"), "--seed", "7", "--config", str(config_path), "--users", "300"]
    )
    assert args.func(args) == 0
    catalog = json.loads((tmp_path / "w" / "catalog_stats.json").read_text())
    users = json.loads((tmp_path / "w" / "users.json").read_text())
    assert catalog["seed"] == 7 and catalog["n_products"] == 2_000 and users["n_users"] == 300
    assert "wrote catalog_stats.json" in capsys.readouterr().out


def test_cli_world_reports_a_bad_config(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"catalog": {"category_mix": [0.5, 0.5, 0.5, 0.5]}}))
    args = _parser().parse_args(["world", "--out", str(tmp_path / "w"), "--config", str(bad)])
    assert args.func(args) == 2
    assert "CatalogConfig.category_mix must sum to 1" in capsys.readouterr().err
    assert not (tmp_path / "w").exists()


def test_cli_world_requires_out():
    with pytest.raises(SystemExit):
        _parser().parse_args(["world"])
