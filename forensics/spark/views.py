"""The view stage on Spark: account index, request frame, tokens, signatures, candidate pairs.

Spark moves the data; the local engine's functions compute it. Every per-account step of
``rings.pipeline.view_stage`` is a function of one account's rows (its prompts, its exits,
its hours), so it runs inside Spark tasks on blocks of whole accounts, on Arrow batches
turned into Polars frames: ``views.request_frame``, ``prompt_sample.prompt_sample``,
``views.prompt_tokens`` / ``infra_tokens`` / ``behaviour_tokens`` and
``signatures.bulk_minhash``. The events reach the blocks with accounts as numbers and with
only the sampled prompts' text (``_view_events``: each account's cut, from the request frame,
is broadcast with the account index). Every cross-account step is a Spark shuffle:

* document frequencies: (view, token) group-by; tokens above ``max_token_share`` of the
  view's accounts and accounts with fewer than ``min_account_tokens`` kept tokens are
  dropped by joins, as ``views.build_view`` drops them;
* LSH: an account is in the bucket of band i holding its signature rows [i*r, (i+1)*r);
  (view, band, rows) rows are shuffled so that each bucket lands whole in one task group,
  where ``candidates.pairs_from_buckets`` links each member to its next
  ``neighbours_per_bucket`` in a hashed order; the pairs are made distinct by Spark.

What reaches the driver (for ``rings_from_views``, which the local engine holds too): the
account index, the request frame (about 25 bytes a request; ring scoring reads it), per
view the signatures (4 * num_perm bytes an account), the kept tokens per account and a
histogram of token frequencies, and the distinct candidate pairs (8 bytes each).

Buckets are keyed by the r signature values themselves, where the local engine keys them by
a 64-bit mix of the values; the two groupings differ only if that mix collides (probability
about 2^-64 per pair of buckets). So both engines produce the same tokens, the same
signatures and the same candidate pairs, which tests/spark/test_engines.py checks. The
hashes are Polars' (``token_hash``): the executors must run the driver's Polars version.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import pyarrow as pa

from forensics.rings.candidates import pair_key, pairs_from_buckets, unique_pairs
from forensics.rings.params import ClusterParams
from forensics.rings.prompt_sample import prompt_hash, prompt_sample, sample_cuts
from forensics.rings.signatures import MAX_HASH, bulk_minhash, permutations
from forensics.rings.views import (
    account_index,
    available_views,
    behaviour_tokens,
    coded,
    extended,
    infra_tokens,
    prompt_tokens,
    request_frame,
)
from forensics.schema import EVENT_SCHEMA

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from forensics.rings.pipeline import ViewStage, _Clock

# Views built from the events inside tasks (timing comes from the request frame).
VIEW_CODES: dict[str, int] = {"prompt": 0, "infra": 1, "timing": 2, "behaviour": 3}
EVENT_COLUMNS = ("ts", "account_id", "api_key_id", "src_ip", "user_agent", "model", "prompt")
# Accounts per task block: large enough that a block's Polars work outweighs the call, small
# enough that a block's events fit a task's memory (4,096 accounts: ~600k events at the
# campaign's 144 requests per account).
MAX_BLOCK_ACCOUNTS = 4096
# Blocks per core at least, so that tasks balance.
BLOCKS_PER_CORE = 4
# Task groups over which LSH buckets are spread (each group: many whole buckets), and the
# most (account, band) rows a group should get (about 40 MB in a task).
BUCKET_GROUPS_PER_CORE = 4
MAX_GROUP_BAND_ROWS = 1 << 20

_REQUESTS_SCHEMA = "account int, _ph long, _has boolean, _net long, _has_net boolean, _timing long"
_VIEW_EVENTS_SCHEMA = (
    "ts timestamp, api_key_id string, src_ip string, user_agent string, model string, "
    "prompt string, idx int, block int"
)
_TOKENS_SCHEMA = "view int, idx int, token long"
_SIGNATURE_SCHEMA = "view int, idx int, sig binary"
_BANDS_SCHEMA = "view int, band int, value binary, idx int"
_PAIRS_SCHEMA = "view int, a int, b int"


def spark_view_stage(
    spark: SparkSession,
    events: DataFrame,
    accounts: DataFrame | None,
    params: ClusterParams,
    clock: _Clock | None = None,
) -> ViewStage:
    """``rings.pipeline.view_stage`` computed on Spark, in the shapes ``rings_from_views`` reads.

    ``events`` has the canonical event columns; ``accounts`` the account records, if any.
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    # (imported here: the tasks' workers import this module, and need none of the pipeline)
    from forensics.rings.pipeline import _Clock

    clock = clock or _Clock(quiet=True)
    cached: list[DataFrame] = []

    def keep(frame: DataFrame) -> DataFrame:
        cached.append(frame.persist(StorageLevel.MEMORY_AND_DISK))
        return cached[-1]

    try:
        ids = events.select("account_id").where(F.col("account_id").isNotNull()).distinct()
        index = account_index(pl.from_arrow(ids.toArrow()).lazy())
        n = index.height
        record_ids = (
            None
            if accounts is None
            else pl.from_arrow(accounts.select("account_id").toArrow()).lazy()
        )
        cores = max(1, spark.sparkContext.defaultParallelism)
        block = block_size(n, cores)
        index_sdf = _to_spark(spark, index, block)
        indexed = events.select(*EVENT_COLUMNS).join(F.broadcast(index_sdf), "account_id")

        requests_sdf = keep(
            indexed.select("account_id", "idx", "prompt", "src_ip", "ts").mapInArrow(
                _arrow_map(_request_rows, params), _REQUESTS_SCHEMA
            )
        )
        requests = (
            _polars(requests_sdf.toArrow())
            .with_columns(
                pl.col("account").cast(pl.UInt32),
                pl.col("_ph").reinterpret(signed=False),
                pl.col("_net").reinterpret(signed=False),
                pl.col("_timing").cast(pl.UInt32),
            )
            .sort("account", maintain_order=True)
        )
        clock.lap("requests", f"{requests.height} requests hashed (Spark)")
        available = available_views(_flags(events), record_ids)
        used = [v for v in params.views if v in available]
        if not used:
            return _empty_stage(index, requests, available, used)

        # (view, idx, token) rows of every used view, as build_view makes them before keys
        parts: list[DataFrame] = []
        event_views = [v for v in used if v in ("prompt", "infra", "behaviour")]
        if event_views:
            parts.append(
                _view_events(spark, events, index, requests, block, params, "prompt" in used)
                .groupBy("block")
                .applyInArrow(
                    _arrow_group(_event_view_rows, params, tuple(event_views)), _TOKENS_SCHEMA
                )
            )
        if "timing" in used:
            parts.append(
                requests_sdf.select(
                    F.lit(VIEW_CODES["timing"]).alias("view"),
                    F.col("account").alias("idx"),
                    F.col("_timing").alias("token"),
                )
            )
        record_views = [v for v in used if v in ("infra", "behaviour")]
        if accounts is not None and record_views:
            coding = extended(index, record_ids)
            parts.append(
                accounts.join(F.broadcast(_to_spark(spark, coding, block)), "account_id")
                .drop("block")
                .mapInArrow(
                    _arrow_map(_record_view_rows, params, tuple(record_views)), _TOKENS_SCHEMA
                )
            )
        rows = parts[0]
        for part in parts[1:]:
            rows = rows.unionByName(part)
        rows = keep(rows.distinct())
        kept, stats, sizes, token_dfs = _document_frequency_filter(rows, used, n, params, keep)
        clock.lap("views", "views (Spark): " + _describe(stats))

        perms = permutations(params.num_perm, params.seed)
        sigs = keep(
            kept.withColumn("block", F.floor(F.col("idx") / block).cast("int"))
            .groupBy("view", "block")
            .applyInArrow(_arrow_group(_signature_rows, perms), _SIGNATURE_SCHEMA)
        )
        signatures = _collect_signatures(sigs, used, n, params.num_perm)
        clock.lap("signatures", f"signatures (Spark): {len(used)} view(s), {n} accounts")

        # Band rows go to task groups by a hash of (band, rows): each bucket whole in one
        # group. Buckets of one account give no pairs there, so they need no filter first.
        groups = max(
            BUCKET_GROUPS_PER_CORE * cores,
            math.ceil(n * params.lsh_bands * len(used) / MAX_GROUP_BAND_ROWS),
        )
        found = _polars(
            sigs.mapInArrow(_arrow_map(_band_rows, params), _BANDS_SCHEMA)
            .withColumn("group", F.pmod(F.xxhash64("band", "value"), F.lit(groups)))
            .groupBy("view", "group")
            .applyInArrow(_arrow_group(_bucket_pairs, params), _PAIRS_SCHEMA)
            .distinct()
            .toArrow()
        ).select(pl.col("view"), pair_key(pl.col("a"), pl.col("b")))
        per_view = dict(found.group_by("view").len().iter_rows())
        for view in used:  # distinct pairs per view (a pair may share several bands)
            stats[view]["candidate_pairs"] = int(per_view.get(VIEW_CODES[view], 0))
        pairs = unique_pairs([found])
        del found
        clock.lap(
            "lsh",
            "LSH (Spark): " + ", ".join(f"{v} {stats[v]['candidate_pairs']} pairs" for v in used),
        )
        from forensics.rings.pipeline import ViewStage

        return ViewStage(
            index=index,
            requests=requests,
            available=available,
            used=used,
            signatures=signatures,
            sizes=sizes,
            token_dfs=token_dfs,
            view_stats={v: stats[v] for v in used},
            pairs=pairs,
        )
    finally:
        for frame in cached:
            frame.unpersist()


