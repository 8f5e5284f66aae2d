"""OpenTelemetry GenAI telemetry as OTLP JSON (the collector's file exporter).

Input is one ``ExportTraceServiceRequest`` / ``ExportLogsServiceRequest`` JSON object per
line, or one whole (pretty-printed) JSON document. Each span
(``resourceSpans[].scopeSpans[].spans[]``) and each log record
(``resourceLogs[].scopeLogs[].logRecords[]``) becomes one row.

The parse is vectorised: a block of lines is decoded by polars against a fixed OTLP schema
(scalar attribute values; lines holding a structured ``gen_ai.input.messages`` get a
second, deep decode), exploded to one row per span/record, and
attributes are looked up in a long (record, key, value) frame. Resource attributes are merged under the record's own
attributes (the record's value wins). Both generations of the GenAI semantic conventions
are mapped (see ``FIELD_ATTRIBUTES``). Only lines that fail to decode are handled one by
one (by bisection), and they become ``bad_json`` / ``bad_otlp`` rejects; records without a
time become ``missing_time`` rejects.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, BinaryIO

import polars as pl

from forensics.ingest.base import RAW_TEXT_LIMIT, Batch, ReaderOptions, Reject
from forensics.ingest.combined import iter_line_blocks
from forensics.schema import UTC_TS

# One exported request can hold thousands of spans on one line.
MAX_LINE_BYTES = 256 * 1024 * 1024
# A whole pretty-printed document is read at once; beyond this it is refused as too long.
MAX_DOCUMENT_BYTES = 1024 * 1024 * 1024

# Canonical (or own-name) column <- attribute keys, in order of preference. Current
# semantic conventions first, then deprecated and common custom names.
FIELD_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "account_id": (
        "account.id",
        "account_id",
        "enduser.id",
        "user.id",
        "user_id",
        "customer.id",
        "customer_id",
    ),
    "api_key_id": ("api_key.id", "api_key_id", "gen_ai.api_key.id"),
    "request_id": ("request.id", "request_id", "http.request.id"),
    "src_ip": (
        "client.address",
        "http.client_ip",
        "net.peer.ip",
        "source.address",
        "network.peer.address",
    ),
    "user_agent": ("user_agent.original", "http.user_agent"),
    "method": ("http.request.method", "http.method"),
    "endpoint": ("url.path", "http.target", "http.route"),
    "status": ("http.response.status_code", "http.status_code"),
    "model": ("gen_ai.request.model", "gen_ai.response.model"),
    "input_tokens": ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"),
    "output_tokens": ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"),
    "enduser.id": ("enduser.id", "user.id"),
    "gen_ai.provider.name": ("gen_ai.provider.name", "gen_ai.system"),
    "gen_ai.operation.name": ("gen_ai.operation.name",),
    "gen_ai.response.model": ("gen_ai.response.model",),
    "gen_ai.response.id": ("gen_ai.response.id",),
    "service.name": ("service.name",),
}
# Attributes that carry the prompt: structured or JSON-string messages, or plain text.
MESSAGE_ATTRIBUTES = ("gen_ai.input.messages",)
TEXT_PROMPT_ATTRIBUTES = ("gen_ai.prompt", "content", "gen_ai.user.message")
# Events (span events or log records) that carry a user message.
USER_MESSAGE_EVENTS = ("gen_ai.user.message", "gen_ai.content.prompt")

OTEL_COLUMNS: tuple[str, ...] = (
    "ts",
    *[f for f in FIELD_ATTRIBUTES if f != "request_id"],
    "request_id",
    "latency_ms",
    "prompt",
    "trace_id",
    "span_id",
    "name",
    "record_kind",
)

# --- the OTLP JSON schema, as polars dtypes ---------------------------------------------

_SCALARS = {n: pl.String() for n in ("stringValue", "intValue", "doubleValue", "boolValue")}


def _any_value(depth: int) -> pl.Struct:
    """OTLP AnyValue nested ``depth`` levels (deeper values are ignored by the decoder)."""
    if depth == 0:
        return pl.Struct(_SCALARS)
    inner = _any_value(depth - 1)
    kv = pl.Struct({"key": pl.String(), "value": inner})
    return pl.Struct(
        {
            **_SCALARS,
            "arrayValue": pl.Struct({"values": pl.List(inner)}),
            "kvlistValue": pl.Struct({"values": pl.List(kv)}),
        }
    )


def export_request_dtype(depth: int) -> pl.Struct:
    """The OTLP export request as a polars dtype, attribute values nested ``depth`` levels.

    Depth matters for speed: exploding spans carries every leaf of the value type, so the
    main pass decodes scalar attributes only (depth 0; log bodies get one level for
    ``{content: ...}``), and only lines holding an ``arrayValue`` get a deep (4) pass.
    """
    value = _any_value(depth)
    attributes = pl.List(pl.Struct({"key": pl.String(), "value": value}))
    event = pl.Struct({"timeUnixNano": pl.String(), "name": pl.String(), "attributes": attributes})
    span = pl.Struct(
        {
            "traceId": pl.String(),
            "spanId": pl.String(),
            "name": pl.String(),
            "startTimeUnixNano": pl.String(),
            "endTimeUnixNano": pl.String(),
            "attributes": attributes,
            "events": pl.List(event),
        }
    )
    log = pl.Struct(
        {
            "timeUnixNano": pl.String(),
            "observedTimeUnixNano": pl.String(),
            "traceId": pl.String(),
            "spanId": pl.String(),
            "eventName": pl.String(),
            "body": _any_value(max(depth, 1)),
            "attributes": attributes,
        }
    )
    resource = pl.Struct({"attributes": attributes})
    return pl.Struct(
        {
            "resourceSpans": pl.List(
                pl.Struct(
                    {
                        "resource": resource,
                        "scopeSpans": pl.List(pl.Struct({"spans": pl.List(span)})),
                    }
                )
            ),
            "resourceLogs": pl.List(
                pl.Struct(
                    {
                        "resource": resource,
                        "scopeLogs": pl.List(pl.Struct({"logRecords": pl.List(log)})),
                    }
                )
            ),
        }
    )


EXPORT_REQUEST = export_request_dtype(0)
EXPORT_REQUEST_DEEP = export_request_dtype(4)


# Decoded messages in a JSON-string gen_ai.input.messages / gen_ai.prompt (both generations:
# ``parts`` of the current conventions, ``content`` of the older ones).
_JSON_MESSAGES = pl.List(
    pl.Struct(
        {
            "role": pl.String(),
            "content": pl.String(),
            "parts": pl.List(pl.Struct({"type": pl.String(), "content": pl.String()})),
        }
    )
)


# --- decoding -----------------------------------------------------------------------------


NOT_OTLP = "bad_otlp: not an OTLP export request"


def _reject_reason(text: str) -> str:
    try:
        json.loads(text)
    except ValueError as exc:
        return f"bad_json: {str(exc)[:80]}"
    except RecursionError:
        return "bad_json: nested too deeply"
    return NOT_OTLP


def _decode(
    frame: pl.DataFrame, dtype: pl.Struct = EXPORT_REQUEST
) -> tuple[pl.DataFrame, list[Reject]]:
    """Decode the ``line`` column; lines that fail are isolated by bisection and rejected."""
    try:
        decoded = frame.select("source_line", pl.col("line").str.json_decode(dtype).alias("req"))
        return decoded, []
    except pl.exceptions.PolarsError:
        if frame.height == 1:
            row = frame.row(0, named=True)
            text = row["line"].rstrip("\r\n")
            return frame.clear().select("source_line").with_columns(
                pl.lit(None, dtype=dtype).alias("req")
            ), [Reject(row["source_line"], _reject_reason(text), text[:RAW_TEXT_LIMIT])]
    half = frame.height // 2
    good_a, bad_a = _decode(frame.slice(0, half), dtype)
    good_b, bad_b = _decode(frame.slice(half), dtype)
    return pl.concat([good_a, good_b]), bad_a + bad_b


def _records(decoded: pl.DataFrame) -> pl.DataFrame:
    """One row per span and per log record: rec, source_line, kind, fields, attributes."""
    req = pl.col("req")
    spans = (
        decoded.select("source_line", req.struct.field("resourceSpans").alias("r"))
        .explode("r", empty_as_null=False, keep_nulls=False)
        .select(
            "source_line",
            pl.col("r").struct.field("resource").struct.field("attributes").alias("res_attrs"),
            pl.col("r").struct.field("scopeSpans").alias("s"),
        )
        .explode("s", empty_as_null=False, keep_nulls=False)
        .select("source_line", "res_attrs", pl.col("s").struct.field("spans").alias("x"))
        .explode("x", empty_as_null=False, keep_nulls=False)
        .filter(pl.col("x").is_not_null())
        .unnest("x")
        .select(
            "source_line",
            pl.lit("span").alias("record_kind"),
            pl.col("startTimeUnixNano").alias("t0"),
            pl.col("endTimeUnixNano").alias("t1"),
            pl.col("traceId").alias("trace_id"),
            pl.col("spanId").alias("span_id"),
            "name",
            "attributes",
            "res_attrs",
            "events",
        )
    )
    logs = (
        decoded.select("source_line", req.struct.field("resourceLogs").alias("r"))
        .explode("r", empty_as_null=False, keep_nulls=False)
        .select(
            "source_line",
            pl.col("r").struct.field("resource").struct.field("attributes").alias("res_attrs"),
            pl.col("r").struct.field("scopeLogs").alias("s"),
        )
        .explode("s", empty_as_null=False, keep_nulls=False)
        .select("source_line", "res_attrs", pl.col("s").struct.field("logRecords").alias("x"))
        .explode("x", empty_as_null=False, keep_nulls=False)
        .filter(pl.col("x").is_not_null())
        .unnest("x")
        .select(
            "source_line",
            pl.lit("log").alias("record_kind"),
            # timeUnixNano 0 (or absent) means "unknown": fall back to the observed time.
            pl.when(pl.col("timeUnixNano").is_in(["0", ""]).not_())
            .then(pl.col("timeUnixNano"))
            .otherwise(pl.col("observedTimeUnixNano"))
            .alias("t0"),
            pl.lit(None, dtype=pl.String).alias("t1"),
            pl.col("traceId").alias("trace_id"),
            pl.col("spanId").alias("span_id"),
            pl.col("eventName").alias("name"),
            "attributes",
            "res_attrs",
            "body",
        )
    )
    # (source_line, record_kind, ordinal) names a record across decodes of the same line.
    ordinal = pl.int_range(pl.len(), dtype=pl.UInt32).over("source_line").alias("ordinal")
    records = pl.concat([spans.with_columns(ordinal), logs.with_columns(ordinal)], how="diagonal")
    return records.with_row_index("rec")


def _scalar(value: pl.Expr) -> pl.Expr:
    """An AnyValue's scalar as text (string, int, double or bool)."""
    return pl.coalesce(
        value.struct.field("stringValue"),
        value.struct.field("intValue"),
        value.struct.field("doubleValue"),
        value.struct.field("boolValue"),
    )


