"""The OTLP JSON (OpenTelemetry GenAI) reader, tested directly against the Reader contract."""

from __future__ import annotations

import datetime as dt
import io
import json

import polars as pl

from forensics.ingest.base import ReaderOptions, Reject
from forensics.ingest.otel import OtelReader

T0 = 1_718_000_000_000_000_000  # 2024-06-10 06:13:20 UTC, in ns
TS0 = dt.datetime(2024, 6, 10, 6, 13, 20, tzinfo=dt.UTC)


def attr(key: str, value) -> dict:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, dict):
        return {"key": key, "value": value}
    return {"key": key, "value": {"stringValue": value}}


def span(attributes: list[dict], start=T0, end=T0 + 1_500_000_000, **extra) -> dict:
    return {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": extra.pop("span_id", "eee19b7ec3c1b174"),
        "name": "chat",
        "startTimeUnixNano": start,
        "endTimeUnixNano": end,
        "attributes": attributes,
        **extra,
    }


def traces(spans: list[dict], resource: list[dict] | None = None) -> dict:
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": resource or []},
                "scopeSpans": [{"scope": {"name": "gen_ai"}, "spans": spans}],
            }
        ]
    }


def logs(records: list[dict], resource: list[dict] | None = None) -> dict:
    return {
        "resourceLogs": [
            {
                "resource": {"attributes": resource or []},
                "scopeLogs": [{"logRecords": records}],
            }
        ]
    }


def read(*requests, raw: bytes | None = None) -> tuple[pl.DataFrame, list[Reject]]:
    data = raw if raw is not None else b"".join(json.dumps(r).encode() + b"\n" for r in requests)
    batches = list(OtelReader().read(io.BytesIO(data), ReaderOptions()))
    frame = pl.concat([b.frame for b in batches], how="diagonal_relaxed")
    return frame, [r for b in batches for r in b.rejects]


def test_current_conventions_map_to_canonical_columns():
    messages = [
        {"role": "system", "parts": [{"type": "text", "content": "be brief"}]},
        {"role": "user", "parts": [{"type": "text", "content": "explain step by step"}]},
    ]
    frame, rejects = read(
        traces(
            [
                span(
                    [
                        attr("gen_ai.request.model", "gpt-4o"),
                        attr("gen_ai.provider.name", "openai"),
                        attr("gen_ai.usage.input_tokens", 12),
                        attr("gen_ai.usage.output_tokens", 80),
                        attr("enduser.id", "acct_1"),
                        attr("client.address", "203.0.113.5"),
                        attr("user_agent.original", "openai-python/1.40.0"),
                        attr("http.request.method", "POST"),
                        attr("url.path", "/v1/chat/completions"),
                        attr("http.response.status_code", 200),
                        attr("gen_ai.input.messages", json.dumps(messages)),
                    ]
                )
            ]
        )
    )
    assert rejects == []
    row = frame.row(0, named=True)
    assert row["ts"] == TS0
    assert frame.schema["ts"] == pl.Datetime("us", "UTC")
    assert row["account_id"] == "acct_1"
    assert row["model"] == "gpt-4o"
    assert row["gen_ai.provider.name"] == "openai"
    assert (row["input_tokens"], row["output_tokens"]) == ("12", "80")
    assert row["src_ip"] == "203.0.113.5"
    assert row["user_agent"] == "openai-python/1.40.0"
    assert (row["method"], row["endpoint"], row["status"]) == (
        "POST",
        "/v1/chat/completions",
        "200",
    )
    assert row["latency_ms"] == 1500.0
    assert row["prompt"] == "explain step by step"
    assert row["request_id"] == "5b8efff798038103d269b633813fc60c:eee19b7ec3c1b174"
    assert row["source_line"] == 1


