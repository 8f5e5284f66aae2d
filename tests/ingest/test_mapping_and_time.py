"""Field mapping (aliases, --map, mapping files) and time / IP normalisation."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from forensics.errors import ForensicsError
from forensics.ingest.normalise import parse_times

from .conftest import jsonl


def test_builtin_aliases_map_common_names(write, run_ingest, events):
    rows = [
        {
            "timestamp": "2024-05-01T10:00:00Z",
            "customer_id": "c1",
            "key": "k1",
            "remote_addr": "9.9.9.9",
            "prompt_tokens": "7",
            "completion_tokens": 8,
            "http_user_agent": "ua",
            "status_code": "201",
        }
    ]
    run_ingest(write("a.jsonl", jsonl(rows)))
    ev = events()
    assert ev["account_id"].to_list() == ["c1"]
    assert ev["api_key_id"].to_list() == ["k1"]
    assert ev["src_ip"].to_list() == ["9.9.9.9"]
    assert ev["input_tokens"].to_list() == [7] and ev["output_tokens"].to_list() == [8]
    assert ev["user_agent"].to_list() == ["ua"] and ev["status"].to_list() == [201]


def test_aliases_fall_back_row_by_row(write, run_ingest, events):
    rows = [
        {"ts": "2024-05-01T10:00:00Z", "user_id": "u1"},
        {"ts": "2024-05-01T10:00:01Z", "user": "u2"},
    ]
    run_ingest(write("a.jsonl", jsonl(rows)))
    assert events()["account_id"].to_list() == ["u1", "u2"]


def test_map_reaches_nested_json_paths(write, run_ingest, events):
    rows = [
        {
            "ts": "2024-05-01T10:00:00Z",
            "user": "proxy-user",
            "metadata": {"user_api_key_user_id": "real-1", "deep": {"org": "o1"}},
        }
    ]
    result = run_ingest(
        write("a.jsonl", jsonl(rows)),
        maps=["account_id=metadata.user_api_key_user_id", "api_key_id=metadata.deep.org"],
    )
    ev = events()
    assert ev["account_id"].to_list() == ["real-1"]
    assert ev["api_key_id"].to_list() == ["o1"]
    assert result.inputs[0].identity_field == "metadata.user_api_key_user_id"


def test_map_account_id_from_src_ip_uses_the_normalised_client(write, run_ingest, events):
    rows = [
        {"ts": "2024-05-01T10:00:00Z", "x_forwarded_for": "::ffff:192.0.2.1, 10.0.0.1"},
        {"ts": "2024-05-01T10:00:01Z", "remote_addr": "host.example.org"},
    ]
    result = run_ingest(write("a.jsonl", jsonl(rows)), maps=["account_id=src_ip"])
    ev = events()
    assert ev["account_id"].to_list() == ["192.0.2.1", "host.example.org"]
    assert ev["src_ip"].to_list() == ["192.0.2.1", "host.example.org"]
    assert result.inputs[0].identity_field.startswith("src_ip")


def test_mapping_file_in_toml(write, run_ingest, events):
    mapping = write(
        "map.toml", '[map]\naccount_id = ["tenant.name", "fallback"]\nmodel = "engine"\n'
    )
    rows = [
        {"ts": "2024-05-01T10:00:00Z", "tenant": {"name": "t1"}, "engine": "e1"},
        {"ts": "2024-05-01T10:00:01Z", "fallback": "t2", "engine": "e2"},
    ]
    run_ingest(write("a.jsonl", jsonl(rows)), mapping_file=str(mapping))
    ev = events()
    assert ev["account_id"].to_list() == ["t1", "t2"]
    assert ev["model"].to_list() == ["e1", "e2"]


def test_map_to_unknown_canonical_field_is_a_clear_error(write, run_ingest):
    with pytest.raises(ForensicsError, match="not a canonical field"):
        run_ingest(write("a.jsonl", jsonl([{"ts": 1}])), maps=["acount_id=user"])


def test_ipv6_addresses_are_canonical_and_mapped_ipv4_becomes_ipv4(write, run_ingest, events):
    rows = [
        {"ts": "2024-05-01T10:00:00Z", "user": "u", "ip": ip}
        for ip in (
            "2001:0DB8:0000:0000:0000:0000:0000:0001",
            "::ffff:203.0.113.5",
            "[2001:db8::2]:443",
            "198.51.100.1:8080",
        )
    ]
    run_ingest(write("a.jsonl", jsonl(rows)))
    assert events()["src_ip"].to_list() == [
        "2001:db8::1",
        "203.0.113.5",
        "2001:db8::2",
        "198.51.100.1",
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01T12:00:00+02:00", "2024-05-01 10:00:00+00:00"),
        ("2024-05-01T10:00:00.250Z", "2024-05-01 10:00:00.250000+00:00"),
        ("2024-05-01 12:00:00+0200", "2024-05-01 10:00:00+00:00"),
        ("01/May/2024:12:00:00 +0200", "2024-05-01 10:00:00+00:00"),
        (1714557600, "2024-05-01 10:00:00+00:00"),  # seconds
        (1714557600.5, "2024-05-01 10:00:00.500000+00:00"),
        (1714557600123, "2024-05-01 10:00:00.123000+00:00"),  # milliseconds
        (1714557600123456, "2024-05-01 10:00:00.123456+00:00"),  # microseconds
        (1714557600123456789, "2024-05-01 10:00:00.123457+00:00"),  # nanoseconds
        ("1714557600123", "2024-05-01 10:00:00.123000+00:00"),  # number as a JSON string
    ],
)
def test_time_shapes_become_utc(write, run_ingest, events, value, expected):
    run_ingest(write("a.jsonl", jsonl([{"ts": value, "user": "u"}])))
    assert str(events()["ts"][0]) == expected


def test_naive_times_are_read_in_tz_and_the_summary_says_so(write, run_ingest, events):
    rows = [{"ts": "2024-01-15 12:00:00", "user": "u"}]
    result = run_ingest(write("a.jsonl", jsonl(rows)), tz="America/New_York")
    assert str(events()["ts"][0]) == "2024-01-15 17:00:00+00:00"
    assert result.inputs[0].tz == "America/New_York (--tz)"


def test_naive_times_default_to_utc_and_the_summary_says_so(write, run_ingest, events):
    result = run_ingest(write("a.jsonl", jsonl([{"ts": "2024-01-15T12:00:00", "user": "u"}])))
    assert str(events()["ts"][0]) == "2024-01-15 12:00:00+00:00"
    assert "assumed" in result.inputs[0].tz and "UTC" in result.inputs[0].tz


def test_unknown_tz_is_a_clear_error(write, run_ingest):
    with pytest.raises(ForensicsError, match="time zone"):
        run_ingest(write("a.jsonl", jsonl([{"ts": 1, "user": "u"}])), tz="Mars/Olympus")


def test_mapping_a_field_from_a_field_that_is_itself_mapped_is_refused(write, run_ingest):
    with pytest.raises(ForensicsError, match="itself mapped"):
        run_ingest(
            write("a.jsonl", jsonl([{"ts": 1, "user": "u"}])),
            maps=["account_id=src_ip", "src_ip=account_id"],
        )


def test_parquet_timestamps_keep_their_zone_and_naive_ones_take_tz(tmp_path, run_ingest, events):
    import datetime as dt

    import polars as pl

    folder = tmp_path / "in"
    folder.mkdir()
    pl.DataFrame({"ts": [dt.datetime(2024, 5, 1, 12, 0)], "account_id": ["naive"]}).write_parquet(
        folder / "naive.parquet"
    )
    pl.DataFrame({"ts": [dt.datetime(2024, 5, 1, 12, 0)], "account_id": ["aware"]}).with_columns(
        pl.col("ts").dt.replace_time_zone("Asia/Tokyo")
    ).write_parquet(folder / "aware.parquet")
    run_ingest(folder, tz="Europe/Paris")
    got = dict(zip(events()["account_id"], map(str, events()["ts"]), strict=True))
    assert got == {"naive": "2024-05-01 10:00:00+00:00", "aware": "2024-05-01 03:00:00+00:00"}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2024-02-29T23:59:59Z", dt.datetime(2024, 2, 29, 23, 59, 59, tzinfo=dt.UTC)),
        ("2000-03-01T00:00:00.125Z", dt.datetime(2000, 3, 1, 0, 0, 0, 125000, tzinfo=dt.UTC)),
        (
            "1969-12-31T23:59:59.999999Z",
            dt.datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),
        ),
    ],
)
def test_iso_z_times_of_one_shape_parse_to_the_exact_utc_instant(text, expected):
    times, naive = parse_times(pl.Series([text, text]), None)
    assert times.to_list() == [expected, expected]
    assert times.dtype == pl.Datetime("us", "UTC") and not naive


def test_impossible_iso_z_time_among_good_ones_is_null_and_the_others_parse():
    times, _ = parse_times(
        pl.Series(
            ["2024-05-01T10:00:00.000Z", "2023-02-29T10:00:00.000Z", "2024-05-01T25:00:00.000Z"]
        ),
        None,
    )
    assert times.to_list() == [dt.datetime(2024, 5, 1, 10, tzinfo=dt.UTC), None, None]