def _long_attributes(records: pl.DataFrame) -> pl.DataFrame:
    """(rec, key, value, level): level 0 record attributes, 1 resource attributes."""
    parts = []
    for column, level in (("attributes", 0), ("res_attrs", 1)):
        parts.append(
            records.select("rec", pl.col(column).alias("a"))
            .explode("a", empty_as_null=False, keep_nulls=False)
            .filter(pl.col("a").is_not_null())
            .unnest("a")
            .with_columns(pl.lit(level, dtype=pl.Int8).alias("level"))
        )
    return pl.concat(parts)


def _pick_fields(attrs: pl.DataFrame) -> pl.DataFrame:
    """One row per rec, one column per FIELD_ATTRIBUTES entry: the best attribute present."""
    preference = pl.DataFrame(
        [
            {"field": f, "key": k, "rank": rank}
            for f, keys in FIELD_ATTRIBUTES.items()
            for rank, k in enumerate(keys)
        ],
        schema={"field": pl.String, "key": pl.String, "rank": pl.Int32},
    )
    picked = (
        attrs.with_columns(_scalar(pl.col("value")).alias("text"))
        .drop("value")
        .filter(pl.col("text").is_not_null())
        .join(preference, on="key")
        .sort("rec", "field", "level", "rank")
        .group_by("rec", "field", maintain_order=True)
        .agg(pl.col("text").first())
    )
    wide = picked.pivot(on="field", index="rec", values="text")
    missing = [f for f in FIELD_ATTRIBUTES if f not in wide.columns]
    return wide.with_columns(pl.lit(None, dtype=pl.String).alias(f) for f in missing)


