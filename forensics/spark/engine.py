"""`forensics cluster --engine spark`: features and the view stage on Spark, the rest locally.

Spark reads the store's hive-partitioned events and computes the feature table
(``spark.features``) and the view stage (``spark.views``: request frame, tokens, signatures,
candidate pairs). Baselines, view edges, the graph, communities, scoring and evidence are
``rings.pipeline.rings_from_views``, the local engine's own code, on what Spark produced;
the outputs are written by the local engine's writer, so ``report`` and ``evaluate`` read
them unchanged. run.json says ``"engine": "spark"`` and records Spark's version and master.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from forensics.console import quiet_from_env
from forensics.errors import ForensicsError
from forensics.rings.params import ClusterParams
from forensics.rings.pipeline import (
    ClusterResult,
    _Clock,
    rings_from_views,
    write_cluster_outputs,
)
from forensics.schema import EVENT_SCHEMA
from forensics.spark.features import spark_account_features
from forensics.spark.session import require_spark, spark_session
from forensics.spark.views import spark_view_stage
from forensics.store import Store, utc_now_iso, write_parquet_atomic

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def local_store(store: Store | str) -> Store:
    """The store at a local path; a URI (s3a://, hdfs://, ...) is refused with one line.

    Spark could read a remote store's events, but ring scoring and evidence read them with
    Polars and the outputs are written by ``Store``, both local-only.
    """
    text = store if isinstance(store, str) else str(store.root)
    if _URI.match(text):
        raise ForensicsError(
            f"the Spark engine reads local stores only: {text} is a URI; copy the store to a "
            "local path (or mount it) and cluster that"
        )
    return Store(text) if isinstance(store, str) else store


def cluster_store_spark(
    store: Store | str,
    params: ClusterParams,
    master: str | None = None,
    conf: dict[str, str] | None = None,
    quiet: bool | None = None,
    spark: SparkSession | None = None,
) -> ClusterResult:
    """`forensics cluster --engine spark`: compute on Spark, write what ``cluster_store`` writes.

    ``spark`` (or else the process's active session, e.g. a notebook's) is used as it is
    and left running; otherwise a session is started on ``master`` (local mode when None)
    with ``conf``, and stopped at the end.
    """
    store = local_store(store)
    quiet = quiet_from_env() if quiet is None else quiet
    store.require()
    require_spark()
    started = utc_now_iso()
    from pyspark.sql import SparkSession

    spark = spark or SparkSession.getActiveSession()
    own = spark is None
    with store.lock(), pl.Config(engine_affinity="streaming"):
        clock = _Clock(quiet)
        if not store.event_files():
            raise ForensicsError(f"store {store.root} holds no events; ingest some logs first")
        session = spark_session(master, conf) if spark is None else spark
        try:
            clock.lap("spark", f"Spark {session.version} on {session.sparkContext.master}")
            events = read_events(session, store)
            accounts = read_accounts(session, store)
            n_events = events.count()
            if n_events == 0:
                raise ForensicsError(f"store {store.root} holds no events; ingest some logs first")
            computed = spark_account_features(session, events, accounts)
            features = computed.table
            write_parquet_atomic(store.features_path, features)
            clock.lap("features", f"features: {features.height} accounts, {n_events} events")
            stage = spark_view_stage(session, events, accounts, params, clock)
            environment = {"spark": session.version, "spark_master": session.sparkContext.master}
        finally:
            if own:
                session.stop()
        result = rings_from_views(
            stage,
            store.scan_events(),
            store.scan_accounts(),
            features,
            params,
            clock,
            computed.templates,
        )
        write_cluster_outputs(store, result, params, clock, started, n_events, "spark", environment)
    return result


def read_events(spark: SparkSession, store: Store) -> DataFrame:
    """The store's events as a Spark frame of the canonical columns (hive partitions dropped).

    Paths are ``file://`` URIs, so that a cluster whose default file system is HDFS still
    reads the local store; executors on other machines need it at the same path (a shared
    mount).
    """
    base = _file_uri(store.events_dir)
    files = [_file_uri(p) for p in store.event_files()]
    return spark.read.option("basePath", base).parquet(*files).select(*EVENT_SCHEMA)


def read_accounts(spark: SparkSession, store: Store) -> DataFrame | None:
    """The store's account records as a Spark frame, or None when it has none."""
    if not store.accounts_path.is_file():
        return None
    return spark.read.parquet(_file_uri(store.accounts_path))


def _file_uri(path: Path) -> str:
    """``file://`` and the absolute path as it is: Hadoop paths are not percent-decoded, so
    ``Path.as_uri`` (``date%3D2025-02-03``) would name a folder that does not exist."""
    return "file://" + str(path.resolve())


def parse_spark_conf(pairs: list[str]) -> dict[str, str]:
    """``["spark.executor.memory=8g", ...]`` -> a dict; ValueError for an item without '='."""
    conf: dict[str, str] = {}
    for item in pairs:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{item!r} is not key=value")
        conf[key.strip()] = value.strip()
    return conf
