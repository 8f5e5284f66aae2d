"""Account features on Spark: the same table and templates as ``account_features``.

Spark does the distribution and the shuffles; every formula is the local engine's Polars
code (``forensics.features.compute``), run inside Spark tasks on Arrow batches:

1. Each event is first reduced where it was read, before any shuffle (``_request_rows``,
   ``_with_templates``): the terms of the request sums, the prompt's template hash,
   account, time, IP, model and the store order (one integer: the file's rank, the
   row in the file); the prompt text is never shuffled. These
   rows are repartitioned by account, so a task holds whole accounts, and in the task the
   local per-account parts run unchanged, in the local engine's order (time, then store
   file and row): request sums, volume and timing, the hour-of-day entropy, IP and subnet
   counts. The task also emits the per-account partial rows of the cross-account
   features: distinct (account, IP, /24), (account, model, n, first request), (account,
   template, n, long) and (account, time bucket, /24) cells. Template skeletons, IP
   prefixes and time buckets are Polars expressions, computed only in tasks, never
   re-derived in Spark SQL.
2. Spark counts over the population with group-bys and joins: accounts per IP and per
   /24, accounts per template and the number N of accounts with prompts, the cells per
   (bucket, /24), per bucket and per /24 and in total, requests and first use per model.
   The newest model is picked on the driver by the local code from the few per-model rows.
3. The counted rows are repartitioned by account again and the local per-account
   aggregations (``_infra_per_account``, ``_templates_per_account``, ``_sync_per_account``,
   ``_model_mix_per_account``) run in tasks.
4. The per-account rows (one per account) are joined and brought to the driver, where the
   parts whose input is one row per account run as in the local engine: the fleet-wide
   model-switch curve, the account-record features, the ratios and the final column set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import polars as pl
import pyarrow as pa

from forensics.features import compute as fc
from forensics.features.compute import AccountFeatures, FeatureParams
from forensics.schema import EVENT_SCHEMA

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

# The local engine reads the store's files in path order and each file in row order, and
# sorts the events stably by time: this column carries that order into the tasks, as one
# integer, (rank of the file among the input files) * 2^40 + (row in the file).
_ORDER = "_order"
_ROW_BITS = 40
_KIND = "_kind"  # which partial a row of a union frame is
# columns of the partial rows (not features) in the frame of step 1
_PARTIAL_COLUMNS = ("src_ip", "subnet24", "model", "n", "first_ts", "template", "long", "bucket")


def _spark_types(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` in types Spark has: categoricals as text, unsigned integers as Int64.

    64-bit template ids keep their bits (reinterpreted as signed, undone by
    ``_template_ids``), so that equal ids stay equal and distinct ones distinct.
    """
    casts = []
    for name, dtype in frame.schema.items():
        if dtype == pl.UInt64:
            casts.append(pl.col(name).reinterpret(signed=True))
        elif dtype in (pl.UInt8, pl.UInt16, pl.UInt32):
            casts.append(pl.col(name).cast(pl.Int64))
        elif isinstance(dtype, pl.Categorical | pl.Enum):
            casts.append(pl.col(name).cast(pl.String))
        else:
            casts.append(pl.col(name))
    return frame.select(casts)


def _template_ids(column: str = "template") -> pl.Expr:
    """Template ids back as the local engine's UInt64 (see ``_spark_types``)."""
    return pl.col(column).reinterpret(signed=False)


def _map_accounts(
    df: DataFrame, task: Callable[[pl.DataFrame], pl.DataFrame], name: str
) -> DataFrame:
    """Run ``task`` on whole accounts: ``df`` repartitioned by ``account_id``, one call per task.

    ``task`` takes every row of the task's accounts as one Polars frame and returns a frame.
    """
    return _map_rows(df.repartition("account_id"), task, whole=True).alias(name)