def _kv(kvlist: pl.Expr, key: str) -> pl.Expr:
    """The value under ``key`` in an AnyValue kvlist (null when absent)."""
    return (
        kvlist.struct.field("kvlistValue")
        .struct.field("values")
        .list.eval(pl.element().filter(pl.element().struct.field("key") == key))
        .list.first()
        .struct.field("value")
    )


def _structured_user_text(messages: pl.DataFrame) -> pl.DataFrame:
    """(rec, text) for user messages given as OTLP arrays of kvlists (``value`` column)."""
    msgs = (
        messages.select("rec", pl.col("value").struct.field("arrayValue").struct.field("values"))
        .explode("values", empty_as_null=False, keep_nulls=False)
        .filter(pl.col("values").is_not_null())
        .select("rec", pl.col("values").alias("m"))
        .select(
            "rec",
            _scalar(_kv(pl.col("m"), "role")).alias("role"),
            _scalar(_kv(pl.col("m"), "content")).alias("content"),
            _kv(pl.col("m"), "parts").struct.field("arrayValue").struct.field("values").alias("p"),
        )
        .filter(pl.col("role") == "user")
    )
    parts = (
        msgs.select("rec", "p")
        .explode("p", empty_as_null=False, keep_nulls=False)
        .filter(pl.col("p").is_not_null())
        .select("rec", _scalar(_kv(pl.col("p"), "content")).alias("text"))
    )
    return pl.concat([msgs.select("rec", pl.col("content").alias("text")), parts])


