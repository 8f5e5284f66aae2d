"""The combined / common access-log reader, tested directly against the Reader contract."""

from __future__ import annotations

import datetime as dt
import io

import polars as pl
import pytest

from forensics.errors import ForensicsError
from forensics.ingest.base import Batch, ReaderOptions, Reject
from forensics.ingest.combined import (
    MAX_LINE_BYTES,
    CombinedLogReader,
    CommonLogReader,
    iter_line_blocks,
)
from forensics.store import Store

UTC = dt.UTC
COMBINED = (
    '203.0.113.9 - alice [10/Oct/2000:13:55:36 -0700] "GET /v1/chat/completions HTTP/1.1" '
    '200 2326 "http://example.com/start" "openai-python/1.40.0"\n'
)
COMMON = 'in24.inetnebr.com - - [01/Aug/1995:00:00:01 -0400] "GET /ksc.html HTTP/1.0" 200 1839\n'


def read(data: bytes, **options) -> tuple[pl.DataFrame, list[Reject]]:
    batches: list[Batch] = list(
        CombinedLogReader().read(io.BytesIO(data), ReaderOptions(**options))
    )
    frames = [b.frame for b in batches]
    frame = pl.concat(frames) if frames else pl.DataFrame()
    return frame, [r for b in batches for r in b.rejects]


def test_combined_line_maps_to_canonical_columns_in_utc():
    frame, rejects = read(COMBINED.encode())
    assert rejects == []
    row = frame.row(0, named=True)
    assert row["ts"] == dt.datetime(2000, 10, 10, 20, 55, 36, tzinfo=UTC)
    assert frame.schema["ts"] == pl.Datetime("us", "UTC")
    assert frame.schema["source_line"] == pl.Int64
    assert row["source_line"] == 1
    assert row["src_ip"] == "203.0.113.9"
    assert row["user"] == "alice"
    assert row["ident"] is None
    assert (row["method"], row["endpoint"], row["protocol"]) == (
        "GET",
        "/v1/chat/completions",
        "HTTP/1.1",
    )
    assert row["status"] == 200
    assert row["bytes"] == 2326
    assert row["referer"] == "http://example.com/start"
    assert row["user_agent"] == "openai-python/1.40.0"


def test_common_log_host_name_client_is_kept_and_time_converted_to_utc():
    frame, rejects = read(COMMON.encode())
    assert rejects == []
    row = frame.row(0, named=True)
    assert row["src_ip"] == "in24.inetnebr.com"
    assert row["ts"] == dt.datetime(1995, 8, 1, 4, 0, 1, tzinfo=UTC)
    assert row["referer"] is None and row["user_agent"] is None


def test_ipv6_client_and_dashes_become_null():
    line = '2001:db8::1 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 304 - "-" "-"\n'
    frame, rejects = read(line.encode())
    assert rejects == []
    row = frame.row(0, named=True)
    assert row["src_ip"] == "2001:db8::1"
    assert row["bytes"] is None and row["referer"] is None and row["user_agent"] is None
    assert row["user"] is None


def test_escaped_quotes_inside_quoted_fields_are_unescaped():
    line = (
        '198.51.100.4 - - [10/Oct/2000:13:55:36 +0000] "GET /q?x=\\"1\\" HTTP/1.1" 200 5 '
        '"-" "evil \\"agent\\" \\\\ v2"\n'
    )
    frame, rejects = read(line.encode())
    assert rejects == []
    row = frame.row(0, named=True)
    assert row["endpoint"] == '/q?x="1"'
    assert row["user_agent"] == 'evil "agent" \\ v2'


def test_extra_fields_are_named_in_order_and_unnamed_tail_kept():
    line = COMBINED.rstrip("\n") + ' "acct_42" "req-7" 0.153 "surplus"\n'
    frame, rejects = read(line.encode(), extra_fields=("account_id", "request_id", "rt"))
    assert rejects == []
    row = frame.row(0, named=True)
    assert (row["account_id"], row["request_id"], row["rt"]) == ("acct_42", "req-7", "0.153")
    assert row["trailing"] == '"surplus"'
    assert row["user_agent"] == "openai-python/1.40.0"


def test_missing_extra_fields_are_null_not_rejected():
    frame, rejects = read(COMBINED.encode(), extra_fields=("account_id", "request_id"))
    assert rejects == []
    assert frame["account_id"].to_list() == [None]


def test_extra_field_name_clashing_with_a_log_field_is_a_user_error():
    with pytest.raises(ForensicsError, match="src_ip"):
        read(COMBINED.encode(), extra_fields=("src_ip",))