def _view_events(
    spark: SparkSession,
    events: DataFrame,
    index: pl.DataFrame,
    requests: pl.DataFrame,
    block: int,
    params: ClusterParams,
    prompts: bool,
) -> DataFrame:
    """The events the view tasks read, as they leave the executor that read them.

    Accounts travel as their ``idx`` (no account id text), and only the sampled prompts
    travel at all: each account's cut (``prompt_sample.sample_cuts``, from the request
    frame) is broadcast with the account index, and an event keeps its prompt text only
    when its prompt hash is at most its account's cut, which holds exactly for the prompts
    the prompt view samples (its other prompts become null). Without the prompt view no
    prompt travels.
    """
    from pyspark.sql import functions as F

    columns = [c for c in EVENT_COLUMNS if c not in ("account_id", "prompt")]
    if not prompts:
        index_sdf = _to_spark(spark, index, block)
        return events.join(F.broadcast(index_sdf), "account_id").select(*columns, "idx", "block")
    cuts = index.join(
        sample_cuts(requests, params).select(
            pl.col("account").alias("idx"), pl.col("_cut").reinterpret(signed=True)
        ),
        on="idx",
        how="left",
    )
    cut_sdf = _to_spark(spark, cuts, block)
    return (
        events.join(F.broadcast(cut_sdf), "account_id")
        .select(*columns, "prompt", "idx", "block", "_cut")
        .mapInArrow(_arrow_map(_sampled_prompts, params), _VIEW_EVENTS_SCHEMA)
    )


