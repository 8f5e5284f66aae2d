"""Per-account and cross-account features, as lazy Polars over the canonical events.

Two streaming passes read the events: one sums what needs neither order nor other
accounts (tokens, statuses, prompt length and reasoning requests, user agents); the other
keeps a slim frame of account, time, IP and model (as categoricals) and the prompt reduced
to a 64-bit hash of its template skeleton, about 30 bytes an event. Every other feature is
a group-by on that slim frame, and the per-account tables are joined on ``account_id``.
Nothing loops over events or accounts in Python.

Per-account features describe how one account behaves; many honest users look extreme on
them alone (researchers, batch jobs, heavy developers), so they are context, not a gate.
Cross-account features measure what an account shares with others (IPs, subnets, payment
fingerprints, creation hour, (hour, /24) activity cells, prompt templates, the day it
switched models) against what the population would give by chance: that is the evidence
of coordination. docs/detection.md ("Features") says what each one measures.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import polars as pl

from forensics.features.catalog import FEATURE_SCHEMA
from forensics.features.network import subnet16, subnet24
from forensics.features.text import asks_for_reasoning, has_words, prompt_skeleton
from forensics.schema import ACCOUNT_SCHEMA, EVENT_SCHEMA

TEMPLATE_SEED = 0x5EED  # seed of the template hash (the skeleton's 64-bit id)
_US_PER_HOUR = 3_600_000_000
_US_PER_DAY = 24 * _US_PER_HOUR
_KEY_BITS = 64  # width of a packed integer key


@dataclass(frozen=True)
class FeatureParams:
    """Tuning of the cross-account features (defaults are what `cluster` uses)."""

    sync_bucket: str = "1h"  # time bucket of a synchrony cell (time bucket, /24)
    min_template_words: int = 3  # shorter skeletons ("hello", "<n>") are not templates
    newest_model_min_share: float = 0.01  # a model needs this share of requests to be "newest"
    adoption_window_days: int = 15  # centred window of the adoption-curve baseline (median)
    creation_window_days: int = 29  # centred window of the sign-up-rate baseline (median)


# ISO-8601 forms accepted for times given as text (naive times are taken as UTC).
_TIME_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M:%S%.f%#z",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d",
)


def _as_type(name: str, target: pl.DataType, have: pl.DataType | None) -> pl.Expr:
    """Column ``name`` as ``target`` (values that do not convert become null; absent: nulls)."""
    if have is None:
        return pl.lit(None, dtype=target).alias(name)
    if isinstance(target, pl.Datetime) and have == pl.String:
        text = pl.col(name)
        return pl.coalesce(
            text.str.to_datetime(fmt, time_unit="us", time_zone="UTC", strict=False)
            for fmt in _TIME_FORMATS
        ).alias(name)
    return pl.col(name).cast(target, strict=False)


# The event columns the features read.
EVENT_FIELDS_USED = ("account_id", "ts", "src_ip", "user_agent", "model", "status")
EVENT_FIELDS_USED += ("input_tokens", "output_tokens", "prompt")


def _canonical(events: pl.LazyFrame, keep: tuple[str, ...] = ()) -> pl.LazyFrame:
    """The event columns the features read, typed, without rows lacking account or time
    (and the columns ``keep`` as they are)."""
    schema = events.collect_schema()
    used = EVENT_FIELDS_USED
    typed = [_as_type(n, EVENT_SCHEMA[n], schema.get(n)) for n in used]
    return events.select(*typed, *keep).filter(
        pl.col("account_id").is_not_null() & pl.col("ts").is_not_null()
    )


def _request_stats(source: pl.LazyFrame) -> pl.LazyFrame:
    """Per-account sums and means that need no order and no other account (one streaming pass).

    Tokens, error and 429 shares (of requests with a status), prompt length, reasoning
    requests and user agents; ratios are taken over requests where both parts are known.
    """
    return _request_sums(_request_rows(source))


def _request_rows(source: pl.LazyFrame) -> pl.LazyFrame:
    """What ``_request_stats`` sums, request by request (one row per event, in order)."""
    status, prompt = pl.col("status"), pl.col("prompt")
    both_tokens = pl.col("input_tokens").is_not_null() & pl.col("output_tokens").is_not_null()
    return source.select(
        "account_id",
        "user_agent",
        "input_tokens",
        "output_tokens",
        pl.when(both_tokens).then(pl.col("input_tokens")).alias("_paired_in"),
        pl.when(both_tokens).then(pl.col("output_tokens")).alias("_paired_out"),
        (status >= 400).alias("_error"),
        (status == 429).alias("_limited"),
        prompt.str.len_chars().alias("_prompt_chars"),
        asks_for_reasoning(prompt).alias("_reasoning"),
    )


def _request_sums(rows: pl.LazyFrame) -> pl.LazyFrame:
    """``_request_stats`` from ``_request_rows`` (whole accounts)."""
    sums = rows.group_by("account_id").agg(
        pl.col("user_agent").drop_nulls().n_unique().alias("_agents"),
        pl.col("user_agent").count().alias("_ua_requests"),
        pl.col("input_tokens").mean().alias("input_tokens_mean"),
        pl.col("output_tokens").mean().alias("output_tokens_mean"),
        pl.col("output_tokens").sum().alias("_out_sum"),
        pl.col("output_tokens").count().alias("_out_count"),
        pl.col("_paired_in").sum().alias("_paired_in"),
        pl.col("_paired_out").sum().alias("_paired_out"),
        pl.col("_error").sum().alias("_errors"),
        pl.col("_limited").sum().alias("_limited"),
        pl.col("_error").count().alias("_statuses"),
        pl.col("_prompt_chars").count().alias("prompted_requests"),
        pl.col("_prompt_chars").mean().alias("prompt_chars_mean"),
        pl.col("_prompt_chars").std().alias("_prompt_chars_std"),
        pl.col("_reasoning").mean().alias("reasoning_share"),
    )
    return sums.select(
        "account_id",
        pl.when(pl.col("_ua_requests") > 0).then(pl.col("_agents")).alias("distinct_user_agents"),
        _safe_div(pl.col("_agents"), pl.col("_ua_requests")).alias("user_agents_per_request"),
        "input_tokens_mean",
        "output_tokens_mean",
        pl.when(pl.col("_out_count") > 0).then(pl.col("_out_sum")).alias("output_tokens_total"),
        _safe_div(pl.col("_paired_out"), pl.col("_paired_in")).alias("output_input_ratio"),
        _safe_div(pl.col("_errors"), pl.col("_statuses")).alias("error_share"),
        _safe_div(pl.col("_limited"), pl.col("_statuses")).alias("rate_limited_share"),
        "prompted_requests",
        "prompt_chars_mean",
        _safe_div(pl.col("_prompt_chars_std"), pl.col("prompt_chars_mean")).alias(
            "prompt_chars_cv"
        ),
        "reasoning_share",
    )


def _slim_events(source: pl.LazyFrame, params: FeatureParams) -> pl.LazyFrame:
    """What the order- and population-dependent features need, compactly.

    Account, IP and model become categoricals (4 bytes a row) and the prompt its template
    hash and whether its skeleton is long enough to count as a template
    (``min_template_words``), so that the frame held in memory is about 30 bytes per event.
    """
    return _as_slim(_with_templates(source, params))


def _with_templates(rows: pl.LazyFrame, params: FeatureParams) -> pl.LazyFrame:
    """``rows`` (with ``prompt``) and their prompts' ``template`` hash and ``template_long``."""
    skeleton = pl.col("_skeleton")
    return (
        rows.with_columns(prompt_skeleton(pl.col("prompt")).alias("_skeleton"))
        .with_columns(
            pl.when(skeleton.is_not_null())
            .then(skeleton.hash(seed=TEMPLATE_SEED))
            .alias("template"),
            has_words(skeleton, params.min_template_words).alias("template_long"),
        )
        .drop("_skeleton")
    )


