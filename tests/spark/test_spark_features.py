"""The feature table on Spark is the local engine's: same columns, types, rows and values.

Floats may differ by round-off only (sums taken in another order), so they are compared
to 1e-9 relative; everything else exactly. The template counts (ring evidence reads
them) must be the same rows.
"""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from forensics.features.catalog import FEATURE_SCHEMA
from forensics.features.compute import AccountFeatures, account_features
from forensics.spark.engine import read_accounts, read_events
from forensics.spark.features import spark_account_features
from forensics.store import Store

from ..conftest import canonical_events

FLOAT_REL_TOL = 1e-9


def _on_spark(spark, store: Store) -> AccountFeatures:
    return spark_account_features(spark, read_events(spark, store), read_accounts(spark, store))


def _on_polars(store: Store) -> AccountFeatures:
    return account_features(store.scan_events(), store.scan_accounts())


def assert_same_features(local: AccountFeatures, spark: AccountFeatures) -> None:
    """Same table (columns, dtypes, row order; floats to FLOAT_REL_TOL) and template rows."""
    assert spark.table.schema == local.table.schema
    assert_frame_equal(
        spark.table, local.table, check_exact=False, rel_tol=FLOAT_REL_TOL, abs_tol=0.0
    )
    assert spark.templates.schema == local.templates.schema
    key = ["account_id", "template"]  # the local frame comes in group-by order

    def rows(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.with_columns(pl.col("account_id").cast(pl.String)).sort(key)

    assert_frame_equal(rows(spark.templates), rows(local.templates))


@pytest.fixture(scope="module")
def sample(sample_store) -> Store:
    return Store(sample_store)


@pytest.fixture(scope="module")
def evasive(evasive_store) -> Store:
    return Store(evasive_store)


def test_spark_features_equal_local_on_sample_logs(spark, sample):
    local = _on_polars(sample)
    assert local.table.height > 900  # the sample's accounts with events
    assert_same_features(local, _on_spark(spark, sample))


def test_spark_features_equal_local_on_evasive_campaign(spark, evasive):
    local = _on_polars(evasive)
    # the cross-account features are defined here, so the comparison covers them
    for name in ("sync_ratio", "shared_template_share", "model_switch_burst", "payment_accounts"):
        assert local.table[name].drop_nulls().len() > 0, name
    assert_same_features(local, _on_spark(spark, evasive))


def test_spark_keeps_the_store_order_of_requests_at_one_instant(spark, make_store):
    """Two requests of one account at one instant from two IPs: the IP switches count them in
    the local engine's order (store files by name, rows in file order), even though Spark
    reads the larger file first."""
    t0, t1, t2 = "2025-03-01T10:00:00Z", "2025-03-01T10:05:00Z", "2025-03-01T10:09:00Z"
    later_file = [
        {"account_id": "u", "ts": t0, "src_ip": "10.0.0.1"},
        {"account_id": "u", "ts": t1, "src_ip": "10.0.0.1"},
        {"account_id": "u", "ts": t2, "src_ip": "10.0.0.2"},
    ]
    # padding makes this file the larger one, which Spark packs (and so reads) first
    later_file += [
        {"account_id": f"pad{i}", "ts": t0, "src_ip": f"10.1.{i}.1", "prompt": "x" * 400 + str(i)}
        for i in range(200)
    ]
    store = make_store(later_file)
    earlier = canonical_events([{"account_id": "u", "ts": t1, "src_ip": "10.0.0.2"}])
    (day,) = store.events_dir.glob("date=*")
    earlier.write_parquet(day / "part-0-earlier.parquet")  # sorts before part-fixture
    local = _on_polars(store)
    u = local.table.filter(pl.col("account_id") == "u")
    # in store order: .1 (t0), .2 (t1, earlier file), .1 (t1), .2 (t2): three switches in three
    assert u["ip_switch_share"].item() == 1.0
    assert_same_features(local, spark_account_features(spark, read_events(spark, store), None))


def test_spark_features_have_the_catalogue_columns_without_account_records(spark, make_store):
    events = [
        {"account_id": "a", "ts": "2025-03-01T10:00:00Z", "src_ip": "10.0.0.1", "model": "m1"},
        {"account_id": "b", "ts": "2025-03-01T11:00:00Z", "src_ip": "10.0.0.1", "model": "m1"},
        {"account_id": "a", "ts": "2025-03-02T10:00:00Z", "prompt": "summarise this text: hi"},
    ]
    store = make_store(events)
    spark_result = spark_account_features(spark, read_events(spark, store), None)
    assert list(spark_result.table.columns) == list(FEATURE_SCHEMA)
    assert spark_result.table["account_id"].to_list() == ["a", "b"]
    assert spark_result.table["ip_accounts_max"].to_list() == [2, 2]
    assert_same_features(_on_polars(store), spark_result)


def test_spark_features_equal_local_when_the_events_lack_columns(spark, sample):
    """Logs without prompts or models: those features are null on both engines, not an error."""
    missing = ("prompt", "model", "user_agent")
    local = account_features(sample.scan_events().drop(missing), None)
    events = read_events(spark, sample).drop(*missing)
    on_spark = spark_account_features(spark, events, None)
    assert on_spark.table["distinct_templates"].null_count() == on_spark.table.height
    assert on_spark.templates.height == 0
    assert_same_features(local, on_spark)