def block_size(accounts: int, cores: int) -> int:
    """Accounts per task block: at least BLOCKS_PER_CORE blocks per core, at most 4,096 each."""
    wanted = max(1, math.ceil(accounts / (BLOCKS_PER_CORE * cores)))
    return min(MAX_BLOCK_ACCOUNTS, wanted)


# --------------------------------------------------------------------------- in tasks
def _request_rows(frame: pl.DataFrame, params: ClusterParams) -> pl.DataFrame:
    """``views.request_frame`` of a batch of events (a per-request map)."""
    index = frame.select("account_id", pl.col("idx").cast(pl.UInt32)).unique()
    out = request_frame(frame.drop("idx").lazy(), index, params)
    return out.select(
        pl.col("account").cast(pl.Int32),
        pl.col("_ph").reinterpret(signed=True),
        "_has",
        pl.col("_net").reinterpret(signed=True),
        "_has_net",
        pl.col("_timing").cast(pl.Int64),
    )


def _sampled_prompts(frame: pl.DataFrame, params: ClusterParams) -> pl.DataFrame:
    """Events with the prompt text kept only where its hash is within the account's cut."""
    sampled = prompt_hash(params) <= pl.col("_cut").reinterpret(signed=False)
    return frame.with_columns(pl.when(sampled).then(pl.col("prompt")).alias("prompt")).drop("_cut")