def test_deprecated_conventions_and_numbers_as_json_numbers():
    frame, rejects = read(
        traces(
            [
                span(
                    [
                        attr("gen_ai.system", "openai"),
                        attr("gen_ai.request.model", "gpt-3.5-turbo"),
                        {"key": "gen_ai.usage.prompt_tokens", "value": {"intValue": 5}},
                        {"key": "gen_ai.usage.completion_tokens", "value": {"intValue": 7}},
                        attr("user.id", "acct_2"),
                        attr("net.peer.ip", "198.51.100.1"),
                        attr("http.user_agent", "curl/8"),
                        attr("http.method", "POST"),
                        attr("http.target", "/v1/completions"),
                        attr("http.status_code", 429),
                        attr("gen_ai.prompt", "old style prompt"),
                    ],
                    start=T0,  # a JSON number, not a string
                    end=T0 + 250_000_000,
                )
            ]
        )
    )
    assert rejects == []
    row = frame.row(0, named=True)
    assert row["ts"] == TS0
    assert (row["input_tokens"], row["output_tokens"]) == ("5", "7")
    assert row["gen_ai.provider.name"] == "openai"
    assert row["account_id"] == "acct_2"
    assert (row["src_ip"], row["user_agent"]) == ("198.51.100.1", "curl/8")
    assert (row["method"], row["endpoint"], row["status"]) == ("POST", "/v1/completions", "429")
    assert row["prompt"] == "old style prompt"
    assert row["latency_ms"] == 250.0


def test_resource_attributes_are_merged_under_span_attributes():
    resource = [attr("service.name", "gateway"), attr("enduser.id", "resource_user")]
    frame, _ = read(
        traces(
            [
                span([attr("enduser.id", "span_user")], span_id="a1"),
                span([attr("gen_ai.request.model", "m")], span_id="a2"),
            ],
            resource=resource,
        )
    )
    assert frame["account_id"].to_list() == ["span_user", "resource_user"]
    assert frame["service.name"].to_list() == ["gateway", "gateway"]
    assert frame["request_id"].n_unique() == 2


def test_structured_input_messages_give_the_user_text():
    def kv(**items) -> dict:
        return {"kvlistValue": {"values": [attr(k, v) for k, v in items.items()]}}

    part = kv(type="text", content="translate this")
    user = kv(role="user", parts={"arrayValue": {"values": [part]}})
    system = kv(role="system", parts={"arrayValue": {"values": [kv(type="text", content="x")]}})
    messages = {"arrayValue": {"values": [system, user]}}
    frame, rejects = read(traces([span([attr("gen_ai.input.messages", messages)])]))
    assert rejects == []
    assert frame["prompt"].to_list() == ["translate this"]


def test_openllmetry_flattened_prompt_and_span_event_prompt():
    flattened = span(
        [
            attr("gen_ai.prompt.0.role", "system"),
            attr("gen_ai.prompt.0.content", "you are helpful"),
            attr("gen_ai.prompt.1.role", "user"),
            attr("gen_ai.prompt.1.content", "flattened prompt"),
        ],
        span_id="b1",
    )
    with_event = span(
        [],
        span_id="b2",
        events=[
            {
                "timeUnixNano": str(T0),
                "name": "gen_ai.content.prompt",
                "attributes": [attr("gen_ai.prompt", "event prompt")],
            }
        ],
    )
    frame, rejects = read(traces([flattened, with_event]))
    assert rejects == []
    assert frame["prompt"].to_list() == ["flattened prompt", "event prompt"]


def test_log_records_use_observed_time_when_time_is_zero_and_body_as_prompt():
    record = {
        "timeUnixNano": "0",
        "observedTimeUnixNano": str(T0),
        "eventName": "gen_ai.user.message",
        "body": {"kvlistValue": {"values": [attr("content", "log prompt")]}},
        "attributes": [attr("enduser.id", "acct_3"), attr("gen_ai.system", "openai")],
    }
    frame, rejects = read(logs([record], resource=[attr("service.name", "gw")]))
    assert rejects == []
    row = frame.row(0, named=True)
    assert row["ts"] == TS0
    assert row["account_id"] == "acct_3"
    assert row["prompt"] == "log prompt"
    assert row["record_kind"] == "log"
    assert row["request_id"] is None  # many records per span: not a dedup key


def test_broken_json_bad_shape_and_missing_time_are_rejected_and_the_rest_kept():
    good = json.dumps(traces([span([attr("enduser.id", "ok")])]))
    bad_shape = json.dumps(traces([span([attr("enduser.id", "x")], start={"no": "time"})]))
    no_time = json.dumps(logs([{"attributes": [attr("enduser.id", "acct_4")]}]))
    raw = "\n".join([good, "{broken", bad_shape, no_time, good.replace("eee1", "fff1")]) + "\n"
    frame, rejects = read(raw=raw.encode())
    assert frame["source_line"].to_list() == [1, 5]
    by_line = {r.line: r.reason for r in rejects}
    assert by_line[2].startswith("bad_json")
    assert by_line[3].startswith("bad_otlp")
    assert by_line[4].startswith("missing_time")
    assert next(r for r in rejects if r.line == 2).raw == "{broken"


