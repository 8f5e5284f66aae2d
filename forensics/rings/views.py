"""Views: each account becomes a set of tokens, one set per view.

Two accounts of one operator share tokens that two independent accounts do not:

* ``prompt``: word shingles (3 consecutive words) of normalised prompts (lower case, digits
  folded to ``0``, punctuation dropped). One task curriculum behind paraphrased prompts
  leaves many shared shingles; a popular app's common prefix is only a few of them.
* ``infra``: exit IP bound to a 6-hour bucket (a proxy pool recycles exits across accounts
  within hours), /24 per day, user agent, API-key prefix, payment fingerprint and e-mail
  domain from account records.
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


@dataclass
class ViewTokens:
    """One view's tokens: a frame of (account_id, token) and how many were dropped."""

    name: str
    tokens: pl.DataFrame  # account_id: String, token: String, df: UInt32 (unique pairs)
    accounts: int
    tokens_kept: int
    tokens_dropped: int


def _subnet24() -> pl.Expr:
    ip = pl.col("src_ip")
    v4 = ip.str.extract(_IPV4_24, 1)
    # IPv6: the first three hextets (a /48, the usual site allocation).
    v6 = ip.str.extract(r"^([0-9a-fA-F]{0,4}:[0-9a-fA-F]{0,4}:[0-9a-fA-F]{0,4})", 1)
    return pl.coalesce(v4, pl.when(ip.str.contains(":")).then(v6))


def prompt_tokens(events: pl.LazyFrame, params: ClusterParams) -> pl.LazyFrame:
    """Word shingles of a sample of each account's distinct prompts."""
    n = params.shingle_words
    prompts = (
        events.select("account_id", "prompt")
        .filter(pl.col("prompt").is_not_null() & (pl.col("prompt").str.len_chars() > 0))
        .unique()
        .filter(
            pl.col("prompt").hash(params.seed).rank("ordinal").over("account_id")
            <= params.prompts_per_account
        )
        .with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).alias("_pid"))
        .with_columns(
            pl.col("prompt")
            .str.slice(0, 2000)
            .str.to_lowercase()
            .str.replace_all(r"\d+", "0")
            .str.replace_all(r"[^\p{L}\p{N}]+", " ")
            .str.strip_chars()
            .str.split(" ")
            .list.head(80)
            .alias("_w")
        )
        .select("account_id", "_pid", "_w")
        .explode("_w")
        .filter(pl.col("_w").is_not_null() & (pl.col("_w") != ""))
    )
    shingle = pl.concat_str(
        [pl.col("_w").shift(-i).over("_pid") for i in range(n)], separator=" ", ignore_nulls=False
    )
    return prompts.select("account_id", shingle.alias("token")).drop_nulls("token")


def infra_tokens(
    events: pl.LazyFrame, accounts: pl.LazyFrame | None, params: ClusterParams
) -> pl.LazyFrame:
    """Infrastructure tokens bound to time where that is what separates pools from NATs."""
    bucket = pl.col("ts").dt.truncate(f"{params.infra_bucket_hours}h").dt.epoch("s").cast(pl.String)
    day = pl.col("ts").dt.date().cast(pl.String)
    net = _subnet24()
    parts = [
        pl.concat_str([pl.lit("iph:"), pl.col("src_ip"), pl.lit("@"), bucket]),
        pl.concat_str([pl.lit("netd:"), net, pl.lit("@"), day]),
        pl.concat_str([pl.lit("ip:"), pl.col("src_ip")]),
        pl.concat_str([pl.lit("ua:"), pl.col("user_agent").str.slice(0, 200)]),
        pl.concat_str([pl.lit("key:"), pl.col("api_key_id").str.slice(0, 8)]),
    ]
    ev = events.select("account_id", pl.concat_list(parts).alias("token")).explode("token")
    frames = [ev]
    if accounts is not None:
        frames.append(
            accounts.select(
                "account_id",
                pl.concat_list(
                    [
                        pl.concat_str([pl.lit("pay:"), pl.col("payment_fingerprint")]),
                        pl.concat_str([pl.lit("mail:"), pl.col("email_domain")]),
                    ]
                ).alias("token"),
            ).explode("token")
        )
    return pl.concat(frames, how="vertical_relaxed").drop_nulls("token")


def timing_tokens(events: pl.LazyFrame, params: ClusterParams) -> pl.LazyFrame:
    """Active time buckets."""
    bucket = pl.col("ts").dt.truncate(f"{params.timing_bucket_minutes}m").dt.epoch("s")
    return events.select("account_id", pl.concat_str([pl.lit("t:"), bucket]).alias("token"))


def behaviour_tokens(
    events: pl.LazyFrame, accounts: pl.LazyFrame | None, params: ClusterParams
) -> pl.LazyFrame:
    """Sign-up hour, first day on each model, first active day."""
    first_model = (
        events.filter(pl.col("model").is_not_null())
        .group_by("account_id", "model")
        .agg(pl.col("ts").min())
        .select(
            "account_id",
            pl.concat_str(
                [
                    pl.lit("model:"),
                    pl.col("model"),
                    pl.lit("@"),
                    pl.col("ts").dt.date().cast(pl.String),
                ]
            ).alias("token"),
        )
    )
    first_day = (
        events.group_by("account_id")
        .agg(pl.col("ts").min())
        .select(
            "account_id",
            pl.concat_str([pl.lit("start:"), pl.col("ts").dt.date().cast(pl.String)]).alias(
                "token"
            ),
        )
    )
    frames = [first_model, first_day]
    if accounts is not None:
        frames.append(
            accounts.filter(pl.col("created_at").is_not_null()).select(
                "account_id",
                pl.concat_str(
                    [pl.lit("created:"), pl.col("created_at").dt.truncate("1h").dt.epoch("s")]
                ).alias("token"),
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
    with_df = pairs.with_columns(pl.len().over("token").alias("_df"))
    kept = with_df.filter(pl.col("_df") <= cap)
    dropped_tokens = with_df.filter(pl.col("_df") > cap)["token"].n_unique()
    kept = kept.filter(pl.len().over("account_id") >= params.min_account_tokens).select(
        "account_id", "token", pl.col("_df").alias("df")
    )
    return ViewTokens(
        name=name,
        tokens=kept,
        accounts=kept["account_id"].n_unique(),
        tokens_kept=kept["token"].n_unique(),
        tokens_dropped=dropped_tokens,
    )