def test_trailing_spaces_and_crlf_are_tolerated():
    frame, rejects = read(COMBINED.replace("\n", " \r\n").encode())
    assert rejects == [] and frame.height == 1
    assert frame["user_agent"].to_list() == ["openai-python/1.40.0"]
    assert frame["trailing"].to_list() == [None]


def test_scanner_junk_request_keeps_row_with_null_method():
    line = (
        '192.0.2.1 - - [10/Oct/2000:13:55:36 +0000] "\\x16\\x03\\x01\\x00\\xa5" 400 157 "-" "-"\n'
    )
    frame, rejects = read(line.encode())
    assert rejects == []
    row = frame.row(0, named=True)
    assert row["method"] is None and row["endpoint"] is None
    assert row["request"] == "\\x16\\x03\\x01\\x00\\xa5"
    assert row["status"] == 400


def test_bad_lines_are_rejected_with_reasons_and_raw_text_and_good_lines_kept():
    data = (
        COMBINED.encode()
        + b"this is not a log line\n"
        + b'192.0.2.1 - - [99/Foo/2000:99:99:99 +0000] "GET / HTTP/1.1" 200 1 "-" "-"\n'
        + b"bad \xff\xfe utf8\n"
        + b"nul \x00 byte\n"
        + COMMON.encode()
    )
    frame, rejects = read(data)
    assert frame["source_line"].to_list() == [1, 6]
    by_line = {r.line: r for r in rejects}
    assert by_line[2].reason == "not_combined_log"
    assert by_line[2].raw == "this is not a log line"
    assert by_line[3].reason.startswith("bad_timestamp")
    assert by_line[4].reason == "invalid_utf8"
    assert by_line[4].raw == "bad \\xff\\xfe utf8"
    assert by_line[5].reason == "nul_byte"


def test_absurdly_long_line_is_rejected_without_buffering_it_all():
    long_line = b"A" * (MAX_LINE_BYTES * 3) + b"\n"
    blocks = list(
        iter_line_blocks(
            io.BytesIO(COMBINED.encode() + long_line + COMMON.encode()), block_bytes=4096
        )
    )
    rejects = [r for b in blocks for r in b.rejects]
    assert [(r.line, r.reason) for r in rejects] == [(2, "line_too_long")]
    assert len(rejects[0].raw) <= 4096
    numbers = pl.concat([b.line_numbers for b in blocks]).to_list()
    assert numbers == [1, 3]


def test_line_numbers_continue_across_blocks_and_batches():
    data = (COMBINED * 1000).encode()
    blocks = list(iter_line_blocks(io.BytesIO(data), block_bytes=1000))
    numbers = pl.concat([b.line_numbers for b in blocks]).to_list()
    assert numbers == list(range(1, 1001))
    frame, _ = read(data, batch_lines=64)
    assert frame["source_line"].to_list() == list(range(1, 1001))


def test_last_line_without_newline_and_blank_lines():
    frame, rejects = read(b"\n" + COMBINED.encode() + b"   \n" + COMMON.rstrip("\n").encode())
    assert rejects == []
    assert frame["source_line"].to_list() == [2, 4]


def test_time_without_offset_uses_the_given_zone():
    line = '192.0.2.1 - - [10/Oct/2000:13:55:36] "GET / HTTP/1.1" 200 1\n'
    frame, rejects = read(line.encode(), tz="Europe/Paris")
    assert rejects == []
    assert frame["ts"].to_list() == [dt.datetime(2000, 10, 10, 11, 55, 36, tzinfo=UTC)]


def test_empty_input_yields_no_rows():
    frame, rejects = read(b"")
    assert frame.height == 0 and rejects == []


def test_sniff_tells_combined_from_common_and_from_json():
    assert CombinedLogReader().sniff(COMBINED.encode() * 3)
    assert not CommonLogReader().sniff(COMBINED.encode() * 3)
    assert CommonLogReader().sniff(COMMON.encode() * 3)
    assert not CombinedLogReader().sniff(COMMON.encode() * 3)
    assert not CombinedLogReader().sniff(b'{"ts": "2024-01-01T00:00:00Z"}\n')
    assert not CommonLogReader().sniff(b"\x89PNG\r\n\x1a\n")
    # A head cut in the middle of a line still sniffs.
    assert CombinedLogReader().sniff((COMBINED * 2).encode()[:-40])


