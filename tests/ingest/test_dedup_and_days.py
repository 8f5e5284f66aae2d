"""Request-id de-duplication and the split of a batch into UTC days."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from forensics.ingest.dedup import RequestIdIndex
from forensics.ingest.pipeline import _split_by_day


def test_request_ids_keep_the_first_occurrence_within_and_across_batches():
    index = RequestIdIndex()
    first = index.keep_new(pl.Series(["a", "b", "c"]))
    assert first.tolist() == [True, True, True]  # all new: every row stays
    # "b" is known from before; "d" repeats inside the batch: its first row stays.
    second = index.keep_new(pl.Series(["d", "b", "e", "d", "a", "f"]))
    assert second.tolist() == [True, False, True, False, False, True]
    # The kept ones are remembered, the dropped ones were known already.
    third = index.keep_new(pl.Series(["f", "e", "g", "d"]))
    assert third.tolist() == [False, False, True, False]
    assert len(index) == 7


def test_many_new_request_ids_are_all_kept_in_input_order():
    index = RequestIdIndex()
    ids = pl.Series([f"req-{i}" for i in np.random.default_rng(3).permutation(50_000)])
    assert index.keep_new(ids[:25_000]).all()
    keep = index.keep_new(pl.concat([ids[25_000:], ids[:10]]))
    assert keep[:25_000].all() and not keep[25_000:].any()


def test_a_batch_out_of_time_order_is_split_into_days_keeping_row_order():
    ts = [
        "2024-05-03T10:00:00Z",
        "2024-05-01T09:00:00Z",
        "2024-05-03T08:00:00Z",
        "2024-05-02T23:59:59Z",
        "2024-05-01T10:00:00Z",
    ]
    events = pl.DataFrame({"ts": ts, "n": list(range(len(ts)))}).with_columns(
        pl.col("ts").str.to_datetime(time_zone="UTC")
    )
    parts, in_order = _split_by_day(events)
    assert not in_order
    got = {day: part["n"].to_list() for day, part in parts}
    assert got == {
        dt.date(2024, 5, 1): [1, 4],
        dt.date(2024, 5, 2): [3],
        dt.date(2024, 5, 3): [0, 2],  # the rows of a day in input order
    }
    assert all(part.columns == ["ts", "n"] for _, part in parts)


def test_a_batch_in_time_order_is_split_into_day_runs():
    events = pl.DataFrame(
        {"ts": ["2024-05-01T00:00:00Z", "2024-05-01T12:00:00Z", "2024-05-02T00:00:00Z"]}
    ).with_columns(pl.col("ts").str.to_datetime(time_zone="UTC"))
    parts, in_order = _split_by_day(events)
    assert in_order
    assert [(day, part.height) for day, part in parts] == [
        (dt.date(2024, 5, 1), 2),
        (dt.date(2024, 5, 2), 1),
    ]


def test_client_addresses_are_trimmed_cut_and_canonical_and_plain_ones_kept():
    from forensics.ingest.normalise import normalise_ips

    plain = pl.Series("src_ip", ["192.0.2.1", "host.example", None])
    assert normalise_ips(plain).to_list() == ["192.0.2.1", "host.example", None]
    mixed = pl.Series("src_ip", [" 192.0.2.1\t", "10.0.0.1, 10.0.0.2", "::FFFF:192.0.2.9", None])
    assert normalise_ips(mixed).to_list() == ["192.0.2.1", "10.0.0.1", "192.0.2.9", None]
    assert normalise_ips(pl.Series("src_ip", ["192.0.2.1\u00a0"])).to_list() == ["192.0.2.1"]
