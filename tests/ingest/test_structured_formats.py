"""Each structured format lands as canonical events; sniffing picks it and says so."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest

from forensics.ingest.formats import READERS, sniff_reader
from forensics.store import Store

from .conftest import jsonl, quarantine_rows

ROWS = [
    {
        "ts": "2024-05-01T10:00:00Z",
        "account_id": "a1",
        "request_id": "r1",
        "src_ip": "1.2.3.4",
        "status": 200,
        "model": "m1",
        "input_tokens": 10,
        "output_tokens": 20,
        "prompt": "hello",
    },
    {
        "ts": "2024-05-02T11:30:00Z",
        "account_id": "a2",
        "request_id": "r2",
        "src_ip": "5.6.7.8",
        "status": 429,
        "model": "m2",
        "input_tokens": 1,
        "output_tokens": 0,
        "prompt": "bye",
    },
]


def test_jsonl_with_canonical_names_lands_every_field(write, run_ingest, events):
    result = run_ingest(write("a.jsonl", jsonl(ROWS)))
    assert result.inputs[0].format == "jsonl"
    ev = events()
    assert ev["account_id"].to_list() == ["a1", "a2"]
    assert ev["status"].dtype == pl.Int16 and ev["status"].to_list() == [200, 429]
    assert ev["input_tokens"].to_list() == [10, 1]
    assert ev["prompt"].to_list() == ["hello", "bye"]
    assert ev["source_line"].to_list() == [1, 2]
    assert ev["source_file"][0].endswith("a.jsonl")


def test_events_are_partitioned_by_utc_day(write, run_ingest, store_dir):
    run_ingest(write("a.jsonl", jsonl(ROWS)))
    days = sorted(p.name for p in (store_dir / "events").iterdir())
    assert days == ["date=2024-05-01", "date=2024-05-02"]
    part = next((store_dir / "events" / "date=2024-05-01").glob("*.parquet"))
    assert pl.read_parquet_schema(part)["ts"] == pl.Datetime("us", "UTC")


@pytest.mark.parametrize("order", ["in_time_order", "out_of_order"])
def test_each_day_partition_holds_exactly_that_days_events(write, run_ingest, store_dir, order):
    times = ["2024-05-01T23:59:59Z", "2024-05-02T00:00:00Z", "2024-05-02T12:00:00Z"]
    times += ["2024-05-04T01:00:00Z"]
    if order == "out_of_order":
        times = [times[2], times[0], times[3], times[1]]
    rows = [{"ts": t, "account_id": f"a{i}", "request_id": f"r{i}"} for i, t in enumerate(times)]
    run_ingest(write("a.jsonl", jsonl(rows)))
    for day in ("2024-05-01", "2024-05-02", "2024-05-04"):
        files = list((store_dir / "events" / f"date={day}").glob("*.parquet"))
        got = pl.concat([pl.read_parquet(f) for f in files])["ts"].dt.date().unique()
        assert got.to_list() == [dt.date.fromisoformat(day)]
    assert sorted(p.name for p in (store_dir / "events").iterdir()) == [
        "date=2024-05-01",
        "date=2024-05-02",
        "date=2024-05-04",
    ]


def test_json_array_export_is_read(write, run_ingest, events):
    run_ingest(write("a.json", json.dumps(ROWS)))
    assert events()["request_id"].to_list() == ["r1", "r2"]


def test_csv_and_tsv_are_read(write, run_ingest, events):
    csv_text = 'ts,account_id,status,prompt\n2024-05-01T10:00:00Z,a1,200,"hi, there"\n'
    tsv_text = "ts\taccount_id\tstatus\n2024-05-01T11:00:00Z\ta2\t404\n"
    result = run_ingest(write("a.csv", csv_text), write("b.tsv", tsv_text))
    assert [r.format for r in result.inputs] == ["csv", "csv"]
    ev = events()
    assert ev["account_id"].to_list() == ["a1", "a2"]
    assert ev["status"].to_list() == [200, 404]
    assert ev["prompt"].to_list() == ["hi, there", None]


def test_csv_with_multiline_quoted_prompt(write, run_ingest, events):
    text = (
        'ts,user,prompt\n2024-05-01T10:00:00Z,u1,"line one\nline two"\n2024-05-01T10:01:00Z,u2,x\n'
    )
    run_ingest(write("a.csv", text))
    assert events()["prompt"].to_list() == ["line one\nline two", "x"]


def test_parquet_is_read(write, run_ingest, events, tmp_path):
    path = tmp_path / "in" / "a.parquet"
    path.parent.mkdir(parents=True)
    pl.DataFrame(ROWS).write_parquet(path)
    result = run_ingest(path)
    assert result.inputs[0].format == "parquet"
    assert events()["account_id"].to_list() == ["a1", "a2"]


def test_litellm_spendlogs_json_export(write, run_ingest, events):
    rows = [
        {
            "request_id": "chatcmpl-1",
            "call_type": "acompletion",
            "api_key": "88dc28d0f030c5",
            "spend": 0.0002,
            "total_tokens": 30,
            "prompt_tokens": 10,
            "completion_tokens": 20,
            "startTime": "2024-05-01T10:00:00.123Z",
            "endTime": "2024-05-01T10:00:01Z",
            "model": "gpt-4o",
            "user": "team-a-user",
            "requester_ip_address": "::ffff:10.0.0.7",
            "metadata": {"user_api_key_user_id": "u-77", "user_api_key_team_id": "t1"},
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "what is 2+2"},
            ],
        },
    ]
    result = run_ingest(write("spend.json", json.dumps(rows)))
    assert result.inputs[0].format == "litellm"
    ev = events()
    assert ev["account_id"].to_list() == ["team-a-user"]
    assert ev["api_key_id"].to_list() == ["88dc28d0f030c5"]
    assert ev["src_ip"].to_list() == ["10.0.0.7"]
    assert ev["prompt"].to_list() == ["what is 2+2"]
    assert ev["input_tokens"].to_list() == [10] and ev["output_tokens"].to_list() == [20]


def test_litellm_csv_export_reaches_into_json_text_columns(write, run_ingest, events):
    text = (
        "request_id,startTime,user,api_key,spend,prompt_tokens,completion_tokens,model,metadata\n"
        'r1,2024-05-01 10:00:00,,k1,0.1,5,6,gpt,"{""user_api_key_user_id"": ""u-9""}"\n'
    )
    result = run_ingest(write("spend.csv", text))
    assert result.inputs[0].format == "litellm"
    assert events()["account_id"].to_list() == ["u-9"]


def test_aws_api_gateway_profile(write, run_ingest, events):
    rows = [
        {
            "requestId": "c6af9ac6-7b61",
            "requestTime": "10/Oct/2024:13:55:36 +0000",
            "httpMethod": "POST",
            "resourcePath": "/v1/chat",
            "status": "200",
            "identity": {
                "sourceIp": "203.0.113.9",
                "apiKeyId": "key-1",
                "userAgent": "openai-python/1.40.0",
            },
        }
    ]
    run_ingest(write("apigw.jsonl", jsonl(rows)), profile="aws-apigw")
    ev = events()
    assert ev["request_id"].to_list() == ["c6af9ac6-7b61"]
    assert ev["account_id"].to_list() == ["key-1"]
    assert ev["src_ip"].to_list() == ["203.0.113.9"]
    assert str(ev["ts"][0]) == "2024-10-10 13:55:36+00:00"


def test_cloudflare_ai_gateway_profile(write, run_ingest, events):
    rows = [
        {
            "id": "01J0",
            "created_at": "2024-05-01T10:00:00Z",
            "model": "gpt-4o-mini",
            "provider": "openai",
            "path": "chat/completions",
            "status_code": 200,
            "tokens_in": 12,
            "tokens_out": 40,
            "duration": 812,
            "cost": 0.001,
            "metadata": '{"user_id": "cust-5"}',
        }
    ]
    run_ingest(write("cf.jsonl", jsonl(rows)), profile="cloudflare-ai-gateway")
    ev = events()
    assert ev["account_id"].to_list() == ["cust-5"]
    assert ev["latency_ms"].to_list() == [812.0]
    assert ev["output_tokens"].to_list() == [40]


def test_helicone_profile(write, run_ingest, events):
    rows = [
        {
            "request_id": "h1",
            "request_created_at": "2024-05-01T10:00:00Z",
            "request_user_id": "alice",
            "request_model": "gpt-4",
            "response_status": 200,
            "prompt_tokens": 3,
            "completion_tokens": 4,
            "delay_ms": 100,
        }
    ]
    run_ingest(write("helicone.jsonl", jsonl(rows)), profile="helicone")
    ev = events()
    assert ev["account_id"].to_list() == ["alice"] and ev["model"].to_list() == ["gpt-4"]


def test_nginx_json_profile_takes_first_forwarded_hop_and_seconds(write, run_ingest, events):
    rows = [
        {
            "time_iso8601": "2024-05-01T12:00:00+02:00",
            "remote_addr": "10.0.0.1",
            "http_x_forwarded_for": "198.51.100.4, 10.0.0.1",
            "remote_user": "bob",
            "request_method": "POST",
            "uri": "/v1/chat",
            "status": "200",
            "request_time": "0.250",
            "http_user_agent": "curl/8",
        }
    ]
    run_ingest(write("nginx.jsonl", jsonl(rows)), profile="nginx-json")
    ev = events()
    assert ev["src_ip"].to_list() == ["198.51.100.4"]
    assert ev["latency_ms"].to_list() == [250.0]
    assert str(ev["ts"][0]) == "2024-05-01 10:00:00+00:00"


def test_sniffing_recognises_each_registered_structured_format():
    assert sniff_reader(b'{"ts": 1}\n').name == "jsonl"
    assert sniff_reader(b"ts,account_id\n1,a\n").name == "csv"
    assert sniff_reader(b"PAR1\x15\x04").name == "parquet"
    assert sniff_reader(b"\x00\x01\x02 not text") is None
    assert {"jsonl", "csv", "parquet", "litellm"} <= set(READERS)


def test_hostile_wide_nested_objects_are_read_as_text_and_still_mapped(write, run_ingest, events):
    rows = [
        {
            "ts": "2024-05-01T10:00:00Z",
            "request_id": f"r{i}",
            "metadata": {"user": f"u{i}", **{f"k{i}_{j}": j for j in range(300)}},
        }
        for i in range(50)
    ]
    result = run_ingest(write("wide.jsonl", jsonl(rows)), maps=["account_id=metadata.user"])
    assert result.inputs[0].rows_ingested == 50
    assert set(events()["account_id"]) == {f"u{i}" for i in range(50)}


def test_a_field_changing_type_in_a_later_chunk_keeps_its_values(
    write, run_ingest, events, monkeypatch
):
    from forensics.ingest import lines

    monkeypatch.setattr(lines, "CHUNK_BYTES", 2048)
    first = [
        {"ts": "2024-05-01T10:00:00Z", "account_id": 7, "request_id": f"a{i}", "status": 200}
        for i in range(100)
    ]
    later = [
        {
            "ts": "2024-05-01T10:00:00Z",
            "account_id": "acct-x",
            "request_id": f"b{i}",
            "status": "201",
        }
        for i in range(100)
    ]
    result = run_ingest(write("drift.jsonl", jsonl(first + later)))
    assert result.inputs[0].rows_ingested == 200
    ev = events()
    assert set(ev["account_id"]) == {"7", "acct-x"}
    assert sorted(set(ev["status"])) == [200, 201]


@pytest.fixture
def tiny_samples(monkeypatch):
    """Chunks of a few dozen lines whose schema sample is their first two lines."""
    from forensics.ingest import jsonl as jsonl_reader
    from forensics.ingest import lines

    monkeypatch.setattr(lines, "CHUNK_BYTES", 4096)
    monkeypatch.setattr(jsonl_reader._RunningSchema, "SAMPLE_LINES", 2)
    monkeypatch.setattr(jsonl_reader._RunningSchema, "LATER_SAMPLE_LINES", 2)


def _late(i: int) -> bool:
    return i >= 300 and i % 7 == 3  # from line 301 on, never two lines in a row


def test_jsonl_account_and_tokens_first_seen_after_the_sample_are_kept(
    write, run_ingest, events, store_dir, tiny_samples
):
    rows = []
    for i in range(500):
        row = {"ts": f"2024-05-01T10:{i // 60 % 60:02d}:{i % 60:02d}Z", "request_id": f"r{i}"}
        if _late(i):
            row |= {"user": f"acct-{i}", "prompt_tokens": i, "completion_tokens": 2 * i}
        rows.append(row)
    result = run_ingest(write("late.jsonl", jsonl(rows)))
    late = [i for i in range(500) if _late(i)]
    assert result.inputs[0].rows_ingested == len(late)
    assert result.inputs[0].rows_quarantined == 500 - len(late)
    ev = events()
    assert ev["account_id"].to_list() == [f"acct-{i}" for i in late]
    assert ev["input_tokens"].to_list() == late
    assert ev["output_tokens"].to_list() == [2 * i for i in late]
    assert {r["reason"] for r in quarantine_rows(store_dir)} == {"missing_account_id"}


def test_jsonl_mapped_nested_source_first_seen_after_the_sample_is_kept(
    write, run_ingest, events, tiny_samples
):
    rows = []
    for i in range(500):
        row = {"ts": "2024-05-01T10:00:00Z", "account_id": "anon", "request_id": f"r{i}"}
        if _late(i):
            row["meta"] = {"org": {"id": f"org-{i}"}}
        rows.append(row)
    run_ingest(
        write("late.jsonl", jsonl(rows)), maps=["account_id=meta.org.id", "account_id=account_id"]
    )
    ev = events()
    assert ev.filter(pl.col("account_id") != "anon")["source_line"].to_list() == [
        i + 1 for i in range(500) if _late(i)
    ]


def test_jsonl_late_field_ending_like_an_earlier_one_is_still_read(
    write, run_ingest, events, tiny_samples
):
    # "discount_id" and "account_id" end in the same bytes: seeing one is not the other.
    rows = []
    for i in range(500):
        row = {"ts": "2024-05-01T10:00:00Z", "request_id": f"r{i}", "discount_id": "d"}
        if _late(i):
            row["account_id"] = f"acct-{i}"
        rows.append(row)
    result = run_ingest(write("late.jsonl", jsonl(rows)))
    late = [i for i in range(500) if _late(i)]
    assert result.inputs[0].rows_ingested == len(late)
    assert events()["account_id"].to_list() == [f"acct-{i}" for i in late]


def test_jsonl_late_field_is_read_when_remembered_key_fingerprints_share_table_slots(
    write, run_ingest, events, tiny_samples, monkeypatch
):
    # A two-slot table of remembered fingerprints: most keys collide and take the slow
    # path; the remembered ones must never hide a late wanted key.
    from forensics.ingest import jsonl as jsonl_reader

    monkeypatch.setattr(jsonl_reader._KnownPrints, "BITS", 1)
    rows = []
    for i in range(500):
        row = {"ts": "2024-05-01T10:00:00Z", "request_id": f"r{i}"}
        row |= {f"field_{j}_{i % 9}": j for j in range(6)}  # many distinct key endings
        if _late(i):
            row["user_id"] = f"acct-{i}"
        rows.append(row)
    run_ingest(write("late.jsonl", jsonl(rows)))
    assert events()["account_id"].to_list() == [f"acct-{i}" for i in range(500) if _late(i)]


def test_jsonl_chunks_parsed_two_at_a_time_give_what_one_at_a_time_gives(
    tmp_path, monkeypatch, tiny_samples
):
    # Fields that appear late, change type and break lines: each chunk must be read with
    # the fields the chunks before it left, as in a sequential run, even though the
    # next chunk's parse starts before this one's ends.
    from forensics.ingest import jsonl as jsonl_reader
    from forensics.ingest import pipeline

    lines = []
    for i in range(600):
        row: dict = {"ts": f"2024-05-01T10:{i // 60 % 60:02d}:{i % 60:02d}Z", "request_id": f"r{i}"}
        if i % 5:
            row["user"] = f"acct-{i % 17}"  # the others are quarantined with their raw text
        # A number, but text on one line the first chunk's sample misses: that chunk is
        # read as text, and so are the chunks after it (their raw text shows it).
        row["extra"] = "text" if i == 20 else i
        if _late(i):
            row["prompt_tokens"] = "many" if i % 2 else i
            row["meta"] = {"deep": [i]}
        line = json.dumps(row)
        lines.append(line[:-3] if i % 97 == 50 else line)
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n")

    def run(workers: int) -> tuple[pl.DataFrame, list]:
        monkeypatch.setattr(jsonl_reader, "PARSE_WORKERS", workers)
        store = tmp_path / f"store{workers}"
        pipeline.ingest([str(path)], store)
        frame = Store(store).scan_events().collect().sort("source_line")
        return frame, sorted(quarantine_rows(store), key=lambda r: r["line"])

    (ev1, q1), (ev2, q2) = run(1), run(2)
    assert ev1.height > 300 and len(q1) > 20
    assert all('"extra":"' in r["raw"] for r in q1 if r["reason"] == "missing_account_id")
    assert ev2.equals(ev1)
    assert q2 == q1


@pytest.mark.parametrize(
    "text, complete",
    [
        ('{"a":1,"b":"x"}\n{"a":2,"b":null}\n', True),
        ('{"a": 1, "b": "x"}\n{"a": null}\n', True),
        ('{"a":1,"b":"x","c":3}\n', False),  # "c" is not in the schema
        ('{"a":1,"b":"x"}\n{"a":1,"c":null}\n', True),  # a null "c" adds nothing
        ('{"a":1,"b":"x" ,"c" :3}\n', False),  # a space before a colon: not told
        ('{"a":1,"b":"say \\":3"}\n', False),  # an escaped quote before a colon: not told
        ('{"a":1,"a":2,"b":"x"}\n', False),  # a duplicate key
        ('{"a":1,\t"c":3,"b":"x"}\r\n', False),  # tabs and CRs between tokens
        ('{"a":1,"b":":x"}\n', False),  # a value starting with a colon: not told
    ],
)
def test_key_count_tells_a_chunk_whose_every_valued_key_was_read(text, complete):
    import io

    from forensics.ingest.jsonl import _every_key_read

    data = text.encode()
    frame = pl.read_ndjson(io.BytesIO(data), schema={"a": pl.Int64, "b": pl.String})
    assert _every_key_read(data, frame) is complete
