"""The feature catalogue: the one home of feature column names, types and labels.

``compute_account_features`` returns exactly these columns, in this order, whatever the
store holds (a feature the data cannot define is null), so that every consumer can rely
on one table shape. ``docs/detection.md`` (section "Features") explains each one.
"""

from __future__ import annotations

import polars as pl

from forensics.schema import UTC_TS

F64 = pl.Float64()
I64 = pl.Int64()

# (column, dtype, human label)
FEATURES: tuple[tuple[str, pl.DataType, str], ...] = (
    # volume and timing
    ("requests", I64, "requests"),
    ("first_seen", UTC_TS, "first request"),
    ("last_seen", UTC_TS, "last request"),
    ("span_days", F64, "days between first and last request"),
    ("active_days", I64, "active days"),
    ("active_hours", I64, "active clock hours"),
    ("hours_of_day", I64, "distinct hours of day used"),
    ("requests_per_active_day", F64, "requests per active day"),
    ("requests_per_active_hour", F64, "requests per active hour"),
    ("gap_median_s", F64, "median gap between requests (s)"),
    ("gap_cv", F64, "inter-arrival coefficient of variation"),
    ("burstiness", F64, "burstiness (sigma-mu)/(sigma+mu)"),
    ("hour_entropy", F64, "hour-of-day entropy (bits)"),
    # network
    ("distinct_ips", I64, "distinct IPs"),
    ("distinct_subnets24", I64, "distinct /24 subnets"),
    ("distinct_subnets16", I64, "distinct /16 subnets"),
    ("distinct_user_agents", I64, "distinct user agents"),
    ("ips_per_request", F64, "distinct IPs per request"),
    ("new_ips_per_active_day", F64, "new IPs per active day"),
    ("ip_switch_share", F64, "share of requests from a different IP than the previous"),
    ("user_agents_per_request", F64, "distinct user agents per request"),
    # models
    ("distinct_models", I64, "distinct models"),
    ("top_model_share", F64, "share of the top model"),
    ("newest_model_share", F64, "share on the newest model"),
    ("newest_model_first_day", pl.Date(), "first day on the newest model"),
    # tokens and status
    ("input_tokens_mean", F64, "mean input tokens"),
    ("output_tokens_mean", F64, "mean output tokens"),
    ("output_tokens_total", I64, "total output tokens"),
    ("output_input_ratio", F64, "output/input token ratio"),
    ("error_share", F64, "error share (status >= 400)"),
    ("rate_limited_share", F64, "rate-limited share (429)"),
    # prompts
    ("prompted_requests", I64, "requests with prompt text"),
    ("prompt_chars_mean", F64, "mean prompt length (chars)"),
    ("prompt_chars_cv", F64, "prompt length coefficient of variation"),
    ("distinct_templates", I64, "distinct prompt templates"),
    ("top_template_share", F64, "share of the top prompt template"),
    ("template_repeat_share", F64, "share of prompts on a repeated template"),
    ("reasoning_share", F64, "share of prompts asking for step-by-step reasoning"),
    # account records
    ("account_age_days", F64, "account age at first request (days)"),
    # cross-account
    ("ip_accounts_max", I64, "accounts per IP (max over the account's IPs)"),
    ("ip_accounts_median", F64, "accounts per IP (median over the account's IPs)"),
    ("subnet24_accounts_max", I64, "accounts per /24 (max over the account's /24s)"),
    ("subnet24_accounts_median", F64, "accounts per /24 (median over the account's /24s)"),
    ("payment_accounts", I64, "accounts sharing the payment fingerprint"),
    ("email_domain_accounts", I64, "accounts sharing the email domain"),
    ("org_accounts", I64, "accounts in the same org_id"),
    ("created_hour_accounts", I64, "accounts created in the same hour"),
    ("created_day_accounts", I64, "accounts created on the same day"),
    ("creation_burst", F64, "creation burst (Poisson z of the creation day)"),
    ("creation_hour_burst", F64, "creation burst (Poisson z of the creation hour)"),
    ("sync_cells", I64, "(hour, /24) cells the account is active in"),
    ("sync_peers_mean", F64, "other accounts per (hour, /24) cell"),
    ("sync_ratio", F64, "co-activity in (hour, /24) cells vs chance"),
    ("top_template_accounts", I64, "accounts sharing the top prompt template"),
    ("shared_template_share", F64, "share of prompts on rare shared templates (IDF-weighted)"),
    ("model_switch_day_accounts", I64, "accounts adopting the newest model the same day"),
    ("model_switch_burst", F64, "same-day newest-model adoption vs the adoption curve"),
)

FEATURE_SCHEMA: dict[str, pl.DataType] = {"account_id": pl.String()} | {
    name: dtype for name, dtype, _label in FEATURES
}
FEATURE_LABELS: dict[str, str] = {name: label for name, _dtype, label in FEATURES}

# Numeric features that population_contrast compares by default (not times or dates).
CONTRAST_FEATURES: tuple[str, ...] = tuple(
    name for name, dtype, _label in FEATURES if dtype.is_numeric()
)