def _map_rows(
    df: DataFrame, task: Callable[[pl.DataFrame], pl.DataFrame], whole: bool = False
) -> DataFrame:
    """Run ``task`` on ``df``'s Arrow batches (``whole``: on each partition as one frame).

    The output schema is what ``task`` returns for no rows (asked once, on the driver).
    """
    from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema

    empty = pl.from_arrow(to_arrow_schema(df.schema, timezone="UTC").empty_table())
    out_schema = from_arrow_schema(
        _spark_types(task(empty)).to_arrow().schema, prefer_timestamp_ntz=False
    )
    out_arrow = to_arrow_schema(out_schema, timezone="UTC")

    def apply(batches: list[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        frame = pl.from_arrow(pa.Table.from_batches(batches))
        yield from _spark_types(task(frame)).to_arrow().cast(out_arrow).to_batches()

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        if whole:
            received = list(batches)
            if received:
                yield from apply(received)
        else:
            for batch in batches:
                yield from apply([batch])

    return df.mapInArrow(run, out_schema)


def _request_rows(params: FeatureParams) -> Callable[[pl.DataFrame], pl.DataFrame]:
    """The map-side task: each event reduced to what the features read of it.

    Row by row, before any shuffle: the request sums' terms (``_request_rows``), the
    prompt's template hash (``_with_templates``), account, time, IP, model and the store
    order. The prompt text stays where it was read, and the user agent travels as a 64-bit
    hash (the sums only count distinct agents: equal agents stay equal, distinct ones
    distinct unless two of an account's agents collide, probability about 2^-64 a pair).
    """

    def task(events: pl.DataFrame) -> pl.DataFrame:
        source = fc._canonical(events.lazy(), keep=(_ORDER,))
        slim = fc._with_templates(source, params).select(
            "ts", "src_ip", "model", "template", "template_long", _ORDER
        )
        agent = pl.col("user_agent")
        terms = fc._request_rows(source).with_columns(
            pl.when(agent.is_not_null()).then(agent.hash()).alias("user_agent")
        )
        return pl.concat([terms, slim], how="horizontal", strict=True).collect()

    return task


def _event_parts(params: FeatureParams) -> Callable[[pl.DataFrame], pl.DataFrame]:
    """The task of step 1: per-account features and the cross-account partials, as one frame.

    The rows of each partial are told apart by ``_kind``: "account" (the per-account
    features), "ip" (account_id, src_ip, subnet24), "model" (account_id, model, n,
    first_ts), "template" (account_id, template, n, long), "cell" (account_id, bucket,
    subnet24).
    """

    def task(rows: pl.DataFrame) -> pl.DataFrame:
        ordered = rows.sort(["ts", _ORDER], maintain_order=True).with_columns(_template_ids())
        requests = fc._request_sums(ordered.lazy())
        ev = fc._as_slim(ordered.lazy()).collect().lazy()  # in time order
        prefixes = fc._ip_prefixes(ev).collect().lazy()
        account_ips = fc._account_ips(ev, prefixes).collect().lazy()
        table = fc._volume_timing(ev)
        for part in (fc._hour_entropy(ev), fc._network(account_ips)):
            table = table.join(part, on="_account", how="left")
        table = (
            table.drop("_account")
            .with_columns(pl.col("account_id").cast(pl.String))
            .join(requests, on="account_id", how="left")
        )
        # the categorical codes of accounts and IPs, back to their text
        names = ev.select(
            pl.col("account_id").to_physical().alias("_account"),
            pl.col("account_id").cast(pl.String),
        ).unique()
        ips = ev.select(
            pl.col("src_ip").to_physical().alias("_ip"), pl.col("src_ip").cast(pl.String)
        ).unique()
        ip_rows = (
            account_ips.join(names, on="_account")
            .join(ips, left_on="src_ip", right_on="_ip")
            .select("account_id", pl.col("src_ip_right").alias("src_ip"), "subnet24")
        )
        cells = (
            ev.filter(pl.col("src_ip").is_not_null())
            .join(prefixes.select("src_ip", "subnet24"), on="src_ip")
            .filter(pl.col("subnet24").is_not_null())
            .select("account_id", fc.sync_bucket(params).alias("bucket"), "subnet24")
            .unique()
        )
        parts = {
            "account": table,
            "ip": ip_rows,
            "model": fc._model_pairs(ev),
            "template": fc._template_pairs(ev),
            "cell": cells,
        }
        frames = [
            _spark_types(part.collect()).with_columns(pl.lit(kind).alias(_KIND))
            for kind, part in parts.items()
        ]
        return pl.concat(frames, how="diagonal")

    return task


def _kind(parts: DataFrame, kind: str, *columns: str) -> DataFrame:
    from pyspark.sql import functions as F

    return parts.where(F.col(_KIND) == kind).select("account_id", *columns)


def _infra(parts: DataFrame) -> DataFrame:
    """Accounts per IP and per /24 (Spark), max and median per account (tasks)."""
    from pyspark.sql import functions as F

    ips = _kind(parts, "ip", "src_ip", "subnet24")
    ip_accounts = ips.groupBy("src_ip").agg(F.count("*").alias("ip_accounts"))
    subnets = ips.where(F.col("subnet24").isNotNull()).select("account_id", "subnet24").distinct()
    subnet_accounts = subnets.groupBy("subnet24").agg(F.count("*").alias("subnet_accounts"))
    rows = ips.join(ip_accounts, "src_ip").select(
        F.lit("ip").alias(_KIND),
        "account_id",
        "ip_accounts",
        F.lit(None).cast("long").alias("subnet_accounts"),
    )
    rows = rows.unionByName(
        subnets.join(subnet_accounts, "subnet24").select(
            F.lit("subnet").alias(_KIND),
            "account_id",
            F.lit(None).cast("long").alias("ip_accounts"),
            "subnet_accounts",
        )
    )

    def task(frame: pl.DataFrame) -> pl.DataFrame:
        kind = pl.col(_KIND)
        return fc._infra_per_account(
            frame.lazy().filter(kind == "ip"), frame.lazy().filter(kind == "subnet"), "account_id"
        ).collect()

    return _map_accounts(rows, task, "infra")


def _templates(parts: DataFrame) -> DataFrame:
    """Accounts per template and N (Spark); template repetition and sharing per account (tasks)."""
    from pyspark.sql import functions as F

    pairs = _kind(parts, "template", "template", "n", "long")
    prompted = pairs.select("account_id").distinct().count()
    per_template = pairs.groupBy("template").agg(F.count("*").alias("template_accounts"))
    # Spark resolves names regardless of case: N travels as "prompted" (beside "n")
    rows = pairs.join(per_template, "template").withColumn("prompted", F.lit(prompted).cast("long"))

    def task(frame: pl.DataFrame) -> pl.DataFrame:
        counted = frame.lazy().with_columns(_template_ids()).rename({"prompted": "N"})
        return fc._templates_per_account(counted).collect()

    return _map_accounts(rows, task, "templates")


def _synchrony(parts: DataFrame) -> DataFrame:
    """Cells per (bucket, /24), per bucket, per /24 and in all (Spark); sync ratio (tasks)."""
    from pyspark.sql import functions as F

    cells = _kind(parts, "cell", "bucket", "subnet24")
    total = cells.count()
    # A (cells in the bucket) and S (cells on the /24) are sums of the (bucket, /24) counts,
    # so only those few rows are grouped again and joined, and the cells are joined once
    c = cells.groupBy("bucket", "subnet24").agg(F.count("*").alias("c"))
    a = c.groupBy("bucket").agg(F.sum("c").alias("A"))
    s = c.groupBy("subnet24").agg(F.sum("c").alias("S"))
    counts = c.join(a, "bucket").join(s, "subnet24")
    rows = cells.join(counts, ["bucket", "subnet24"]).select(
        "account_id", "c", "A", "S", F.lit(total).cast("long").alias("T")
    )

    def task(frame: pl.DataFrame) -> pl.DataFrame:
        return fc._sync_per_account(frame.lazy(), "account_id").collect()

    return _map_accounts(rows, task, "synchrony")


def _model_mix(parts: DataFrame, params: FeatureParams) -> DataFrame:
    """Requests and first use per model (Spark), the newest model (driver), the mix (tasks)."""
    from pyspark.sql import functions as F

    pairs = _kind(parts, "model", "model", "n", "first_ts")
    per_model = pairs.groupBy("model").agg(
        F.sum("n").alias("n"), F.min("first_ts").alias("first_ts")
    )
    newest = fc._newest_model(pl.from_arrow(per_model.toArrow()).lazy(), params).collect()
    is_newest = F.lit(False)
    if newest.height:
        is_newest = F.col("model") == F.lit(newest["model"].cast(pl.String).item())
    rows = pairs.withColumn("is_newest", is_newest)

    def task(frame: pl.DataFrame) -> pl.DataFrame:
        return fc._model_mix_per_account(frame.lazy()).collect()

    return _map_accounts(rows, task, "model_mix")


def _ordered_events(events: DataFrame) -> DataFrame:
    """The columns the features read, with the local engine's row order as ``_ORDER``.

    That order is the store's files by path (the date folder, then the file name) and
    each file's rows in turn; it decides only between requests of one account at the same
    instant (which IP came first). Events that do not come straight from Parquet files
    have no file order: such ties then keep the order Spark delivers them in.
    """
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import from_arrow_schema

    canonical = pl.DataFrame(schema=EVENT_SCHEMA).to_arrow().schema
    types = from_arrow_schema(canonical, prefer_timestamp_ntz=False)
    have = set(events.columns)
    used = [
        F.col(n) if n in have else F.lit(None).cast(types[n].dataType).alias(n)
        for n in fc.EVENT_FIELDS_USED
    ]
    return _with_file_order(events, used)


def _with_file_order(events: DataFrame, used: list) -> DataFrame:
    """``events.select(*used)`` and ``_ORDER``: the file's rank among the frame's input files
    sorted by (folder, name), times 2^40, plus the row's index in its file.

    The ranks come from the driver's list of input files (``inputFiles``, no pass over the
    data), joined to the rows by (folder, name) as a small broadcast table, so that each
    row carries one integer instead of two file-name strings. Without Parquet file metadata
    (``_metadata.row_index``: events built in memory, or read from other formats) the
    order is null; the check asks for the metadata column itself, which raises without
    Spark logging an unresolved-column error.
    """
    from pyspark.errors import AnalysisException
    from pyspark.sql import functions as F

    unknown = events.select(*used, F.lit(None).cast("long").alias(_ORDER))
    try:
        meta = events.metadataColumn("_metadata")
        fields = set(events.select(meta.alias("_m")).schema["_m"].dataType.fieldNames())
    except AnalysisException:
        return unknown
    files = sorted({tuple(f.rsplit("/", 2)[-2:]) for f in events.inputFiles()})
    if not files or not {"file_path", "row_index"} <= fields:
        return unknown
    ranks = events.sparkSession.createDataFrame(
        [(folder, name, rank) for rank, (folder, name) in enumerate(files)],
        "_folder string, _name string, _rank long",
    )
    path = F.split(meta.getField("file_path"), "/")
    located = events.select(
        *used,
        F.element_at(path, -2).alias("_folder"),
        F.element_at(path, -1).alias("_name"),
        meta.getField("row_index").alias("_row"),
    )
    order = F.shiftleft(F.col("_rank"), _ROW_BITS) + F.col("_row")
    return located.join(F.broadcast(ranks), ["_folder", "_name"], "left").select(
        *[F.col(c) for c in located.columns if c not in ("_folder", "_name", "_row")],
        order.alias(_ORDER),
    )


def spark_account_features(
    spark: SparkSession,
    events: DataFrame,
    accounts: DataFrame | None = None,
    params: FeatureParams | None = None,
) -> AccountFeatures:
    """``account_features`` computed on Spark (see the module docstring for the division).

    ``events`` are canonical events (best read straight from ``STORE/events``, so that
    requests of one account at one instant keep the local engine's order); ``accounts``
    the account records, if any. The result is the local engine's: the same table
    (``FEATURE_SCHEMA``, sorted by account) and the same template counts.
    """
    from pyspark import StorageLevel

    params = params or FeatureParams()
    rows = _map_rows(_ordered_events(events), _request_rows(params))
    parts = _map_accounts(rows, _event_parts(params), "event_parts")
    parts = parts.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        account_columns = [
            c for c in parts.columns if c not in (_KIND, "account_id", *_PARTIAL_COLUMNS)
        ]
        table = _kind(parts, "account", *account_columns)
        for part in (
            _infra(parts),
            _templates(parts),
            _synchrony(parts),
            _model_mix(parts, params),
        ):
            table = table.join(part, "account_id", "left")
        table_pl = pl.from_arrow(table.toArrow())
        templates_pl = pl.from_arrow(_kind(parts, "template", "template", "n").toArrow())
    finally:
        parts.unpersist()
    switch = fc._model_switch(table_pl.lazy(), params)
    joined = table_pl.lazy().join(switch, on="account_id", how="left")
    records = None if accounts is None else pl.from_arrow(accounts.toArrow()).lazy()
    templates = templates_pl.select(
        pl.col("account_id").cast(pl.Categorical),
        _template_ids(),
        pl.col("n").cast(pl.UInt32).alias("requests"),
    )
    return AccountFeatures(fc._feature_table(joined, records, params), templates)