# A message attribute given as a structured AnyValue: the trigger for the deep pass.
_STRUCTURED_MESSAGES = (
    r'"key"\s*:\s*"gen_ai\.input\.messages"\s*,\s*"value"\s*:\s*\{\s*"arrayValue"'
)


def _structured_messages(frame: pl.DataFrame, records: pl.DataFrame) -> pl.DataFrame:
    """(rec, text) of user messages recorded as structured AnyValues, via a deep decode.

    Only lines where a message attribute holds an ``arrayValue`` (key written before
    value, as every exporter does) are decoded again with deep values; their records are
    matched to the main pass by (source_line, record_kind, ordinal). Other array values
    (``gen_ai.response.finish_reasons`` on every span) do not trigger the deep pass.
    """
    empty = pl.DataFrame(schema={"rec": pl.UInt32, "text": pl.String})
    deep_lines = frame.filter(pl.col("line").str.contains(_STRUCTURED_MESSAGES))
    if deep_lines.height == 0:
        return empty
    decoded, _ = _decode(deep_lines, EXPORT_REQUEST_DEEP)
    deep = _records(decoded)
    messages = (
        _long_attributes(deep)
        .filter(pl.col("level") == 0)
        .filter(pl.col("key").is_in(MESSAGE_ATTRIBUTES))
        .filter(pl.col("value").struct.field("arrayValue").is_not_null())
    )
    if messages.height == 0:
        return empty
    texts = _structured_user_text(messages)
    key = ["source_line", "record_kind", "ordinal"]
    return (
        texts.join(
            deep.select(pl.col("rec").alias("deep_rec"), *key), left_on="rec", right_on="deep_rec"
        )
        .drop("rec")
        .join(records.select("rec", *key), on=key)
        .select("rec", "text")
    )