def test_whole_pretty_printed_document_is_read():
    doc = json.dumps(traces([span([attr("enduser.id", "acct_1")])]), indent=2).encode()
    frame, rejects = read(raw=doc)
    assert rejects == []
    assert frame["account_id"].to_list() == ["acct_1"]
    assert frame["ts"].to_list() == [TS0]


def test_sniff_recognises_otlp_and_not_plain_jsonl():
    assert OtelReader().sniff(json.dumps(traces([])).encode())
    assert OtelReader().sniff(json.dumps(logs([]), indent=2).encode())
    assert not OtelReader().sniff(b'{"ts": "2024-01-01T00:00:00Z", "account_id": "a"}\n')
    assert not OtelReader().sniff(
        b'1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1\n'
    )


def test_json_that_is_not_an_export_request_is_rejected_not_silently_dropped():
    raw = b'null\n{}\n[1, 2]\n{"resourceSpans": []}\n' + b'{"a":' * 5000 + b"\n"
    frame, rejects = read(raw=raw)
    assert frame.height == 0
    reasons = {r.line: r.reason for r in rejects}
    assert reasons[1].startswith("bad_otlp") and reasons[2].startswith("bad_otlp")
    assert reasons[3].startswith("bad_otlp")
    assert 4 not in reasons  # a valid, empty export request
    assert reasons[5] == "bad_json: nested too deeply"


def test_binary_junk_is_rejected_line_by_line_without_crashing():
    junk = bytes(range(256)) * 200 + b"\n\x00\xff\n"
    frame, rejects = read(raw=junk)
    assert frame.height == 0
    assert rejects and all(r.reason in ("nul_byte", "invalid_utf8") for r in rejects)


def test_instrumentation_shaped_span_with_array_finish_reasons_and_tool_span():
    """The shape opentelemetry-instrumentation-openai-v2 exports (content capture on)."""
    messages = [{"role": "user", "parts": [{"type": "text", "content": "Weather in Oslo?"}]}]
    chat = span(
        [
            attr("gen_ai.operation.name", "chat"),
            attr("gen_ai.provider.name", "openai"),
            attr("gen_ai.request.model", "gpt-4o"),
            attr("gen_ai.response.model", "gpt-4o-2024-08-06"),
            {"key": "gen_ai.request.temperature", "value": {"doubleValue": 0.2}},
            attr("gen_ai.usage.input_tokens", 31),
            attr("gen_ai.usage.output_tokens", 19),
            attr(
                "gen_ai.response.finish_reasons",
                {"arrayValue": {"values": [{"stringValue": "tool_calls"}]}},
            ),
            attr("gen_ai.system_instructions", '[{"type":"text","content":"be a forecaster"}]'),
            attr("gen_ai.input.messages", json.dumps(messages)),
        ],
        span_id="c1",
        kind=3,
        parentSpanId="",
        status={"code": 1},
    )
    tool = span(
        [attr("gen_ai.operation.name", "execute_tool"), attr("gen_ai.tool.name", "weather")],
        span_id="c2",
        start=T0 + 1_500_000_000,
        end=T0 + 1_800_000_000,
    )
    frame, rejects = read(traces([chat, tool], resource=[attr("service.name", "agent")]))
    assert rejects == []
    assert frame["prompt"].to_list() == ["Weather in Oslo?", None]
    assert frame["gen_ai.response.model"].to_list() == ["gpt-4o-2024-08-06", None]
    assert frame["gen_ai.operation.name"].to_list() == ["chat", "execute_tool"]
    assert frame["latency_ms"].to_list() == [1500.0, 300.0]


def test_bracketed_prompt_text_is_kept_as_text():
    frame, rejects = read(traces([span([attr("gen_ai.prompt", "[INST] summarise this [/INST]")])]))
    assert rejects == []
    assert frame["prompt"].to_list() == ["[INST] summarise this [/INST]"]
