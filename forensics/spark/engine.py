"""`forensics cluster --engine spark`: features and the view stage on Spark, the rest locally.

Spark reads the store's hive-partitioned events and computes the feature table
(``spark.features``) and the view stage (``spark.views``: request frame, tokens, signatures,
candidate pairs). Baselines, view edges, the graph, communities, scoring and evidence are
``rings.pipeline.rings_from_views``, the local engine's own code, on what Spark produced;
the outputs are written by the local engine's writer, so ``report`` and ``evaluate`` read
them unchanged. run.json says ``"engine": "spark"`` and records Spark's version and master.
The model-switch evidence is Spark's too (``spark.events``). The store is a local path (a
shared mount on a cluster) or a URI of any file system Spark's Hadoop reads: the driver
then works on a local shadow of it and publishes the outputs (``spark.remote``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from forensics.console import quiet_from_env
from forensics.errors import ForensicsError
from forensics.features.compute import AccountFeatures
from forensics.rings.params import ClusterParams
from forensics.rings.pipeline import (
    ClusterResult,
    SwitchSource,
    ViewStage,
    _Clock,
    rings_from_views,
    write_cluster_outputs,
)
from forensics.schema import EVENT_SCHEMA
from forensics.spark.events import member_events, spark_switch_evidence
from forensics.spark.features import spark_account_features
from forensics.spark.remote import RemoteStore, file_uri
from forensics.spark.session import require_spark, spark_session
from forensics.spark.views import spark_view_stage
from forensics.store import Store, is_uri, utc_now_iso, write_parquet_atomic

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def cluster_store_spark(
    store: Store | str,
    params: ClusterParams,
    master: str | None = None,
    conf: dict[str, str] | None = None,
    quiet: bool | None = None,
    spark: SparkSession | None = None,
) -> ClusterResult:
    """`forensics cluster --engine spark`: compute on Spark, write what ``cluster_store`` writes.

    ``store`` is a local store or a URI of one (``s3a://``, ``hdfs://``, ...; see
    ``spark.remote``). ``spark`` (or else the process's active session, e.g. a notebook's)
    is used as it is and left running; otherwise a session is started on ``master`` (local
    mode when None) with ``conf``, and stopped at the end.
    """
    quiet = quiet_from_env() if quiet is None else quiet
    target = store if isinstance(store, str) else str(store.root)
    local = None if is_uri(target) else (Store(target) if isinstance(store, str) else store)
    if local is not None:
        local.require()
    require_spark()
    started = utc_now_iso()
    from pyspark.sql import SparkSession

    spark = spark or SparkSession.getActiveSession()
    own = spark is None
    session = spark_session(master, conf) if spark is None else spark
    try:
        with pl.Config(engine_affinity="streaming"):
            if local is not None:
                return _cluster_local_store(session, local, params, quiet, started, own)
            return _cluster_remote_store(
                session, RemoteStore(session, target), params, quiet, started
            )
    finally:
        if own:
            session.stop()


def _cluster_local_store(
    session: SparkSession,
    store: Store,
    params: ClusterParams,
    quiet: bool,
    started: str,
    own: bool,
) -> ClusterResult:
    """A store on a local path (or a mount every executor sees): the driver reads the
    flagged accounts' events with Polars, and Spark is stopped (when this run started it)
    before the graph, which then has the machine's memory to itself."""
    with store.lock():
        clock = _Clock(quiet)
        if not store.event_files():
            raise ForensicsError(f"store {store.root} holds no events; ingest some logs first")
        events = read_events(session, store)
        stage, computed, switch, n_events = _spark_stages(
            session, events, read_accounts(session, store), store, params, clock, str(store.root)
        )
        environment = _environment(session)
        if own:
            session.stop()
        result = rings_from_views(
            stage,
            store.scan_events(),
            store.scan_accounts(),
            computed.table,
            params,
            clock,
            computed.templates,
            switch_from=switch,
        )
        write_cluster_outputs(store, result, params, clock, started, n_events, "spark", environment)
    return result


