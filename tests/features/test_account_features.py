"""Per-account features on small hand-made stores, each value worked out by hand."""

import datetime as dt
import math
import statistics

import polars as pl
import pytest

from forensics.features import FEATURE_SCHEMA, compute_account_features

from .conftest import account_records

METRO = [  # one request every 10 minutes, rotating IPs in one /24
    ("2024-05-01T10:00:00Z", "10.0.0.1", "m-old", 200, 10, 30, "Solve step by step: 12+3"),
    ("2024-05-01T10:10:00Z", "10.0.0.2", "m-old", 200, 10, 30, "Solve step by step: 7*8"),
    ("2024-05-01T10:20:00Z", "10.0.0.1", "m-old", 429, 10, 30, "Solve step by step: 1-1"),
    ("2024-05-01T10:30:00Z", "10.0.0.3", "m-new", 500, 10, 10, "hello there"),
]
HUMAN = [  # four different hours of day over two days, one IP
    ("2024-05-01T00:00:00Z", "192.168.1.9", "m-old", 200, 100, 50, "what is a monad?"),
    ("2024-05-01T06:00:00Z", "192.168.1.9", "m-old", 200, 100, 50, "and a functor"),
    ("2024-05-02T12:00:00Z", "192.168.1.9", "m-new", 200, 100, 50, "thanks, bye"),
    ("2024-05-02T18:00:00Z", "192.168.1.9", "m-new", 200, 100, 50, "one more question"),
]


def rows(account, spec):
    keys = ("ts", "src_ip", "model", "status", "input_tokens", "output_tokens", "prompt")
    return [dict(zip(keys, r, strict=True), account_id=account, user_agent="sdk/1") for r in spec]


@pytest.fixture
def features(make_store):
    store = make_store(rows("metro", METRO) + rows("human", HUMAN))
    table = compute_account_features(store.scan_events(), store.scan_accounts())
    return {r["account_id"]: r for r in table.iter_rows(named=True)}


def test_table_has_one_row_per_account_and_the_catalogue_columns(features, make_store):
    assert set(features) == {"metro", "human"}
    assert list(next(iter(features.values()))) == list(FEATURE_SCHEMA)


def test_volume_and_activity_span(features):
    m, h = features["metro"], features["human"]
    assert m["requests"] == 4 and m["active_days"] == 1 and m["active_hours"] == 1
    assert h["active_days"] == 2 and h["active_hours"] == 4 and h["hours_of_day"] == 4
    assert h["requests_per_active_day"] == 2.0
    assert h["first_seen"] == dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
    assert h["span_days"] == pytest.approx(1.75)


def test_metronome_account_has_zero_gap_cv_and_burstiness_minus_one(features):
    m = features["metro"]
    assert m["gap_median_s"] == 600.0
    assert m["gap_cv"] == 0.0
    assert m["burstiness"] == -1.0


def test_irregular_gaps_give_cv_and_burstiness_from_their_mean_and_sd(features):
    gaps = [6 * 3600, 30 * 3600, 6 * 3600]
    mu, sigma = statistics.mean(gaps), statistics.stdev(gaps)
    h = features["human"]
    assert h["gap_cv"] == pytest.approx(sigma / mu)
    assert h["burstiness"] == pytest.approx((sigma - mu) / (sigma + mu))


def test_hour_entropy_is_zero_for_one_hour_and_two_bits_for_four_even_hours(features):
    assert features["metro"]["hour_entropy"] == 0.0
    assert features["human"]["hour_entropy"] == pytest.approx(2.0)


def test_ip_counts_and_churn(features):
    m, h = features["metro"], features["human"]
    assert (m["distinct_ips"], m["distinct_subnets24"], m["distinct_subnets16"]) == (3, 1, 1)
    assert m["ips_per_request"] == 0.75 and m["new_ips_per_active_day"] == 3.0
    assert m["ip_switch_share"] == 1.0  # every request from another IP than the previous
    assert h["ip_switch_share"] == 0.0
    assert m["distinct_user_agents"] == 1 and m["user_agents_per_request"] == 0.25


def test_model_mix_and_newest_model(features):
    m, h = features["metro"], features["human"]
    assert m["distinct_models"] == 2 and m["top_model_share"] == 0.75
    assert m["newest_model_share"] == 0.25 and h["newest_model_share"] == 0.5
    assert m["newest_model_first_day"] == dt.date(2024, 5, 1)
    assert h["newest_model_first_day"] == dt.date(2024, 5, 2)


def test_token_statistics_and_status_shares(features):
    m = features["metro"]
    assert m["input_tokens_mean"] == 10.0 and m["output_tokens_mean"] == 25.0
    assert m["output_tokens_total"] == 100 and m["output_input_ratio"] == 2.5
    assert m["error_share"] == 0.5 and m["rate_limited_share"] == 0.25
    assert features["human"]["error_share"] == 0.0


