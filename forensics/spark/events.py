"""The events ring scoring and evidence read after the view stage, served by Spark.

* ``spark_switch_evidence``: the model-switch evidence (``scoring.switch_evidence``) from
  three Spark aggregates (per model, the first request; per account, the first request
  and the first to the newest model); the rule and the signature are the local engine's
  functions (``scoring.newest_release``, ``scoring.switch_signature``). The driver never
  reads the events for it.
* ``member_events``: the flagged accounts' events, which the evidence reads, copied from
  Spark into a driver-local Parquet folder one slice of accounts at a time (about
  ``SLICE_ROWS`` events each), so the driver holds one slice, never all of them. Used when
  the store is a URI the driver cannot scan with Polars.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from forensics.rings.graph import ViewNull
from forensics.rings.params import ClusterParams
from forensics.rings.scoring import newest_release, switch_signature
from forensics.schema import EVENT_SCHEMA

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

# events per slice copied to the driver (with prompt text, a few hundred MB in Arrow)
SLICE_ROWS = 1_000_000


def _polars(frame: DataFrame) -> pl.DataFrame:
    """A (small) Spark result as a Polars frame, through Arrow."""
    return pl.from_arrow(frame.toArrow())  # type: ignore[return-value]


def spark_switch_evidence(
    events: DataFrame, index: pl.DataFrame, params: ClusterParams
) -> tuple[np.ndarray, ViewNull] | None:
    """``scoring.switch_evidence`` of ``events`` (a Spark frame of canonical events)."""
    from pyspark.sql import functions as F

    models = _polars(
        events.where(F.col("model").isNotNull())
        .groupBy("model")
        .agg(F.min("ts").alias("first"), F.count(F.lit(1)).alias("n"))
    )
    start = _polars(events.agg(F.min("ts").alias("start")))["start"].item()
    release = newest_release(models, start)
    if release is None:
        return None
    newest, released_at = release
    per = _polars(
        events.where(F.col("account_id").isNotNull())
        .groupBy("account_id")
        .agg(
            F.min("ts").alias("first_seen"),
            F.min(F.when(F.col("model") == F.lit(newest), F.col("ts"))).alias("first_use"),
        )
    )
    per = per.with_columns(pl.col("account_id").cast(index.schema["account_id"]))
    return switch_signature(per, released_at, index, params)


def member_events(
    spark: SparkSession, events: DataFrame, account_ids: pl.Series, folder: Path
) -> pl.LazyFrame:
    """The events of ``account_ids`` as a lazy scan of Parquet files written under ``folder``.

    The ids are broadcast and joined to the events on the executors; the result is cached
    by Spark and pulled slice by slice (slices by a hash of the account, so that each holds
    whole accounts), each slice written as one Parquet file with the canonical schema.
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    folder.mkdir(parents=True, exist_ok=True)
    ids = spark.createDataFrame(
        pl.DataFrame({"account_id": account_ids.cast(pl.String).unique()}).to_arrow()
    )
    flagged = events.join(F.broadcast(ids), on="account_id", how="left_semi").persist(
        StorageLevel.MEMORY_AND_DISK
    )
    try:
        rows = flagged.count()
        slices = max(1, math.ceil(rows / SLICE_ROWS))
        sliced = flagged.withColumn("_slice", F.pmod(F.xxhash64("account_id"), F.lit(slices)))
        for part in range(slices):
            piece = _polars(sliced.where(F.col("_slice") == part).drop("_slice"))
            piece = piece.select(
                [pl.col(c).cast(t) if c in piece.columns else pl.lit(None, t).alias(c)
                 for c, t in EVENT_SCHEMA.items()]
            )  # fmt: skip
            piece.write_parquet(folder / f"part-{part:05d}.parquet", compression="zstd")
    finally:
        flagged.unpersist()
    return pl.scan_parquet(str(folder / "*.parquet"), schema=EVENT_SCHEMA)
