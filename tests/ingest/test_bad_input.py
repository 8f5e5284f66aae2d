"""Malformed rows are quarantined with a reason; files that are not logs are refused alone."""

from __future__ import annotations

import json

import pytest

from forensics.ingest import lines

from .conftest import jsonl, quarantine_rows

GOOD = {"ts": "2024-05-01T10:00:00Z", "account_id": "a1"}


def _reasons(store_dir) -> dict[int, str]:
    return {r["line"]: r["reason"] for r in quarantine_rows(store_dir)}


def test_each_malformed_row_is_quarantined_with_its_reason(write, run_ingest, events, store_dir):
    bad_lines = [
        json.dumps(GOOD),  # 1 ok
        '{"ts": "2024-05-01T10:00:00Z", "account_id": ',  # 2 broken JSON
        json.dumps({"account_id": "a2"}),  # 3 no time
        json.dumps({"ts": "yesterday-ish", "account_id": "a3"}),  # 4 bad time
        json.dumps({"ts": "2024-05-01T10:00:00Z"}),  # 5 no account
        json.dumps({**GOOD, "request_id": "x5", "input_tokens": "many"}),  # 6 wrong type
        json.dumps({**GOOD, "request_id": "x6", "prompt": "a\u0000b"}),  # 7 NUL (escaped)
        '{"ts": "2024-05-01T10:00:00Z", "account_id": "a\x00"}',  # 8 raw NUL byte
        '{"ts": "2024-05-01T10:00:00Z", "account_id": "\xff\xfe"}',  # 9 invalid UTF-8 (below)
        "[1, 2, 3]",  # 10 not an object
        json.dumps({**GOOD, "request_id": "x10", "status": 99999}),  # 11 status out of range
    ]
    data = "\n".join(bad_lines).encode("utf-8").replace("\xff\xfe".encode(), b"\xff\xfe") + b"\n"
    result = run_ingest(write("bad.jsonl", data))
    report = result.inputs[0]
    assert report.rows_read == 11
    assert report.rows_ingested == 1
    assert report.rows_quarantined == 10
    reasons = _reasons(store_dir)
    assert reasons[2].startswith("bad_json")
    assert reasons[3] == "missing_ts"
    assert reasons[4] == "bad_timestamp"
    assert reasons[5] == "missing_account_id"
    assert reasons[6] == "bad_type: input_tokens"
    assert reasons[7] == "nul_byte"
    assert reasons[8] == "nul_byte"
    assert reasons[9] == "invalid_utf8"
    assert reasons[10] == "not_an_object"
    assert reasons[11] == "bad_type: status"
    assert events()["account_id"].to_list() == ["a1"]
    assert all(r["source"].endswith("bad.jsonl") for r in quarantine_rows(store_dir))


def test_absurdly_long_line_is_quarantined_truncated(write, run_ingest, store_dir, monkeypatch):
    monkeypatch.setattr(lines, "MAX_LINE_BYTES", 10_000)
    monkeypatch.setattr(lines, "CHUNK_BYTES", 4096)
    long = json.dumps({**GOOD, "prompt": "x" * 50_000})
    text = jsonl([GOOD]) + long + "\n" + jsonl([{**GOOD, "account_id": "a2"}])
    # The limits are read at call time through the module (patched above).
    result = run_ingest(write("long.jsonl", text))
    assert result.inputs[0].rows_ingested == 2
    [row] = quarantine_rows(store_dir)
    assert row["line"] == 2 and row["reason"] == "line_too_long"
    assert len(row["raw"]) < 5000


def test_rows_rejected_by_validation_keep_their_raw_record(write, run_ingest, store_dir):
    run_ingest(write("a.jsonl", jsonl([GOOD, {"ts": "2024-05-01T10:00:00Z", "note": "who?"}])))
    [row] = quarantine_rows(store_dir)
    assert row["reason"] == "missing_account_id"
    assert json.loads(row["raw"])["note"] == "who?"


@pytest.mark.parametrize(
    ("name", "content", "why"),
    [
        ("empty.log", b"", "empty file"),
        ("blob.bin", bytes(range(256)) * 8, "binary"),
        ("prose.txt", b"Dear diary, today nothing happened.\nThe end.\n", "unknown format"),
    ],
)
def test_a_file_that_is_not_a_log_is_refused_and_the_run_goes_on(
    write, run_ingest, events, name, content, why
):
    good = write("good.jsonl", jsonl([GOOD]))
    result = run_ingest(write(name, content), good)
    assert result.ok
    assert len(result.errors) == 1 and name in result.errors[0] and why in result.errors[0]
    assert events().height == 1


def test_nothing_ingestable_is_not_ok(write, run_ingest):
    result = run_ingest(write("empty.log", b""))
    assert not result.ok


def test_all_rows_without_identity_explains_how_to_name_one(write, run_ingest):
    result = run_ingest(write("a.jsonl", jsonl([{"ts": "2024-05-01T10:00:00Z", "ip": "1.2.3.4"}])))
    assert not result.ok
    assert "--map account_id=" in result.errors[0]