def _messages_from_json_text(texts: pl.DataFrame) -> pl.DataFrame:
    """(rec, text) of user messages in JSON-string message lists; plain text passes through."""
    # A list of objects; "[INST] ..." and other bracketed prompt text are plain text.
    is_list = pl.col("text").str.contains(r"^\s*\[\s*\{")
    plain = texts.filter(~is_list)
    as_json = texts.filter(is_list)
    try:
        decoded = as_json.with_columns(pl.col("text").str.json_decode(_JSON_MESSAGES).alias("m"))
    except pl.exceptions.PolarsError:
        # Some message list is not the shape above (e.g. OpenAI multimodal content lists):
        # decode those few in Python, keeping the text when it has no user message.
        rows = [
            {"rec": rec, "text": _user_text_py(text)}
            for rec, text in as_json.select("rec", "text").iter_rows()
        ]
        py = pl.DataFrame(rows, schema={"rec": pl.UInt32, "text": pl.String})
        return pl.concat([plain.select("rec", "text"), py])
    msgs = decoded.select("rec", pl.col("text").alias("raw"), "m").explode(
        "m", empty_as_null=False, keep_nulls=False
    )
    msgs = msgs.with_columns(
        pl.col("m").struct.field("role"),
        pl.col("m").struct.field("content"),
        pl.col("m").struct.field("parts"),
    )
    user = msgs.filter(pl.col("role") == "user")
    from_parts = (
        user.select("rec", "parts")
        .explode("parts", empty_as_null=False, keep_nulls=False)
        .filter(pl.col("parts").struct.field("type").is_in(["text", None]))
        .select("rec", pl.col("parts").struct.field("content").alias("text"))
    )
    texts_out = pl.concat([user.select("rec", pl.col("content").alias("text")), from_parts])
    # A JSON list with no user message keeps its raw text (it is still the prompt payload).
    no_user = decoded.join(texts_out.drop_nulls("text"), on="rec", how="anti").select("rec", "text")
    return pl.concat([plain.select("rec", "text"), texts_out, no_user])


def _user_text_py(text: str) -> str | None:
    try:
        messages = json.loads(text)
    except ValueError:
        return text
    out: list[str] = []
    for msg in messages if isinstance(messages, list) else []:
        if not isinstance(msg, dict) or msg.get("role") != "user":
            continue
        for item in [msg.get("content"), *(msg.get("parts") or [])]:
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, dict) and isinstance(item.get("content"), str):
                out.append(item["content"])
            elif isinstance(item, list):
                out.extend(_part_text(p) for p in item if _part_text(p))
    return "\n".join(out) if out else text


def _part_text(part: Any) -> str:
    if isinstance(part, dict):
        value = part.get("text", part.get("content"))
        return value if isinstance(value, str) else ""
    return part if isinstance(part, str) else ""


