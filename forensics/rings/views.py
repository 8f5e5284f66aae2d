"""Views: each account becomes a set of tokens, one set per view.

Two accounts of one operator share tokens that two independent accounts do not:

* ``prompt``: word shingles (3 consecutive words) of normalised prompts (lower case, digits
  folded to ``0``, punctuation dropped). One task curriculum behind paraphrased prompts
  leaves many shared shingles; a popular app's common prefix is only a few of them.
* ``infra``: exit IP bound to a 6-hour bucket (a proxy pool recycles exits across accounts
  within hours), /24 per day, exit IP, user agent on a /24 (one client build on one
  network: a popular app's users share the agent but not the networks), API-key prefix,
  payment fingerprint and e-mail domain from account records.
* ``timing``: active 10-minute buckets (one job scheduler's on/off windows).
* ``behaviour``: creation hour (sign-up bursts), first day on each model (a fleet-wide
  switch), first active day.

A token held by too many accounts (``max_token_share`` of the view's accounts) is dropped
before hashing: a common user agent, a popular /16 or the
diurnal peak would otherwise make every account alike. All of it is Polars expressions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from forensics.rings.params import ClusterParams

_IPV4_24 = r"^(\d{1,3}\.\d{1,3}\.\d{1,3})\.\d{1,3}$"
TOKEN_SEED = 0x5EED
_SHIFT = 1 << 32  # an (account, token) pair as one key: idx * _SHIFT + token


@dataclass
class ViewTokens:
    """One view's tokens: unique (account, token, df) rows, and how many were dropped."""

    name: str
    # idx: UInt32 (the account's row in ``index``), token: UInt64 (a 32-bit hash), df: UInt32,
    # in account order
    tokens: pl.DataFrame
    accounts: int
    tokens_kept: int
    tokens_dropped: int


def token_hash(*parts: pl.Expr, kind: int) -> pl.Expr:
    """A 32-bit token id for a tuple of values; ``kind`` keeps token families apart.

    Tokens are hashed at once (never kept as strings): hashing a struct is cheaper than
    building strings, and MinHash only needs a 32-bit id (signatures.py).
    """
    packed = parts[0] if len(parts) == 1 else pl.struct(*parts)
    return (packed.hash(seed=TOKEN_SEED + kind) & 0xFFFFFFFF).cast(pl.UInt64)


def subnet24() -> pl.Expr:
    """The /24 (IPv4) or /48 (IPv6) of src_ip, as text without the suffix."""
    ip = pl.col("src_ip")
    v4 = ip.str.extract(_IPV4_24, 1)
    # IPv6: the first three hextets (a /48, the usual site allocation).
    v6 = ip.str.extract(r"^([0-9a-fA-F]{0,4}:[0-9a-fA-F]{0,4}:[0-9a-fA-F]{0,4})", 1)
    return pl.coalesce(v4, pl.when(ip.str.contains(":")).then(v6))