def test_times_outside_plausible_years_are_quarantined(write, run_ingest, store_dir):
    rows = [
        {"ts": "1969-07-20T20:17:00Z", "account_id": "a"},
        {"ts": 99999999999999999999, "account_id": "b"},
        {"ts": "2024-05-01T10:00:00Z", "account_id": "c"},
    ]
    result = run_ingest(write("a.jsonl", jsonl(rows)))
    assert result.inputs[0].rows_ingested == 1
    assert _reasons(store_dir) == {1: "implausible_timestamp", 2: "implausible_timestamp"}


def test_hostile_nesting_is_quarantined_not_a_crash(write, run_ingest, store_dir):
    deep = (
        '{"ts": "2024-05-01T10:00:00Z", "account_id": "x", "p": '
        + "[" * 200_000
        + "]" * 200_000
        + "}"
    )
    result = run_ingest(write("deep.jsonl", jsonl([GOOD]) + deep + "\n"))
    assert result.inputs[0].rows_ingested == 1
    assert _reasons(store_dir)[2].startswith("bad_json")


def test_hostile_nesting_in_a_json_array_is_quarantined(write, run_ingest, store_dir):
    def array(depth: int) -> str:
        deep = "[" * depth + "]" * depth
        return f'[{json.dumps(GOOD)}, {{"ts": 1714557600, "account_id": "x", "p": {deep}}}]'

    # Deeper than a log record: that record is rejected, the others are kept.
    result = run_ingest(write("deep.json", array(300)))
    assert result.inputs[0].rows_ingested == 1
    assert _reasons(store_dir) == {2: "bad_json: nested too deeply"}
    # Deeper than any JSON parser's stack: the array is rejected whole, and nothing crashes.
    result = run_ingest(write("deeper.json", array(5000)))
    assert result.inputs[0].status == "error"
    assert result.inputs[0].quarantine_reasons == {"bad_json": 1}


def test_short_deeply_nested_json_lines_are_quarantined_quickly(write, run_ingest, store_dir):
    # 300 levels in 600 bytes: polars takes seconds per such line; the check must catch
    # short lines too, and keep the good lines of the same chunk.
    deep = '{"ts": "2024-05-01T10:00:00Z", "account_id": "x", "p": ' + "[" * 300 + "]" * 300 + "}"
    shallow_many = json.dumps({**GOOD, "request_id": "wide", "p": [[1]] * 200})
    body = jsonl([GOOD]) + (deep + "\n") * 20 + shallow_many + "\n"
    result = run_ingest(write("deep.jsonl", body))
    assert result.inputs[0].rows_ingested == 2  # many brackets but shallow: kept
    reasons = _reasons(store_dir)
    assert set(reasons) == set(range(2, 22))
    assert set(reasons.values()) == {"bad_json: nested too deeply"}


def test_deep_json_text_inside_a_csv_column_is_not_parsed(write, run_ingest, events):
    deep = "[" * 300 + "]" * 300
    shallow = json.dumps({"user": "u1", "tags": [[1]] * 200})
    body = (
        "ts,request_id,metadata\n"
        f'2024-05-01T10:00:00Z,r1,"{shallow.replace(chr(34), chr(34) * 2)}"\n'
        f'2024-05-01T10:00:01Z,r2,"{{""user"": {deep}}}"\n'
    )
    result = run_ingest(write("a.csv", body), maps=["account_id=metadata.user"])
    assert result.inputs[0].rows_ingested == 1
    assert events()["account_id"].to_list() == ["u1"]
    assert result.inputs[0].quarantine_reasons == {"missing_account_id": 1}


def test_json_depth_check_tells_deep_text_from_text_with_many_shallow_brackets():
    import polars as pl

    from forensics.ingest.normalise import json_depth_ok

    values = pl.Series(
        ["[" * 129 + "]" * 129, json.dumps([[1]] * 300), "[" * 128 + "]" * 128, None]
    )
    assert json_depth_ok(values).to_list() == [False, True, True, True]


def test_opener_count_is_per_line_not_per_chunk():
    from forensics.ingest.jsonl import max_openers_per_line

    assert max_openers_per_line(b'{"a": [1]}\n' * 500) == 2
    assert max_openers_per_line(b'{"a": 1}\n' + b"[" * 130 + b"\n{}") == 130
    assert max_openers_per_line(b"no brackets\n\n") == 0


def test_deep_line_among_flat_objects_is_suspected_and_many_flat_lines_are_not():
    from forensics.ingest.jsonl import _deep_suspects
    from forensics.ingest.lines import line_starts

    flat = b'{"a": 1, "b": "x"}\n' * 1000
    deep = b'{"z": ' + b"[" * 128 + b"]" * 128 + b"}\n"  # 129 openers on one line
    for data in (flat, flat + deep, deep + flat, b"[" * 129 + b"\n"):
        expected = data is not flat
        assert _deep_suspects(data, line_starts(data)) is expected
        assert _deep_suspects(data) is expected