def _prompts(records: pl.DataFrame, attrs: pl.DataFrame, structured: pl.DataFrame) -> pl.DataFrame:
    """(rec, prompt): the user's message text, from the first source that has it.

    Sources, best first: ``gen_ai.input.messages`` (structured or JSON text), the
    deprecated ``gen_ai.prompt``, OpenLLMetry's ``gen_ai.prompt.N.content`` with role user,
    span events / log records named ``gen_ai.user.message`` or ``gen_ai.content.prompt``.
    ``structured`` holds (rec, text) from structured (arrayValue) messages, found by the
    deep pass.
    """
    own = attrs.filter(pl.col("level") == 0)
    candidates: list[pl.DataFrame] = []

    messages = own.filter(pl.col("key").is_in(MESSAGE_ATTRIBUTES))
    text_messages = messages.select("rec", _scalar(pl.col("value")).alias("text")).drop_nulls()
    deprecated = own.filter(pl.col("key") == "gen_ai.prompt").select(
        "rec", _scalar(pl.col("value")).alias("text")
    )
    candidates.append(
        pl.concat(
            [structured.select("rec", "text"), _messages_from_json_text(text_messages)]
        ).with_columns(pl.lit(0).alias("source"))
    )
    candidates.append(
        _messages_from_json_text(deprecated.drop_nulls()).with_columns(pl.lit(1).alias("source"))
    )

    # OpenLLMetry flattens messages: gen_ai.prompt.0.role / gen_ai.prompt.0.content.
    flat = own.filter(pl.col("key").str.contains(r"^gen_ai\.prompt\.\d+\.(role|content)$"))
    flat = flat.select(
        "rec",
        pl.col("key").str.extract(r"^gen_ai\.prompt\.(\d+)\.").cast(pl.Int64).alias("i"),
        pl.col("key").str.extract(r"\.(role|content)$").alias("part"),
        _scalar(pl.col("value")).alias("text"),
    )
    if flat.height:
        wide = flat.pivot(on="part", index=["rec", "i"], values="text", aggregate_function="first")
        for col in ("role", "content"):
            if col not in wide.columns:
                wide = wide.with_columns(pl.lit(None, dtype=pl.String).alias(col))
        candidates.append(
            wide.filter(pl.col("role").is_null() | (pl.col("role") == "user"))
            .sort("rec", "i")
            .select("rec", pl.col("content").alias("text"), pl.lit(2).alias("source"))
        )

    # Span events named as a user message (their own attributes carry the text).
    events = (
        records.select("rec", "events")
        .explode("events", empty_as_null=False, keep_nulls=False)
        .filter(pl.col("events").struct.field("name").is_in(USER_MESSAGE_EVENTS))
        .select("rec", pl.col("events").struct.field("attributes").alias("a"))
        .explode("a", empty_as_null=False, keep_nulls=False)
        .filter(pl.col("a").struct.field("key").is_in(TEXT_PROMPT_ATTRIBUTES))
        .select("rec", _scalar(pl.col("a").struct.field("value")).alias("text"))
    )
    candidates.append(
        _messages_from_json_text(events.drop_nulls()).with_columns(pl.lit(3).alias("source"))
    )

    # Log records that are user-message events: the body is the text, or {content: text}.
    log_event = (
        own.filter(pl.col("key") == "event.name")
        .select("rec", _scalar(pl.col("value")).alias("event"))
        .group_by("rec")
        .agg(pl.col("event").first())
    )
    logs = (
        records.filter(pl.col("record_kind") == "log")
        .join(log_event, on="rec", how="left")
        .filter(pl.coalesce("name", "event").is_in(USER_MESSAGE_EVENTS))
        .select(
            "rec",
            pl.coalesce(_scalar(pl.col("body")), _scalar(_kv(pl.col("body"), "content"))).alias(
                "text"
            ),
        )
    )
    candidates.append(
        _messages_from_json_text(logs.drop_nulls()).with_columns(pl.lit(4).alias("source"))
    )

    all_text = pl.concat(
        [
            c.select(pl.col("rec").cast(pl.UInt32), "text", pl.col("source").cast(pl.Int8))
            for c in candidates
        ]
    ).filter(pl.col("text").is_not_null() & (pl.col("text") != ""))
    best = all_text.group_by("rec").agg(pl.col("source").min().alias("best"))
    return (
        all_text.join(best, on="rec")
        .filter(pl.col("source") == pl.col("best"))
        .group_by("rec", maintain_order=True)
        .agg(pl.col("text").str.join("\n").alias("prompt"))
    )


def _nanos_to_ts(expr: pl.Expr) -> pl.Expr:
    return expr.cast(pl.Int64, strict=False).cast(pl.Datetime("ns", "UTC")).cast(UTC_TS)