def prompt_tokens(events: pl.LazyFrame, params: ClusterParams) -> pl.LazyFrame:
    """Word shingles of a sample of each account's distinct prompts.

    The sample is the account's prompts with the smallest hashes (the same prompts whatever
    the order of the logs). A shingle's id combines its words' hashes, so no shingle
    string is ever built.
    """
    n = params.shingle_words
    words = (
        events.select("account_id", "prompt")
        .filter(pl.col("prompt").is_not_null())
        .with_columns(pl.col("prompt").hash(params.seed).alias("_ph"))
        .filter(pl.col("_ph").rank("dense").over("account_id") <= params.prompts_per_account)
        .unique(["account_id", "_ph"])
        .select(
            "account_id",
            pl.col("prompt")
            .str.slice(0, params.prompt_chars)
            .str.to_lowercase()
            .str.replace_all(r"\d+", "0")
            .str.replace_all(r"[^\p{L}\p{N}]+", " ")
            .str.strip_chars()
            .str.split(" ")
            .alias("_w"),
        )
        .with_columns(pl.col("_w").list.len().alias("_n"))
        .filter(pl.col("_n") >= 1)
        .with_columns(pl.int_ranges(0, pl.col("_n")).alias("_i"))
        .explode("_w", "_i", empty_as_null=True)
        .with_columns(pl.col("_w").hash(TOKEN_SEED).alias("_h"))
    )
    # Prompts shorter than n words give one token of all their words.
    last = pl.max_horizontal(pl.col("_n") - n, pl.lit(0))
    mixed = pl.col("_h")
    for j in range(1, n):
        nxt = pl.col("_h").shift(-j)
        mixed = mixed * 0x9E3779B97F4A7C15 + pl.when(pl.col("_i") + j < pl.col("_n")).then(
            nxt
        ).otherwise(0)
    # The shingle is mixed before the filter: shifting after it would reach into whichever
    # prompt happens to come next, and make the tokens depend on row order.
    return (
        words.with_columns(mixed.alias("_m"))
        .filter(pl.col("_i") <= last)
        .select(
            "account_id",
            ((pl.col("_m").hash(TOKEN_SEED) & 0xFFFFFFFF).cast(pl.UInt64)).alias("token"),
        )
    )


def infra_tokens(
    events: pl.LazyFrame, accounts: pl.LazyFrame | None, params: ClusterParams
) -> pl.LazyFrame:
    """Infrastructure tokens bound to time where that is what separates pools from NATs."""
    bucket = pl.col("ts").dt.truncate(f"{params.infra_bucket_hours}h")
    day = pl.col("ts").dt.truncate("1d")
    parts = [
        token_hash(pl.col("src_ip"), bucket, kind=1),
        token_hash(pl.col("_net"), day, kind=2),
        token_hash(pl.col("src_ip"), kind=3),
        token_hash(pl.col("user_agent"), pl.col("_net"), kind=4),
        token_hash(pl.col("api_key_id").str.slice(0, 8), kind=5),
    ]
    # One row per (account, ip, agent, key, bucket): tokens are built once per combination.
    ev = (
        events.select("account_id", "src_ip", "user_agent", "api_key_id", bucket.alias("ts"))
        .unique()
        .with_columns(subnet24().alias("_net"))
        .select(
            "account_id",
            pl.concat_list(
                [
                    pl.when(c.is_not_null()).then(t)
                    for c, t in zip(
                        [
                            pl.col("src_ip"),
                            pl.col("_net"),
                            pl.col("src_ip"),
                            pl.col("user_agent"),
                            pl.col("api_key_id"),
                        ],
                        parts,
                        strict=True,
                    )
                ]
            ).alias("token"),
        )
        .explode("token", empty_as_null=True)
    )
    frames = [ev]
    if accounts is not None:
        frames.append(
            accounts.select(
                "account_id",
                pl.concat_list(
                    [
                        pl.when(pl.col("payment_fingerprint").is_not_null()).then(
                            token_hash(pl.col("payment_fingerprint"), kind=6)
                        ),
                        pl.when(pl.col("email_domain").is_not_null()).then(
                            token_hash(pl.col("email_domain"), kind=7)
                        ),
                    ]
                ).alias("token"),
            ).explode("token", empty_as_null=True)
        )
    return pl.concat(frames, how="vertical_relaxed").drop_nulls("token")


def _timing_token(params: ClusterParams) -> pl.Expr:
    return token_hash(pl.col("ts").dt.truncate(f"{params.timing_bucket_minutes}m"), kind=8)


def timing_tokens(events: pl.LazyFrame, params: ClusterParams) -> pl.LazyFrame:
    """Active time buckets."""
    return events.select("account_id", _timing_token(params).alias("token"))


