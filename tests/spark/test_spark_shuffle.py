"""What the Spark engine moves between tasks: only what the local functions read.

The view tasks receive each account's sampled prompts and no other prompt text; the feature
tasks receive the store order as one integer, and work without it on events that do not
come from Parquet files.
"""

from __future__ import annotations

import polars as pl
from polars.testing import assert_frame_equal

from forensics.features.compute import account_features
from forensics.rings.params import ClusterParams
from forensics.rings.prompt_sample import prompt_sample
from forensics.rings.views import account_index, request_frame
from forensics.spark.engine import read_events
from forensics.spark.features import _ORDER, _ordered_events, spark_account_features
from forensics.spark.views import _view_events
from forensics.store import Store

from ..conftest import canonical_events


def test_view_tasks_receive_exactly_the_sampled_prompts(spark, sample_store):
    store = Store(sample_store)
    params = ClusterParams()
    index = account_index(store.scan_events())
    requests = request_frame(store.scan_events(), index, params)
    shipped = pl.from_arrow(
        _view_events(spark, read_events(spark, store), index, requests, 64, params, True).toArrow()
    )
    assert "account_id" not in shipped.columns  # accounts travel as their number
    sampled = (
        prompt_sample(store.scan_events(), requests, index, params)
        .join(index.lazy(), on="account_id")
        .select(pl.col("idx").cast(pl.Int32), "prompt")
        .unique()
        .collect()
    )
    with_text = shipped.filter(pl.col("prompt").is_not_null())
    key = ["idx", "prompt"]
    assert_frame_equal(with_text.select(key).unique().sort(key), sampled.sort(key))
    # the sample leaves most prompts behind: the thinning is real on this store
    prompts = store.scan_events().filter(pl.col("prompt").is_not_null()).select(pl.len())
    assert with_text.height < 0.6 * prompts.collect().item()
    assert shipped.height == store.scan_events().select(pl.len()).collect().item()


def test_without_the_prompt_view_no_prompt_text_travels(spark, sample_store):
    store = Store(sample_store)
    params = ClusterParams()
    index = account_index(store.scan_events())
    requests = request_frame(store.scan_events(), index, params)
    shipped = _view_events(spark, read_events(spark, store), index, requests, 64, params, False)
    assert "prompt" not in shipped.columns and "account_id" not in shipped.columns


def test_store_order_is_one_integer_increasing_with_file_and_row(spark, sample_store):
    store = Store(sample_store)
    ordered = pl.from_arrow(_ordered_events(read_events(spark, store)).select(_ORDER).toArrow())
    assert ordered[_ORDER].null_count() == 0
    # in the local engine's order (files by path, rows in turn) the key only increases
    local = pl.concat([pl.scan_parquet(p).select(pl.len()).collect() for p in store.event_files()])[
        "len"
    ].to_list()
    expected = pl.Series(
        [(rank << 40) + row for rank, rows in enumerate(local) for row in range(rows)]
    )
    assert ordered[_ORDER].sort().to_list() == expected.to_list()


def test_features_of_events_built_in_memory_equal_the_local_ones(spark):
    """Events that never were Parquet files have no store order; without same-instant ties
    the table is still the local engine's."""
    rows = [
        {"account_id": f"a{i % 3}", "ts": f"2025-03-01T1{i % 10}:0{i % 7}:00Z",
         "src_ip": f"10.0.{i % 2}.{i % 5}", "model": "m1", "prompt": f"explain topic {i}"}
        for i in range(30)
    ]  # fmt: skip
    events = canonical_events(rows).unique(["account_id", "ts"])
    arrow = events.to_arrow()
    frame = spark.createDataFrame(arrow.cast(_plain_strings(arrow.schema)))
    ordered = pl.from_arrow(_ordered_events(frame).select(_ORDER).toArrow())
    assert ordered[_ORDER].null_count() == ordered.height
    local = account_features(events.lazy(), None)
    on_spark = spark_account_features(spark, frame, None)
    assert_frame_equal(on_spark.table, local.table, check_exact=False, rel_tol=1e-9)


def _plain_strings(schema):
    import pyarrow as pa

    return pa.schema(
        [
            pa.field(f.name, pa.string())
            if pa.types.is_string_view(f.type) or pa.types.is_large_string(f.type)
            else f
            for f in schema
        ]
    )