def _as_slim(rows: pl.LazyFrame) -> pl.LazyFrame:
    """The slim events' columns from rows with text ids and their templates."""
    return rows.select(
        pl.col("account_id").cast(pl.Categorical),
        "ts",
        pl.col("src_ip").cast(pl.Categorical),
        pl.col("model").cast(pl.Categorical),
        "template",
        "template_long",
    )


def _safe_div(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    """num / den, null where den is 0 or null."""
    return pl.when(den > 0).then(num / den)


def _day_range(day: pl.Expr) -> pl.Expr:
    """Every date from the column's min to its max (one placeholder date when it is empty)."""
    fallback = pl.lit(dt.date(1970, 1, 1))
    start = pl.coalesce(day.min(), fallback)
    end = pl.coalesce(day.max(), fallback)
    return pl.date_range(start, end, "1d").alias(day.meta.output_name())


def _time_ordered(ev: pl.DataFrame) -> pl.DataFrame:
    """The slim events in time order (a stable sort: requests at one instant keep their order).

    The store's events are usually in time order already, and the check is one pass; with
    the frame in time order, each account's requests are too, so the timing features read
    them as they come instead of sorting every account's requests again.
    """
    return ev if ev["ts"].is_sorted() else ev.sort("ts", maintain_order=True)


def _volume_timing(ev: pl.LazyFrame) -> pl.LazyFrame:
    """Volume, activity span, inter-arrival regularity and burstiness (``ev`` in time order).

    Gaps are the seconds between an account's consecutive requests; CV = sigma/mu and
    burstiness B = (sigma - mu)/(sigma + mu) (Goh & Barabasi): -1 for a metronome, 0 for
    a Poisson process, towards +1 for human bursts and long pauses. Times are UTC
    microseconds, so days and hours are integer divisions of them.
    """
    us = pl.col("ts").to_physical()
    gaps = us.diff().cast(pl.Float64) / 1e6
    timing = ev.group_by("account_id").agg(
        pl.len().alias("requests"),
        pl.col("ts").min().alias("first_seen"),
        pl.col("ts").max().alias("last_seen"),
        # in time order, days and hours come in runs: distinct ones = runs
        (us.floordiv(_US_PER_DAY).rle_id().max() + 1).alias("active_days"),
        (us.floordiv(_US_PER_HOUR).rle_id().max() + 1).alias("active_hours"),
        gaps.median().alias("gap_median_s"),
        gaps.mean().alias("_gap_mean"),
        gaps.std().alias("_gap_std"),
        # IP switches: runs of one IP in time order, minus one
        pl.col("src_ip").to_physical().drop_nulls().rle_id().max().alias("_ip_switches"),
        pl.col("src_ip").count().alias("_ip_requests"),
    )
    mu, sigma = pl.col("_gap_mean"), pl.col("_gap_std")
    return timing.with_columns(
        pl.col("account_id").to_physical().alias("_account"),
        ((pl.col("last_seen") - pl.col("first_seen")).dt.total_seconds() / 86400.0).alias(
            "span_days"
        ),
        (pl.col("requests") / pl.col("active_days")).alias("requests_per_active_day"),
        (pl.col("requests") / pl.col("active_hours")).alias("requests_per_active_hour"),
        _safe_div(sigma, mu).alias("gap_cv"),
        _safe_div(sigma - mu, sigma + mu).alias("burstiness"),
        # share of consecutive request pairs (with IPs) whose IP differs from the previous
        _safe_div(pl.col("_ip_switches"), pl.col("_ip_requests") - 1).alias("ip_switch_share"),
    ).drop("_gap_mean", "_gap_std", "_ip_switches", "_ip_requests")


def _hour_entropy(ev: pl.LazyFrame) -> pl.LazyFrame:
    """Hours of day used, and the Shannon entropy (bits) of the UTC hour-of-day histogram.

    The entropy is 0..log2(24). The (account, hour) cells are counted on one 64-bit key,
    24 * account code + hour; the result is keyed by the account's code (``_account``).
    """
    hour = pl.col("ts").dt.hour().cast(pl.UInt64)
    key = pl.col("account_id").to_physical().cast(pl.UInt64) * 24 + hour
    return (
        ev.group_by(key.alias("_cell"))
        .len()
        .group_by((pl.col("_cell") // 24).cast(pl.UInt32).alias("_account"))
        .agg(
            pl.len().alias("hours_of_day"),
            pl.col("len").entropy(base=2).alias("hour_entropy"),
        )
    )


def _ip_prefixes(ev: pl.LazyFrame) -> pl.LazyFrame:
    """(src_ip, subnet24, subnet16) for every distinct IP (prefixes computed once per IP)."""
    ips = (
        ev.select("src_ip")
        .filter(pl.col("src_ip").is_not_null())
        .unique()
        .with_columns(pl.col("src_ip").cast(pl.String).alias("_ip"))
    )
    prefixes = [
        subnet24(pl.col("_ip")).cast(pl.Categorical).alias("subnet24"),
        subnet16(pl.col("_ip")).cast(pl.Categorical).alias("subnet16"),
    ]
    # IPv6 expansion is costly and IPv6 is rare: compute each family on its own rows only.
    is_v6 = pl.col("_ip").str.contains(":", literal=True)
    return pl.concat(
        [ips.filter(~is_v6).with_columns(prefixes), ips.filter(is_v6).with_columns(prefixes)]
    ).drop("_ip")


def _account_ips(ev: pl.LazyFrame, prefixes: pl.LazyFrame) -> pl.LazyFrame:
    """Each distinct (account, IP) pair with the IP's prefixes, on integer codes.

    ``_account`` and ``src_ip`` are the categorical codes of the account and the IP; the
    pairs are found on one 64-bit key, 2^32 * account code + IP code.
    """
    pair = pl.col("account_id").to_physical().cast(pl.UInt64) * 2**32 + pl.col(
        "src_ip"
    ).to_physical().cast(pl.UInt64)
    return (
        ev.filter(pl.col("src_ip").is_not_null())
        .select(pair.alias("_pair"))
        .unique()
        .select(
            (pl.col("_pair") // 2**32).cast(pl.UInt32).alias("_account"),
            (pl.col("_pair") % 2**32).cast(pl.UInt32).alias("src_ip"),
        )
        .join(prefixes.with_columns(pl.col("src_ip").to_physical()), on="src_ip", how="left")
    )


def _network(account_ips: pl.LazyFrame) -> pl.LazyFrame:
    """IP and subnet counts (churn ratios are derived from them and the volume)."""
    return account_ips.group_by("_account").agg(
        pl.col("src_ip").n_unique().alias("distinct_ips"),
        pl.col("subnet24").drop_nulls().n_unique().alias("distinct_subnets24"),
        pl.col("subnet16").drop_nulls().n_unique().alias("distinct_subnets16"),
    )


def _model_pairs(ev: pl.LazyFrame) -> pl.LazyFrame:
    """(account_id, model, n, first_ts): each account's requests and first request per model."""
    pair = pl.col("account_id").to_physical().cast(pl.UInt64) * 2**32 + pl.col(
        "model"
    ).to_physical().cast(pl.UInt64)
    return (
        ev.filter(pl.col("model").is_not_null())
        .group_by(pair.alias("_pair"))  # (account, model) on one 64-bit key
        .agg(
            pl.col("account_id").first(),
            pl.col("model").first(),
            pl.len().alias("n"),
            pl.col("ts").min().alias("first_ts"),
        )
        .drop("_pair")
    )


def _newest_model(per_model: pl.LazyFrame, params: FeatureParams) -> pl.LazyFrame:
    """(model, is_newest) for the newest model, from (model, n, first_ts) over all accounts."""
    return (
        per_model.filter(pl.col("n") >= params.newest_model_min_share * pl.col("n").sum())
        .sort("first_ts", "model", descending=[True, False])
        .head(1)
        .select("model", pl.lit(True).alias("is_newest"))
    )


def _model_mix_per_account(marked: pl.LazyFrame) -> pl.LazyFrame:
    """Model mix from (account_id, model, n, first_ts, is_newest), one row per account."""
    return marked.group_by("account_id").agg(
        pl.len().alias("distinct_models"),
        (pl.col("n").max() / pl.col("n").sum()).alias("top_model_share"),
        (pl.col("n").filter(pl.col("is_newest")).sum() / pl.col("n").sum()).alias(
            "newest_model_share"
        ),
        pl.col("first_ts")
        .filter(pl.col("is_newest"))
        .min()
        .dt.date()
        .alias("newest_model_first_day"),
    )


def _model_mix(ev: pl.LazyFrame, params: FeatureParams) -> pl.LazyFrame:
    """Model mix, and the day each account first used the newest model.

    The newest model is the one whose first request in the store is latest, among models
    with at least ``newest_model_min_share`` of all requests (so one stray request to an
    odd model name does not define it).
    """
    per_pair = _model_pairs(ev)
    per_model = per_pair.group_by("model").agg(
        pl.col("n").sum().alias("n"), pl.col("first_ts").min().alias("first_ts")
    )
    marked = per_pair.join(_newest_model(per_model, params), on="model", how="left").with_columns(
        pl.col("is_newest").fill_null(False)
    )
    return _model_mix_per_account(marked)


def _model_switch(mix: pl.LazyFrame, params: FeatureParams) -> pl.LazyFrame:
    """Fleet-wide switch: accounts adopting the newest model on the account's adoption day.

    The population's adoption curve is the number of accounts adopting per day (days with
    no adoption count 0); its baseline on a day is the centred rolling median over
    ``adoption_window_days``, which one spike barely moves. ``model_switch_burst`` =
    adopters that day / max(1, baseline): a ring switching together stands out as a spike
    well above the curve, honest users trickle in along it.
    """
    day = pl.col("newest_model_first_day")
    adopters = mix.filter(day.is_not_null()).group_by(day.alias("day")).agg(pl.len().alias("n"))
    days = adopters.select(_day_range(pl.col("day")))
    curve = (
        days.join(adopters, on="day", how="left")
        .with_columns(pl.col("n").fill_null(0))
        .sort("day")
        .with_columns(
            pl.col("n")
            .cast(pl.Float64)
            .rolling_median(params.adoption_window_days, min_samples=1, center=True)
            .alias("baseline")
        )
    )
    return (
        mix.select("account_id", day)
        .filter(day.is_not_null())
        .join(curve, left_on="newest_model_first_day", right_on="day", how="left")
        .select(
            "account_id",
            pl.col("n").alias("model_switch_day_accounts"),
            (pl.col("n") / pl.max_horizontal(pl.col("baseline"), pl.lit(1.0))).alias(
                "model_switch_burst"
            ),
        )
    )


def _template_pairs(ev: pl.LazyFrame) -> pl.LazyFrame:
    """(account_id, template, n, long): how often each account used each template.

    ``long``: the skeleton has at least ``min_template_words`` words (see ``_slim_events``).
    """
    return (
        ev.filter(pl.col("template").is_not_null())
        .group_by("account_id", "template")
        .agg(pl.len().alias("n"), pl.col("template_long").first().alias("long"))
    )


def _templates(pairs: pl.LazyFrame, params: FeatureParams) -> pl.LazyFrame:
    """Template repetition within the account, and templates shared with other accounts.

    Shared templates: for each skeleton of at least ``min_template_words`` words, n_k is
    the number of accounts using it and idf_k = clip(ln(N/n_k) / ln(N/2), 0, 1) with N the
    number of accounts with prompts (1 for a template two accounts share, 0 for one that
    everyone uses). ``shared_template_share`` = sum over the account's prompts on
    templates with n_k >= 2 of idf_k, divided by its prompts: high when most of its
    traffic comes from templates that a few other accounts, and hardly anyone else, use.
    """
    n_accounts = pl.col("account_id").n_unique()
    per_template = pairs.group_by("template").agg(pl.len().alias("template_accounts"))
    prompted_accounts = pairs.select(n_accounts.alias("N"))
    counted = pairs.join(per_template, on="template", how="left").join(
        prompted_accounts, how="cross"
    )
    return _templates_per_account(counted)


def _templates_per_account(counted: pl.LazyFrame) -> pl.LazyFrame:
    """``_templates`` from (account_id, template, n, long, template_accounts, N) rows."""
    idf = (
        (pl.lit(1.0) * pl.col("N") / pl.col("template_accounts")).log()
        / pl.max_horizontal(pl.col("N") / 2.0, pl.lit(math.e)).log()
    ).clip(0.0, 1.0)
    weighted = counted.with_columns(
        pl.when((pl.col("template_accounts") >= 2) & pl.col("long"))
        .then(idf)
        .otherwise(0.0)
        .alias("idf")
    )
    most_used = pl.col("n") == pl.col("n").max()
    templates = weighted.group_by("account_id").agg(
        pl.len().alias("distinct_templates"),
        (pl.col("n").max() / pl.col("n").sum()).alias("top_template_share"),
        (pl.col("n").filter(pl.col("n") >= 2).sum() / pl.col("n").sum()).alias(
            "template_repeat_share"
        ),
        # the most used template's account count (ties: the smallest template id)
        pl.col("template_accounts")
        .filter(pl.col("template") == pl.col("template").filter(most_used).min())
        .first()
        .alias("top_template_accounts"),
        ((pl.col("n") * pl.col("idf")).sum() / pl.col("n").sum()).alias("shared_template_share"),
    )
    return templates


def _infra_sharing(account_ips: pl.LazyFrame) -> pl.LazyFrame:
    """Accounts per IP and per /24, as the max and median over the account's IPs / subnets."""
    ip_accounts = account_ips.group_by("src_ip").agg(pl.len().alias("ip_accounts"))
    account_subnets = account_ips.select("_account", "subnet24").drop_nulls().unique()
    subnet_accounts = account_subnets.group_by("subnet24").agg(pl.len().alias("subnet_accounts"))
    return _infra_per_account(
        account_ips.join(ip_accounts, on="src_ip"),
        account_subnets.join(subnet_accounts, on="subnet24"),
    )


def _infra_per_account(
    ips: pl.LazyFrame, subnets: pl.LazyFrame, key: str = "_account"
) -> pl.LazyFrame:
    """``_infra_sharing`` from (key, ip_accounts) per (account, IP) and (key, subnet_accounts)
    per (account, /24): the max and median over the account's IPs and subnets."""
    per_ip = ips.group_by(key).agg(
        pl.col("ip_accounts").max().alias("ip_accounts_max"),
        pl.col("ip_accounts").median().alias("ip_accounts_median"),
    )
    per_subnet = subnets.group_by(key).agg(
        pl.col("subnet_accounts").max().alias("subnet24_accounts_max"),
        pl.col("subnet_accounts").median().alias("subnet24_accounts_median"),
    )
    return per_ip.join(per_subnet, on=key, how="left")


def _synchrony(ev: pl.LazyFrame, prefixes: pl.LazyFrame, params: FeatureParams) -> pl.LazyFrame:
    """SynchroTrap-style co-activity in (time bucket, /24) cells, against chance.

    A cell is (time bucket b, subnet s); c_bs is the number of accounts active in it. With
    A_b the accounts active in b (summed over subnets), S_s the cells on s summed over
    buckets and T all cells, independence of time and place expects
    E_bs = (A_b - 1)(S_s - 1)/T *other* accounts beside a given one. ``sync_ratio`` =
    (sum (c_bs - 1) + 1) / (sum E_bs + 1) over the account's cells: about 1 for an account
    whose neighbours are there by chance, large when the same accounts keep appearing in
    the same subnets in the same hours (one operator's scheduler on one proxy pool).

    ``ev`` is in time order, so the buckets come in runs and their run number is a dense
    bucket code. Account, bucket and subnet codes are packed into one 64-bit key when their
    bits fit (they do unless codes run into the billions), so that the ``unique`` and the
    window counts run on one integer column; the result is keyed by ``_account``.
    """
    # the subnet is joined on first, so that the one `unique` runs on compact integer keys
    bucket = sync_bucket(params).rle_id()  # before any join
    coded = (
        ev.select("account_id", bucket.cast(pl.UInt64).alias("_bucket"), "src_ip")
        .filter(pl.col("src_ip").is_not_null())
        .join(prefixes.select("src_ip", "subnet24"), on="src_ip")
        .filter(pl.col("subnet24").is_not_null())
        .select(
            pl.col("account_id").to_physical().cast(pl.UInt64).alias("_account"),
            "_bucket",
            pl.col("subnet24").to_physical().cast(pl.UInt64).alias("_subnet"),
        )
    )
    # largest codes, from the inputs of the join rather than by running it twice
    limits = (
        ev.select(
            pl.col("account_id").to_physical().max().alias("_account"),
            bucket.max().alias("_bucket"),
        )
        .collect(engine="in-memory")
        .row(0, named=True)
    )
    limits |= (
        prefixes.select(pl.col("subnet24").to_physical().max().alias("_subnet"))
        .collect(engine="in-memory")
        .row(0, named=True)
    )
    bits = {name: int(value or 0).bit_length() for name, value in limits.items()}
    if sum(bits.values()) <= _KEY_BITS:
        # key = bucket | account | subnet, from the high bits down
        low, mid = 2 ** bits["_subnet"], 2 ** (bits["_subnet"] + bits["_account"])
        key = pl.col("_key")
        cells = coded.select(
            (pl.col("_bucket") * mid + pl.col("_account") * low + pl.col("_subnet")).alias("_key")
        ).unique()
        account, bucket = (key % mid // low).alias("_account"), key // mid
        bucket_subnet, subnet = bucket * low + key % low, key % low
    else:
        cells = coded.unique()
        account, bucket, subnet = pl.col("_account"), pl.col("_bucket"), pl.col("_subnet")
        bucket_subnet = pl.struct(bucket, subnet)
    counted = cells.select(
        account.cast(pl.UInt32),
        pl.len().over(bucket_subnet).alias("c"),
        pl.len().over(bucket).alias("A"),
        pl.len().over(subnet).alias("S"),
        pl.len().alias("T"),
    )
    return _sync_per_account(counted)


def sync_bucket(params: FeatureParams) -> pl.Expr:
    """The time bucket of a request's synchrony cell (``ts`` truncated to ``sync_bucket``)."""
    return pl.col("ts").dt.truncate(params.sync_bucket)


def _sync_per_account(counted: pl.LazyFrame, key: str = "_account") -> pl.LazyFrame:
    """``_synchrony`` from one row per (account, bucket, /24) cell with its counts c, A, S, T."""
    expected = (pl.col("A") - 1).cast(pl.Float64) * (pl.col("S") - 1).cast(pl.Float64) / pl.col("T")
    return counted.group_by(key).agg(
        pl.len().alias("sync_cells"),
        (pl.col("c") - 1).mean().cast(pl.Float64).alias("sync_peers_mean"),
        (((pl.col("c") - 1).sum() + 1) / (expected.sum() + 1.0)).alias("sync_ratio"),
    )


def _account_records(accounts: pl.LazyFrame, params: FeatureParams) -> pl.LazyFrame:
    """Features from account records: sharing of payment / email domain / org, creation bursts.

    Creation bursts: the expected daily sign-up rate lambda_d is the centred rolling median
    of daily creations over ``creation_window_days`` (days without sign-ups count 0; the
    median ignores the burst it is measuring). With k_d the accounts created on the
    account's creation day, ``creation_burst`` = (k_d - lambda_d) / sqrt(lambda_d + 1), a
    Poisson z-score guarded for quiet periods: near 0 for steady sign-ups, tens for a batch
    registered by a script. ``creation_hour_burst`` is the same on the creation hour,
    with lambda_h = lambda_d / 24.
    """
    schema = accounts.collect_schema()
    accounts = accounts.select(
        _as_type(n, t, schema.get(n)) for n, t in ACCOUNT_SCHEMA.items()
    ).filter(pl.col("account_id").is_not_null())
    accounts = accounts.unique("account_id", keep="first")

    def sharing(column: str, alias: str) -> pl.Expr:
        return (
            pl.when(pl.col(column).is_not_null())
            .then(pl.len().over(column))
            .cast(pl.Int64)
            .alias(alias)
        )

    shared = accounts.select(
        "account_id",
        "created_at",
        sharing("payment_fingerprint", "payment_accounts"),
        sharing("email_domain", "email_domain_accounts"),
        sharing("org_id", "org_accounts"),
        pl.col("created_at").dt.truncate("1h").alias("_hour"),
        pl.col("created_at").dt.date().alias("_day"),
    )
    created = shared.filter(pl.col("_hour").is_not_null())
    hourly = created.group_by("_hour").agg(pl.len().alias("created_hour_accounts"))
    daily = created.group_by("_day").agg(pl.len().alias("created_day_accounts"))
    days = daily.select(_day_range(pl.col("_day")))
    rate = (
        days.join(daily, on="_day", how="left")
        .sort("_day")
        .select(
            "_day",
            pl.col("created_day_accounts")
            .fill_null(0)
            .cast(pl.Float64)
            .rolling_median(params.creation_window_days, min_samples=1, center=True)
            .alias("_lambda"),
        )
    )

    def poisson_z(k: pl.Expr, lam: pl.Expr) -> pl.Expr:
        return (k - lam) / (lam + 1.0).sqrt()

    day_lambda = pl.col("_lambda")
    return (
        shared.join(hourly, on="_hour", how="left")
        .join(daily, on="_day", how="left")
        .join(rate, on="_day", how="left")
        .with_columns(
            poisson_z(pl.col("created_day_accounts"), day_lambda).alias("creation_burst"),
            poisson_z(pl.col("created_hour_accounts"), day_lambda / 24.0).alias(
                "creation_hour_burst"
            ),
        )
        .drop("_hour", "_day", "_lambda")
    )


@dataclass(frozen=True)
class AccountFeatures:
    """The feature table, and each account's prompt-template use (a by-product of it).

    ``templates`` has one row per (account_id, template) with the number of requests:
    ``template`` is the 64-bit hash of the prompt skeleton (``template_hash``), the same
    skeletons the template features count. Ring evidence reads it instead of running the
    skeleton regexes over the events a second time.
    """

    table: pl.DataFrame
    # account_id: Categorical (4 bytes a row), template: UInt64, requests: UInt32
    templates: pl.DataFrame


def template_hash(prompt: pl.Expr) -> pl.Expr:
    """The 64-bit id of a prompt's template skeleton (null when it has none)."""
    skeleton = prompt_skeleton(prompt)
    return pl.when(skeleton.is_not_null()).then(skeleton.hash(seed=TEMPLATE_SEED))


def compute_account_features(
    events: pl.LazyFrame,
    accounts: pl.LazyFrame | None = None,
    params: FeatureParams | None = None,
) -> pl.DataFrame:
    """One row per account_id with events: per-account and cross-account features.

    Columns are exactly ``FEATURE_SCHEMA`` (see forensics.features.catalog and
    docs/detection.md); a feature the data cannot define (no prompts, no account records,
    no status codes) is null, never an error. Account records are optional; accounts that
    have records but no events get no row, though they count in the sharing features.
    """
    return account_features(events, accounts, params).table


def account_features(
    events: pl.LazyFrame,
    accounts: pl.LazyFrame | None = None,
    params: FeatureParams | None = None,
) -> AccountFeatures:
    """``compute_account_features``, with the per-account template counts it computes on the way."""
    params = params or FeatureParams()
    source = _canonical(events)
    requests = _request_stats(source).collect(engine="streaming")
    # Materialise the slim events and the small shared tables once: every part reads them.
    ev = _time_ordered(_slim_events(source, params).collect(engine="streaming")).lazy()
    prefixes = _ip_prefixes(ev).collect().lazy()
    account_ips = _account_ips(ev, prefixes).collect().lazy()
    mix = _model_mix(ev, params).collect().lazy()
    pairs = _template_pairs(ev).collect()
    # (part, join key, engine): parts keyed by ``_account`` use the account's categorical
    # code. Window functions and joins of large in-memory tables run faster on the
    # in-memory engine; group-bys of the events on the streaming one (measured at full scale).
    parts = [
        (_hour_entropy(ev), "_account", "streaming"),
        (_network(account_ips), "_account", "in-memory"),
        (_infra_sharing(account_ips), "_account", "in-memory"),
        (_synchrony(ev, prefixes, params), "_account", "in-memory"),
        (mix, "account_id", "in-memory"),
        (_model_switch(mix, params), "account_id", "in-memory"),
        (_templates(pairs.lazy(), params), "account_id", "in-memory"),
    ]
    # One part at a time: each is small once aggregated, and peak memory is the largest
    # part's working set rather than the sum of all of them.
    table = _volume_timing(ev).collect().lazy()
    for part, key, engine in parts:
        table = table.join(part.collect(engine=engine).lazy(), on=key, how="left")
    table = table.with_columns(pl.col("account_id").cast(pl.String)).join(
        requests.lazy(), on="account_id", how="left"
    )
    templates = pairs.select(
        "account_id",
        pl.col("template").cast(pl.UInt64),
        pl.col("n").cast(pl.UInt32).alias("requests"),
    )
    return AccountFeatures(_feature_table(table, accounts, params), templates)


def _feature_table(
    table: pl.LazyFrame, accounts: pl.LazyFrame | None, params: FeatureParams
) -> pl.DataFrame:
    """The parts joined on ``account_id`` (String), with the account records and the ratios
    of parts, as exactly ``FEATURE_SCHEMA`` sorted by account."""
    if accounts is not None:
        table = table.join(_account_records(accounts, params), on="account_id", how="left")
        table = table.with_columns(
            ((pl.col("first_seen") - pl.col("created_at")).dt.total_seconds() / 86400.0).alias(
                "account_age_days"
            )
        )
    table = table.with_columns(
        (pl.col("distinct_ips") / pl.col("requests")).alias("ips_per_request"),
        (pl.col("distinct_ips") / pl.col("active_days")).alias("new_ips_per_active_day"),
    )
    have = table.collect_schema().names()
    columns = [
        pl.col(n).cast(t) if n in have else pl.lit(None, dtype=t).alias(n)
        for n, t in FEATURE_SCHEMA.items()
    ]
    return table.select(columns).sort("account_id").collect()