def request_frame(events: pl.LazyFrame, index: pl.DataFrame, params: ClusterParams) -> pl.DataFrame:
    """Per request, read once per run: its account's ``idx``, prompt hash, /24 and time bucket.

    Columns: ``account``; ``_ph``, the prompt's hash with ``params.seed`` (the hash the
    prompt view samples by) and ``_has`` (a prompt at all); ``_net``, the /24's hash, and
    ``_has_net``; ``_timing``, the timing view's token. The prompt sample
    (``prompt_sample.py``), the timing view and ring scoring's traffic measures read it
    instead of scanning the events and joining them to the account index again (at full
    scale each such scan of 36M requests took 10-20 s); it holds 25 bytes a request.
    """
    return (
        events.select("account_id", "prompt", "src_ip", "ts")
        .join(index.lazy(), on="account_id")
        .select(
            pl.col("idx").alias("account"),
            pl.col("prompt").hash(params.seed).alias("_ph"),
            pl.col("prompt").is_not_null().alias("_has"),
            subnet24().hash().alias("_net"),
            subnet24().is_not_null().alias("_has_net"),
            _timing_token(params).cast(pl.UInt32).alias("_timing"),  # a 32-bit hash
        )
        .collect(engine="streaming")
    )


def behaviour_tokens(
    events: pl.LazyFrame, accounts: pl.LazyFrame | None, params: ClusterParams
) -> pl.LazyFrame:
    """Sign-up hour, first day on each model, first active day."""
    first_model = (
        events.filter(pl.col("model").is_not_null())
        .group_by("account_id", "model")
        .agg(pl.col("ts").min())
        .select(
            "account_id", token_hash(pl.col("model"), pl.col("ts").dt.date(), kind=9).alias("token")
        )
    )
    first_day = (
        events.group_by("account_id")
        .agg(pl.col("ts").min())
        .select("account_id", token_hash(pl.col("ts").dt.date(), kind=10).alias("token"))
    )
    frames = [first_model, first_day]
    if accounts is not None:
        frames.append(
            accounts.filter(pl.col("created_at").is_not_null()).select(
                "account_id",
                token_hash(pl.col("created_at").dt.truncate("1h"), kind=11).alias("token"),
            )
        )
    return pl.concat(frames, how="vertical_relaxed")


def available_views(events: pl.LazyFrame, accounts: pl.LazyFrame | None) -> list[str]:
    """Views the store can support: prompt needs prompt text, infra needs IPs/agents/records."""
    has = (
        events.select(
            pl.col("prompt").is_not_null().any().alias("prompt"),
            (
                pl.col("src_ip").is_not_null().any()
                | pl.col("user_agent").is_not_null().any()
                | pl.col("api_key_id").is_not_null().any()
            ).alias("infra"),
            pl.col("model").is_not_null().any().alias("model"),
            (pl.len() > 0).alias("any"),
        )
        .collect()
        .row(0, named=True)
    )
    views = []
    if has["prompt"]:
        views.append("prompt")
    if has["infra"] or accounts is not None:
        views.append("infra")
    if has["any"]:
        views.append("timing")
    if has["model"] or accounts is not None:
        views.append("behaviour")
    return views


def account_index(events: pl.LazyFrame) -> pl.DataFrame:
    """Every account of ``events`` once, sorted, with its row in the signature matrix (``idx``)."""
    ids = events.select(pl.col("account_id").drop_nulls().unique().sort()).collect().to_series()
    return pl.DataFrame(
        {"account_id": ids, "idx": pl.arange(0, ids.len(), dtype=pl.UInt32, eager=True)}
    )


def coded(frame: pl.LazyFrame, index: pl.DataFrame) -> pl.LazyFrame:
    """``frame`` with its account ids replaced by their ``idx`` (UInt32; rows without one dropped)."""
    return (
        frame.join(index.lazy(), on="account_id")
        .with_columns(pl.col("idx").alias("account_id"))
        .drop("idx")
    )