def _cluster_remote_store(
    session: SparkSession,
    remote: RemoteStore,
    params: ClusterParams,
    quiet: bool,
    started: str,
) -> ClusterResult:
    """A store at a URI: inputs and outputs pass through a driver-local shadow store, the
    flagged accounts' events come from Spark, and each output is published atomically."""
    remote.require()
    with remote.lock(), tempfile.TemporaryDirectory(prefix="forensics-cluster-") as scratch:
        clock = _Clock(quiet)
        shadow = remote.shadow(Path(scratch) / "store")
        files = remote.event_files()
        if not files:
            raise ForensicsError(f"store {remote.uri} holds no events; ingest some logs first")
        events = read_event_files(session, files, remote.path("events"))
        accounts_rel = "accounts/accounts.parquet"
        accounts_df = (
            session.read.parquet(remote.path(accounts_rel)) if remote.exists(accounts_rel) else None
        )
        stage, computed, switch, n_events = _spark_stages(
            session, events, accounts_df, shadow, params, clock, remote.uri
        )
        result = rings_from_views(
            stage,
            None,
            shadow.scan_accounts(),
            computed.table,
            params,
            clock,
            computed.templates,
            switch_from=switch,
            member_events=lambda ids: member_events(
                session, events, ids, remote, Path(scratch) / "member_events"
            ),
        )
        write_cluster_outputs(
            shadow, result, params, clock, started, n_events, "spark", _environment(session)
        )
        # the local engine's order: features, then the ring files, run.json last
        for path in (
            shadow.features_path,
            shadow.ring_members_path,
            shadow.ring_edges_path,
            shadow.rings_path,
            shadow.run_path,
        ):
            remote.publish(path, path.relative_to(shadow.root).as_posix())
        clock.lap("publish", f"outputs written to {remote.uri}")
    return result


def _spark_stages(
    session: SparkSession,
    events: DataFrame,
    accounts: DataFrame | None,
    store: Store,
    params: ClusterParams,
    clock: _Clock,
    where: str,
) -> tuple[ViewStage, AccountFeatures, SwitchSource, int]:
    """What Spark computes: features (written to ``store``), the view stage, and the
    model-switch evidence (computed now, while Spark runs; served when ring scoring asks)."""
    clock.lap("spark", f"Spark {session.version} on {session.sparkContext.master}")
    n_events = events.count()
    if n_events == 0:
        raise ForensicsError(f"store {where} holds no events; ingest some logs first")
    computed = spark_account_features(session, events, accounts)
    write_parquet_atomic(store.features_path, computed.table)
    clock.lap("features", f"features: {computed.table.height} accounts, {n_events} events")
    stage = spark_view_stage(session, events, accounts, params, clock)
    switch = (
        None if "behaviour" in stage.used else spark_switch_evidence(events, stage.index, params)
    )
    clock.lap("switch", "model-switch evidence")
    return stage, computed, (lambda _index: switch), n_events


def _environment(session: SparkSession) -> dict[str, str]:
    return {"spark": session.version, "spark_master": session.sparkContext.master}


def read_events(spark: SparkSession, store: Store) -> DataFrame:
    """A local store's events as a Spark frame of the canonical columns.

    Paths are ``file://`` URIs, so that a cluster whose default file system is HDFS still
    reads the local store; executors on other machines need it at the same path (a shared
    mount).
    """
    return read_event_files(
        spark, [file_uri(p) for p in store.event_files()], file_uri(store.events_dir)
    )


def read_event_files(spark: SparkSession, files: list[str], base: str) -> DataFrame:
    """Events of a store's Parquet ``files`` (URIs below its ``events`` folder ``base``) as
    a Spark frame of the canonical columns (hive partitions dropped)."""
    return spark.read.option("basePath", base).parquet(*files).select(*EVENT_SCHEMA)


def read_accounts(spark: SparkSession, store: Store) -> DataFrame | None:
    """A local store's account records as a Spark frame, or None when it has none."""
    if not store.accounts_path.is_file():
        return None
    return spark.read.parquet(file_uri(store.accounts_path))


def parse_spark_conf(pairs: list[str]) -> dict[str, str]:
    """``["spark.executor.memory=8g", ...]`` -> a dict; ValueError for an item without '='."""
    conf: dict[str, str] = {}
    for item in pairs:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{item!r} is not key=value")
        conf[key.strip()] = value.strip()
    return conf