def _event_view_rows(
    frame: pl.DataFrame, params: ClusterParams, views: tuple[str, ...]
) -> pl.DataFrame:
    """The (view, idx, token) rows of a block of whole accounts, as ``build_view`` makes them.

    Accounts are named by their ``idx`` (the index is the identity). The prompt view
    samples with ``prompt_sample`` on the block's own request frame of the events that
    kept their prompt (``_view_events``): the sample is per account, and an account's
    sampled prompts all kept their text, so a block of whole accounts samples what the
    whole store does.
    """
    events = frame.drop("block").lazy().rename({"idx": "account_id"})
    events = events.with_columns(pl.col("account_id").cast(pl.UInt32))
    ids = frame.select(pl.col("idx").cast(pl.UInt32)).unique().sort("idx")
    index = ids.select(pl.col("idx").alias("account_id"), "idx")
    raws: list[pl.LazyFrame] = []
    for view in views:
        if view == "prompt":
            prompted = events.filter(pl.col("prompt").is_not_null())
            requests = request_frame(prompted, index, params)
            sample = prompt_sample(prompted, requests, index, params)
            raw = prompt_tokens(coded(sample, index), params)
        elif view == "infra":
            raw = coded(infra_tokens(events, None, params), index)
        else:
            raw = coded(behaviour_tokens(events, None, params), index)
        raws.append(_as_rows(raw, view))
    return pl.concat(raws).unique().collect()


def _record_view_rows(
    frame: pl.DataFrame, params: ClusterParams, views: tuple[str, ...]
) -> pl.DataFrame:
    """The tokens account records give (payment, e-mail domain; sign-up hour), per account."""
    records = frame.drop("idx").lazy()
    coding = frame.select("account_id", pl.col("idx").cast(pl.UInt32)).unique()
    no_events = pl.LazyFrame(schema=EVENT_SCHEMA)
    raws = []
    for view in views:
        tokens = infra_tokens if view == "infra" else behaviour_tokens
        raws.append(_as_rows(coded(tokens(no_events, records, params), coding), view))
    return pl.concat(raws).collect()


def _as_rows(raw: pl.LazyFrame, view: str) -> pl.LazyFrame:
    """``account_id`` (an idx) and ``token`` as the (view, idx, token) rows Spark takes."""
    return raw.select(
        pl.lit(VIEW_CODES[view], dtype=pl.Int32).alias("view"),
        pl.col("account_id").cast(pl.Int32).alias("idx"),
        pl.col("token").cast(pl.Int64),
    )


def _signature_rows(frame: pl.DataFrame, perms: np.ndarray) -> pa.Table:
    """``bulk_minhash`` of a block of accounts: (view, idx, signature bytes) per account."""
    frame = frame.sort("idx", "token")
    accounts, local = np.unique(frame["idx"].to_numpy(), return_inverse=True)
    sig = bulk_minhash(
        local.astype(np.int64),
        frame["token"].to_numpy().astype(np.uint64),
        accounts.size,
        perms,
        threads=1,
    )
    view = int(frame["view"][0]) if frame.height else 0
    return pa.table(
        {
            "view": pa.array(np.full(accounts.size, view, dtype=np.int32)),
            "idx": pa.array(accounts.astype(np.int32)),
            "sig": _binary_rows(sig),
        }
    )


def _band_rows(frame: pl.DataFrame, params: ClusterParams) -> pa.Table:
    """(view, band, the band's r signature values as bytes, idx): one row per account and band."""
    sig = _sig_matrix(frame["sig"], params.num_perm)
    r = params.lsh_rows
    m = frame.height
    values = [
        _binary_rows(np.ascontiguousarray(sig[:, b * r : (b + 1) * r]))
        for b in range(params.lsh_bands)
    ]
    return pa.table(
        {
            "view": pa.array(np.tile(frame["view"].to_numpy().astype(np.int32), params.lsh_bands)),
            "band": pa.array(np.repeat(np.arange(params.lsh_bands, dtype=np.int32), m)),
            "value": pa.concat_arrays(values) if values else pa.array([], pa.binary()),
            "idx": pa.array(np.tile(frame["idx"].to_numpy().astype(np.int32), params.lsh_bands)),
        }
    )