def parse_requests(frame: pl.DataFrame) -> tuple[pl.DataFrame, list[Reject]]:
    """Parse a frame of (source_line, line) OTLP JSON lines into rows and rejects."""
    decoded, rejects = _decode(frame)
    # JSON that decodes but is not an export request (null, {}, {"other": 1}).
    req = pl.col("req")
    not_export = req.is_null() | (
        req.struct.field("resourceSpans").is_null() & req.struct.field("resourceLogs").is_null()
    )
    odd = decoded.filter(not_export).join(frame, on="source_line", how="left")
    rejects += [
        Reject(line, NOT_OTLP, text[:RAW_TEXT_LIMIT].rstrip("\r\n"))
        for line, text in odd.select("source_line", "line").iter_rows()
    ]
    decoded = decoded.filter(~not_export)
    records = _records(decoded)
    attrs = _long_attributes(records)
    fields = _pick_fields(attrs)
    prompts = _prompts(records, attrs, _structured_messages(frame, records))
    t0 = pl.col("t0").cast(pl.Int64, strict=False)
    t1 = pl.col("t1").cast(pl.Int64, strict=False)
    out = (
        records.join(fields, on="rec", how="left")
        .join(prompts, on="rec", how="left")
        .with_columns(
            pl.when(t0 > 0).then(_nanos_to_ts(pl.col("t0"))).alias("ts"),
            pl.when((t0 > 0) & (t1 >= t0)).then((t1 - t0) / 1e6).alias("latency_ms"),
            # Spans are unique by trace and span id, so a re-exported span deduplicates.
            pl.coalesce(
                pl.col("request_id"),
                pl.when(pl.col("record_kind") == "span").then(
                    pl.concat_str("trace_id", "span_id", separator=":")
                ),
            ).alias("request_id"),
        )
        .sort("rec")
    )
    # A record without a time cannot be placed: quarantine it with its line's text.
    no_time = (
        out.filter(pl.col("ts").is_null())
        .select("source_line", "record_kind")
        .join(frame.select("source_line", "line"), on="source_line", how="left")
    )
    rejects += [
        Reject(line, f"missing_time: {kind} record", text[:RAW_TEXT_LIMIT].rstrip("\r\n"))
        for line, kind, text in no_time.iter_rows()
    ]
    rows = out.filter(pl.col("ts").is_not_null()).select("source_line", *OTEL_COLUMNS)
    return rows, rejects


def empty_rows() -> pl.DataFrame:
    """A frame with no rows and exactly the columns this reader emits."""
    schema: dict[str, pl.DataType] = {"source_line": pl.Int64(), "ts": UTC_TS}
    schema.update({c: pl.String() for c in OTEL_COLUMNS if c != "ts"})
    schema["latency_ms"] = pl.Float64()
    return pl.DataFrame(schema=schema)


def _whole_document(head: bytes) -> bool:
    """True when the input is one pretty-printed JSON document, not one request per line."""
    text = head.lstrip()
    first = text.split(b"\n", 1)[0].strip()
    return text.startswith(b"{") and not (first.startswith(b"{") and first.endswith(b"}"))


class OtelReader:
    """OTLP JSON spans and log records carrying gen_ai.* attributes."""

    name = "otel"

    def sniff(self, head: bytes) -> bool:
        text = head.lstrip()
        return text.startswith(b"{") and (
            b'"resourceSpans"' in head[:65536] or b'"resourceLogs"' in head[:65536]
        )

    def read(self, stream: BinaryIO, options: ReaderOptions) -> Iterator[Batch]:
        head = stream.read(65536)
        if _whole_document(head):
            data = head + stream.read(MAX_DOCUMENT_BYTES)
            if stream.read(1):
                raw = data[:RAW_TEXT_LIMIT].decode(errors="replace")
                yield Batch(empty_rows(), [Reject(1, "document_too_long", raw)])
                return
            # JSON allows newlines between tokens but never inside strings: one record.
            blocks = iter_line_blocks(
                _Replay(data.replace(b"\n", b" ") + b"\n", None), max_line_bytes=MAX_DOCUMENT_BYTES
            )
        else:
            blocks = iter_line_blocks(_Replay(head, stream), max_line_bytes=MAX_LINE_BYTES)
        step = max(1, options.batch_lines)
        for block in blocks:
            frame = pl.DataFrame([block.line_numbers, block.lines]).filter(
                pl.col("line").str.contains(r"\S")
            )
            if block.rejects:
                yield Batch(empty_rows(), list(block.rejects))
            for start in range(0, frame.height, step):
                rows, rejects = parse_requests(frame.slice(start, step))
                if rows.height or rejects:
                    yield Batch(rows, rejects)


class _Replay:
    """A stream that first returns ``head`` (already read for sniffing), then the rest."""

    def __init__(self, head: bytes, rest: BinaryIO | None) -> None:
        self._head = head
        self._rest = rest

    def read(self, n: int = -1) -> bytes:
        if self._head:
            out, self._head = self._head, b""
            return out
        return self._rest.read(n) if self._rest is not None else b""
