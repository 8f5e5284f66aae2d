"""Cross-account features on hand-made stores: what accounts share, against chance."""

import datetime as dt
import math

import pytest

from forensics.features import compute, compute_account_features

from .conftest import account_records, utc


def by_account(store):
    table = compute_account_features(store.scan_events(), store.scan_accounts())
    return {r["account_id"]: r for r in table.iter_rows(named=True)}


def event(account, ts, ip=None, **extra):
    return {"account_id": account, "ts": ts, "src_ip": ip, **extra}


def test_accounts_per_ip_and_subnet_are_max_and_median_over_the_accounts_ips(make_store):
    store = make_store(
        [
            event("a", "2024-05-01T10:00:00Z", "10.0.0.1"),
            event("a", "2024-05-01T10:05:00Z", "10.0.0.2"),
            event("a", "2024-05-01T10:09:00Z", "10.0.0.3"),
            event("b", "2024-05-01T12:00:00Z", "10.0.0.1"),
            event("c", "2024-05-01T12:00:00Z", "10.9.0.1"),
        ]
    )
    f = by_account(store)
    assert (f["a"]["ip_accounts_max"], f["a"]["ip_accounts_median"]) == (2, 1.0)
    assert (f["a"]["subnet24_accounts_max"], f["a"]["subnet24_accounts_median"]) == (2, 2.0)
    assert (f["c"]["ip_accounts_max"], f["c"]["subnet24_accounts_max"]) == (1, 1)


@pytest.mark.parametrize("key_bits", [64, 0], ids=["packed-key", "three-column-key"])
def test_synchrony_compares_shared_hour_subnet_cells_with_chance(make_store, monkeypatch, key_bits):
    monkeypatch.setattr(compute, "_KEY_BITS", key_bits)  # 0: codes never fit one key
    # cells (hour, /24): x and y share (10h, 1.1.1/24); z is alone in (10h, 2.2.2/24);
    # w is alone in (11h, 2.2.2/24). T = 4 cells, A_10 = 3, A_11 = 1, S = 2 for both /24s.
    store = make_store(
        [
            event("x", "2024-05-01T10:01:00Z", "1.1.1.1"),
            event("y", "2024-05-01T10:40:00Z", "1.1.1.2"),
            event("z", "2024-05-01T10:02:00Z", "2.2.2.2"),
            event("w", "2024-05-01T11:30:00Z", "2.2.2.3"),
        ]
    )
    f = by_account(store)
    # x: one co-occupant where chance expects (3-1)(2-1)/4 = 0.5: (1+1)/(0.5+1)
    assert f["x"]["sync_ratio"] == pytest.approx(4 / 3)
    assert f["x"]["sync_peers_mean"] == 1.0 and f["x"]["sync_cells"] == 1
    assert f["z"]["sync_ratio"] == pytest.approx(2 / 3)  # alone where 0.5 were expected
    assert f["w"]["sync_ratio"] == 1.0  # alone in an hour nobody else used: E = 0


def test_shared_templates_count_rare_shared_skeletons_weighted_by_rarity(make_store):
    ring_prompts = [
        "Explain topic 17 in full detail please",
        "Explain topic 2 in full detail please",
    ]
    rows = [
        event(acc, f"2024-05-01T1{i}:00:00Z", prompt=p)
        for acc in ("r1", "r2", "r3")
        for i, p in enumerate([*ring_prompts, "hi"])
    ]
    rows += [
        event(acc, "2024-05-01T10:00:00Z", prompt=p)
        for acc, p in [("b1", "how do I sort a list"), ("b2", "write a haiku about rain")]
    ]
    rows += [event(acc, "2024-05-01T11:00:00Z", prompt="hi") for acc in ("b1", "b2", "b3")]
    f = by_account(make_store(rows))
    # 6 accounts with prompts; the ring template is used by 3: idf = ln(6/3) / ln(6/2).
    idf = math.log(2) / math.log(3)
    # two of the ring account's three prompts are on it; "hi" is too short to be a template
    assert f["r1"]["shared_template_share"] == pytest.approx(2 * idf / 3)
    assert f["r1"]["top_template_accounts"] == 3
    assert f["b1"]["shared_template_share"] == 0.0
    assert f["b3"]["top_template_accounts"] == 6  # "hi": everyone, but not a template


def test_fleet_wide_model_switch_is_a_spike_on_the_adoption_curve(make_store):
    rows = [event(a, "2024-05-01T09:00:00Z", model="old") for a in ("a", "b", "c", "d", "e")]
    rows += [event(a, "2024-05-03T09:00:00Z", model="new") for a in ("a", "b", "c")]
    rows += [event("d", "2024-05-04T09:00:00Z", model="new")]
    f = by_account(make_store(rows))
    # adopters per day: 3 on 05-03, 1 on 05-04; centred rolling median of [3, 1] = 2
    assert f["a"]["newest_model_first_day"] == dt.date(2024, 5, 3)
    assert f["a"]["model_switch_day_accounts"] == 3
    assert f["a"]["model_switch_burst"] == pytest.approx(1.5)
    assert f["d"]["model_switch_burst"] == pytest.approx(0.5)
    assert f["e"]["model_switch_day_accounts"] is None  # never used the new model


def test_account_record_sharing_counts_accounts_with_the_same_value(make_store):
    ids = ["a", "b", "c", "d"]
    records = account_records(
        account_id=[*ids, "no-events"],
        payment_fingerprint=["pf1", "pf1", "pf2", None, "pf1"],
        email_domain=["mail.example", "mail.example", "mail.example", "other.example", None],
        org_id=[None, None, "org1", "org1", None],
    )
    store = make_store([event(a, "2024-05-01T10:00:00Z") for a in ids], accounts=records)
    f = by_account(store)
    assert set(f) == set(ids)  # accounts without events get no row, but they count
    assert [f[a]["payment_accounts"] for a in ids] == [3, 3, 1, None]
    assert [f[a]["email_domain_accounts"] for a in ids] == [3, 3, 3, 1]
    assert [f[a]["org_accounts"] for a in ids] == [None, None, 2, 2]


def test_creation_burst_is_a_poisson_z_of_the_creation_hour(make_store):
    created = ["2024-04-01T03:05:00Z", "2024-04-01T03:20:00Z", "2024-04-01T03:59:00Z"]
    created.append("2024-04-04T15:00:00Z")
    ids = ["r1", "r2", "r3", "lone"]
    records = account_records(account_id=ids, created_at=[utc(c) for c in created])
    store = make_store([event(a, "2024-05-01T10:00:00Z") for a in ids], accounts=records)
    f = by_account(store)
    # daily creations 04-01..04-04: [3, 0, 0, 1]; their centred rolling median is 0.5 on
    # every day, so the expected daily rate is 0.5 and the hourly one 0.5 / 24.
    day, hour = 0.5, 0.5 / 24
    assert f["r1"]["created_hour_accounts"] == 3 and f["r1"]["created_day_accounts"] == 3
    assert f["r1"]["creation_burst"] == pytest.approx((3 - day) / math.sqrt(day + 1))
    assert f["r1"]["creation_hour_burst"] == pytest.approx((3 - hour) / math.sqrt(hour + 1))
    assert f["lone"]["creation_burst"] == pytest.approx((1 - day) / math.sqrt(day + 1))
    assert f["r1"]["account_age_days"] == pytest.approx(30 + (10 * 60 - 185) / 1440)