def test_binary_junk_is_rejected_line_by_line_without_crashing():
    junk = bytes(range(256)) * 200 + b"\n\x00\xff\n" + COMBINED.encode()
    frame, rejects = read(junk)
    assert frame["src_ip"].to_list() == ["203.0.113.9"]
    assert rejects and all(r.reason in ("nul_byte", "invalid_utf8") for r in rejects)


def test_fast_quote_split_and_full_regex_parse_every_line_alike(monkeypatch):
    """The quote-split fast path is an optimisation: it must agree with the regex path."""
    import forensics.ingest.combined as combined

    lines = [
        COMBINED,
        COMMON,
        COMBINED.replace("alice", "-").replace(" 2326 ", " - "),
        COMBINED.rstrip("\n") + '  "acct_1" "req-1" \r\n',
        COMBINED.rstrip("\n") + " 0.153\n",
        '2001:db8::1 - - [10/Oct/2000:13:55:36 +0000] "-" 400 0 "-" "-"\n',
        '192.0.2.1 - - [10/Oct/2000:13:55:36 +0000] "\\x16\\x03\\x01" 400 157 "" ""\n',
        'h - jane doe [10/Oct/2000:13:55:36 +0000] "GET /a b HTTP/1.0" 200 1\n',
        "not a log line\n",
        '192.0.2.1 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-"\n',
        # Escapes: \" and \\ in quoted fields, a quote right after an escaped backslash,
        # an escaped quote in the user, and in a field that is never unescaped.
        '198.51.100.4 - - [10/Oct/2000:13:55:36 +0000] "GET /q?x=\\"1\\" HTTP/1.1" 200 5 '
        '"-" "evil \\"agent\\" \\\\ v2"\n',
        '198.51.100.4 - - [10/Oct/2000:13:55:36 +0000] "GET /a HTTP/1.1" 200 5 "C:\\\\" '
        '"x\\\\\\"y" "acct\\"1"\n',
        '198.51.100.4 - a\\"b [10/Oct/2000:13:55:36 +0000] "GET /a HTTP/1.1" 200 5 "-" "-"\n',
        '198.51.100.4\\" - - [10/Oct/2000:13:55:36 +0000] "GET /a HTTP/1.1" 200 5 "-" "-"\n',
        '198.51.100.4 - - [10/Oct/2000:13:55:36 +0000] "GET /\x01\\" HTTP/1.1" 200 5 "-" "-"\n',
        '198.51.100.4 - - [10/Oct/2000:13:55:36 -0930] "GET /a  HTTP/1.1" 200 5 "-" "-"\n',
    ]
    data = "".join(lines).encode()
    options = {"extra_fields": ("account_id", "request_id")}
    fast = read(data, **options)

    def everything_to_regex(frame, n_extra):
        empty = frame.clear().with_columns(
            pl.lit(None, dtype=pl.String).alias(c)
            for c in [*combined._GROUP_NAMES, *[f"x{q}{i}" for i in range(n_extra) for q in "qb"]]
        )
        return empty, frame

    monkeypatch.setattr(combined, "_groups_by_quotes", everything_to_regex)
    slow = read(data, **options)
    assert fast[0].equals(slow[0])
    assert fast[1] == slow[1]
    assert fast[0].height == 15
    assert [(r.line, r.reason) for r in fast[1]] == [(9, "not_combined_log")]
    assert fast[0]["user_agent"][9] == 'evil "agent" \\ v2'
    assert fast[0]["referer"][10] == "C:\\"
    assert fast[0]["account_id"][10] == 'acct"1'
    # Escaped lines take the fast path too, except where an escape is outside the fields
    # that get unescaped, or the line already holds the control characters used for them.
    monkeypatch.undo()
    frame = pl.DataFrame(
        {"source_line": range(len(lines)), "line": lines},
        schema_overrides={"source_line": pl.Int64},
    )
    _, rest = combined._groups_by_quotes(frame, 2)
    assert rest["source_line"].to_list() == [4, 7, 8, 9, 13, 14]


LINE = '203.0.113.9 - - [10/Oct/2023:13:55:36 +0000] "GET /v1/x HTTP/1.1" 200 5 "-" "sdk"\n'
OTHER = '203.0.113.7 - - [10/Oct/2023:13:55:37 +0000] "GET /v1/y HTTP/1.1" 200 5 "-" "sdk"\n'


def test_identical_lines_in_one_file_are_all_kept_even_across_batches(
    write, run_ingest, events, monkeypatch
):
    from forensics.ingest import lines

    monkeypatch.setattr(lines, "CHUNK_BYTES", 512)  # several batches: counts carry over
    body = (LINE * 3 + OTHER) * 10
    result = run_ingest(write("a.log", body), maps=["account_id=src_ip"])
    assert result.inputs[0].rows_ingested == 40
    assert result.inputs[0].rows_duplicate == 0
    assert events()["request_id"].n_unique() == 40


