"""The report model: figures, ordering, windows, time zones and store states."""

from __future__ import annotations

import datetime as dt

import pytest

from forensics.errors import ForensicsError
from forensics.report import build_report

from .conftest import BENIGN_ACCOUNTS, RING2_ACCOUNTS, RING_ACCOUNTS


def test_summary_counts_flagged_accounts_and_their_shares(clustered_store):
    report = build_report(clustered_store)
    s = report.summary
    ring_requests = len(RING_ACCOUNTS) * 4 * 5 + len(RING2_ACCOUNTS)
    assert s.events == ring_requests + len(BENIGN_ACCOUNTS) * 4
    assert s.accounts == len(RING_ACCOUNTS) + len(RING2_ACCOUNTS) + len(BENIGN_ACCOUNTS)
    assert s.accounts_flagged == len(RING_ACCOUNTS) + len(RING2_ACCOUNTS)
    assert s.flagged_requests == ring_requests
    assert s.share_requests == pytest.approx(ring_requests / s.events)
    flagged_tokens = 120 * 100 + 3 * 10
    assert s.share_output_tokens == pytest.approx(flagged_tokens / (flagged_tokens + 40 * 50))
    assert s.rings_found == 2


def test_rings_are_sorted_by_score_with_members_by_strength(clustered_store):
    report = build_report(clustered_store)
    assert [r.ring_id for r in report.rings] == ["R001", "R002"]
    r1 = report.rings[0]
    assert [m.account_id for m in r1.members] == RING_ACCOUNTS
    assert r1.members[0].requests == 20
    assert r1.requests == 120
    assert r1.findings[0]["strength"] == 0.97


def test_unclustered_store_is_a_clear_error(unclustered_store):
    with pytest.raises(ForensicsError, match="forensics cluster"):
        build_report(unclustered_store)


def test_missing_store_is_a_clear_error(tmp_path):
    with pytest.raises(ForensicsError, match="not a forensics store"):
        build_report(tmp_path / "nowhere")


def test_unknown_ring_is_a_clear_error(clustered_store):
    with pytest.raises(ForensicsError, match="no ring 'R404'"):
        build_report(clustered_store, ring="R404")


def test_ring_option_keeps_only_that_ring(clustered_store):
    report = build_report(clustered_store, ring="R002")
    assert [r.ring_id for r in report.rings] == ["R002"]
    assert report.summary.rings_found == 2


def test_window_limits_counts_examples_and_drops_inactive_rings(clustered_store):
    report = build_report(clustered_store, start="2024-05-02", end="2024-05-03")
    assert report.summary.events == 2 * (len(RING_ACCOUNTS) * 5 + len(BENIGN_ACCOUNTS))
    assert [r.ring_id for r in report.rings] == ["R001"]
    ring = report.rings[0]
    assert [d.date for d in ring.daily] == [dt.date(2024, 5, 2), dt.date(2024, 5, 3)]
    assert ring.requests == 2 * len(RING_ACCOUNTS) * 5
    assert ring.evidence["examples"] == []


def test_bare_to_date_includes_that_whole_day(clustered_store):
    report = build_report(clustered_store, start="2024-05-04", end="2024-05-04")
    assert report.summary.events == len(RING_ACCOUNTS) * 5 + len(BENIGN_ACCOUNTS)


def test_time_zone_shifts_displayed_times_and_days(clustered_store):
    # Benign account user9 is active at 17:00 UTC, i.e. 02:00 the next day in Tokyo.
    utc = build_report(clustered_store)
    tokyo = build_report(clustered_store, tz="Asia/Tokyo")
    assert utc.fmt_ts(utc.summary.first_event) == "2024-05-01 08:00:00 UTC"
    assert tokyo.fmt_ts(tokyo.summary.first_event) == "2024-05-01 17:00:00 JST"
    assert max(d.date for d in tokyo.population_daily) == dt.date(2024, 5, 5)
    assert max(d.date for d in utc.population_daily) == dt.date(2024, 5, 4)


def test_bad_time_zone_and_time_are_clear_errors(clustered_store):
    with pytest.raises(ForensicsError, match="unknown time zone"):
        build_report(clustered_store, tz="Mars/Olympus")
    with pytest.raises(ForensicsError, match="cannot read time"):
        build_report(clustered_store, start="yesterday")
    with pytest.raises(ForensicsError, match="earlier"):
        build_report(clustered_store, start="2024-05-03", end="2024-05-01")


def test_charts_load_ring_edges_and_feature_values(clustered_store):
    report = build_report(clustered_store, charts=True)
    ring = report.rings[0]
    # 15 prompt edges inside R001; the edge to a benign account is not part of the ring.
    assert len(ring.edges) == 15
    assert all(a in RING_ACCOUNTS and b in RING_ACCOUNTS for a, b, _s, _v in ring.edges)
    assert list(ring.features) == ["requests"]
    assert ring.features["requests"].tolist() == [20.0] * len(RING_ACCOUNTS)
    assert report.population_features["requests"][1].size == 19


def test_account_in_two_rings_counts_for_each_ring_but_once_overall(make_store):
    from .conftest import write_rings

    store = make_store(
        [
            {"ts": f"2024-05-01T0{i}:00:00Z", "account_id": a, "output_tokens": 10}
            for i, a in enumerate(["a", "a", "b", "c"])
        ]
    )
    ring = {
        "size": 2,
        "first_seen": None,
        "last_seen": None,
        "requests": 0,
        "output_tokens": 0,
        "views": [],
        "headline": "h",
        "evidence": "{}",
    }
    write_rings(
        store,
        [ring | {"ring_id": "R001", "score": 0.9}, ring | {"ring_id": "R002", "score": 0.8}],
        [
            {"ring_id": "R001", "account_id": "a", "score": 0.9},
            {"ring_id": "R001", "account_id": "b", "score": 0.9},
            {"ring_id": "R002", "account_id": "a", "score": 0.8},
        ],
    )
    report = build_report(store)
    assert [r.requests for r in report.rings] == [3, 2]
    assert report.summary.flagged_requests == 3
    assert report.summary.accounts_flagged == 2
    assert report.summary.accounts_in_several_rings == 1
    assert report.summary.share_requests == pytest.approx(3 / 4)


def test_naive_window_bounds_are_read_in_the_display_time_zone(clustered_store):
    report = build_report(clustered_store, tz="Asia/Tokyo", start="2024-05-02", end="2024-05-02")
    assert report.summary.window_start == dt.datetime(2024, 5, 1, 15, tzinfo=dt.UTC)
    assert report.summary.window_end == dt.datetime(2024, 5, 2, 15, tzinfo=dt.UTC)
    explicit = build_report(clustered_store, tz="Asia/Tokyo", start="2024-05-02T00:00:00Z")
    assert explicit.summary.window_start == dt.datetime(2024, 5, 2, tzinfo=dt.UTC)
