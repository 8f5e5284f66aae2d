"""The events ring scoring and evidence read after the view stage, served by Spark.

* ``spark_switch_evidence``: the model-switch evidence (``scoring.switch_evidence``) from
  three Spark aggregates (per model, the first request; per account, the first request
  and the first to the newest model); the rule and the signature are the local engine's
  functions (``scoring.newest_release``, ``scoring.switch_signature``). The driver never
  reads the events for it.
* ``member_events``: the flagged accounts' events, which the evidence reads, written as
  Parquet by the executors and copied to a driver-local folder as files. Used when the
  store is a URI the driver cannot scan with Polars.
"""

from __future__ import annotations

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

    from forensics.spark.remote import RemoteStore


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
    spark: SparkSession,
    events: DataFrame,
    account_ids: pl.Series,
    remote: RemoteStore,
    folder: Path,
) -> pl.LazyFrame:
    """The events of ``account_ids`` as a lazy scan of Parquet files copied into ``folder``.

    The ids are broadcast and joined to the events on the executors, which write the result
    as Parquet into a scratch folder of the store (``STORE/.scratch/ID``); the driver copies
    those files to ``folder`` (bytes only: no rows pass through Python) and deletes the
    scratch folder. Times travel as integer microseconds, so that no Parquet timestamp
    convention of Spark's can shift them.
    """
    from pyspark.sql import functions as F

    ids = spark.createDataFrame(
        pl.DataFrame({"account_id": account_ids.cast(pl.String).unique()}).to_arrow()
    )
    flagged = events.join(F.broadcast(ids), on="account_id", how="left_semi")
    with remote.scratch() as where:
        flagged.withColumn("ts", F.unix_micros("ts")).write.option("compression", "zstd").parquet(
            where
        )
        remote.download_folder(where, folder)
    return (
        pl.scan_parquet(str(folder / "*.parquet"))
        .with_columns(pl.from_epoch("ts", "us").dt.replace_time_zone("UTC"))
        .select([pl.col(c).cast(t) for c, t in EVENT_SCHEMA.items()])
    )