def test_file_whose_lines_are_inside_an_ingested_file_adds_nothing(write, run_ingest, events):
    run_ingest(write("all.log", OTHER + LINE * 3 + OTHER), maps=["account_id=src_ip"])
    again = run_ingest(write("part.log", LINE * 2 + OTHER), maps=["account_id=src_ip"])
    assert again.inputs[0].rows_ingested == 0
    assert again.inputs[0].rows_duplicate == 3
    assert events().height == 5


def test_overlapping_files_in_one_run_add_the_shared_lines_once(write, run_ingest, events):
    big = write("all.log", OTHER + LINE * 3 + OTHER)
    part = write("part.log", LINE * 2 + OTHER)
    result = run_ingest(big, part, maps=["account_id=src_ip"])
    assert [r.rows_ingested for r in result.inputs] == [5, 0]
    assert result.inputs[1].rows_duplicate == 3
    assert events().height == 5


def test_source_request_id_equal_to_an_earlier_content_id_is_a_duplicate(
    write, run_ingest, monkeypatch
):
    # One line per batch: the first gets a content id, the second carries that same id as
    # its request id and is dropped as a duplicate, as any repeated request id is.
    from forensics.ingest import combined

    monkeypatch.setattr(combined, "BLOCK_BYTES", 64)
    pinned = "h:ba0d14abaf237fcdd2b3e61fb5b200d9"  # LINE's content id (see the test below)
    body = LINE + OTHER.rstrip("\n") + f' "{pinned}"\n'
    result = run_ingest(
        write("b.log", body), maps=["account_id=src_ip"], extra_fields=("request_id",)
    )
    assert (result.inputs[0].rows_ingested, result.inputs[0].rows_duplicate) == (1, 1)


def test_content_ids_are_fixed_values_independent_of_the_polars_version(write, run_ingest, events):
    # A store written by an older version must de-duplicate against this one: the id is
    # BLAKE3 of the canonical content and occurrence number, so it is pinned here.
    run_ingest(write("a.log", LINE * 2), maps=["account_id=src_ip"])
    assert events()["request_id"].to_list() == [
        "h:ba0d14abaf237fcdd2b3e61fb5b200d9",
        "h:1a91d09912d9f4e7ab2fcd2215b5266f",
    ]


def test_truncated_gzip_keeps_every_batch_before_the_break_when_batches_run_in_parallel(
    tmp_path, monkeypatch
):
    import gzip

    from forensics.ingest import combined, pipeline

    monkeypatch.setattr(combined, "BLOCK_BYTES", 2048)  # many small batches
    body = "".join(LINE.replace("/v1/x", f"/v1/{i}") for i in range(3000))
    data = gzip.compress(body.encode())
    path = tmp_path / "cut.log.gz"
    path.write_bytes(data[: len(data) // 2])

    def run(workers: int) -> pipeline.InputReport:
        monkeypatch.setattr(combined, "PARSE_WORKERS", workers)
        monkeypatch.setattr(pipeline, "NORMALISE_WORKERS", workers)
        options = pipeline.IngestOptions(format="combined", maps=["account_id=src_ip"])
        return pipeline.ingest([str(path)], tmp_path / f"store{workers}", options).inputs[0]

    one, two = run(1), run(2)
    assert "ends badly" in two.message
    assert 0 < two.rows_ingested == one.rows_ingested


def test_content_ids_do_not_depend_on_batches_running_in_parallel(tmp_path, monkeypatch):
    # Identical lines spread over many batches: occurrence numbers (and so ids) must be
    # those of a sequential run, whatever order the parallel batches finish in.
    from forensics.ingest import combined, pipeline

    monkeypatch.setattr(combined, "BLOCK_BYTES", 1024)
    path = tmp_path / "a.log"
    path.write_text((LINE * 5 + OTHER * 2) * 60)

    def ids(workers: int) -> list[str]:
        monkeypatch.setattr(combined, "PARSE_WORKERS", workers)
        monkeypatch.setattr(pipeline, "NORMALISE_WORKERS", workers)
        store = tmp_path / f"store{workers}"
        options = pipeline.IngestOptions(format="combined", maps=["account_id=src_ip"])
        assert pipeline.ingest([str(path)], store, options).inputs[0].rows_ingested == 420
        frame = Store(store).scan_events().collect().sort("source_line")
        return frame["request_id"].to_list()

    assert ids(2) == ids(1)