def _bucket_pairs(frame: pl.DataFrame, params: ClusterParams) -> pl.DataFrame:
    """``candidates.pairs_from_buckets`` on whole buckets (accounts sharing a band's rows)."""
    buckets = (
        frame.group_by("band", "value")
        .agg("idx")
        .with_row_index("bucket")
        .explode("idx")
        .select(
            pl.col("band").cast(pl.UInt32),
            pl.col("bucket").cast(pl.UInt32),
            pl.col("idx").cast(pl.UInt32).alias("account"),
        )
    )
    view = int(frame["view"][0]) if frame.height else 0
    return pairs_from_buckets(buckets, params).select(
        pl.lit(view, dtype=pl.Int32).alias("view"),
        pl.col("a").cast(pl.Int32),
        pl.col("b").cast(pl.Int32),
    )


# --------------------------------------------------------------------------- on the driver
def _document_frequency_filter(
    rows: DataFrame,
    used: list[str],
    n: int,
    params: ClusterParams,
    keep: Callable[[DataFrame], DataFrame],
) -> tuple[DataFrame, dict[str, dict[str, int]], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``build_view``'s filter as Spark group-bys: common tokens, then thin accounts dropped.

    A token's document frequency counts every account holding it (those with records but
    no events too); the cap is ``max(2, max_token_share * accounts in the view)``. Returns
    the kept (view, idx, token) rows of accounts with events, each view's statistics, its
    kept tokens per account (``sizes``) and the document frequency of each kept token. Only
    small aggregates reach the driver: counts per view, per account, per frequency value.
    """
    from pyspark.sql import functions as F

    codes = {VIEW_CODES[v]: v for v in used}
    holders = dict(rows.groupBy("view").agg(F.count_distinct("idx")).collect())
    caps = {code: max(2, int(params.max_token_share * int(holders.get(code, 0)))) for code in codes}
    cap = F.lit(0)
    for code, value in caps.items():
        cap = F.when(F.col("view") == code, F.lit(value)).otherwise(cap)
    df = rows.groupBy("view", "token").agg(F.count("*").alias("df"))
    common = df.where(F.col("df") > cap).groupBy("view").count()
    under = keep(rows.join(df.where(F.col("df") <= cap), ["view", "token"]))
    per_account = keep(
        under.groupBy("view", "idx")
        .agg(F.count("*").alias("tokens"))
        .where(F.col("tokens") >= params.min_account_tokens)
    )
    kept = under.join(per_account.select("view", "idx"), ["view", "idx"], "left_semi")
    # per kept token: its frequency, and whether an account with events holds it (tokens of
    # record-only accounts count in tokens_kept but have no signature row)
    frequencies = (
        kept.groupBy("view", "token", "df")
        .agg(F.max((F.col("idx") < n).cast("int")).alias("signed"))
        .groupBy("view", "df", "signed")
        .count()
    )
    dropped = dict(common.collect())
    counts = _polars(per_account.toArrow())
    histogram = _polars(frequencies.toArrow())

    stats: dict[str, dict[str, int]] = {}
    sizes: dict[str, np.ndarray] = {}
    token_dfs: dict[str, np.ndarray] = {}
    for code, view in codes.items():
        mine = counts.filter(pl.col("view") == code)
        signed = mine.filter(pl.col("idx") < n)
        size = np.zeros(n, dtype=np.int64)
        size[signed["idx"].to_numpy()] = signed["tokens"].to_numpy()
        sizes[view] = size
        h = histogram.filter(pl.col("view") == code)
        h_signed = h.filter(pl.col("signed") == 1).sort("df")
        token_dfs[view] = np.repeat(
            h_signed["df"].to_numpy().astype(np.uint32),
            h_signed["count"].to_numpy().astype(np.int64),
        )
        stats[view] = {
            "accounts": mine.height,
            "tokens_kept": int(h["count"].sum()),
            "tokens_dropped": int(dropped.get(code, 0)),
        }
    return kept.where(F.col("idx") < n).select("view", "idx", "token"), stats, sizes, token_dfs


def _collect_signatures(
    sigs: DataFrame, used: list[str], n: int, num_perm: int
) -> dict[str, np.ndarray]:
    """Each view's (n x num_perm) uint32 matrix; accounts without tokens keep the empty value."""
    table = _polars(sigs.toArrow())
    out: dict[str, np.ndarray] = {}
    for view in used:
        mine = table.filter(pl.col("view") == VIEW_CODES[view])
        matrix = np.full((n, num_perm), MAX_HASH, dtype=np.uint32)
        if mine.height:
            matrix[mine["idx"].to_numpy()] = _sig_matrix(mine["sig"], num_perm)
        out[view] = matrix
    return out


