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

import polars as pl

from forensics.rings.params import ClusterParams

_IPV4_24 = r"^(\d{1,3}\.\d{1,3}\.\d{1,3})\.\d{1,3}$"
TOKEN_SEED = 0x5EED


@dataclass
class ViewTokens:
    """One view's tokens: unique (account_id, token, df) rows, and how many were dropped."""

    name: str
    tokens: pl.DataFrame  # account_id: String, token: UInt64 (a 32-bit hash), df: UInt32
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


def timing_tokens(events: pl.LazyFrame, params: ClusterParams) -> pl.LazyFrame:
    """Active time buckets."""
    bucket = pl.col("ts").dt.truncate(f"{params.timing_bucket_minutes}m")
    return events.select("account_id", token_hash(bucket, kind=8).alias("token"))


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


def build_view(
    name: str, events: pl.LazyFrame, accounts: pl.LazyFrame | None, params: ClusterParams
) -> ViewTokens:
    """Unique (account, token) pairs of one view, common tokens and thin accounts dropped."""
    if name == "prompt":
        raw = prompt_tokens(events, params)
    elif name == "infra":
        raw = infra_tokens(events, accounts, params)
    elif name == "timing":
        raw = timing_tokens(events, params)
    elif name == "behaviour":
        raw = behaviour_tokens(events, accounts, params)
    else:
        raise ValueError(f"unknown view {name!r}")
    pairs = raw.unique().collect()
    n_accounts = pairs["account_id"].n_unique()
    cap = max(2, int(params.max_token_share * n_accounts))
    with_df = pairs.with_columns(pl.len().over("token").cast(pl.UInt32).alias("df"))
    kept = with_df.filter(pl.col("df") <= cap)
    dropped_tokens = with_df.filter(pl.col("df") > cap)["token"].n_unique()
    kept = kept.filter(pl.len().over("account_id") >= params.min_account_tokens)
    return ViewTokens(
        name=name,
        tokens=kept,
        accounts=kept["account_id"].n_unique(),
        tokens_kept=kept["token"].n_unique(),
        tokens_dropped=dropped_tokens,
    )
