"""`forensics cluster` end to end on a small store: rings found, look-alikes left alone."""

from __future__ import annotations

import dataclasses
import json

import polars as pl
import pytest
from typer.testing import CliRunner

from forensics.cli import app
from forensics.errors import ForensicsError
from forensics.rings.params import ClusterParams
from forensics.rings.pipeline import cluster_store, parse_views
from forensics.schema import RING_EDGE_SCHEMA, RING_MEMBER_SCHEMA, RING_SCHEMA


def _flagged(store) -> pl.DataFrame:
    return pl.read_parquet(store.ring_members_path)


def test_each_ring_is_found_as_one_ring(clustered):
    store, _ = clustered
    members = _flagged(store)
    for prefix, size in (("ra", 30), ("rb", 20)):
        mine = members.filter(pl.col("account_id").str.starts_with(prefix))
        assert mine.height >= 0.95 * size
        assert mine["ring_id"].n_unique() == 1
    assert members["ring_id"].n_unique() == 2


@pytest.mark.parametrize("lookalike", ["nat", "app", "corp", "heavy", "ci", "class", "u"])
def test_benign_lookalikes_stay_unflagged(clustered, lookalike):
    store, _ = clustered
    flagged = _flagged(store).filter(pl.col("account_id").str.starts_with(lookalike))
    assert flagged.height == 0, flagged


def test_outputs_have_the_store_schemas(clustered):
    store, _ = clustered
    assert pl.read_parquet(store.ring_members_path).schema == pl.Schema(RING_MEMBER_SCHEMA)
    assert pl.read_parquet(store.ring_edges_path).schema == pl.Schema(RING_EDGE_SCHEMA)
    rings = pl.read_parquet(store.rings_path)
    assert rings.schema == pl.Schema(RING_SCHEMA)
    assert rings["ring_id"].to_list() == ["R001", "R002"]
    assert rings["score"].to_list() == sorted(rings["score"].to_list(), reverse=True)
    assert store.features_path.is_file()


def test_edges_join_accounts_of_the_same_ring(clustered):
    store, _ = clustered
    edges = pl.read_parquet(store.ring_edges_path)
    members = pl.read_parquet(store.ring_members_path)
    ring_of = dict(members.select("account_id", "ring_id").iter_rows())
    assert edges.height > 0
    assert (edges["account_a"] < edges["account_b"]).all()
    pairs = edges.select("account_a", "account_b").iter_rows()
    assert all(ring_of[a] == ring_of[b] for a, b in pairs)
    assert set(edges["view"].unique()) <= {"prompt", "infra", "timing", "behaviour", "combined"}


def test_evidence_names_what_members_share(clustered):
    store, _ = clustered
    rings = pl.read_parquet(store.rings_path)
    evidence = json.loads(rings["evidence"][0])
    assert evidence["findings"] and evidence["findings"][0]["text"] == rings["headline"][0]
    assert evidence["shared"]["prompt_templates"]
    assert evidence["shared"]["user_agents"][0]["value"] == "openai-python/1.40.0"
    assert evidence["created"]["accounts_with_records"] == rings["size"][0]
    assert evidence["timeline"] and evidence["examples"]
    assert isinstance(evidence["contrast"], list)


def test_run_json_records_parameters_inputs_views_and_timings(clustered):
    store, _ = clustered
    run = json.loads(store.run_path.read_text())
    assert run["parameters"]["min_ring_size"] == ClusterParams().min_ring_size
    assert run["seed"] == ClusterParams().seed
    assert run["inputs"] == [{"path": "fixture", "sha256": "f" * 64}]
    assert run["views_available"] == ["prompt", "infra", "timing", "behaviour"]
    assert run["views_used"] == ["prompt", "infra", "timing"]
    assert run["rings"] == 2 and run["timings"]["features_s"] >= 0


def test_store_without_prompts_or_records_still_clusters(tmp_path, population):
    population.benign(80)
    population.ring("ra", 25)
    for event in population.events:  # as from nginx: no prompt text
        event["prompt"] = None
    store = population.store(tmp_path / "store", with_accounts=False)
    result = cluster_store(store, ClusterParams(), quiet=True)
    assert "prompt" not in result.run["views_available"]
    assert result.run["views_used"] == ["infra", "timing"]
    flagged = result.members.filter(pl.col("account_id").str.starts_with("ra"))
    assert flagged.height >= 20
    assert result.members.height == flagged.height


def test_min_ring_size_drops_smaller_rings(tmp_path, population):
    population.benign(60)
    population.ring("ra", 12)
    store = population.store(tmp_path / "store")
    params = dataclasses.replace(ClusterParams(), min_ring_size=20)
    assert cluster_store(store, params, quiet=True).members.height == 0


def test_unknown_view_is_a_user_error():
    with pytest.raises(ForensicsError, match="unknown view"):
        parse_views("prompt,colour")


def test_cluster_command_summarises_on_stderr(tmp_path, population):
    population.benign(40)
    population.ring("ra", 10)
    store = population.store(tmp_path / "store")
    result = CliRunner().invoke(app, ["cluster", str(store.root), "--min-ring-size", "5"])
    assert result.exit_code == 0, result.output
    assert "ring(s)" in result.output


def test_cluster_command_on_a_missing_store_exits_1(tmp_path):
    result = CliRunner().invoke(app, ["cluster", str(tmp_path / "nothing")])
    assert result.exit_code == 1
    assert "not a forensics store" in result.output


def test_a_uri_store_without_the_spark_engine_is_a_usage_error():
    result = CliRunner().invoke(app, ["cluster", "s3a://bucket/case42"])
    assert result.exit_code == 2
    assert "--engine spark" in result.output