def _flags(events: DataFrame) -> pl.LazyFrame:
    """One row saying which event columns hold a value anywhere (for ``available_views``)."""
    from pyspark.sql import functions as F

    columns = ("prompt", "src_ip", "user_agent", "api_key_id", "model")
    row = events.agg(
        *[F.max(F.col(c).isNotNull().cast("int")).alias(c) for c in columns],
        F.count(F.lit(1)).alias("_n"),
    ).collect()[0]
    if not row["_n"]:
        return pl.LazyFrame(schema={c: pl.String for c in columns})
    return pl.LazyFrame(
        {c: ["x" if row[c] else None] for c in columns}, schema={c: pl.String for c in columns}
    )


def _empty_stage(
    index: pl.DataFrame, requests: pl.DataFrame, available: list[str], used: list[str]
) -> ViewStage:
    from forensics.rings.pipeline import ViewStage

    return ViewStage(
        index=index,
        requests=requests,
        available=available,
        used=used,
        signatures={},
        sizes={},
        token_dfs={},
        view_stats={},
        pairs=unique_pairs([]),
    )


def _describe(stats: dict[str, dict[str, int]]) -> str:
    return ", ".join(
        f"{v} {s['accounts']} accounts {s['tokens_kept']} tokens" for v, s in stats.items()
    )


# --------------------------------------------------------------------------- Arrow glue
def _to_spark(spark: SparkSession, index: pl.DataFrame, block: int) -> DataFrame:
    """(account_id, idx, block, other columns) as a Spark frame (Spark has no unsigned
    integers: idx is int)."""
    frame = index.select(
        pl.col("account_id").cast(pl.String),
        pl.col("idx").cast(pl.Int32),
        (pl.col("idx") // block).cast(pl.Int32).alias("block"),
        pl.exclude("account_id", "idx"),
    )
    return spark.createDataFrame(_plain_arrow(frame))


def _plain_arrow(frame: pl.DataFrame) -> pa.Table:
    """Arrow with plain string columns (Polars hands out string views, which Spark refuses)."""
    table = frame.to_arrow()
    fields = [
        pa.field(f.name, pa.string())
        if pa.types.is_string_view(f.type) or pa.types.is_large_string(f.type)
        else f
        for f in table.schema
    ]
    return table.cast(pa.schema(fields))


def _polars(table: pa.Table | pa.RecordBatch) -> pl.DataFrame:
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


def _binary_rows(matrix: np.ndarray) -> pa.Array:
    """Each row of a 2-D array as one binary value (no per-row Python objects)."""
    rows, width = matrix.shape[0], matrix.shape[1] * matrix.itemsize
    offsets = np.arange(rows + 1, dtype=np.int32) * width
    data = np.ascontiguousarray(matrix).tobytes()
    return pa.Array.from_buffers(
        pa.binary(), rows, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )


def _sig_matrix(column: pl.Series, num_perm: int) -> np.ndarray:
    """Binary signature values back into an (accounts x num_perm) uint32 matrix."""
    if column.len() == 0:
        return np.empty((0, num_perm), dtype=np.uint32)
    data = b"".join(column.to_list())
    return np.frombuffer(data, dtype=np.uint32).reshape(column.len(), num_perm)


def _arrow_map(
    fn: Callable[..., pl.DataFrame | pa.Table], *args: object
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """A ``mapInArrow`` function calling ``fn(frame, *args)`` on each batch, as Polars."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            if batch.num_rows == 0:
                continue
            out = fn(_polars(batch), *args)
            table = out if isinstance(out, pa.Table) else _plain_arrow(out)
            yield from table.to_batches()

    return run


def _arrow_group(
    fn: Callable[..., pl.DataFrame | pa.Table], *args: object
) -> Callable[[pa.Table], pa.Table]:
    """An ``applyInArrow`` function calling ``fn(frame, *args)`` on one group, as Polars."""

    def run(table: pa.Table) -> pa.Table:
        out = fn(_polars(table), *args)
        return out if isinstance(out, pa.Table) else _plain_arrow(out)

    return run
