"""One detection method, two engines: `cluster --engine spark` finds what the local engine finds.

Tolerance: none. Ring memberships must be identical (every matched ring at Jaccard 1.0, the
same flagged accounts), and that is the right bar, not a lucky one: LSH is randomised only
through its seeded permutations, which both engines draw alike (``signatures.permutations``),
and the Spark engine computes each account's tokens and signature with the local engine's
own functions, so both produce the same signatures and the same LSH buckets, hence the same
candidate pairs (``test_spark_view_stage_equals_the_local_one`` checks that row for row);
everything after the pairs is the same code on the same input. The one difference allowed
is float round-off in a view's null concentration (a sum over tokens in a different order:
last digit), far below any threshold's resolution (similarities are multiples of
1/num_perm). A looser tolerance would be needed only if the engines drew different
permutations or bucketed differently, which is the regression these tests exist to catch.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from forensics.cli import app
from forensics.rings.params import ALL_VIEWS, ClusterParams
from forensics.rings.pipeline import ClusterResult, cluster_store, view_stage
from forensics.spark.engine import cluster_store_spark, read_accounts, read_events
from forensics.spark.views import spark_view_stage
from forensics.store import Store

# See the module docstring: identical memberships are expected.
RING_JACCARD_MIN = 1.0
FLAGGED_JACCARD_MIN = 1.0


def _both_engines(
    store: Path, spark, tmp: Path, params: ClusterParams
) -> tuple[ClusterResult, ClusterResult]:
    local, other = tmp / "local", tmp / "spark"
    shutil.copytree(store, local)
    shutil.copytree(store, other)
    by_local = cluster_store(Store(local), params, quiet=True)
    by_spark = cluster_store_spark(Store(other), params, quiet=True, spark=spark)
    return by_local, by_spark


@pytest.fixture(scope="module")
def sample_runs(sample_store, spark, tmp_path_factory) -> tuple[ClusterResult, ClusterResult]:
    return _both_engines(sample_store, spark, tmp_path_factory.mktemp("runs"), ClusterParams())


def ring_agreement(local: pl.DataFrame, spark: pl.DataFrame) -> tuple[list[float], float]:
    """Per local ring, the Jaccard of its members with the best-matching Spark ring; and the
    Jaccard of the two flagged-account sets."""

    def rings(members: pl.DataFrame) -> list[set[str]]:
        return [set(g["account_id"]) for _, g in members.group_by("ring_id")]

    theirs = rings(spark)
    per_ring = [
        max((len(ring & other) / len(ring | other) for other in theirs), default=0.0)
        for ring in rings(local)
    ]
    a, b = set(local["account_id"]), set(spark["account_id"])
    flagged = len(a & b) / len(a | b) if a | b else 1.0
    return per_ring, flagged


def _assert_same_rings(by_local: ClusterResult, by_spark: ClusterResult) -> None:
    per_ring, flagged = ring_agreement(by_local.members, by_spark.members)
    assert by_local.rings.height == by_spark.rings.height
    assert per_ring and min(per_ring) >= RING_JACCARD_MIN
    assert flagged >= FLAGGED_JACCARD_MIN
    # identical memberships also give identical ring ids, scores and evidence edges
    assert by_local.members.equals(by_spark.members)
    assert by_local.edges.equals(by_spark.edges)


def test_spark_view_stage_equals_the_local_one(spark, sample_store):
    """Every view (behaviour and account records included): same accounts, requests,
    signatures, token counts and candidate pairs."""
    store = Store(sample_store)
    params = ClusterParams(views=ALL_VIEWS)
    with pl.Config(engine_affinity="streaming"):
        local = view_stage(store.scan_events(), store.scan_accounts(), params)
    other = spark_view_stage(spark, read_events(spark, store), read_accounts(spark, store), params)
    assert other.index.equals(local.index)
    assert other.requests.sort(pl.all()).equals(local.requests.sort(pl.all()))
    assert other.used == local.used == list(ALL_VIEWS)
    for view in local.used:
        assert np.array_equal(other.signatures[view], local.signatures[view]), view
        assert np.array_equal(other.sizes[view], local.sizes[view]), view
        assert np.array_equal(np.sort(other.token_dfs[view]), np.sort(local.token_dfs[view]))
        assert other.view_stats[view] == local.view_stats[view], view
    assert local.pairs.height > 0
    assert other.pairs.equals(local.pairs)


def test_spark_view_stage_handles_thin_stores_like_the_local_one(spark, make_store):
    """No prompts, no account records, accounts too thin for a view: same (near-empty) stage."""
    events = [
        {"ts": f"2025-03-0{1 + i % 3}T1{i % 10}:00:00Z", "account_id": f"acct-{i % 4}",
         "src_ip": f"10.0.{i % 2}.{i % 4}", "user_agent": "cli/1.0"}
        for i in range(14)
    ]  # fmt: skip
    store = make_store(events)
    params = ClusterParams(views=ALL_VIEWS)
    with pl.Config(engine_affinity="streaming"):
        local = view_stage(store.scan_events(), store.scan_accounts(), params)
    other = spark_view_stage(spark, read_events(spark, store), None, params)
    assert other.index.equals(local.index)
    assert other.available == local.available and "prompt" not in other.used
    for view in local.used:
        assert np.array_equal(other.signatures[view], local.signatures[view]), view
        assert other.view_stats[view] == local.view_stats[view], view
    assert other.pairs.equals(local.pairs)


def test_both_engines_find_the_same_rings_on_sample_logs(sample_runs):
    by_local, by_spark = sample_runs
    assert by_local.rings.height >= 3  # the sample holds four rings
    _assert_same_rings(by_local, by_spark)


def test_both_engines_find_the_same_rings_on_an_evasive_campaign(spark, evasive_store, tmp_path):
    by_local, by_spark = _both_engines(evasive_store, spark, tmp_path, ClusterParams())
    assert by_local.rings.height >= 2
    _assert_same_rings(by_local, by_spark)


def test_spark_run_writes_the_outputs_report_reads_and_names_its_engine(sample_runs):
    _, by_spark = sample_runs
    run = by_spark.run
    assert run["engine"] == "spark"
    assert run["environment"]["spark"].startswith("4.")
    assert run["environment"]["spark_master"] == "local[2]"
    assert run["rings"] == by_spark.rings.height


def test_spark_run_json_on_disk_matches_the_local_runs_findings(sample_runs, tmp_path):
    by_local, by_spark = sample_runs
    for key in ("accounts", "views_used", "rings", "flagged_accounts"):
        assert by_spark.run[key] == by_local.run[key]
    counts = {v: s["candidate_pairs"] for v, s in by_spark.run["views"].items()}
    assert counts == {v: s["candidate_pairs"] for v, s in by_local.run["views"].items()}
    json.dumps(by_spark.run)  # run.json is plain JSON


# ----------------------------------------------------------------------- the command line
runner = CliRunner()


def test_spark_options_without_the_spark_engine_are_a_usage_error(sample_store):
    result = runner.invoke(app, ["cluster", str(sample_store), "--spark-master", "local[2]"])
    assert result.exit_code == 2
    assert "--engine spark" in result.output


def test_unknown_engine_is_a_usage_error(sample_store):
    result = runner.invoke(app, ["cluster", str(sample_store), "--engine", "dask"])
    assert result.exit_code == 2


def test_spark_conf_without_equals_sign_is_a_usage_error(sample_store):
    result = runner.invoke(
        app, ["cluster", str(sample_store), "--engine", "spark", "--spark-conf", "oops"]
    )
    assert result.exit_code == 2
    assert "key=value" in result.output