def test_prompt_length_template_repetition_and_reasoning_share(features):
    m = features["metro"]
    lengths = [len(r[6]) for r in METRO]
    assert m["prompted_requests"] == 4
    assert m["prompt_chars_mean"] == pytest.approx(statistics.mean(lengths))
    assert m["prompt_chars_cv"] == pytest.approx(
        statistics.stdev(lengths) / statistics.mean(lengths)
    )
    assert m["distinct_templates"] == 2  # "solve step by step <n> <n>" x3, "hello there"
    assert m["top_template_share"] == 0.75 and m["template_repeat_share"] == 0.75
    assert m["reasoning_share"] == 0.75
    assert features["human"]["template_repeat_share"] == 0.0


def test_account_age_at_first_request_uses_account_records(make_store):
    store = make_store(
        rows("metro", METRO),
        accounts=account_records(
            account_id=["metro"], created_at=[dt.datetime(2024, 4, 30, 10, 0, tzinfo=dt.UTC)]
        ),
    )
    table = compute_account_features(store.scan_events(), store.scan_accounts())
    assert table["account_age_days"].to_list() == [1.0]


def test_store_without_prompts_or_account_records_still_yields_features(make_store):
    spec = [r[:6] + (None,) for r in METRO]
    store = make_store(rows("metro", spec))
    assert store.scan_accounts() is None
    table = compute_account_features(store.scan_events(), None)
    row = table.row(0, named=True)
    assert row["requests"] == 4 and row["ip_switch_share"] == 1.0
    assert row["prompted_requests"] == 0
    for name in ("prompt_chars_mean", "distinct_templates", "reasoning_share",
                 "shared_template_share", "account_age_days", "payment_accounts",
                 "creation_burst"):  # fmt: skip
        assert row[name] is None, name


def test_store_with_only_timestamps_and_accounts_yields_nulls_not_errors(make_store):
    store = make_store([{"ts": "2024-05-01T10:00:00Z", "account_id": "a"}])
    row = compute_account_features(store.scan_events(), None).row(0, named=True)
    assert row["requests"] == 1
    assert row["distinct_ips"] is None and row["error_share"] is None
    assert row["sync_ratio"] is None and row["model_switch_burst"] is None


def test_empty_events_give_an_empty_table_with_the_catalogue_schema():
    empty = pl.LazyFrame(schema={"ts": pl.Datetime("us", "UTC"), "account_id": pl.String})
    table = compute_account_features(empty, None)
    assert table.is_empty() and table.schema == pl.Schema(FEATURE_SCHEMA)


def test_features_are_finite_numbers_or_null(features):
    for row in features.values():
        for name, value in row.items():
            if isinstance(value, float):
                assert math.isfinite(value), name


def test_odd_values_and_frames_outside_the_store_do_not_crash():
    events = pl.LazyFrame(
        {
            "ts": [dt.datetime(2024, 5, 1, 10), dt.datetime(2024, 5, 1, 11), None],
            "account_id": ["a", "a", "b"],
            "src_ip": ["::::::", "1.2.3.4.5", "300.1.1.1"],
            "status": [99999, -1, 200],  # does not fit Int16: becomes null
            "input_tokens": [0, 0, 5],
            "output_tokens": [10, 0, 5],
            "prompt": ["\x00\x1b[31m<script>", "", "x"],
        }
    )
    accounts = pl.LazyFrame({"account_id": ["a", "a"], "created_at": ["not a time", None]})
    row = compute_account_features(events, accounts).row(0, named=True)
    assert row["account_id"] == "a" and row["requests"] == 2  # b has no timestamp
    assert row["output_input_ratio"] is None  # no input tokens: undefined, not infinite
    assert row["error_share"] == 0.0  # 99999 does not fit a status: only -1 is left
    assert row["creation_burst"] is None and row["account_age_days"] is None


def test_timing_features_do_not_depend_on_the_order_events_come_in():
    events = pl.DataFrame(rows("metro", METRO) + rows("human", HUMAN)).with_columns(
        pl.col("ts").str.to_datetime(time_zone="UTC")
    )
    in_order = compute_account_features(events.lazy())
    shuffled = compute_account_features(events.reverse().lazy())
    timing = ["requests", "active_days", "active_hours", "hours_of_day", "hour_entropy"]
    timing += ["gap_median_s", "gap_cv", "burstiness", "ip_switch_share", "sync_cells"]
    assert shuffled.select(timing).equals(in_order.select(timing))
    metro = in_order.row(by_predicate=pl.col("account_id") == "metro", named=True)
    assert metro["gap_median_s"] == 600.0 and metro["ip_switch_share"] == 1.0
