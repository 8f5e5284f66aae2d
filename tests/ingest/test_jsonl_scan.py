"""A plain JSONL file read by one polars scan gives what the chunk-by-chunk path gives."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from forensics.ingest import jsonl, lines
from forensics.ingest.pipeline import IngestOptions, ingest
from forensics.store import Store


def _rows(n: int, start: int = 0) -> list[dict]:
    return [
        {
            "ts": f"2024-05-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00.000Z",
            "account_id": f"acct-{i % 97}",
            "request_id": f"req-{i}",
            "src_ip": f"10.0.{i % 250}.{i % 200}",
            "status": 200,
            "input_tokens": i % 1000,
            "prompt": f"question number {i} about topic {i % 13}",
        }
        for i in range(start, start + n)
    ]


def _lines(rows: list[dict]) -> list[bytes]:
    return [json.dumps(r, separators=(",", ":")).encode() for r in rows]


@pytest.fixture
def small_chunks(monkeypatch):
    """64 KiB chunks: a file of a few thousand lines has several (~450 lines each)."""
    monkeypatch.setattr(lines, "CHUNK_BYTES", 64 * 1024)


@pytest.fixture
def scans(monkeypatch) -> list[int]:
    """Counts the batches the whole-file scan hands on (0: the chunked path read all)."""
    handed: list[int] = []
    original = jsonl._batches_by_span

    def counting(*args, **kwargs):
        for batch in original(*args, **kwargs):
            handed.append(batch.frame.height)
            yield batch

    monkeypatch.setattr(jsonl, "_batches_by_span", counting)
    return handed


def _ingest(path: Path, store: Path, scan: bool, monkeypatch) -> tuple[pl.DataFrame, list[dict]]:
    monkeypatch.setattr(jsonl, "SCAN_WHOLE_FILES", scan)
    ingest([str(path)], store)
    events = Store(store).scan_events().collect().sort("source_line")
    quarantine = [
        json.loads(line)
        for f in sorted((store / "quarantine").glob("*.jsonl"))
        for line in f.read_text().splitlines()
    ]
    return events, sorted(quarantine, key=lambda r: r["line"])


def _both(path: Path, tmp_path: Path, monkeypatch):
    scanned = _ingest(path, tmp_path / "scanned", True, monkeypatch)
    chunked = _ingest(path, tmp_path / "chunked", False, monkeypatch)
    return scanned, chunked


def test_clean_file_is_read_by_the_scan_with_exact_line_numbers(
    tmp_path, small_chunks, scans, monkeypatch
):
    path = tmp_path / "clean.jsonl"
    path.write_bytes(b"\n".join(_lines(_rows(3000))) + b"\n")
    (events, quarantine), (chunked, _q) = _both(path, tmp_path, monkeypatch)
    assert sum(scans) == 3000 and len(scans) > 3  # every row came from the scan
    assert quarantine == []
    assert events["source_line"].to_list() == list(range(1, 3001))
    assert events["request_id"].to_list() == [f"req-{i}" for i in range(3000)]
    assert events.equals(chunked)


def test_one_bad_line_loses_no_good_row_and_is_quarantined_with_its_line(tmp_path, monkeypatch):
    # Large enough (4 MB) for polars to scan it in many parts: a scan that fails on one
    # part goes on with the others and only raises at the end.
    monkeypatch.setattr(lines, "CHUNK_BYTES", 512 * 1024)
    good = _lines(_rows(30_000))
    clean, dirty = tmp_path / "clean.jsonl", tmp_path / "dirty.jsonl"
    clean.write_bytes(b"\n".join(good) + b"\n")
    broken = list(good)
    broken[15_000] = good[15_000][:25]  # cut in the middle of a string
    dirty.write_bytes(b"\n".join(broken) + b"\n")
    clean_events, _ = _ingest(clean, tmp_path / "a", True, monkeypatch)
    events, quarantine = _ingest(dirty, tmp_path / "b", True, monkeypatch)
    expected = clean_events.filter(pl.col("source_line") != 15_001)
    assert events.drop("source_file").equals(expected.drop("source_file"))
    assert [(q["line"], q["reason"].split(":")[0]) for q in quarantine] == [(15_001, "bad_json")]
    chunked, chunked_q = _ingest(dirty, tmp_path / "c", False, monkeypatch)
    assert events.equals(chunked) and quarantine == chunked_q


def test_a_key_first_seen_after_the_first_chunk_is_kept(tmp_path, small_chunks, monkeypatch):
    # Later chunks sampled by their first and last lines only: the key is in neither.
    monkeypatch.setattr(jsonl._RunningSchema, "LATER_SAMPLE_LINES", 2)
    rows = _rows(3000)
    for i in (1999, 2500):  # two lines of later chunks, deep inside them
        rows[i]["user_agent"] = f"late-agent-{i}"
    path = tmp_path / "late.jsonl"
    path.write_bytes(b"\n".join(_lines(rows)) + b"\n")
    (events, quarantine), (chunked, chunked_q) = _both(path, tmp_path, monkeypatch)
    agents = events.filter(pl.col("user_agent").is_not_null())
    assert agents.select("source_line", "user_agent").rows() == [
        (2000, "late-agent-1999"),
        (2501, "late-agent-2500"),
    ]
    assert events.equals(chunked) and quarantine == chunked_q


@pytest.mark.parametrize(
    "change",
    ["blank_lines", "type_change", "crlf", "last_line_without_newline", "escaped_nul"],
)
def test_scan_and_chunked_path_give_the_same_events_and_quarantine(
    tmp_path, small_chunks, monkeypatch, change
):
    rows = _rows(3000)
    if change == "type_change":
        for i in range(1700, 3000, 311):
            rows[i]["status"] = "404"  # text where the first chunk had integers
            rows[i]["input_tokens"] = 12.5  # not an integer: quarantined as bad_type
    if change == "escaped_nul":
        rows[2200]["prompt"] = "a\u0000b"
    body = _lines(rows)
    sep = b"\r\n" if change == "crlf" else b"\n"
    if change == "blank_lines":
        body[1200:1200] = [b"", b"   "]
        body[2900:2900] = [b""]
    data = sep.join(body) + (b"" if change == "last_line_without_newline" else sep)
    path = tmp_path / f"{change}.jsonl"
    path.write_bytes(data)
    (events, quarantine), (chunked, chunked_q) = _both(path, tmp_path, monkeypatch)
    assert events.height > 2900
    assert events.equals(chunked)
    assert quarantine == chunked_q


def test_line_nested_too_deep_in_a_later_chunk_is_quarantined_not_parsed(
    tmp_path, small_chunks, monkeypatch
):
    body = _lines(_rows(3000))
    deep = b"[" * 10_000 + b"]" * 10_000  # polars' parser crashes the process on this
    body[2000] = b'{"ts":"2024-05-01T00:00:00Z","account_id":"x","z":' + deep + b"}"
    path = tmp_path / "deep.jsonl"
    path.write_bytes(b"\n".join(body) + b"\n")
    events, quarantine = _ingest(path, tmp_path / "s", True, monkeypatch)
    assert events.height == 2999
    assert [(q["line"], q["reason"]) for q in quarantine] == [(2001, "bad_json: nested too deeply")]


def test_gzip_input_keeps_the_chunked_path(tmp_path, scans, monkeypatch):
    import gzip

    path = tmp_path / "events.jsonl.gz"
    path.write_bytes(gzip.compress(b"\n".join(_lines(_rows(500))) + b"\n"))
    result = ingest([str(path)], tmp_path / "s", IngestOptions())
    assert result.rows_ingested == 500
    assert scans == []


def test_lines_added_to_a_file_while_it_is_read_are_left_for_the_next_ingest(
    tmp_path, small_chunks, monkeypatch
):
    body = _lines(_rows(3000))
    path = tmp_path / "live.jsonl"
    path.write_bytes(b"\n".join(body[:2000]) + b"\n")
    grown = tmp_path / "grown.jsonl"  # what the scan finds once more lines were written
    grown.write_bytes(b"\n".join(body) + b"\n")
    monkeypatch.setattr(jsonl, "_same_file_path", lambda stream: str(grown))
    events, quarantine = _ingest(path, tmp_path / "s", True, monkeypatch)
    assert events["source_line"].to_list() == list(range(1, 2001))
    assert quarantine == []