def extended(index: pl.DataFrame, accounts: pl.LazyFrame | None) -> pl.DataFrame:
    """``index`` plus the accounts that have records but no events, numbered after it.

    Their tokens count in each token's document frequency (as every account's do) but
    never reach a signature.
    """
    if accounts is None:
        return index
    extra = (
        accounts.select(pl.col("account_id").drop_nulls().unique().sort())
        .join(index.lazy(), on="account_id", how="anti")
        .collect()
        .to_series()
    )
    n = index.height
    return pl.concat(
        [
            index,
            pl.DataFrame(
                {
                    "account_id": extra,
                    "idx": pl.arange(n, n + extra.len(), dtype=pl.UInt32, eager=True),
                }
            ),
        ]
    )


def build_view(
    name: str,
    events: pl.LazyFrame,
    accounts: pl.LazyFrame | None,
    params: ClusterParams,
    index: pl.DataFrame | None = None,
    requests: pl.DataFrame | None = None,
) -> ViewTokens:
    """Unique (account, token) pairs of one view, common tokens and thin accounts dropped.

    Accounts are numbered by ``index`` (``account_index(events)`` when not given) before the
    pairs are made unique: each pair is one 64-bit key, ``idx * 2^32 + token`` (tokens are
    32-bit), and a unique over one integer column is an order of magnitude faster than over
    (string, integer) rows (1.5 s against 17-26 s for the prompt view's 61M rows at full
    scale). The keys come out sorted, so the rows are in account order. ``requests``
    (``request_frame(events, index, params)``), when given, supplies the timing view's
    tokens without another scan of the events.
    """
    index = account_index(events) if index is None else index
    coding = extended(index, accounts if name in ("infra", "behaviour") else None)
    if name == "prompt":
        # the prompt view's rows are few (a sample per account) before they are shingled
        raw = prompt_tokens(coded(events, coding), params)
    elif name == "infra":
        raw = coded(infra_tokens(events, accounts, params), coding)
    elif name == "timing" and requests is not None:  # the run's request frame has the tokens
        raw = requests.lazy().select(
            pl.col("account").alias("account_id"), pl.col("_timing").cast(pl.UInt64).alias("token")
        )
    elif name == "timing":
        raw = coded(timing_tokens(events, params), coding)
    elif name == "behaviour":
        raw = coded(behaviour_tokens(events, accounts, params), coding)
    else:
        raise ValueError(f"unknown view {name!r}")
    keys = (
        raw.select((pl.col("account_id").cast(pl.UInt64) * _SHIFT + pl.col("token")).alias("key"))
        .collect()
        .to_series()
        .unique()
        .sort()
    )
    pairs = pl.DataFrame(
        {"idx": (keys // _SHIFT).cast(pl.UInt32), "token": keys % _SHIFT},
    )
    del keys
    owners = pairs["idx"].to_numpy()
    n_accounts = int(np.count_nonzero(np.bincount(owners))) if owners.size else 0
    cap = max(2, int(params.max_token_share * n_accounts))
    with_df = pairs.with_columns(pl.len().over("token").cast(pl.UInt32).alias("df"))
    common = with_df["df"] > cap
    dropped_tokens = with_df.filter(common)["token"].n_unique()
    kept = with_df.filter(~common)
    per_account = np.bincount(kept["idx"].to_numpy(), minlength=coding.height)
    enough = per_account >= params.min_account_tokens
    kept = kept.filter(pl.Series(enough[kept["idx"].to_numpy()]))
    n_kept = int(np.count_nonzero(enough & (per_account > 0)))
    tokens_kept = kept["token"].n_unique()
    # accounts with records but no events counted above; they have no signature row
    kept = kept.filter(pl.col("idx") < index.height)
    return ViewTokens(
        name=name,
        tokens=kept,
        accounts=n_kept,
        tokens_kept=tokens_kept,
        tokens_dropped=dropped_tokens,
    )
